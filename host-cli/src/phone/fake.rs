//! A scripted fake phone for tests: a small Android whose shell answers the commands the
//! host sends with Android's output (the formats the lab's emulated phone follows), with
//! switches for the ways real phones misbehave, and a clock that moves only when waited on.

use super::error::PhoneError;
use super::shell::{Clock, Shell, PNG_MAGIC};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A clock that advances only when slept on (and by each fake command's cost).
#[derive(Debug, Clone, Default)]
pub struct FakeClock(Arc<Mutex<f64>>);

impl FakeClock {
    pub fn at(t: f64) -> FakeClock {
        FakeClock(Arc::new(Mutex::new(t)))
    }

    pub fn advance(&self, s: f64) {
        if let Ok(mut t) = self.0.lock() {
            *t += s;
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> f64 {
        self.0.lock().map_or(0.0, |t| *t)
    }

    fn sleep(&self, d: Duration) {
        self.advance(d.as_secs_f64());
    }
}

/// The fake's state and switches; tests read and set the fields.
#[derive(Debug, Clone)]
pub struct FakePhone {
    pub clock: FakeClock,
    /// Seconds each command takes.
    pub cost_s: f64,
    /// Every command line, in order.
    pub log: Vec<String>,
    /// Failures as exit codes (`Err(Failed)`) too, not only as printed text: off by default,
    /// as adb_client reports no exit codes.
    pub exit_codes: bool,
    pub settings: HashMap<String, String>,
    pub airplane_sticks: bool,
    pub wifi_enabled: bool,
    pub saved: Option<String>,
    pub connected: Option<String>,
    /// SSID → passphrase of networks in range.
    pub networks: HashMap<String, String>,
    pub address: String,
    /// `cmd wifi status` reads before a connection shows.
    pub polls_to_connect: u32,
    pending: Option<(String, u32)>,
    pub iptables: Vec<String>,
    pub ip6tables: Vec<String>,
    pub iptables_ignores_append: bool,
    pub root_via_su_only: bool,
    pub packages: Vec<(String, u32)>,
    pub activities: Vec<String>,
    pub focus: Option<String>,
    pub focus_polls: u32,
    pending_focus: Option<(String, u32)>,
    pub location_enabled: bool,
    pub providers: BTreeMap<String, (bool, Option<(f64, f64)>)>,
    pub taps: Vec<(u32, u32, f64)>,
    pub typed: Vec<String>,
    pub keys: Vec<String>,
    pub shots: u32,
    pub screencap_broken: bool,
    /// The VPN's interface and address, once its tunnel is up.
    pub vpn: Option<(String, String)>,
}

impl FakePhone {
    /// A phone with the lab's global messenger, next to network `matador-a`.
    pub fn new(clock: FakeClock) -> FakePhone {
        FakePhone {
            clock,
            cost_s: 0.05,
            log: Vec::new(),
            exit_codes: false,
            settings: HashMap::new(),
            airplane_sticks: true,
            wifi_enabled: true,
            saved: None,
            connected: None,
            networks: HashMap::from([("matador-a".into(), "lab-passphrase-a".into())]),
            address: "10.77.1.150/24".into(),
            polls_to_connect: 2,
            pending: None,
            iptables: Vec::new(),
            ip6tables: Vec::new(),
            iptables_ignores_append: false,
            root_via_su_only: false,
            packages: vec![
                ("com.android.settings".into(), 1000),
                ("com.globalmessenger.android".into(), 10123),
                ("com.globalmessenger.android.beta".into(), 10200),
            ],
            activities: vec!["com.globalmessenger.android/.HomeActivity".into()],
            focus: None,
            focus_polls: 1,
            pending_focus: None,
            location_enabled: false,
            providers: BTreeMap::new(),
            taps: Vec::new(),
            typed: Vec::new(),
            keys: Vec::new(),
            shots: 0,
            screencap_broken: false,
            vpn: None,
        }
    }

    /// Commands run that start with `prefix`.
    pub fn ran(&self, prefix: &str) -> usize {
        self.log.iter().filter(|c| c.starts_with(prefix)).count()
    }

    fn fail(&self, code: u8, command: &str, text: &str) -> Result<String, PhoneError> {
        if self.exit_codes {
            Err(PhoneError::Failed {
                command: command.into(),
                code,
                output: text.trim().into(),
            })
        } else {
            Ok(text.into())
        }
    }

    fn run(&mut self, line: &str, argv: &[&str]) -> Result<String, PhoneError> {
        let ok = |s: &str| Ok(s.to_string());
        match argv {
            ["su", "-c", inner] => {
                let words = matador_lab::phone::shell::split(inner)
                    .map_err(|e| PhoneError::Adb(e.to_string()))?;
                let argv: Vec<&str> = words.first().map(|(_, w)| w.iter().map(String::as_str).collect()).unwrap_or_default();
                self.run_root(inner, &argv)
            }
            ["iptables" | "ip6tables", ..] if self.root_via_su_only => {
                self.fail(1, line, "iptables v1.8.7 (legacy): can't initialize iptables table `filter': Permission denied (you must be root)\n")
            }
            ["iptables" | "ip6tables", ..] => self.run_root(line, argv),
            ["am", "force-stop", pkg] => {
                if self.focus.as_deref().is_some_and(|f| f.starts_with(&format!("{pkg}/"))) {
                    self.focus = None;
                }
                ok("")
            }
            ["am", "start", "-n", component] => {
                let started = format!("Starting: Intent {{ cmp={component} }}\n");
                if self.activities.iter().any(|a| a == component) {
                    self.pending_focus = Some((component.to_string(), self.focus_polls));
                    ok(&started)
                } else {
                    self.fail(255, line, &format!("{started}Error type 3\nError: Activity class {{{component}}} does not exist.\n"))
                }
            }
            ["pm", "list", "packages", "-U", filter] => Ok(self
                .packages
                .iter()
                .filter(|(p, _)| p.contains(filter))
                .map(|(p, u)| format!("package:{p} uid:{u}\n"))
                .collect()),
            ["cmd", "connectivity", ..] => self.fail(20, line, "Can't find service: connectivity\n"),
            ["settings", "put", "global", key, value] => {
                if *key == "airplane_mode_on" {
                    if !self.airplane_sticks {
                        return ok("");
                    }
                    if *value == "1" {
                        self.wifi_enabled = false;
                        self.connected = None;
                    }
                }
                self.settings.insert(key.to_string(), value.to_string());
                ok("")
            }
            ["settings", "get", "global", key] => {
                Ok(format!("{}\n", self.settings.get(*key).map_or("null", String::as_str)))
            }
            ["svc", "wifi", "enable"] => {
                self.wifi_enabled = true;
                self.connected = self.saved.clone();
                ok("")
            }
            ["cmd", "wifi", "status"] => Ok(self.wifi_status()),
            ["cmd", "wifi", "connect-network", ssid, "wpa2", psk] => {
                if psk.len() < 8 {
                    return self.fail(255, line, "Error: Invalid passphrase: must be 8 to 63 characters\n");
                }
                self.connected = None;
                if self.networks.get(*ssid).is_some_and(|p| p == psk) {
                    self.saved = Some(ssid.to_string());
                    self.pending = Some((ssid.to_string(), self.polls_to_connect));
                }
                ok("Connection initiated with netId 0\n")
            }
            ["ip", "-4", "addr", "show", "wlan0"] => Ok(match &self.connected {
                Some(_) => format!("3: wlan0: <BROADCAST,MULTICAST,UP> mtu 1500\n    inet {} brd 10.77.1.255 scope global wlan0\n", self.address),
                None => "3: wlan0: <BROADCAST,MULTICAST> mtu 1500 state DOWN\n".into(),
            }),
            ["ip", "-4", "addr"] => Ok(self.vpn.iter().fold(
                "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n    inet 127.0.0.1/8 scope host lo\n".to_string(),
                |out, (iface, addr)| format!("{out}5: {iface}: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420\n    inet {addr} scope global {iface}\n"),
            )),
            ["appops", ..] => ok(""),
            ["cmd", "location", rest @ ..] => self.location(line, rest),
            ["input", "tap", x, y] => {
                let t = self.clock.now();
                self.taps.push((x.parse().unwrap_or(0), y.parse().unwrap_or(0), t));
                ok("")
            }
            ["input", "text", text] => {
                self.typed.push(text.replace("%s", " "));
                ok("")
            }
            ["input", "keyevent", key] => {
                self.keys.push(key.to_string());
                ok("")
            }
            ["input", "swipe", ..] => ok(""),
            ["dumpsys", "window"] => {
                if let Some((c, polls)) = self.pending_focus.take() {
                    match polls {
                        0 => self.focus = Some(c),
                        n => self.pending_focus = Some((c, n - 1)),
                    }
                }
                let c = self.focus.clone().unwrap_or_else(|| "com.android.launcher3/.Launcher".into());
                Ok(format!("WINDOW MANAGER WINDOWS (dumpsys window windows)\n  Window #0 Window{{7e1a2b u0 {c}}}:\n\n  mCurrentFocus=Window{{7e1a2b u0 {c}}}\n"))
            }
            ["getprop", "ro.product.model"] => ok("Pixel 7\n"),
            [name, ..] => self.fail(127, line, &format!("/system/bin/sh: {name}: not found\n")),
            [] => ok(""),
        }
    }

    fn run_root(&mut self, line: &str, argv: &[&str]) -> Result<String, PhoneError> {
        let (tool, rest) = match argv.split_first() {
            Some((t, r)) => (*t, r),
            None => return Ok(String::new()),
        };
        let rest: Vec<&str> = rest.iter().copied().filter(|a| *a != "-w").collect();
        let ignores = self.iptables_ignores_append;
        let rules = if tool == "ip6tables" {
            &mut self.ip6tables
        } else {
            &mut self.iptables
        };
        match rest.as_slice() {
            ["-S", "OUTPUT"] => Ok(std::iter::once("-P OUTPUT ACCEPT\n".to_string())
                .chain(rules.iter().map(|r| format!("{r}\n")))
                .collect()),
            ["-A", spec @ ..] => {
                if !ignores {
                    rules.push(format!("-A {}", spec.join(" ")));
                }
                Ok(String::new())
            }
            ["-D", spec @ ..] => {
                let rule = format!("-A {}", spec.join(" "));
                match rules.iter().position(|r| *r == rule) {
                    Some(i) => {
                        rules.remove(i);
                        Ok(String::new())
                    }
                    None => self.fail(
                        1,
                        line,
                        "iptables: Bad rule (does a matching rule exist in that chain?).\n",
                    ),
                }
            }
            _ => self.fail(2, line, "iptables: unknown arguments\n"),
        }
    }

    fn wifi_status(&mut self) -> String {
        if let Some((ssid, polls)) = self.pending.take() {
            match polls {
                0 => self.connected = Some(ssid),
                n => self.pending = Some((ssid, n - 1)),
            }
        }
        if !self.wifi_enabled {
            return "Wifi is disabled\n".into();
        }
        let connection = match &self.connected {
            Some(ssid) => format!("Wifi is connected to \"{ssid}\"\nWifiInfo: SSID: \"{ssid}\", Supplicant state: COMPLETED\n"),
            None => "Wifi is not connected\n".into(),
        };
        format!("Wifi is enabled\nWifi scanning is always available\n==== Primary ClientModeManager instance ====\n{connection}")
    }

    fn location(&mut self, line: &str, args: &[&str]) -> Result<String, PhoneError> {
        let missing = |p: &str| {
            format!("Exception occurred while executing 'providers':\njava.lang.IllegalArgumentException: provider {p} does not exist\n")
        };
        match args {
            ["set-location-enabled", v] => {
                self.location_enabled = *v == "true";
                Ok(String::new())
            }
            ["is-location-enabled"] => Ok(format!("{}\n", self.location_enabled)),
            ["providers", "add-test-provider", p] => {
                self.providers.entry(p.to_string()).or_insert((false, None));
                Ok(String::new())
            }
            ["providers", "remove-test-provider", p] => match self.providers.remove(*p) {
                Some(_) => Ok(String::new()),
                None => self.fail(255, line, &missing(p)),
            },
            ["providers", "set-test-provider-enabled", p, v] => match self.providers.get_mut(*p) {
                Some(e) => {
                    e.0 = *v == "true";
                    Ok(String::new())
                }
                None => self.fail(255, line, &missing(p)),
            },
            ["providers", "set-test-provider-location", p, "--location", at] => {
                let parsed = at
                    .split_once(',')
                    .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
                match (self.providers.get_mut(*p), parsed) {
                    (Some(e), Some(at)) => {
                        e.1 = Some(at);
                        Ok(String::new())
                    }
                    _ => self.fail(255, line, &missing(p)),
                }
            }
            _ => self.fail(255, line, "Unknown command\n"),
        }
    }
}

impl Shell for FakePhone {
    fn shell(&mut self, command: &str) -> Result<String, PhoneError> {
        self.clock.advance(self.cost_s);
        self.log.push(command.to_string());
        let words = matador_lab::phone::shell::split(command)
            .map_err(|e| PhoneError::Adb(e.to_string()))?;
        let [(_, argv)] = words.as_slice() else {
            return Err(PhoneError::Adb(format!(
                "the fake runs one command per line: {command}"
            )));
        };
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.run(command, &argv)
    }

    fn screencap(&mut self) -> Result<Vec<u8>, PhoneError> {
        self.clock.advance(self.cost_s);
        self.log.push("screencap -p".into());
        if self.screencap_broken {
            return Ok(b"screencap: no display\n".to_vec());
        }
        self.shots += 1;
        let mut png = PNG_MAGIC.to_vec();
        png.extend_from_slice(&self.shots.to_be_bytes());
        Ok(png)
    }
}

/// A shared fake, as [`super::handle::Connector`] needs (`Send + Sync`).
#[derive(Debug, Clone)]
pub struct SharedFake(pub Arc<Mutex<FakePhone>>);

struct Guarded(Arc<Mutex<FakePhone>>);

impl Shell for Guarded {
    fn shell(&mut self, command: &str) -> Result<String, PhoneError> {
        let mut phone = self
            .0
            .lock()
            .map_err(|_| PhoneError::Adb("poisoned".into()))?;
        phone.shell(command)
    }

    fn screencap(&mut self) -> Result<Vec<u8>, PhoneError> {
        let mut phone = self
            .0
            .lock()
            .map_err(|_| PhoneError::Adb("poisoned".into()))?;
        phone.screencap()
    }
}

impl super::handle::Connector for SharedFake {
    fn open(&self) -> Result<Box<dyn Shell + Send>, PhoneError> {
        Ok(Box::new(Guarded(Arc::clone(&self.0))))
    }
}
