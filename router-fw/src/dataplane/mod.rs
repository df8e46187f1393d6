//! The router's data plane: access points with DHCP, a WireGuard tunnel per AP to its
//! vantage node with policy routing, and the nftables table that keeps phones inside their
//! tunnels. `run` brings it up, watches it, and takes it down again on SIGTERM.

pub mod ap;
mod ap_up;
pub mod blocklist;
pub mod config;
pub mod control;
mod control_ingress;
pub mod firewall;
mod firewall_block;
pub mod firewall_intercept;
#[cfg(test)]
mod firewall_tests;
#[cfg(test)]
mod firewall_tests_intercept;
mod helper;
pub mod ingress;
#[cfg(test)]
mod ingress_tests;
mod intercept_plane;
pub mod management;
pub mod mss;
pub mod netlink;
mod plane;
pub mod stations;
mod teardown;
mod tunnel;
pub mod uci;
mod uci_map;
#[cfg(test)]
mod uci_tests;
pub mod wg_kernel;
#[cfg(test)]
mod wg_kernel_tests;
pub mod wireguard;
pub mod wireless;

pub use plane::run;
