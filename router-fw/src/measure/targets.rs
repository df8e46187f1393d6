//! Which paths a measurement traces: each kept service endpoint with the protocol and port
//! the app used (the application paths), and the other vantage node with TCP on a random
//! high port (the network path). Pure: endpoints in, trace groups out.

use matador_probe::flows::{Endpoint, Protocol as FlowProtocol};
use matador_probe::trace::{Protocol, Target};
use std::net::IpAddr;

/// Which path a group of traces measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// From the tunnel to the app's service endpoints.
    Application,
    /// From the tunnel to the other phone's vantage node.
    Network,
}

/// Targets traced together: one protocol and destination port per engine run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceGroup {
    /// Which path.
    pub kind: PathKind,
    /// Probe protocol.
    pub proto: Protocol,
    /// Destination port (TCP, UDP).
    pub port: Option<u16>,
    /// The targets.
    pub targets: Vec<Target>,
}

/// Trace groups for the kept endpoints and, if given, the peer vantage node (TCP to
/// `network_port`). Endpoints of other protocols than TCP, UDP and ICMP are skipped and
/// returned, so the log can say so.
pub fn plan(
    endpoints: &[Endpoint],
    peer: Option<IpAddr>,
    network_port: u16,
) -> (Vec<TraceGroup>, Vec<String>) {
    let mut groups: Vec<TraceGroup> = Vec::new();
    let mut skipped = Vec::new();
    for e in endpoints.iter().filter(|e| e.is_kept()) {
        let (proto, port) = match e.protocol {
            FlowProtocol::TCP => (Protocol::Tcp, Some(e.port)),
            FlowProtocol::UDP => (Protocol::Udp, Some(e.port)),
            FlowProtocol::ICMP | FlowProtocol::ICMPV6 => (Protocol::Icmp, None),
            other => {
                skipped.push(format!(
                    "{other} endpoint {}: no probe for that protocol",
                    e.address
                ));
                continue;
            }
        };
        let name = e.name.clone().unwrap_or_else(|| e.address.to_string());
        let target = Target::new(e.address, name);
        match groups
            .iter_mut()
            .find(|g| g.kind == PathKind::Application && g.proto == proto && g.port == port)
        {
            Some(g) if g.targets.iter().any(|t| t.addr == e.address) => {}
            Some(g) => g.targets.push(target),
            None => groups.push(TraceGroup {
                kind: PathKind::Application,
                proto,
                port,
                targets: vec![target],
            }),
        }
    }
    if let Some(peer) = peer {
        groups.push(TraceGroup {
            kind: PathKind::Network,
            proto: Protocol::Tcp,
            port: Some(network_port),
            targets: vec![Target::new(peer, peer.to_string())],
        });
    }
    (groups, skipped)
}

/// A port from the dynamic range (49152–65535), different on every call, for the network
/// path: no service listens there, so the path is the network's, not an application's.
pub fn random_high_port() -> u16 {
    use std::hash::BuildHasher;
    let r = std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    49152 + (r % 16384) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use matador_probe::flows::{Rules, Timers};

    fn endpoint(protocol: FlowProtocol, addr: &str, port: u16, kept: bool) -> Endpoint {
        let rules = if kept {
            Rules::default()
        } else {
            Rules::from_yaml("deny: [{port: 53}]", "r").unwrap()
        };
        let flow = matador_probe::flows::Flow {
            protocol,
            initiator: side("10.0.0.2", 40000),
            responder: side(addr, if kept { port } else { 53 }),
            first_ns: 1,
            last_ns: 2,
            bursts: Vec::new(),
            names: Default::default(),
            name: None,
            name_source: None,
        };
        let timers: Option<&Timers> = None;
        matador_probe::flows::endpoints(&[flow], &rules, timers).remove(0)
    }

    fn side(a: &str, port: u16) -> matador_probe::flows::FlowSide {
        matador_probe::flows::FlowSide {
            address: a.parse().unwrap(),
            port,
            packets: 1,
            bytes: 60,
            tcp_flags: Default::default(),
        }
    }

    #[test]
    fn endpoints_are_grouped_by_protocol_and_port_and_the_peer_comes_last() {
        let endpoints = [
            endpoint(FlowProtocol::TCP, "198.51.100.30", 443, true),
            endpoint(FlowProtocol::UDP, "198.51.100.40", 3478, true),
            endpoint(FlowProtocol::TCP, "198.51.100.31", 443, true),
            endpoint(FlowProtocol::TCP, "198.51.100.30", 443, true),
            endpoint(FlowProtocol::UDP, "10.0.0.1", 53, false),
            endpoint(FlowProtocol(47), "198.51.100.50", 0, true),
        ];
        let (groups, skipped) = plan(&endpoints, Some("203.0.113.9".parse().unwrap()), 50000);
        let shape: Vec<_> = groups
            .iter()
            .map(|g| {
                let t: Vec<_> = g.targets.iter().map(|t| t.addr.to_string()).collect();
                (g.kind, g.proto, g.port, t)
            })
            .collect();
        assert_eq!(
            shape,
            [
                (
                    PathKind::Application,
                    Protocol::Tcp,
                    Some(443),
                    vec!["198.51.100.30".to_string(), "198.51.100.31".to_string()]
                ),
                (
                    PathKind::Application,
                    Protocol::Udp,
                    Some(3478),
                    vec!["198.51.100.40".to_string()]
                ),
                (
                    PathKind::Network,
                    Protocol::Tcp,
                    Some(50000),
                    vec!["203.0.113.9".to_string()]
                ),
            ]
        );
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].contains("ip-47"), "{skipped:?}");
    }

    #[test]
    fn the_network_port_is_high() {
        for _ in 0..100 {
            assert!(random_high_port() >= 49152);
        }
    }
}
