//! Reading and writing a vantage node as a `wg-quick` config file (`[Interface]` + one `[Peer]`).
//!
//! Keys and section names are case-insensitive, `#` starts a comment, list values are
//! comma-separated and list keys may repeat, as in `wg-quick`. Keys that only matter to
//! `wg-quick` itself (`ListenPort`, `MTU`, `Table`, `FwMark`, `SaveConfig`, `PreUp`, `PostUp`,
//! `PreDown`, `PostDown`) are ignored: the router sets its tunnels up itself and never runs
//! scripts from a peer's file. Any other key is an error, so a typo is not silently dropped.

use std::fmt::{self, Write as _};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::{check_endpoint, check_key, Invalid, WgPeer};

/// Why a `wg-quick` file was refused; `line` is 1-based, `None` for what is missing as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgQuickError {
    /// The offending line, if one is to blame.
    pub line: Option<usize>,
    /// What is wrong, for a person.
    pub message: String,
}

impl fmt::Display for WgQuickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "wg-quick config, line {line}: {}", self.message),
            None => write!(f, "wg-quick config: {}", self.message),
        }
    }
}

impl std::error::Error for WgQuickError {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Interface,
    Peer,
}

/// Keys `wg-quick` understands that the router deliberately ignores.
const IGNORED: [&str; 9] = [
    "listenport",
    "mtu",
    "table",
    "fwmark",
    "saveconfig",
    "preup",
    "postup",
    "predown",
    "postdown",
];

/// Reads the vantage node `name` from the text of a `wg-quick` file and checks it as
/// [`WgPeer::validate`] does.
pub fn parse_wg_quick(name: &str, text: &str) -> Result<WgPeer, WgQuickError> {
    parse(name, text, true)
}

/// Reads a management tunnel's `wg-quick` file (the router's key and address, the controller
/// as peer): as [`parse_wg_quick`], but without a resolver, which only phones need.
pub fn parse_management_wg_quick(text: &str) -> Result<WgPeer, WgQuickError> {
    parse("controller", text, false)
}

fn parse(name: &str, text: &str, vantage: bool) -> Result<WgPeer, WgQuickError> {
    let mut f = Fields::default();
    let (mut seen_interface, mut seen_peer) = (false, false);
    let mut section = Section::None;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, raw) in text.lines().enumerate() {
        let n = index + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let Some(header) = header.strip_suffix(']') else {
                return Err(at(n, format!("{line:?}: a section header ends with ']'")));
            };
            let seen = match header.trim().to_ascii_lowercase().as_str() {
                "interface" => {
                    section = Section::Interface;
                    &mut seen_interface
                }
                "peer" => {
                    section = Section::Peer;
                    &mut seen_peer
                }
                _ => return Err(at(n, format!("unknown section {line}"))),
            };
            if std::mem::replace(seen, true) {
                return Err(at(
                    n,
                    format!(
                        "a second {line} section: a vantage node is one interface and one peer"
                    ),
                ));
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(at(n, format!("{line:?}: expected Key = Value")));
        };
        f.set(section, n, key.trim(), value.trim())?;
    }
    if !seen_peer {
        return Err(whole("no [Peer] section".into()));
    }
    let required =
        |v: Option<String>, what: &str| v.ok_or_else(|| whole(format!("{what} is missing")));
    let peer = WgPeer {
        name: name.to_owned(),
        public_key: required(f.public_key, "[Peer] PublicKey")?,
        endpoint: required(f.endpoint, "[Peer] Endpoint")?,
        allowed_ips: f.allowed_ips,
        address: f.address,
        dns: f.dns,
        private_key: f.private_key,
        preshared_key: f.preshared_key,
        persistent_keepalive: f.persistent_keepalive.flatten(),
    };
    let missing = [
        (peer.allowed_ips.is_empty(), "[Peer] AllowedIPs"),
        (peer.address.is_empty(), "[Interface] Address"),
        (
            vantage && peer.dns.is_empty(),
            "[Interface] DNS (the vantage node's resolver)",
        ),
    ];
    if let Some((_, what)) = missing.iter().find(|(m, _)| *m) {
        return Err(whole(format!("{what} is missing")));
    }
    if vantage {
        peer.validate()
    } else {
        peer.validate_tunnel()
    }
    .map_err(|e| whole(e.to_string()))?;
    Ok(peer)
}

fn at(line: usize, message: String) -> WgQuickError {
    WgQuickError {
        line: Some(line),
        message,
    }
}

fn whole(message: String) -> WgQuickError {
    WgQuickError {
        line: None,
        message,
    }
}

/// What the lines have said so far.
#[derive(Default)]
struct Fields {
    private_key: Option<String>,
    address: Vec<IpNet>,
    dns: Vec<IpAddr>,
    public_key: Option<String>,
    preshared_key: Option<String>,
    endpoint: Option<String>,
    allowed_ips: Vec<IpNet>,
    /// `Some(None)`: given as off.
    persistent_keepalive: Option<Option<u16>>,
}

impl Fields {
    /// Takes in `key = value` from line `n` of `section`.
    fn set(
        &mut self,
        section: Section,
        n: usize,
        key: &str,
        value: &str,
    ) -> Result<(), WgQuickError> {
        let once = |slot: &mut Option<String>, check: fn(&str, &str) -> Result<(), Invalid>| {
            if slot.is_some() {
                return Err(at(n, format!("{key} given twice")));
            }
            check(key, value).map_err(|e| at(n, e.to_string()))?;
            *slot = Some(value.to_owned());
            Ok(())
        };
        match (section, key.to_ascii_lowercase().as_str()) {
            (Section::None, _) => Err(at(n, format!("{key} before any [Interface] or [Peer]"))),
            (Section::Interface, "privatekey") => once(&mut self.private_key, check_key),
            (Section::Interface, "address") => {
                for item in list(value) {
                    self.address.push(parse_net(item).map_err(|m| at(n, m))?);
                }
                Ok(())
            }
            (Section::Interface, "dns") => {
                for item in list(value) {
                    let ip = item.parse::<IpAddr>().map_err(|_| {
                        at(
                            n,
                            format!("DNS {item:?} is not an IP address (search domains are not supported)"),
                        )
                    })?;
                    self.dns.push(ip);
                }
                Ok(())
            }
            (Section::Interface, k) if IGNORED.contains(&k) => Ok(()),
            (Section::Interface, _) => Err(at(n, format!("unknown key {key} in [Interface]"))),
            (Section::Peer, "publickey") => once(&mut self.public_key, check_key),
            (Section::Peer, "presharedkey") => once(&mut self.preshared_key, check_key),
            (Section::Peer, "endpoint") => once(&mut self.endpoint, check_endpoint),
            (Section::Peer, "allowedips") => {
                for item in list(value) {
                    self.allowed_ips
                        .push(parse_net(item).map_err(|m| at(n, m))?);
                }
                Ok(())
            }
            (Section::Peer, "persistentkeepalive") => {
                if self.persistent_keepalive.is_some() {
                    return Err(at(n, format!("{key} given twice")));
                }
                let seconds = match value {
                    "off" | "0" => None,
                    v => Some(v.parse::<u16>().map_err(|_| {
                        at(
                            n,
                            format!("{key} {v:?}: expected off or 1 to 65535 seconds"),
                        )
                    })?),
                };
                self.persistent_keepalive = Some(seconds);
                Ok(())
            }
            (Section::Peer, _) => Err(at(n, format!("unknown key {key} in [Peer]"))),
        }
    }
}

/// Writes `peer` as a `wg-quick` file that [`parse_wg_quick`] reads back to the same value.
/// The file holds the private and preshared keys if `peer` has them: keep it private.
pub fn render_wg_quick(peer: &WgPeer) -> String {
    let join = |items: &mut dyn Iterator<Item = String>| items.collect::<Vec<_>>().join(", ");
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# MATAdOR vantage node {}", peer.name);
    out.push_str("[Interface]\n");
    if let Some(key) = &peer.private_key {
        let _ = writeln!(out, "PrivateKey = {key}");
    }
    let _ = writeln!(
        out,
        "Address = {}",
        join(&mut peer.address.iter().map(|a| a.to_string()))
    );
    if !peer.dns.is_empty() {
        let _ = writeln!(
            out,
            "DNS = {}",
            join(&mut peer.dns.iter().map(|a| a.to_string()))
        );
    }
    out.push_str("\n[Peer]\n");
    let _ = writeln!(out, "PublicKey = {}", peer.public_key);
    if let Some(key) = &peer.preshared_key {
        let _ = writeln!(out, "PresharedKey = {key}");
    }
    let _ = writeln!(out, "Endpoint = {}", peer.endpoint);
    let _ = writeln!(
        out,
        "AllowedIPs = {}",
        join(&mut peer.allowed_ips.iter().map(|a| a.to_string()))
    );
    if let Some(seconds) = peer.persistent_keepalive {
        let _ = writeln!(out, "PersistentKeepalive = {seconds}");
    }
    out
}

/// The non-empty items of a comma-separated value.
fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// `a.b.c.d/len`, `v6/len`, or a bare address (a host route, as `wg` reads it).
fn parse_net(item: &str) -> Result<IpNet, String> {
    if let Ok(net) = item.parse::<IpNet>() {
        return Ok(net);
    }
    item.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{item:?} is not an address or address/prefix"))
}

#[cfg(test)]
mod tests;
