//! The router's configuration: one typed model whether it comes from YAML (plain Linux) or
//! UCI (OpenWrt). Checked in full before anything is touched, so a bad file never leaves the
//! daemon half-configured.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// How the access point's radio is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Radio {
    /// The daemon writes hostapd's configuration and runs hostapd.
    Hostapd,
    /// OpenWrt: a UCI `wifi-iface`, applied with `wifi reload` (netifd runs hostapd).
    Uci,
    /// The virtual lab: the configuration is written, the emulated phone checks it.
    Simulated,
}

/// Which WireGuard implementation carries the tunnels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WireguardBackend {
    /// The kernel module, configured over generic netlink.
    Kernel,
    /// wireguard-go, configured over its UAPI socket.
    Userspace,
}

/// A WPA2 access point with its own subnet and tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApConfig {
    /// Short name (also names the tunnel interface `wg-<name>`).
    pub name: String,
    /// Network name (Wi-Fi only).
    #[serde(default)]
    pub ssid: String,
    /// WPA2 passphrase (Wi-Fi only).
    #[serde(default)]
    pub passphrase: String,
    /// Interface of the radio, or the WireGuard ingress interface the daemon makes.
    pub interface: String,
    /// RFC 1918 subnet; the router takes its first host address.
    pub subnet: Ipv4Net,
    /// Regulatory country of the radio.
    #[serde(default = "default_country")]
    pub country: String,
    /// A `wg-quick` file with the vantage node this AP tunnels to (can be set later over the API).
    #[serde(default)]
    pub vantage: Option<PathBuf>,
    /// Not a radio but a WireGuard ingress: phones anywhere (cellular too) join as peers with
    /// the WireGuard app's always-on profile, and their traffic takes the same tunnel,
    /// capture and traces as a Wi-Fi phone's.
    #[serde(default)]
    pub ingress: Option<Ingress>,
}

/// A WireGuard ingress: the interface phones connect to as peers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ingress {
    /// UDP port it listens on (every address of the router).
    #[serde(default = "default_ingress_port")]
    pub listen_port: u16,
    /// File with the interface's private key (base64, as `wg genkey` writes it).
    pub private_key: PathBuf,
    /// Phones known from the configuration; `matador-host phone enroll` adds more over the
    /// API (kept in the state directory).
    #[serde(default)]
    pub peers: Vec<IngressPeerConfig>,
}

/// One phone of an ingress: its name, WireGuard key and address (the API's type: what the
/// configuration lists and what `phone enroll` adds are the same thing).
pub use matador_api::IngressPeer as IngressPeerConfig;

/// The ingress port when none is given (next to WireGuard's usual 51820).
fn default_ingress_port() -> u16 {
    51821
}

/// An AP's country when none is given: "00", the world regulatory domain.
pub(super) fn default_country() -> String {
    "00".into()
}

/// The whole router configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// Router name (shown in the API and logs).
    pub router: String,
    /// Address the API listens on: the management side only.
    pub management: IpAddr,
    /// API port.
    #[serde(default = "default_port")]
    pub api_port: u16,
    /// File holding the API token.
    pub token_file: PathBuf,
    /// Persistent state: results, the API certificate.
    pub state_dir: PathBuf,
    /// Run-time files: generated configs, control sockets, leases.
    pub run_dir: PathBuf,
    /// The uplink toward the Internet (tunnels go out there; phones never do).
    pub uplink: String,
    /// How radios are driven.
    #[serde(default = "default_radio")]
    pub radio: Radio,
    /// WireGuard implementation.
    #[serde(default = "default_wireguard")]
    pub wireguard: WireguardBackend,
    /// Access points.
    pub aps: Vec<ApConfig>,
    /// Where measurements capture to, and how much they may write.
    #[serde(default)]
    pub capture: CaptureLimits,
    /// The management tunnel to the controller (dial-out control): the API answers only
    /// through it.
    #[serde(default)]
    pub management_tunnel: Option<ManagementTunnel>,
    /// Store-and-forward: results are pushed to the controller's collector and deleted once
    /// it acknowledges them.
    #[serde(default)]
    pub upload: Option<UploadConfig>,
    /// Encryption at rest: results of devices (enrolled phones) are stored encrypted to the
    /// researcher's key; without it they are stored plain, as lab phones' always are.
    #[serde(default)]
    pub at_rest: Option<crate::at_rest::AtRestConfig>,
    /// TLS interception for measurements that ask for it (`intercept_tls`): the proxy, the
    /// CAs servers must chain to, the ports. Absent: the defaults.
    #[serde(default)]
    pub interception: Option<crate::intercept::InterceptionConfig>,
}

/// The management tunnel: a WireGuard interface toward the controller, which the router
/// dials (keepalive through NAT), so no port is opened on a field router.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ManagementTunnel {
    /// The tunnel's interface: the API port is dropped on every other interface.
    #[serde(default = "default_management_interface")]
    pub interface: String,
    /// A wg-quick file (the router's key and address, the controller as its peer): the daemon
    /// brings the tunnel up itself. Without it the interface is someone else's (on OpenWrt,
    /// netifd's `mgmt` from the same file).
    #[serde(default)]
    pub config: Option<PathBuf>,
}

/// The management interface when none is named.
pub(super) fn default_management_interface() -> String {
    "wg-mgmt".into()
}

/// Where and how results are uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UploadConfig {
    /// The collector, `http://ADDRESS:PORT`: plain HTTP, because it is reached only through
    /// the management tunnel, whose WireGuard keys already authenticate and encrypt.
    pub url: String,
    /// First wait after a failed upload, seconds; it doubles up to `retry_max_s`.
    #[serde(default = "default_retry_min")]
    pub retry_min_s: u64,
    /// Longest wait between attempts, seconds.
    #[serde(default = "default_retry_max")]
    pub retry_max_s: u64,
}

fn default_retry_min() -> u64 {
    2
}
fn default_retry_max() -> u64 {
    300
}

/// Where captures go and how much room they may take: routers have little flash, so a
/// capture is rotated, capped, and stopped before the disk fills.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureLimits {
    /// Directory of the capture files in progress (default: `<state_dir>/captures`, or
    /// `<run_dir>/captures` when results are encrypted at rest, so a running measurement's
    /// plaintext spool stays in RAM; on OpenWrt put it on a USB disk or tmpfs, not the flash).
    pub dir: Option<PathBuf>,
    /// A capture file is rotated at this size, MiB.
    pub file_mib: u64,
    /// A measurement writes at most this much capture, MiB.
    pub total_mib: u64,
    /// Writing stops when the disk would have less free than this, MiB.
    pub min_free_mib: u64,
}

impl Default for CaptureLimits {
    fn default() -> Self {
        CaptureLimits {
            dir: None,
            file_mib: 64,
            total_mib: 512,
            min_free_mib: 64,
        }
    }
}

/// The API port when none is given.
pub(super) fn default_port() -> u16 {
    8443
}
/// How radios are driven when the configuration does not say.
pub(super) fn default_radio() -> Radio {
    Radio::Hostapd
}
/// The WireGuard implementation when the configuration does not say.
pub(super) fn default_wireguard() -> WireguardBackend {
    WireguardBackend::Kernel
}

/// A configuration that cannot be used, and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// YAML syntax or an unknown key, with its place.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// `line:column: what`.
        message: String,
    },
    /// UCI syntax, an unknown option or a bad value, with its line (0: the whole file).
    #[error("{path}{}: {message}", at_line(*.line))]
    Uci {
        /// The file.
        path: String,
        /// 1-based line of the command at fault, 0 for the file as a whole.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A value that is wrong.
    #[error("{path}: access point `{ap}`: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The AP (or `-` for the router itself).
        ap: String,
        /// What is wrong.
        message: String,
    },
}

/// `:<line>` after the file name, as compilers write it; nothing for the whole file.
fn at_line(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

impl RouterConfig {
    /// Where running measurements spool their capture: `capture.dir`, else in RAM
    /// (`run_dir`) when results are encrypted at rest, else `state_dir`.
    pub fn capture_dir(&self) -> PathBuf {
        match (&self.capture.dir, &self.at_rest) {
            (Some(dir), _) => dir.clone(),
            (None, Some(_)) => self.run_dir.join("captures"),
            (None, None) => self.state_dir.join("captures"),
        }
    }

    /// Reads and checks a configuration: UCI for a file under `/etc/config/` or one whose
    /// first line that is neither blank nor a comment starts with `config ` or `package `,
    /// YAML otherwise.
    pub fn load(path: &Path) -> Result<RouterConfig, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        if super::uci::is_uci(path, &text) {
            RouterConfig::parse_uci(&text, &shown)
        } else {
            RouterConfig::parse(&text, &shown)
        }
    }

    /// Parses and checks UCI text (OpenWrt's `/etc/config/matador`); `path` names it in errors.
    pub fn parse_uci(text: &str, path: &str) -> Result<RouterConfig, ConfigError> {
        let config = super::uci::parse(text)
            .and_then(|file| super::uci::to_config(&file))
            .map_err(|e| ConfigError::Uci {
                path: path.to_string(),
                line: e.line,
                message: e.message,
            })?;
        config.check(path)?;
        Ok(config)
    }

    /// Parses and checks YAML text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<RouterConfig, ConfigError> {
        let config: RouterConfig =
            serde_saphyr::from_str(text).map_err(|e| ConfigError::Syntax {
                path: path.to_string(),
                message: match e.location() {
                    Some(l) => format!(
                        "{}:{}: {}",
                        l.line(),
                        l.column(),
                        e.to_string().lines().next().unwrap_or("")
                    ),
                    None => e.to_string(),
                },
            })?;
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &str) -> Result<(), ConfigError> {
        let bad = |ap: &str, message: String| ConfigError::Invalid {
            path: path.to_string(),
            ap: ap.to_string(),
            message,
        };
        if self.aps.is_empty() {
            return Err(bad("-", "no access points under `aps`".into()));
        }
        let mut seen: Vec<&ApConfig> = Vec::new();
        for ap in &self.aps {
            check_ap(ap).map_err(|m| bad(&ap.name, m))?;
            if let Some(other) = seen.iter().find(|o| {
                o.name == ap.name
                    || o.interface == ap.interface
                    || o.subnet.contains(&ap.subnet.network())
                    || ap.subnet.contains(&o.subnet.network())
            }) {
                return Err(bad(
                    &ap.name,
                    format!("shares its name, interface or subnet with `{}`", other.name),
                ));
            }
            if ap.interface == self.uplink {
                return Err(bad(&ap.name, "its interface is the uplink".into()));
            }
            seen.push(ap);
        }
        super::ingress::check_backend(self).map_err(|m| bad("-", m))?;
        if let Some(m) = &self.management_tunnel {
            if m.interface.is_empty()
                || m.interface.len() > 15
                || m.interface == self.uplink
                || self.aps.iter().any(|a| a.interface == m.interface)
            {
                return Err(bad(
                    "-",
                    format!(
                        "management_tunnel.interface `{}` must be a free interface name of 1-15 bytes",
                        m.interface
                    ),
                ));
            }
        }
        if let Some(u) = &self.upload {
            crate::upload::Collector::parse(&u.url)
                .map_err(|e| bad("-", format!("upload.url: {e}")))?;
            if u.retry_min_s == 0 || u.retry_max_s < u.retry_min_s {
                return Err(bad(
                    "-",
                    "upload: retry_min_s must be at least 1 and at most retry_max_s".into(),
                ));
            }
        }
        if let Some(a) = &self.at_rest {
            a.recipient()
                .map_err(|e| bad("-", format!("at_rest.recipient: {e}")))?;
        }
        crate::intercept::check_config(self).map_err(|m| bad("-", m))?;
        Ok(())
    }
}

/// Checks one AP as hostapd and Linux would.
pub fn check_ap(ap: &ApConfig) -> Result<(), String> {
    let name_ok = !ap.name.is_empty()
        && ap.name.len() <= 12
        && ap
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        return Err("name: 1 to 12 characters a-z, 0-9, '-' (it names wg-<name>)".into());
    }
    if let Some(ingress) = &ap.ingress {
        check_common(ap)?;
        return super::ingress::check(ap, ingress);
    }
    if ap.ssid.is_empty() || ap.ssid.len() > 32 || ap.ssid.chars().any(char::is_control) {
        return Err("SSID must be 1 to 32 bytes without control characters".into());
    }
    if !(8..=63).contains(&ap.passphrase.len())
        || !ap.passphrase.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        return Err("a WPA2 passphrase is 8 to 63 printable ASCII characters".into());
    }
    check_common(ap)
}

/// What every AP needs, Wi-Fi or ingress: an interface name, a private subnet, a country.
fn check_common(ap: &ApConfig) -> Result<(), String> {
    if ap.interface.is_empty() || ap.interface.len() > 15 || ap.interface.contains(['/', ' ']) {
        return Err(format!("`{}` is not an interface name", ap.interface));
    }
    if !ap.subnet.addr().is_private() || ap.subnet.prefix_len() > 29 {
        return Err(format!(
            "subnet {} must be RFC 1918 and /29 or larger",
            ap.subnet
        ));
    }
    if ap.country.len() != 2 || !ap.country.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!("country `{}` is not a two-letter code", ap.country));
    }
    Ok(())
}

impl ApConfig {
    /// The router's own address on the AP subnet (gateway of the phones).
    pub fn gateway(&self) -> Ipv4Addr {
        self.subnet
            .hosts()
            .next()
            .unwrap_or_else(|| self.subnet.network())
    }

    /// Whether phones join this AP over WireGuard rather than Wi-Fi.
    pub fn is_ingress(&self) -> bool {
        self.ingress.is_some()
    }

    /// The tunnel interface of this AP.
    pub fn tunnel_interface(&self) -> String {
        format!("wg-{}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "router: lr-a
management: 192.0.2.41
token_file: /etc/matador/token
state_dir: /var/lib/matador
run_dir: /run/matador
uplink: eth0
radio: simulated
wireguard: userspace
aps:
  - { name: ap0, ssid: matador-a, passphrase: lab-passphrase-a, interface: wlan0, subnet: 10.77.1.0/24, country: CH }
";

    #[test]
    fn a_good_config_loads_with_defaults() {
        let c = RouterConfig::parse(GOOD, "r.yaml").expect("good");
        assert_eq!(c.api_port, 8443);
        assert_eq!(c.aps[0].gateway(), Ipv4Addr::new(10, 77, 1, 1));
        assert_eq!(c.aps[0].tunnel_interface(), "wg-ap0");
    }

    #[test]
    fn bad_configs_say_what_to_fix() {
        let cases = [
            (GOOD.replace("uplink: eth0", "uplink: eth0\ncolour: red"), "colour"),
            (GOOD.replace("lab-passphrase-a", "short"), "8 to 63"),
            (GOOD.replace("10.77.1.0/24", "192.0.2.0/24"), "RFC 1918"),
            (GOOD.replace("interface: wlan0", "interface: eth0"), "uplink"),
            (GOOD.replace("name: ap0", "name: AP_0"), "name"),
            (GOOD.replace("country: CH", "country: Switzerland"), "country"),
            (
                GOOD.to_string()
                    + "  - { name: ap1, ssid: b, passphrase: lab-passphrase-b, interface: wlan1, subnet: 10.77.0.0/16 }\n",
                "subnet",
            ),
        ];
        for (text, expect) in cases {
            let e = RouterConfig::parse(&text, "r.yaml").expect_err(expect);
            assert!(e.to_string().contains(expect), "{expect}: {e}");
        }
    }
}
