//! The names a flow goes by, and where each came from: TLS SNI (over TCP or in a QUIC
//! Initial), the HTTP Host, and the DNS answer that gave out the flow's address.

pub mod dns;
pub mod http;
pub mod quic;
pub(crate) mod reassembly;
pub mod tls;

use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;

/// Where a flow's chosen name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    /// The TLS ClientHello's server_name (TCP or QUIC).
    Sni,
    /// The HTTP/1.x Host header.
    HttpHost,
    /// The DNS response that gave out the responder's address.
    Dns,
}

/// Every name seen for a flow, each from its own source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Names {
    /// TLS server_name of the ClientHello (TCP or QUIC).
    pub sni: Option<String>,
    /// Host header of the first HTTP request.
    pub http_host: Option<String>,
    /// Query name of the latest DNS response before the flow that had its address first.
    pub dns: Option<String>,
    /// User-Agent header of the first HTTP request.
    pub user_agent: Option<String>,
}

impl Names {
    /// The name the flow goes by: SNI over HTTP Host (without a port) over DNS.
    pub fn chosen(&self) -> Option<(NameSource, &str)> {
        if let Some(sni) = &self.sni {
            return Some((NameSource::Sni, sni));
        }
        if let Some(host) = &self.http_host {
            return Some((NameSource::HttpHost, strip_port(host)));
        }
        self.dns.as_deref().map(|d| (NameSource::Dns, d))
    }

    /// Every distinct name the flow goes by, chosen first.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        let host = self.http_host.as_deref().map(strip_port);
        [self.sni.as_deref(), host, self.dns.as_deref()]
            .into_iter()
            .flatten()
    }
}

/// `host:port` to `host`; a bracketed IPv6 literal keeps its brackets.
fn strip_port(host: &str) -> &str {
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

/// A name from captured bytes as a string; invalid UTF-8 is replaced, never trusted.
pub(crate) fn name_string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Which name each address was last given out for, as DNS responses go by: the MobiScope
/// rule's memory. Bounded: two generations of `cap / 2` addresses each, the older dropped
/// when the newer fills up.
pub(crate) struct Resolutions {
    current: HashMap<IpAddr, Box<str>>,
    previous: HashMap<IpAddr, Box<str>>,
    cap: usize,
}

impl Resolutions {
    /// An empty memory holding at most about `cap` addresses.
    pub(crate) fn new(cap: usize) -> Self {
        Resolutions {
            current: HashMap::new(),
            previous: HashMap::new(),
            cap: cap.max(2),
        }
    }

    /// Notes that a response gave out `address` first for `name`.
    pub(crate) fn record(&mut self, address: IpAddr, name: &[u8]) {
        if let Some(old) = self.current.get(&address) {
            if old.as_bytes() == name {
                return;
            }
        }
        if self.current.len() >= self.cap / 2 {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current
            .insert(address, name_string(name).into_boxed_str());
    }

    /// The name `address` was last given out for.
    pub(crate) fn name_of(&self, address: &IpAddr) -> Option<&str> {
        self.current
            .get(address)
            .or_else(|| self.previous.get(address))
            .map(|n| &**n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_is_sni_then_host_then_dns() {
        let mut n = Names {
            dns: Some("d.example".into()),
            ..Names::default()
        };
        assert_eq!(n.chosen(), Some((NameSource::Dns, "d.example")));
        n.http_host = Some("h.example:8080".into());
        assert_eq!(n.chosen(), Some((NameSource::HttpHost, "h.example")));
        n.sni = Some("s.example".into());
        assert_eq!(n.chosen(), Some((NameSource::Sni, "s.example")));
        assert_eq!(
            n.all().collect::<Vec<_>>(),
            ["s.example", "h.example", "d.example"]
        );
        assert_eq!(strip_port("[2001:db8::1]:443"), "[2001:db8::1]");
        assert_eq!(strip_port("2001:db8::1"), "2001:db8::1");
        assert_eq!(strip_port("a.example:"), "a.example:");
    }

    #[test]
    fn resolutions_keep_the_latest_and_stay_bounded() {
        let mut r = Resolutions::new(4);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        r.record(a, b"one.example");
        r.record(a, b"two.example");
        assert_eq!(r.name_of(&a), Some("two.example"));
        for i in 0..100u8 {
            r.record(IpAddr::from([198, 51, 100, i]), b"x.example");
        }
        assert!(r.current.len() + r.previous.len() <= 4);
        assert_eq!(r.name_of(&a), None);
    }
}
