//! The classification plugin: a flow's application protocol (TLS, QUIC, HTTP, DNS) from its
//! payload, names and ports; its service name (SNI > HTTP Host > DNS name); and the client
//! software named by its User-Agent.

mod user_agent;

pub use user_agent::{product, Product};

use crate::flow::{FlowRecord, PayloadKind, Protocol};
use crate::plugin::{
    AppProtocol, Classification, Detail, DeviceContext, Finding, Plugin, PluginOutput,
};

/// HTTP/1.x request methods a client's first bytes start with.
const HTTP_METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"PATCH ",
    b"TRACE ",
];

/// TCP ports whose traffic is TLS by convention (HTTPS, DoT, IMAPS, POP3S, SMTPS, APNs,
/// XMPP over TLS, alternative HTTPS).
const TLS_PORTS: [u16; 8] = [443, 853, 993, 995, 465, 5223, 5228, 8443];
/// TCP ports whose traffic is cleartext HTTP by convention.
const HTTP_PORTS: [u16; 3] = [80, 8000, 8080];

/// The classifier.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassificationPlugin;

impl Plugin for ClassificationPlugin {
    fn name(&self) -> &str {
        "classification"
    }

    fn inspect(&self, flow: &FlowRecord, _ctx: &DeviceContext<'_>) -> PluginOutput {
        let chosen = flow.names.chosen();
        let client = flow.names.user_agent.as_deref().and_then(product);
        let (client, client_version) = match client {
            Some(p) => (Some(p.name), p.version),
            None => (None, None),
        };
        let finding = Finding {
            plugin: self.name().to_string(),
            destination: flow.destination(),
            detail: Detail::Classification(Classification {
                protocol: protocol(flow),
                service: chosen.map(|(_, n)| n.to_string()),
                service_source: chosen.map(|(s, _)| s),
                client,
                client_version,
            }),
        };
        PluginOutput::pass(vec![finding])
    }
}

/// The application protocol: payload evidence first, then names, then ports.
pub fn protocol(flow: &FlowRecord) -> AppProtocol {
    let ports = [flow.server.port, flow.client.port];
    let first = flow
        .payload
        .as_ref()
        .map(|p| (p.kind, p.to_server.as_slice()));
    match flow.protocol {
        Protocol::Udp => {
            if ports.contains(&53) || ports.contains(&5353) {
                AppProtocol::Dns
            } else if ports.contains(&443) || flow.names.sni.is_some() {
                AppProtocol::Quic
            } else {
                AppProtocol::Unknown
            }
        }
        Protocol::Tcp => {
            match first {
                Some((PayloadKind::Encrypted | PayloadKind::Decrypted, _)) => {
                    return AppProtocol::Tls
                }
                Some((PayloadKind::Cleartext, bytes)) if is_tls_record(bytes) => {
                    return AppProtocol::Tls
                }
                Some((PayloadKind::Cleartext, bytes)) if is_http_request(bytes) => {
                    return AppProtocol::Http
                }
                _ => {}
            }
            if flow.names.sni.is_some() {
                AppProtocol::Tls
            } else if flow.names.http_host.is_some() || flow.names.user_agent.is_some() {
                AppProtocol::Http
            } else if flow.server.port == 53 {
                AppProtocol::Dns
            } else if TLS_PORTS.contains(&flow.server.port) {
                AppProtocol::Tls
            } else if HTTP_PORTS.contains(&flow.server.port) {
                AppProtocol::Http
            } else {
                AppProtocol::Unknown
            }
        }
        Protocol::Other(_) => AppProtocol::Unknown,
    }
}

/// A TLS record header: content type 20–23, version 3.x.
fn is_tls_record(bytes: &[u8]) -> bool {
    matches!(bytes, [20..=23, 3, 0..=4, ..])
}

/// An HTTP/1.x request line's start.
fn is_http_request(bytes: &[u8]) -> bool {
    HTTP_METHODS.iter().any(|m| bytes.starts_with(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{FlowSide, NameSource, Payload};
    use crate::pii::RegisteredPii;

    fn flow(protocol: Protocol, port: u16) -> FlowRecord {
        FlowRecord::new(
            "p",
            protocol,
            FlowSide::new([10, 0, 0, 2].into(), 40000),
            FlowSide::new([192, 0, 2, 1].into(), port),
        )
    }

    fn with_payload(mut f: FlowRecord, kind: PayloadKind, bytes: &[u8]) -> FlowRecord {
        f.payload = Some(Payload {
            kind,
            to_server: bytes.to_vec(),
            to_client: Vec::new(),
        });
        f
    }

    #[test]
    fn protocols_from_evidence_then_ports() {
        assert_eq!(protocol(&flow(Protocol::Udp, 53)), AppProtocol::Dns);
        assert_eq!(protocol(&flow(Protocol::Udp, 443)), AppProtocol::Quic);
        assert_eq!(protocol(&flow(Protocol::Udp, 9999)), AppProtocol::Unknown);
        assert_eq!(protocol(&flow(Protocol::Tcp, 443)), AppProtocol::Tls);
        assert_eq!(protocol(&flow(Protocol::Tcp, 80)), AppProtocol::Http);
        assert_eq!(protocol(&flow(Protocol::Tcp, 5555)), AppProtocol::Unknown);
        let hello = with_payload(
            flow(Protocol::Tcp, 5555),
            PayloadKind::Cleartext,
            &[22, 3, 1, 0, 5],
        );
        assert_eq!(protocol(&hello), AppProtocol::Tls);
        let get = with_payload(
            flow(Protocol::Tcp, 443),
            PayloadKind::Cleartext,
            b"GET / HTTP/1.1\r\n",
        );
        assert_eq!(protocol(&get), AppProtocol::Http);
        let decrypted = with_payload(flow(Protocol::Tcp, 80), PayloadKind::Decrypted, b"GET /");
        assert_eq!(protocol(&decrypted), AppProtocol::Tls);
        let mut sni = flow(Protocol::Tcp, 5555);
        sni.names.sni = Some("chat.example".into());
        assert_eq!(protocol(&sni), AppProtocol::Tls);
        assert_eq!(protocol(&flow(Protocol::Other(1), 0)), AppProtocol::Unknown);
    }

    #[test]
    fn the_finding_names_service_and_client() {
        let mut f = flow(Protocol::Tcp, 80);
        f.names.http_host = Some("api.example:80".into());
        f.names.dns = Some("cdn.example".into());
        f.names.user_agent = Some("okhttp/4.9.3".into());
        let reg = RegisteredPii::default();
        let out = ClassificationPlugin.inspect(&f, &DeviceContext::new("p", &reg));
        let [finding] = out.findings.as_slice() else {
            panic!("one finding expected: {:?}", out.findings);
        };
        assert_eq!(
            finding.detail,
            Detail::Classification(Classification {
                protocol: AppProtocol::Http,
                service: Some("api.example".into()),
                service_source: Some(NameSource::HttpHost),
                client: Some("okhttp".into()),
                client_version: Some("4.9.3".into()),
            })
        );
    }
}
