//! Reply parsing: every kind of reply a router or target sends, quotes cut at every length,
//! RFC 4884 extensions, and arbitrary bytes (which must never panic).

use super::*;
use crate::trace::probe::tests::flow;
use crate::trace::probe::{build, FlowSpec, MAX_PROBE};
use crate::trace::sim;
use proptest::prelude::*;

fn probe(f: &FlowSpec, ttl: u8, tag: u16) -> Vec<u8> {
    let mut buf = [0u8; MAX_PROBE];
    let n = build(f, ttl, tag, &mut buf).unwrap();
    buf[..n].to_vec()
}

/// Parses a simulated reply as the sockets would hand it up.
pub(crate) fn parse_as_received(
    from: IpAddr,
    bytes: &[u8],
    tcp: bool,
) -> Result<Reply, ReplyError> {
    match from {
        IpAddr::V4(_) => parse_ipv4(bytes),
        IpAddr::V6(a) if tcp => parse_tcpv6(a, Some("2001:db8:1::2".parse().unwrap()), 60, bytes),
        IpAddr::V6(a) => {
            // The kernel checks ICMPv6 checksums before raw sockets see them: so do we here.
            let me: IpAddr = "2001:db8:1::2".parse().unwrap();
            let sum = crate::trace::checksum::add(
                crate::trace::checksum::pseudo_header(from, me, 58, bytes.len() as u32),
                crate::trace::checksum::sum(bytes),
            );
            if sum != 0xffff {
                return Err(ReplyError::Malformed("ICMPv6 checksum"));
            }
            parse_icmpv6(a, 60, bytes)
        }
    }
}

#[test]
fn time_exceeded_quotes_name_the_probe() {
    for v6 in [false, true] {
        for proto in [Protocol::Icmp, Protocol::Udp, Protocol::Tcp] {
            let f = flow(proto, v6);
            let p = probe(&f, 3, 77);
            let router: IpAddr = if v6 {
                "2001:db8:2::2".parse().unwrap()
            } else {
                "198.18.2.2".parse().unwrap()
            };
            let bytes = sim::icmp_error(router, &p, if v6 { 3 } else { 11 }, 0, 128);
            let r = parse_as_received(router, &bytes, false).unwrap();
            assert_eq!(r.kind, ReplyKind::TimeExceeded);
            assert_eq!(r.from, router);
            assert_eq!(r.probe.proto, proto);
            assert_eq!(r.probe.dst, f.dst);
            assert_eq!(r.probe.src, Some(f.src));
            assert_eq!(r.probe.src_port, f.src_port);
            assert_eq!(r.probe.quoted_ttl, Some(3));
            let expect = match proto {
                Protocol::Tcp => f.tcp_seq(77),
                _ => 77,
            };
            assert_eq!(r.probe.ident, expect, "{proto} v6={v6}");
            if proto == Protocol::Icmp {
                assert_eq!(r.probe.icmp_checksum, Some(f.icmp_checksum));
            } else {
                assert_eq!(r.probe.dst_port, f.dst_port);
            }
        }
    }
}

#[test]
fn destination_answers_name_the_probe() {
    for v6 in [false, true] {
        for (proto, kind) in [
            (Protocol::Icmp, ReplyKind::EchoReply),
            (Protocol::Udp, ReplyKind::Unreachable(Unreach::Port)),
            (Protocol::Tcp, ReplyKind::SynAck),
        ] {
            let f = flow(proto, v6);
            let p = probe(&f, 9, 5);
            let bytes = sim::destination_reply(&p, false);
            let r = parse_as_received(f.dst, &bytes, proto == Protocol::Tcp).unwrap();
            assert_eq!(r.kind, kind, "v6={v6}");
            assert_eq!(
                (r.from, r.probe.dst, r.probe.src_port),
                (f.dst, f.dst, f.src_port)
            );
        }
    }
    let f = flow(Protocol::Tcp, false);
    let r = parse_ipv4(&sim::destination_reply(&probe(&f, 9, 5), true)).unwrap();
    assert_eq!(r.kind, ReplyKind::Rst);
    assert_eq!(r.probe.ident, f.tcp_seq(5));
}

#[test]
fn tcp_checksums_are_checked_but_an_offload_seed_passes() {
    let f = flow(Protocol::Tcp, false);
    let mut pkt = sim::destination_reply(&probe(&f, 9, 5), false);
    assert!(parse_ipv4(&pkt).is_ok());
    // What a sender with checksum offload leaves for the NIC, as seen over veth.
    let seed = crate::trace::checksum::pseudo_header(f.dst, f.src, 6, 20);
    pkt[36..38].copy_from_slice(&seed.to_be_bytes());
    assert!(parse_ipv4(&pkt).is_ok());
    pkt[36] ^= 0x40;
    assert_eq!(parse_ipv4(&pkt), Err(ReplyError::Malformed("checksum")));
}

#[test]
fn unreachable_codes_fold_across_versions() {
    let f4 = flow(Protocol::Udp, false);
    let p = probe(&f4, 2, 1);
    let r: IpAddr = "198.18.2.2".parse().unwrap();
    for (code, want) in [
        (0, Unreach::Network),
        (1, Unreach::Host),
        (13, Unreach::Prohibited),
        (2, Unreach::Protocol),
        (5, Unreach::Other(5)),
    ] {
        let got = parse_ipv4(&sim::icmp_error(r, &p, 3, code, 28))
            .unwrap()
            .kind;
        assert_eq!(got, ReplyKind::Unreachable(want));
    }
    let f6 = flow(Protocol::Udp, true);
    let p = probe(&f6, 2, 1);
    let r6: IpAddr = "2001:db8:2::2".parse().unwrap();
    let IpAddr::V6(a) = r6 else { unreachable!() };
    for (code, want) in [
        (0, Unreach::Network),
        (1, Unreach::Prohibited),
        (3, Unreach::Host),
        (4, Unreach::Port),
    ] {
        let got = parse_icmpv6(a, 60, &sim::icmp_error(r6, &p, 1, code, 1232))
            .unwrap()
            .kind;
        assert_eq!(got, ReplyKind::Unreachable(want));
    }
}

#[test]
fn rfc4884_extensions_after_a_padded_quote() {
    let f = flow(Protocol::Udp, false);
    let p = probe(&f, 4, 9);
    let r: IpAddr = "198.18.2.2".parse().unwrap();
    // Quote padded to 128 bytes, length field 32 words, then an MPLS object.
    let mut body = p.clone();
    body.resize(128, 0);
    let mut ext = vec![0x20, 0, 0, 0, 0, 8, 1, 1];
    ext.extend_from_slice(&((16004u32 << 12) | 0x100 | 1).to_be_bytes());
    let c = !crate::trace::checksum::sum(&ext);
    ext[2..4].copy_from_slice(&c.to_be_bytes());
    let mut msg = vec![11, 0, 0, 0, 0, 32, 0, 0];
    msg.extend_from_slice(&body);
    msg.extend_from_slice(&ext);
    let c = !crate::trace::checksum::sum(&msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    let mut bad = msg.clone();
    bad[40] ^= 1;
    assert_eq!(
        parse_ipv4(&sim::ipv4(r, f.src, 1, 250, &bad)),
        Err(ReplyError::Malformed("ICMP checksum"))
    );
    let reply = parse_ipv4(&sim::ipv4(r, f.src, 1, 250, &msg)).unwrap();
    assert!(reply.ext.present && reply.ext.rfc4884);
    assert_eq!(reply.ext.mpls()[0].label, 16004);
    assert_eq!(reply.probe.ident, 9);
}

#[test]
fn quotes_cut_at_any_length_never_panic() {
    for v6 in [false, true] {
        for proto in [Protocol::Icmp, Protocol::Udp, Protocol::Tcp] {
            let f = flow(proto, v6);
            let p = probe(&f, 3, 77);
            let router: IpAddr = if v6 {
                "2001:db8:2::2".parse().unwrap()
            } else {
                "198.18.2.2".parse().unwrap()
            };
            let full = sim::icmp_error(router, &p, if v6 { 3 } else { 11 }, 0, 1232);
            for cut in 0..full.len() {
                let _ = parse_as_received(router, &full[..cut], false);
            }
            // Quotes shorter than IP header + 8 bytes cannot name a probe.
            let short = sim::icmp_error(
                router,
                &p,
                if v6 { 3 } else { 11 },
                0,
                if v6 { 47 } else { 27 },
            );
            assert!(parse_as_received(router, &short, false).is_err());
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_ipv4(&bytes);
        let _ = parse_icmpv6("2001:db8::1".parse().unwrap(), 1, &bytes);
        let _ = parse_tcpv6("2001:db8::1".parse().unwrap(), None, 1, &bytes);
        let _ = parse_tcpv6("2001:db8::1".parse().unwrap(), Some("2001:db8::2".parse().unwrap()), 1, &bytes);
    }

    /// A genuine reply with bytes flipped either fails to parse or still parses: never panics.
    #[test]
    fn mutated_replies_never_panic(pos in 0usize..200, val in any::<u8>(), v6 in any::<bool>()) {
        let f = flow(Protocol::Udp, v6);
        let p = probe(&f, 3, 77);
        let router: IpAddr = if v6 { "2001:db8:2::2".parse().unwrap() } else { "198.18.2.2".parse().unwrap() };
        let mut bytes = sim::icmp_error(router, &p, if v6 { 3 } else { 11 }, 0, 128);
        let i = pos % bytes.len();
        bytes[i] = val;
        let _ = parse_as_received(router, &bytes, false);
    }
}
