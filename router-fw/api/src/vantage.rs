//! `PUT /v1/aps/{ap}/vantage`: the vantage node an AP tunnels to, as a `wg-quick`-style peer.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::check::{check_id, Invalid};

/// Set (or replace) an AP's vantage node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetVantage {
    /// The WireGuard peer and the router's side of the tunnel.
    pub peer: WgPeer,
}

/// A vantage node as a `wg-quick` config describes it: the peer, plus the router's own tunnel
/// address and the resolver the phone is given. [`crate::parse_wg_quick`] reads one from a
/// `wg-quick` file, [`crate::render_wg_quick`] writes one.
///
/// `Debug` never shows the private or preshared key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WgPeer {
    /// The vantage node's name (`[A-Za-z0-9._-]{1,64}`).
    pub name: String,
    /// The peer's public key, base64 of 32 bytes (`[Peer] PublicKey`).
    pub public_key: String,
    /// `host:port`, `a.b.c.d:port` or `[v6]:port` (`[Peer] Endpoint`).
    pub endpoint: String,
    /// Destinations routed into the tunnel, usually `0.0.0.0/0` and `::/0` (`[Peer] AllowedIPs`).
    pub allowed_ips: Vec<IpNet>,
    /// The router's tunnel address(es) with prefix (`[Interface] Address`).
    pub address: Vec<IpNet>,
    /// The vantage node's resolver(s), handed to the phone over DHCP (`[Interface] DNS`).
    pub dns: Vec<IpAddr>,
    /// The router's private key for this tunnel, when the vantage node's operator issued one
    /// (commercial VPN exits do); `None` to use the router's own key (`[Interface] PrivateKey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    /// `[Peer] PresharedKey`, base64 of 32 bytes.
    #[serde(default)]
    pub preshared_key: Option<String>,
    /// `[Peer] PersistentKeepalive` in seconds, 1 to 65535; `None` for off.
    #[serde(default)]
    pub persistent_keepalive: Option<u16>,
}

impl fmt::Debug for WgPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |k: &Option<String>| k.as_ref().map(|_| "<redacted>");
        f.debug_struct("WgPeer")
            .field("name", &self.name)
            .field("public_key", &self.public_key)
            .field("endpoint", &self.endpoint)
            .field("allowed_ips", &self.allowed_ips)
            .field("address", &self.address)
            .field("dns", &self.dns)
            .field("private_key", &redacted(&self.private_key))
            .field("preshared_key", &redacted(&self.preshared_key))
            .field("persistent_keepalive", &self.persistent_keepalive)
            .finish()
    }
}

impl WgPeer {
    /// Checks every field; the router refuses a peer that fails this.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.validate_tunnel()?;
        if self.dns.is_empty() {
            return Err(Invalid::new(
                "peer.dns",
                "the phone is given the vantage node's resolver: at least one is needed",
            ));
        }
        Ok(())
    }

    /// Checks every field a tunnel needs, but not the resolver: the management tunnel
    /// carries no phone, so it needs none.
    pub fn validate_tunnel(&self) -> Result<(), Invalid> {
        check_id("peer.name", &self.name)?;
        check_key("peer.public_key", &self.public_key)?;
        check_endpoint("peer.endpoint", &self.endpoint)?;
        if self.allowed_ips.is_empty() {
            return Err(Invalid::new(
                "peer.allowed_ips",
                "must not be empty (usually 0.0.0.0/0, ::/0)",
            ));
        }
        if self.address.is_empty() {
            return Err(Invalid::new(
                "peer.address",
                "the router needs a tunnel address, e.g. 10.64.0.2/32",
            ));
        }
        if let Some(key) = &self.private_key {
            check_key("peer.private_key", key)?;
        }
        if let Some(key) = &self.preshared_key {
            check_key("peer.preshared_key", key)?;
        }
        if self.persistent_keepalive == Some(0) {
            return Err(Invalid::new(
                "peer.persistent_keepalive",
                "0 means off: leave it out instead",
            ));
        }
        Ok(())
    }

    /// What `GET /v1/status` shows of this peer.
    pub fn summary(&self) -> crate::VantageSummary {
        crate::VantageSummary {
            name: self.name.clone(),
            endpoint: self.endpoint.clone(),
            public_key: self.public_key.clone(),
        }
    }
}

/// A WireGuard key: standard base64 of exactly 32 bytes (44 characters, one `=` of padding,
/// canonical so that one key has one spelling).
pub fn check_key(field: &str, key: &str) -> Result<(), Invalid> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = key.as_bytes();
    let shape_ok =
        bytes.len() == 44 && bytes[43] == b'=' && bytes[..43].iter().all(|b| ALPHABET.contains(b));
    // The 43rd character carries 4 bits of the key and 2 bits of padding, which must be zero.
    let canonical = shape_ok
        && ALPHABET
            .iter()
            .position(|&a| a == bytes[42])
            .is_some_and(|v| v & 0b11 == 0);
    if canonical {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            "not a WireGuard key (base64 of 32 bytes, 44 characters ending in '=')",
        ))
    }
}

/// An endpoint: `a.b.c.d:port`, `[v6]:port` or `dns.name:port`, port 1 to 65535.
pub fn check_endpoint(field: &str, endpoint: &str) -> Result<(), Invalid> {
    let bad = |why: &str| Err(Invalid::new(field, format!("{endpoint:?}: {why}")));
    let Some((host, port)) = endpoint.rsplit_once(':') else {
        return bad("expected host:port");
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return bad("the port must be 1 to 65535"),
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return match v6.parse::<std::net::Ipv6Addr>() {
            Ok(_) => Ok(()),
            Err(_) => bad("not an IPv6 address between [ ]"),
        };
    }
    if host.contains(':') {
        return bad("write an IPv6 address as [address]:port");
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.len() <= 253 && host.split('.').all(label_ok) {
        Ok(())
    } else {
        bad("the host is neither an IP address nor a DNS name")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const KEY: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

    fn peer() -> WgPeer {
        WgPeer {
            name: "vantage-de".into(),
            public_key: KEY.into(),
            endpoint: "203.0.113.5:51820".into(),
            allowed_ips: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
            address: vec!["10.64.0.2/32".parse().unwrap()],
            dns: vec!["10.64.0.1".parse().unwrap()],
            private_key: Some(KEY.into()),
            preshared_key: None,
            persistent_keepalive: Some(25),
        }
    }

    #[test]
    fn keys() {
        assert!(check_key("k", KEY).is_ok());
        assert!(check_key("k", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").is_ok());
        for bad in [
            "",
            "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg", // no padding
            "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dh=", // non-zero padding bits
            "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8D*=", // not base64
            "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg==", // too long
        ] {
            assert!(check_key("k", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints() {
        for good in [
            "203.0.113.5:51820",
            "[2001:db8::1]:1",
            "vpn-1.example.net:65535",
        ] {
            assert!(check_endpoint("e", good).is_ok(), "{good}");
        }
        for bad in [
            "203.0.113.5",
            "203.0.113.5:0",
            "203.0.113.5:65536",
            "2001:db8::1:51820",
            "[nope]:1",
            "bad_host:1",
            "-x.example:1",
            ":1",
        ] {
            assert!(check_endpoint("e", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validate_names_the_field() {
        assert_eq!(peer().validate(), Ok(()));
        let field = |p: WgPeer| p.validate().unwrap_err().field;
        assert_eq!(
            field(WgPeer {
                dns: vec![],
                ..peer()
            }),
            "peer.dns"
        );
        assert_eq!(
            field(WgPeer {
                address: vec![],
                ..peer()
            }),
            "peer.address"
        );
        assert_eq!(
            field(WgPeer {
                allowed_ips: vec![],
                ..peer()
            }),
            "peer.allowed_ips"
        );
        assert_eq!(
            field(WgPeer {
                persistent_keepalive: Some(0),
                ..peer()
            }),
            "peer.persistent_keepalive"
        );
        assert_eq!(
            field(WgPeer {
                preshared_key: Some("x".into()),
                ..peer()
            }),
            "peer.preshared_key"
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let text = format!(
            "{:?}",
            WgPeer {
                preshared_key: Some(KEY.into()),
                ..peer()
            }
        );
        assert_eq!(text.matches(KEY).count(), 1, "{text}"); // the public key only
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn json_round_trip_and_unknown_fields() {
        let json = serde_json::to_string(&SetVantage { peer: peer() }).unwrap();
        let back: SetVantage = serde_json::from_str(&json).unwrap();
        assert_eq!(back.peer, peer());
        let typo = json.replace("\"endpoint\"", "\"endpiont\"");
        assert!(serde_json::from_str::<SetVantage>(&typo).is_err());
    }
}
