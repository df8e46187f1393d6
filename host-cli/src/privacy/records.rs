//! From a flow of `matador_probe` and its tapped bytes to the pipeline's `FlowRecord`: the
//! phone is the client (it opened the flow: behind the router, nothing else can), names as
//! the probe found them, and the payload marked encrypted when the flow is TLS or QUIC.

use matador_pipeline::classify;
use matador_pipeline::{AppProtocol, FlowRecord, FlowSide, Names, Payload, PayloadKind, Protocol};
use matador_probe::flows::{self, DirectionPayload, Flow};

/// The pipeline's record of `flow` of `app` on `device`; `payload` is what the initiator and
/// the responder sent, as the tap kept it.
pub fn flow_record(
    flow: &Flow,
    payload: Option<(&DirectionPayload, &DirectionPayload)>,
    device: &str,
    app: &str,
) -> FlowRecord {
    let side = |s: &flows::FlowSide| FlowSide {
        address: s.address,
        port: s.port,
        packets: s.packets,
        bytes: s.bytes,
    };
    let protocol = match flow.protocol {
        flows::Protocol::TCP => Protocol::Tcp,
        flows::Protocol::UDP => Protocol::Udp,
        flows::Protocol(n) => Protocol::Other(n),
    };
    let mut record = FlowRecord::new(
        device,
        protocol,
        side(&flow.initiator),
        side(&flow.responder),
    );
    record.app = Some(app.to_string());
    record.names = Names {
        sni: flow.names.sni.clone(),
        http_host: flow.names.http_host.clone(),
        dns: flow.names.dns.clone(),
        user_agent: flow.names.user_agent.clone(),
    };
    if let Some((up, down)) = payload.filter(|(u, d)| !(u.bytes.is_empty() && d.bytes.is_empty())) {
        record.payload = Some(Payload {
            kind: PayloadKind::Cleartext,
            to_server: up.bytes.clone(),
            to_client: down.bytes.clone(),
        });
        let kind = payload_kind(&record);
        if let Some(p) = record.payload.as_mut() {
            p.kind = kind;
        }
    }
    record
}

/// Encrypted when the pipeline's classifier, reading the bytes as cleartext, calls the flow
/// TLS or QUIC (a TLS record header, an SNI, UDP 443, a TLS port); cleartext otherwise.
fn payload_kind(record: &FlowRecord) -> PayloadKind {
    match classify::protocol(record) {
        AppProtocol::Tls | AppProtocol::Quic => PayloadKind::Encrypted,
        _ => PayloadKind::Cleartext,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(protocol: flows::Protocol, port: u16) -> Flow {
        let side = |address: [u8; 4], port| flows::FlowSide {
            address: address.into(),
            port,
            packets: 1,
            bytes: 100,
            tcp_flags: flows::TcpFlags::default(),
        };
        Flow {
            protocol,
            initiator: side([10, 0, 0, 2], 40000),
            responder: side([192, 0, 2, 7], port),
            first_ns: 0,
            last_ns: 0,
            bursts: Vec::new(),
            names: flows::Names::default(),
            name: None,
            name_source: None,
        }
    }

    fn bytes(b: &[u8]) -> DirectionPayload {
        DirectionPayload {
            bytes: b.to_vec(),
            ..DirectionPayload::default()
        }
    }

    #[test]
    fn tls_and_quic_are_encrypted_and_http_is_not() {
        let kind = |f: &Flow, up: &[u8]| {
            let (up, down) = (bytes(up), bytes(b""));
            flow_record(f, Some((&up, &down)), "p", "app")
                .payload
                .map(|p| p.kind)
        };
        let tcp443 = flow(flows::Protocol::TCP, 443);
        assert_eq!(
            kind(&tcp443, b"\x16\x03\x01\x00\x05hello"),
            Some(PayloadKind::Encrypted)
        );
        assert_eq!(
            kind(&tcp443, b"GET / HTTP/1.1\r\n"),
            Some(PayloadKind::Cleartext)
        );
        let udp443 = flow(flows::Protocol::UDP, 443);
        assert_eq!(
            kind(&udp443, b"\xc3\x00\x00\x00\x01"),
            Some(PayloadKind::Encrypted)
        );
        let dns = flow(flows::Protocol::UDP, 53);
        assert_eq!(
            kind(&dns, b"\x12\x34\x01\x00"),
            Some(PayloadKind::Cleartext)
        );
        assert_eq!(kind(&dns, b""), None, "no bytes, no payload");
    }

    #[test]
    fn the_phone_is_the_client_and_names_carry_over() {
        let mut f = flow(flows::Protocol::TCP, 80);
        f.names.http_host = Some("collect.example:80".into());
        let r = flow_record(&f, None, "127.0.0.1:25550", "com.example.app");
        assert_eq!(r.client.port, 40000);
        assert_eq!((r.server.port, r.server.bytes), (80, 100));
        assert_eq!(r.destination(), "collect.example");
        assert_eq!(r.app.as_deref(), Some("com.example.app"));
        assert!(r.payload.is_none());
    }
}
