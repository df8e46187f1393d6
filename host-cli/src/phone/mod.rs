//! Phones over ADB: listing them, their shell and screen, preparing one for a measurement
//! (airplane mode with Wi-Fi, the router's network, a per-app firewall, the test location,
//! the app started clean) with every step read back, and running the app's UI script.
//! `adb_client` is synchronous; [`Phone`] runs it on blocking threads for async callers.
//! Phones on any network join a router's VPN ingress instead (`enroll`, `data`, `forget`,
//! `stop`: docs/monitoring.md).

// The campaign orchestrator (the next part of the host-CLI issue) calls `Phone`, the plans
// and the script runner; until it lands only the CLI and the tests use them.
#![allow(dead_code, unused_imports)]

mod adb;
mod cli;
mod device_data;
mod enroll;
mod error;
mod fleet;
mod handle;
mod parse;
mod prepare;
mod profile;
mod push;
mod qr;
mod script;
mod shell;
mod stop;

#[cfg(test)]
mod fake;

pub use adb::{list_devices, AdbServerAddr, AdbShell, AdbTarget, DeviceInfo, RawOutput};
pub use cli::{run, PhoneArgs};
pub use error::PhoneError;
pub use handle::{Connector, Phone};
pub use prepare::{
    cleanup, launch, prepare, FirewallRule, Location, PhonePlan, Prepared, Timing, WifiPlan,
    TEST_PROVIDERS, WIFI_IFACE,
};
pub use script::{run_messages, run_script, Conversation, Screenshots, ScriptRun};
pub use shell::{quote, Clock, Shell, SystemClock};
