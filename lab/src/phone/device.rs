//! One emulated phone's state: settings, Wi-Fi, location test providers, the apps that run
//! and the one in front, each app's screen, and the log buffer. Shell commands read and
//! change it; the apps report into it.

use super::apps::RunningApp;
use super::logcat::{Logcat, Priority};
use crate::topology::{App, PhoneRole};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// Android's UID of the `system` user (system_server's own traffic: NTP, connectivity checks).
pub const SYSTEM_UID: u32 = 1000;
/// UID of the Google-services-like package that talks to its backend in the background.
pub const SERVICES_UID: u32 = 10_050;
/// Package of that background service.
pub const SERVICES_PACKAGE: &str = "com.google.android.gms";
/// Launcher in front when no app is.
pub const LAUNCHER: &str =
    "com.android.launcher3/com.android.launcher3.uioverrides.QuickstepLauncher";

/// Packages every phone has besides its apps, with their UIDs.
pub const SYSTEM_PACKAGES: &[(&str, u32)] = &[
    ("android", SYSTEM_UID),
    ("com.android.settings", SYSTEM_UID),
    ("com.android.shell", 2000),
    ("com.android.systemui", 10_010),
    ("com.android.launcher3", 10_020),
    (SERVICES_PACKAGE, SERVICES_UID),
];

/// The lease a DHCP client got on the Wi-Fi link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Address of the phone.
    pub ip: std::net::Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
    /// Default gateway.
    pub router: std::net::Ipv4Addr,
    /// DNS servers handed out.
    pub dns: Vec<std::net::Ipv4Addr>,
}

/// Wi-Fi as the phone sees it.
#[derive(Debug, Default)]
pub struct Wifi {
    /// Whether the radio is on.
    pub enabled: bool,
    /// The saved network (SSID, passphrase).
    pub saved: Option<(String, String)>,
    /// The network the phone is on, with its lease.
    pub connected: Option<(String, Lease)>,
    /// Why the last connection attempt failed.
    pub last_failure: Option<String>,
    /// The DHCP client of the current connection.
    pub dhcp_client: Option<std::process::Child>,
}

/// A location test provider (`cmd location providers …`).
#[derive(Debug, Default, Clone)]
pub struct TestProvider {
    /// Whether it is enabled.
    pub enabled: bool,
    /// Latitude and longitude last set.
    pub location: Option<(f64, f64)>,
}

/// One message on an app's screen.
#[derive(Debug, Clone)]
pub struct ShownMessage {
    /// Sent by this phone.
    pub outgoing: bool,
    /// Text.
    pub text: String,
    /// Status: time, "sending", "sent", "delivered", "failed".
    pub detail: String,
}

/// What an app shows.
#[derive(Debug, Default, Clone)]
pub struct AppScreen {
    /// Conversation, oldest first.
    pub messages: Vec<ShownMessage>,
    /// Text typed into the field.
    pub draft: String,
    /// Whether the text field has focus.
    pub field_focused: bool,
    /// Connection state line ("connecting", "online", "offline: …").
    pub status: String,
}

/// Everything that changes.
#[derive(Debug, Default)]
pub struct PhoneState {
    /// `settings` values by (namespace, key).
    pub settings: BTreeMap<(String, String), String>,
    /// Wi-Fi.
    pub wifi: Wifi,
    /// Location test providers by name.
    pub providers: BTreeMap<String, TestProvider>,
    /// App in front (name), `None` for the launcher.
    pub focused: Option<String>,
    /// Screens of apps that ran since boot.
    pub screens: BTreeMap<String, AppScreen>,
    /// Last input action, shown on the screen's footer.
    pub last_action: String,
    /// The log buffer.
    pub logcat: Logcat,
    /// Whether the phone is between `reboot` and boot completed.
    pub rebooting: bool,
    /// The WireGuard app's tunnel, while it is up.
    pub vpn: Option<super::vpn::Tunnel>,
}

/// The emulated phone.
#[derive(Debug)]
pub struct Phone {
    /// Node name (also the chat user name of its apps).
    pub name: String,
    /// `ro.serialno`.
    pub serial: String,
    /// Its topology entry.
    pub role: PhoneRole,
    /// Installed apps.
    pub apps: Vec<App>,
    /// Its directory (files, leases, settings).
    pub dir: PathBuf,
    /// The lab's directory (router files, CA).
    pub lab_dir: PathBuf,
    /// A cellular phone's uplink (interface and gateway of its default route).
    pub uplink: Option<crate::plan::NextHop>,
    state: Mutex<PhoneState>,
    running: Mutex<BTreeMap<String, RunningApp>>,
}

impl Phone {
    /// A phone in its factory state: Wi-Fi on but not connected, no test providers.
    pub fn new(
        name: &str,
        role: PhoneRole,
        apps: Vec<App>,
        dir: PathBuf,
        lab_dir: PathBuf,
    ) -> Phone {
        let mut state = PhoneState::default();
        // A cellular phone has no Wi-Fi radio: Wi-Fi off, mobile data on.
        let cellular = role.is_cellular();
        state.wifi.enabled = !cellular;
        for (ns, key, value) in [
            ("global", "airplane_mode_on", "0"),
            ("global", "wifi_on", if cellular { "0" } else { "1" }),
            ("global", "mobile_data", if cellular { "1" } else { "0" }),
            ("secure", "location_mode", "3"),
            ("secure", "mock_location", "0"),
            ("system", "screen_off_timeout", "600000"),
        ] {
            state.settings.insert((ns.into(), key.into()), value.into());
        }
        Phone {
            name: name.to_string(),
            serial: format!("MTD{}", name.to_uppercase().replace('-', "")),
            role,
            apps,
            dir,
            lab_dir,
            uplink: None,
            state: Mutex::new(state),
            running: Mutex::new(BTreeMap::new()),
        }
    }

    /// The phone `name` of a plan, with its installed apps; `None` if it is not a phone.
    pub fn from_plan(
        plan: &crate::plan::Plan,
        name: &str,
        dir: PathBuf,
        lab_dir: PathBuf,
    ) -> Option<Phone> {
        let crate::topology::NodeRole::Phone(role) = &plan.node(name)?.role else {
            return None;
        };
        let apps = role
            .apps
            .iter()
            .filter_map(|a| plan.app(a))
            .cloned()
            .collect();
        let mut phone = Phone::new(name, role.clone(), apps, dir, lab_dir);
        if role.is_cellular() {
            phone.uplink = plan.node(name)?.routes.iter().find_map(|r| match r.dest {
                ipnet::IpNet::V4(d) if d.prefix_len() == 0 => r.via.first().cloned(),
                _ => None,
            });
        }
        Some(phone)
    }

    /// Locks the state; a panic elsewhere never makes the phone unusable.
    pub fn state(&self) -> MutexGuard<'_, PhoneState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the table of running apps, by app name.
    pub fn running(&self) -> MutexGuard<'_, BTreeMap<String, RunningApp>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes a line to the log buffer.
    pub fn log(&self, pid: u32, priority: Priority, tag: &str, message: &str) {
        self.state().logcat.log(pid, priority, tag, message);
    }

    /// An installed app by package name.
    pub fn app_by_package(&self, package: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.package == package)
    }

    /// Where `sync:` and file commands see `/`.
    pub fn files_root(&self) -> PathBuf {
        self.dir.join("fs")
    }

    /// The phone's resolver: the VPN's (its `DNS` line) while a tunnel is up, else the
    /// Wi-Fi lease's. A cellular phone has no carrier DNS: without the VPN, none.
    pub fn resolver(&self) -> Option<std::net::Ipv4Addr> {
        let s = self.state();
        if let Some(dns) = s.vpn.as_ref().and_then(|t| t.resolver()) {
            return Some(dns);
        }
        s.wifi
            .connected
            .as_ref()
            .and_then(|(_, l)| l.dns.first().copied())
    }
}
