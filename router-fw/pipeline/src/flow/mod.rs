//! The flow as the pipeline sees it: one connection of one device (and app), its two sides,
//! the names it goes by, and optionally its reassembled payload each way.
//!
//! Field names follow `matador_probe::flows` (`FlowSide`, `Names`, `sni`, `http_host`, `dns`,
//! `user_agent`); the pipeline takes this plain-data copy so the probe never depends on it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// A flow's transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// Any other IP protocol, by number.
    Other(u8),
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Tcp => f.write_str("tcp"),
            Protocol::Udp => f.write_str("udp"),
            Protocol::Other(n) => write!(f, "ip-{n}"),
        }
    }
}

/// One side of a flow: its address and port, and what it sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSide {
    /// IP address.
    pub address: IpAddr,
    /// Port (0 for protocols without ports).
    pub port: u16,
    /// Packets this side sent.
    #[serde(default)]
    pub packets: u64,
    /// Bytes this side sent.
    #[serde(default)]
    pub bytes: u64,
}

impl FlowSide {
    /// A side with no traffic counted yet.
    pub fn new(address: IpAddr, port: u16) -> FlowSide {
        FlowSide {
            address,
            port,
            packets: 0,
            bytes: 0,
        }
    }
}

/// Where a flow's server name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    /// The TLS ClientHello's server_name (TCP or QUIC).
    Sni,
    /// The HTTP/1.x Host header.
    HttpHost,
    /// The DNS response that gave out the server's address.
    Dns,
}

/// Every name seen for a flow, each from its own source, and the client's User-Agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Names {
    /// TLS server_name of the ClientHello (TCP or QUIC).
    pub sni: Option<String>,
    /// Host header of the first HTTP request (may carry a port).
    pub http_host: Option<String>,
    /// The DNS name that resolved to the server's address.
    pub dns: Option<String>,
    /// User-Agent header of the first HTTP request.
    pub user_agent: Option<String>,
}

impl Names {
    /// The name the flow goes by: SNI over HTTP Host (without a port) over DNS.
    pub fn chosen(&self) -> Option<(NameSource, &str)> {
        fn usable(s: &Option<String>) -> Option<&str> {
            s.as_deref().filter(|s| !s.trim().is_empty())
        }
        if let Some(sni) = usable(&self.sni) {
            return Some((NameSource::Sni, sni));
        }
        if let Some(host) = usable(&self.http_host) {
            return Some((NameSource::HttpHost, strip_port(host)));
        }
        usable(&self.dns).map(|d| (NameSource::Dns, d))
    }

    /// Every name the flow goes by (SNI, HTTP Host without port, DNS), with its source.
    pub fn all(&self) -> impl Iterator<Item = (NameSource, &str)> {
        [
            (NameSource::Sni, self.sni.as_deref()),
            (
                NameSource::HttpHost,
                self.http_host.as_deref().map(strip_port),
            ),
            (NameSource::Dns, self.dns.as_deref()),
        ]
        .into_iter()
        .filter_map(|(s, n)| n.filter(|n| !n.trim().is_empty()).map(|n| (s, n)))
    }
}

/// `host:port` to `host`; a bracketed IPv6 literal keeps its brackets.
pub fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, port))
            if !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!h.contains(':') || h.ends_with(']')) =>
        {
            h
        }
        _ => host,
    }
}

/// What a flow's payload bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadKind {
    /// A cleartext protocol (HTTP, DNS, …): the bytes are what went over the wire.
    Cleartext,
    /// TLS (or QUIC) that was not decrypted: the bytes are ciphertext.
    Encrypted,
    /// TLS that was intercepted: the bytes are the decrypted application data.
    Decrypted,
}

impl PayloadKind {
    /// Whether the bytes can be read as application data.
    pub fn readable(self) -> bool {
        !matches!(self, PayloadKind::Encrypted)
    }
}

/// The reassembled payload of a flow, each direction (possibly truncated by the capture).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Whether the bytes are cleartext, ciphertext, or decrypted TLS.
    pub kind: PayloadKind,
    /// Bytes the client sent to the server, in order.
    #[serde(default)]
    pub to_server: Vec<u8>,
    /// Bytes the server sent to the client, in order.
    #[serde(default)]
    pub to_client: Vec<u8>,
}

/// One flow of one device, as the pipeline's plugins inspect it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// The device the flow belongs to (its id in the policy).
    pub device: String,
    /// The app the flow belongs to, when known (Android package or a uid label).
    #[serde(default)]
    pub app: Option<String>,
    /// Transport protocol.
    pub protocol: Protocol,
    /// The side that opened the flow (the phone).
    pub client: FlowSide,
    /// The other side.
    pub server: FlowSide,
    /// Names the flow goes by, and the client's User-Agent.
    #[serde(default)]
    pub names: Names,
    /// The reassembled payload, when it was kept.
    #[serde(default)]
    pub payload: Option<Payload>,
}

impl FlowRecord {
    /// A flow with no names, counts or payload: fill in what is known.
    pub fn new(device: &str, protocol: Protocol, client: FlowSide, server: FlowSide) -> Self {
        FlowRecord {
            device: device.to_string(),
            app: None,
            protocol,
            client,
            server,
            names: Names::default(),
            payload: None,
        }
    }

    /// Where the flow went, for reports: its server name, else `address:port`.
    pub fn destination(&self) -> String {
        match self.names.chosen() {
            Some((_, name)) => name.to_string(),
            None => match self.server.address {
                IpAddr::V4(a) => format!("{a}:{}", self.server.port),
                IpAddr::V6(a) => format!("[{a}]:{}", self.server.port),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> FlowRecord {
        FlowRecord::new(
            "phone-a",
            Protocol::Tcp,
            FlowSide::new([10, 0, 0, 2].into(), 40000),
            FlowSide::new([192, 0, 2, 7].into(), 443),
        )
    }

    #[test]
    fn the_destination_is_the_chosen_name_else_the_address() {
        let mut f = flow();
        assert_eq!(f.destination(), "192.0.2.7:443");
        f.server.address = "2001:db8::1".parse().expect("literal");
        assert_eq!(f.destination(), "[2001:db8::1]:443");
        f.names.dns = Some("dns.example".into());
        f.names.http_host = Some("host.example:8080".into());
        assert_eq!(f.destination(), "host.example");
        f.names.sni = Some("sni.example".into());
        assert_eq!(f.destination(), "sni.example");
    }

    #[test]
    fn empty_names_are_skipped() {
        let names = Names {
            sni: Some(" ".into()),
            dns: Some("d.example".into()),
            ..Names::default()
        };
        assert_eq!(names.chosen(), Some((NameSource::Dns, "d.example")));
        assert_eq!(names.all().count(), 1);
    }

    #[test]
    fn ports_are_stripped_but_ipv6_literals_kept() {
        assert_eq!(strip_port("a.example:80"), "a.example");
        assert_eq!(strip_port("[2001:db8::1]:443"), "[2001:db8::1]");
        assert_eq!(strip_port("2001:db8::1"), "2001:db8::1");
        assert_eq!(strip_port("a.example:"), "a.example:");
    }

    #[test]
    fn a_flow_reads_from_json() {
        let text = r#"{"device":"p","protocol":"udp",
            "client":{"address":"10.0.0.2","port":5000},
            "server":{"address":"192.0.2.1","port":53},
            "payload":{"kind":"cleartext","to_server":[1,2]}}"#;
        let f: FlowRecord = serde_json::from_str(text).expect("valid flow");
        assert_eq!(f.protocol, Protocol::Udp);
        assert_eq!(f.payload.map(|p| p.to_server), Some(vec![1, 2]));
    }
}
