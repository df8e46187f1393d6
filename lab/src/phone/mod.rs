//! Emulated Android phones: an adbd speaking the real ADB wire protocol, a shell with the
//! commands the host uses, Wi-Fi joined with a real DHCP client, messenger apps running
//! under their own UIDs, background system traffic, a screen rendered as PNG, and on
//! cellular phones a WireGuard app that joins a lab router's ingress.

pub mod adb;
mod analytics;
mod apps;
mod background;
pub mod device;
pub mod dns;
mod lifecycle;
pub mod logcat;
mod run;
pub mod screen;
pub mod shell;
pub mod trust;
pub mod vpn;
pub mod wg_quick;
pub mod wifi;

pub use run::{run, PhoneError};

/// Port adbd listens on inside the phone's namespace (adb's default TCP port).
pub const ADB_PORT: u16 = 5555;
