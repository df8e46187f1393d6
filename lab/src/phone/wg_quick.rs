//! The `wg-quick` file the emulated WireGuard app imports: one `[Interface]` (PrivateKey,
//! Address, DNS) and one `[Peer]` (PublicKey, PresharedKey, Endpoint, AllowedIPs,
//! PersistentKeepalive). Keys are case-insensitive, `#` starts a comment, lists are
//! comma-separated. Like the Android app, it takes `ListenPort`, `MTU` and the per-app
//! lists without using them, and refuses any other key (scripts such as `PostUp` included).

use base64::Engine as _;
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A tunnel as the app imported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgQuick {
    /// The phone's private key (base64).
    pub private_key: String,
    /// The phone's tunnel addresses.
    pub addresses: Vec<IpNet>,
    /// Resolvers to use while the tunnel is up.
    pub dns: Vec<IpAddr>,
    /// The peer's public key (base64).
    pub peer_public_key: String,
    /// Optional preshared key (base64).
    pub preshared_key: Option<String>,
    /// Where the peer listens: an address, not a name (the phone has no resolver before).
    pub endpoint: SocketAddr,
    /// What goes into the tunnel.
    pub allowed_ips: Vec<IpNet>,
    /// Keepalive interval in seconds, if any.
    pub persistent_keepalive: Option<u16>,
}

/// Why a file was refused; `line` is 1-based, `None` when something is missing as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgQuickError {
    /// The offending line, if one is to blame.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for WgQuickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
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

/// Keys the Android app accepts that change nothing here.
const IGNORED: [&str; 4] = [
    "listenport",
    "mtu",
    "excludedapplications",
    "includedapplications",
];

#[derive(Default)]
struct Fields {
    private_key: Option<String>,
    addresses: Vec<IpNet>,
    dns: Vec<IpAddr>,
    public_key: Option<String>,
    preshared_key: Option<String>,
    endpoint: Option<SocketAddr>,
    allowed_ips: Vec<IpNet>,
    keepalive: Option<u16>,
}

fn at(line: usize, message: String) -> WgQuickError {
    WgQuickError {
        line: Some(line),
        message,
    }
}

/// Reads a `wg-quick` file.
pub fn parse(text: &str) -> Result<WgQuick, WgQuickError> {
    let mut f = Fields::default();
    let mut section = Section::None;
    let (mut interfaces, mut peers) = (0, 0);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, raw) in text.lines().enumerate() {
        let n = index + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let header = header.strip_suffix(']').unwrap_or("");
            let (next, count) = match header.trim().to_ascii_lowercase().as_str() {
                "interface" => (Section::Interface, &mut interfaces),
                "peer" => (Section::Peer, &mut peers),
                _ => return Err(at(n, format!("unknown section {line}"))),
            };
            *count += 1;
            if *count > 1 {
                return Err(at(
                    n,
                    format!("a second {line}: the tunnel has one of each"),
                ));
            }
            section = next;
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(at(n, format!("{line:?}: expected Key = Value")));
        };
        set(&mut f, section, key.trim(), value.trim()).map_err(|m| at(n, m))?;
    }
    let missing = |what: &str| WgQuickError {
        line: None,
        message: format!("{what} is missing"),
    };
    if interfaces == 0 {
        return Err(missing("the [Interface] section"));
    }
    if peers == 0 {
        return Err(missing("the [Peer] section"));
    }
    if f.addresses.is_empty() {
        return Err(missing("[Interface] Address"));
    }
    Ok(WgQuick {
        private_key: f
            .private_key
            .ok_or_else(|| missing("[Interface] PrivateKey"))?,
        addresses: f.addresses,
        dns: f.dns,
        peer_public_key: f.public_key.ok_or_else(|| missing("[Peer] PublicKey"))?,
        preshared_key: f.preshared_key,
        endpoint: f.endpoint.ok_or_else(|| missing("[Peer] Endpoint"))?,
        allowed_ips: f.allowed_ips,
        persistent_keepalive: f.keepalive,
    })
}

fn set(f: &mut Fields, section: Section, key: &str, value: &str) -> Result<(), String> {
    let once = |slot: &mut Option<String>| -> Result<(), String> {
        if slot.is_some() {
            return Err(format!("{key} given twice"));
        }
        check_key(key, value)?;
        *slot = Some(value.to_string());
        Ok(())
    };
    match (section, key.to_ascii_lowercase().as_str()) {
        (Section::None, _) => Err(format!("{key} before any [Interface] or [Peer]")),
        (Section::Interface, "privatekey") => once(&mut f.private_key),
        (Section::Interface, "address") => push_nets(&mut f.addresses, key, value),
        (Section::Interface, "dns") => {
            for item in list(value) {
                let ip = item.parse::<IpAddr>().map_err(|_| {
                    format!("DNS {item:?} is not an IP address (search domains are not supported)")
                })?;
                f.dns.push(ip);
            }
            Ok(())
        }
        (Section::Interface, k) if IGNORED.contains(&k) => Ok(()),
        (Section::Interface, _) => Err(format!("unknown key {key} in [Interface]")),
        (Section::Peer, "publickey") => once(&mut f.public_key),
        (Section::Peer, "presharedkey") => once(&mut f.preshared_key),
        (Section::Peer, "endpoint") => {
            if f.endpoint.is_some() {
                return Err(format!("{key} given twice"));
            }
            let ep = value.parse::<SocketAddr>().map_err(|_| {
                format!(
                    "Endpoint {value:?} is not ADDRESS:PORT (a name cannot be resolved before \
                     the tunnel is up)"
                )
            })?;
            if ep.port() == 0 {
                return Err(format!("Endpoint {value:?} has port 0"));
            }
            f.endpoint = Some(ep);
            Ok(())
        }
        (Section::Peer, "allowedips") => push_nets(&mut f.allowed_ips, key, value),
        (Section::Peer, "persistentkeepalive") => {
            f.keepalive = match value {
                "off" | "0" => None,
                v => Some(
                    v.parse::<u16>()
                        .map_err(|_| format!("{key} {v:?}: expected off or 1 to 65535 seconds"))?,
                ),
            };
            Ok(())
        }
        (Section::Peer, _) => Err(format!("unknown key {key} in [Peer]")),
    }
}

/// A WireGuard key: base64 of 32 bytes.
fn check_key(key: &str, value: &str) -> Result<(), String> {
    match base64::engine::general_purpose::STANDARD.decode(value) {
        Ok(bytes) if bytes.len() == 32 => Ok(()),
        _ => Err(format!("{key} is not a WireGuard key (base64 of 32 bytes)")),
    }
}

fn push_nets(into: &mut Vec<IpNet>, key: &str, value: &str) -> Result<(), String> {
    for item in list(value) {
        let net = item
            .parse::<IpNet>()
            .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("{key} {item:?} is not an address or address/prefix"))?;
        into.push(net);
    }
    Ok(())
}

/// The non-empty items of a comma-separated value.
fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    const KEY_B: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

    fn good() -> String {
        format!(
            "# MATAdOR device phone-b on router lr-b\n[Interface]\nPrivateKey = {KEY_A}\n\
             Address = 10.78.2.2/32\nDNS = 10.78.2.1\n\n[Peer]\nPublicKey = {KEY_B}\n\
             Endpoint = 192.0.2.13:51821\nAllowedIPs = 0.0.0.0/0, ::/0\nPersistentKeepalive = 25\n"
        )
    }

    #[test]
    fn a_profile_as_phone_enroll_writes_it_parses() {
        let t = parse(&good()).expect("parses");
        assert_eq!(t.private_key, KEY_A);
        assert_eq!(
            t.addresses,
            vec!["10.78.2.2/32".parse::<IpNet>().expect("net")]
        );
        assert_eq!(t.dns, vec!["10.78.2.1".parse::<IpAddr>().expect("ip")]);
        assert_eq!(t.peer_public_key, KEY_B);
        assert_eq!(t.preshared_key, None);
        assert_eq!(t.endpoint, "192.0.2.13:51821".parse().expect("endpoint"));
        assert_eq!(t.allowed_ips.len(), 2);
        assert_eq!(t.persistent_keepalive, Some(25));
    }

    #[test]
    fn keys_are_case_insensitive_and_extras_are_taken() {
        let text = good()
            .replace("PrivateKey", "privatekey")
            .replace("[Peer]", &format!("[peer]\nPresharedKey = {KEY_A}"))
            .replace("Address = 10.78.2.2/32", "Address = 10.78.2.2\nMTU = 1280");
        let t = parse(&text).expect("parses");
        assert_eq!(t.preshared_key.as_deref(), Some(KEY_A));
        assert_eq!(t.addresses[0].prefix_len(), 32, "a bare address is a /32");
    }

    #[test]
    fn a_missing_key_is_named() {
        let e = parse(&good().replace(&format!("PrivateKey = {KEY_A}\n"), "")).expect_err("no key");
        assert_eq!(e.line, None);
        assert_eq!(e.to_string(), "[Interface] PrivateKey is missing");
        let e = parse(&good().replace("Endpoint = 192.0.2.13:51821\n", "")).expect_err("no ep");
        assert_eq!(e.to_string(), "[Peer] Endpoint is missing");
        let e = parse("[Interface]\n").expect_err("no peer");
        assert_eq!(e.to_string(), "the [Peer] section is missing");
    }

    #[test]
    fn bad_values_point_at_their_line() {
        let e = parse(&good().replace("10.78.2.2/32", "10.78.2.300/32")).expect_err("address");
        assert_eq!(e.line, Some(4), "{e}");
        assert!(
            e.message.contains("\"10.78.2.300/32\" is not an address"),
            "{e}"
        );
        let e = parse(&good().replace(KEY_B, "not-a-key")).expect_err("key");
        assert_eq!(
            e.to_string(),
            "line 8: PublicKey is not a WireGuard key (base64 of 32 bytes)"
        );
        let e =
            parse(&good().replace("192.0.2.13:51821", "router.example:51821")).expect_err("name");
        assert!(e.message.contains("not ADDRESS:PORT"), "{e}");
        let e = parse(&good().replace("DNS = 10.78.2.1", "PostUp = rm -rf /")).expect_err("script");
        assert_eq!(e.to_string(), "line 5: unknown key PostUp in [Interface]");
        let e = parse(&format!("{}\n[Peer]\n", good())).expect_err("two peers");
        assert!(e.message.contains("a second [Peer]"), "{e}");
    }
}
