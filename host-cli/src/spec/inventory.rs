//! The inventory: the routers (API, token, pinned certificate, Wi-Fi), the phones (serial,
//! model, router, registered personal values) and the vantage nodes (place and `wg-quick`
//! peer) a campaign can use.

use super::checks::normalise_fingerprint;
use super::error::SpecError;
use matador_pipeline::pii::RegisteredValue;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Everything a campaign can run on, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inventory {
    /// Lab or field routers, each serving one phone.
    pub routers: Vec<RouterEntry>,
    /// Phones, each behind one router.
    pub phones: Vec<PhoneEntry>,
    /// Vantage nodes, in file order (which is the order of `pairs: all`).
    pub vantage_nodes: Vec<VantageNode>,
    /// Routers that measure together: the phone of the first messages the phone of the second.
    pub router_pairs: Vec<(String, String)>,
}

/// One router.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouterEntry {
    /// Name, as in the inventory.
    pub name: String,
    /// The router's access point that serves the phone (router API name).
    pub ap: String,
    /// How to reach it.
    pub access: RouterAccess,
}

/// How the host reaches a router and joins its Wi-Fi.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterAccess {
    /// A router of the running virtual lab: API address, token, fingerprint and Wi-Fi come
    /// from `matador-host lab status --json` (`lab_routers`, matched by name).
    Lab,
    /// A router reached over its management address.
    Direct {
        /// `host:port` of the HTTPS API.
        api: String,
        /// File holding the API token.
        token_file: PathBuf,
        /// The API certificate's SHA-256, to pin.
        fingerprint: Fingerprint,
        /// The access point's network.
        wifi: Wifi,
    },
}

/// A pinned certificate fingerprint, given or read from a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fingerprint {
    /// 64 lower-case hex digits.
    Sha256(String),
    /// A file holding it (as the router publishes it).
    File(PathBuf),
}

/// A WPA2 network.
#[derive(Clone, PartialEq, Serialize)]
pub struct Wifi {
    /// SSID.
    pub ssid: String,
    /// The passphrase, given or in a file.
    pub passphrase: Passphrase,
}

impl std::fmt::Debug for Wifi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wifi")
            .field("ssid", &self.ssid)
            .field("passphrase", &self.passphrase)
            .finish()
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print an inline passphrase in logs.
        match self {
            Passphrase::Inline(_) => f.write_str("Inline(<passphrase>)"),
            Passphrase::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

/// Where a Wi-Fi passphrase is.
#[derive(Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Passphrase {
    /// In the inventory itself.
    Inline(#[serde(serialize_with = "redacted")] String),
    /// In this file.
    File(PathBuf),
}

/// One phone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhoneEntry {
    /// ADB serial (`adb devices`), or `host:port` of a phone reached over TCP.
    pub serial: String,
    /// `ro.product.model`: picks the app's UI script.
    pub model: String,
    /// The router whose Wi-Fi (or WireGuard ingress) the phone joins.
    pub router: String,
    /// Ask the adb server to connect to `serial` (a `host:port`) first, as `adb connect`.
    pub connect: bool,
    /// How iptables runs as root on this phone.
    pub root: RootVia,
    /// Personal values registered for this phone (`pii:`), searched for in its captures.
    #[serde(serialize_with = "super::pii::masked")]
    pub pii: Vec<RegisteredValue>,
    /// The device name the phone is enrolled under on its router's WireGuard ingress
    /// (`phone enroll --device`): it reaches the router over its VPN, not over Wi-Fi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<String>,
}

/// How the phone runs commands as root (the per-app firewall needs it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RootVia {
    /// adbd itself runs as root (`adb root` on userdebug builds, the lab's phones).
    #[default]
    Adbd,
    /// Through `su -c` (rooted user builds).
    Su,
}

/// One vantage node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VantageNode {
    /// Name, as in the inventory.
    pub name: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// City, for people.
    pub city: String,
    /// Latitude in degrees: the phone's test location.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// UN M49 region (`pairs: within_region`); filled from the country when not given.
    pub region: Option<String>,
    /// Where the `wg-quick` peer config comes from.
    pub peer: PeerSource,
}

/// Where a vantage node's `wg-quick` config is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerSource {
    /// The lab issues one per router (`matador-host lab add-peer NODE`).
    Lab,
    /// A `wg-quick` file.
    File(PathBuf),
    /// The config itself, in the inventory (checked when loaded).
    Inline(#[serde(serialize_with = "redacted")] String),
}

/// Secrets in the inventory are written out as a placeholder.
fn redacted<S: serde::Serializer>(_: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("<redacted>")
}

impl Inventory {
    /// The phone behind a router.
    pub fn phone_of(&self, router: &str) -> Option<&PhoneEntry> {
        self.phones.iter().find(|p| p.router == router)
    }

    /// A router by name.
    pub fn router(&self, name: &str) -> Option<&RouterEntry> {
        self.routers.iter().find(|r| r.name == name)
    }

    /// A vantage node by name.
    pub fn vantage_node(&self, name: &str) -> Option<&VantageNode> {
        self.vantage_nodes.iter().find(|v| v.name == name)
    }

    /// Phone models in the inventory, each once.
    pub fn models(&self) -> Vec<&str> {
        let mut seen = Vec::new();
        for p in &self.phones {
            if !seen.contains(&p.model.as_str()) {
                seen.push(p.model.as_str());
            }
        }
        seen
    }

    /// Fills each vantage node's missing region from its country (e.g. the UN M49 table).
    pub fn fill_regions(&mut self, region_of: impl Fn(&str) -> Option<String>) {
        for v in &mut self.vantage_nodes {
            if v.region.is_none() {
                v.region = region_of(&v.country);
            }
        }
    }
}

/// Largest secret file read (tokens, passphrases, fingerprints, wg-quick configs).
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Reads a small text file (a token, a passphrase, a fingerprint, a `wg-quick` config).
pub fn read_small_file(path: &Path) -> Result<String, SpecError> {
    let file = path.display().to_string();
    let meta = std::fs::metadata(path)
        .map_err(|e| SpecError::whole(&file, format!("cannot read: {e}")))?;
    if meta.len() > MAX_SECRET_FILE {
        return Err(SpecError::whole(
            &file,
            format!("larger than {MAX_SECRET_FILE} bytes"),
        ));
    }
    std::fs::read_to_string(path).map_err(|e| SpecError::whole(&file, format!("cannot read: {e}")))
}

impl Fingerprint {
    /// The fingerprint, reading the file if it is in one.
    pub fn resolve(&self) -> Result<String, SpecError> {
        match self {
            Fingerprint::Sha256(hex) => Ok(hex.clone()),
            Fingerprint::File(path) => normalise_fingerprint(&read_small_file(path)?)
                .map_err(|m| SpecError::whole(&path.display().to_string(), m)),
        }
    }
}

impl Passphrase {
    /// The passphrase, reading the file if it is in one (surrounding whitespace dropped).
    pub fn resolve(&self) -> Result<String, SpecError> {
        match self {
            Passphrase::Inline(p) => Ok(p.clone()),
            Passphrase::File(path) => {
                let p = read_small_file(path)?.trim().to_string();
                check_passphrase(&p)
                    .map_err(|m| SpecError::whole(&path.display().to_string(), m))?;
                Ok(p)
            }
        }
    }
}

impl PeerSource {
    /// The `wg-quick` text, `None` for a lab node (the lab issues it per router).
    pub fn wg_quick(&self) -> Result<Option<String>, SpecError> {
        match self {
            PeerSource::Lab => Ok(None),
            PeerSource::File(path) => read_small_file(path).map(Some),
            PeerSource::Inline(text) => Ok(Some(text.clone())),
        }
    }
}

/// A WPA2 passphrase: 8 to 63 printable ASCII characters.
pub fn check_passphrase(p: &str) -> Result<(), String> {
    if (8..=63).contains(&p.len()) && p.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Ok(())
    } else {
        Err("a WPA2 passphrase is 8 to 63 printable ASCII characters".to_string())
    }
}
