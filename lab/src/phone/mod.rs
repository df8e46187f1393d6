//! Emulated Android phones: an adbd speaking the real ADB wire protocol, a shell with the
//! commands the host uses, Wi-Fi joined with a real DHCP client, messenger apps running
//! under their own UIDs, background system traffic, and a screen rendered as PNG.

pub mod adb;
mod apps;
mod background;
pub mod device;
pub mod dns;
mod lifecycle;
pub mod logcat;
mod run;
pub mod screen;
pub mod shell;
pub mod wifi;

pub use run::{run, PhoneError};

/// Port adbd listens on inside the phone's namespace (adb's default TCP port).
pub const ADB_PORT: u16 = 5555;
