//! The router's data plane: access points with DHCP, a WireGuard tunnel per AP to its
//! vantage node with policy routing, and the nftables table that keeps phones inside their
//! tunnels. `run` brings it up, watches it, and takes it down again on SIGTERM.

pub mod ap;
pub mod config;
pub mod control;
pub mod firewall;
pub mod netlink;
mod plane;
pub mod stations;
pub mod wireguard;

pub use plane::run;
