//! Decoding tests: every link type, IPv4 options and fragments, IPv6 extension headers, and
//! "arbitrary bytes never panic".

use super::*;
use crate::flows::packets::*;
use proptest::prelude::*;

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn udp_of(d: &Decoded<'_>) -> (u16, u16, Vec<u8>) {
    match d.transport {
        Transport::Udp(u) => (u.src_port, u.dst_port, u.payload.to_vec()),
        other => panic!("not udp: {other:?}"),
    }
}

#[test]
fn every_link_type_reaches_the_same_udp_datagram() {
    let ip4 = ip(
        v4("10.0.0.2"),
        v4("192.0.2.1"),
        UDP,
        &udp(5000, 53, b"query"),
    );
    let ip6 = ip(
        v4("2001:db8::2"),
        v4("2001:db8::1"),
        UDP,
        &udp(5000, 53, b"query"),
    );
    for ip in [&ip4, &ip6] {
        let mut null = 2u32.to_le_bytes().to_vec();
        if ip == &ip6 {
            null = 30u32.to_le_bytes().to_vec();
        }
        null.extend(ip.iter());
        let frames = [
            (LinkType::ETHERNET, ethernet(ip)),
            (LinkType::ETHERNET, vlan(7, ip)),
            (LinkType::LINUX_SLL, sll(ip)),
            (LinkType::LINUX_SLL2, sll2(ip)),
            (LinkType::RAW, ip.clone()),
            (LinkType::RAW_BSD, ip.clone()),
            (LinkType::RAW_OPENBSD, ip.clone()),
            (LinkType::NULL, null),
        ];
        for (link, frame) in frames {
            let d = decode(link, &frame).unwrap_or_else(|e| panic!("{link:?}: {e}"));
            assert_eq!(d.protocol, UDP);
            assert_eq!(udp_of(&d), (5000, 53, b"query".to_vec()), "{link:?}");
        }
    }
}

#[test]
fn ethernet_padding_is_not_payload() {
    let mut frame = ethernet(&ip(
        v4("10.0.0.2"),
        v4("10.0.0.1"),
        TCP,
        &tcp(1, 2, 9, 0, ACK, b""),
    ));
    frame.extend([0u8; 6]);
    let d = decode(LinkType::ETHERNET, &frame).unwrap();
    let Transport::Tcp(t) = d.transport else {
        panic!()
    };
    assert_eq!((t.seq, t.flags, t.payload.len()), (9, ACK, 0));
}

#[test]
fn ipv4_options_are_skipped() {
    let mut p = ip(v4("10.0.0.2"), v4("10.0.0.1"), UDP, &udp(1, 2, b"x"));
    // Grow the header by one option word (NOPs).
    p[0] = 0x46;
    p.splice(20..20, [1, 1, 1, 1]);
    let total = (p.len() as u16).to_be_bytes();
    p[2..4].copy_from_slice(&total);
    assert_eq!(
        udp_of(&decode(LinkType::RAW, &p).unwrap()),
        (1, 2, b"x".to_vec())
    );
}

#[test]
fn fragments_are_told_apart_and_later_ones_never_parsed() {
    let payload = udp(4000, 53, &[0xab; 100]);
    let frags = ipv4_fragments(v4("10.0.0.2"), v4("10.0.0.1"), UDP, 77, &payload, 48);
    assert_eq!(frags.len(), 3);
    let first = decode(LinkType::RAW, &frags[0]).unwrap();
    assert_eq!(first.fragment, Fragment::First);
    assert_eq!(udp_of(&first).0, 4000);
    for later in &frags[1..] {
        let d = decode(LinkType::RAW, later).unwrap();
        assert_eq!(d.fragment, Fragment::Later);
        assert!(matches!(d.transport, Transport::Other(_)));
    }
}

#[test]
fn ipv6_extension_headers_are_walked() {
    let exts = vec![
        (0u8, vec![1, 4, 0, 0, 0, 0]),
        (43, vec![0, 0, 0, 0, 0, 0]),
        (60, vec![1, 4, 0, 0, 0, 0]),
    ];
    let p = ipv6(
        v4("2001:db8::2"),
        v4("2001:db8::1"),
        TCP,
        &exts,
        &tcp(443, 5555, 1, 2, SYN | ACK, b""),
    );
    let d = decode(LinkType::RAW, &p).unwrap();
    assert_eq!(d.protocol, TCP);
    let Transport::Tcp(t) = d.transport else {
        panic!()
    };
    assert_eq!((t.src_port, t.dst_port, t.flags), (443, 5555, SYN | ACK));

    // A fragment header: first fragment parsed, a later one not.
    let first = ipv6(
        v4("2001:db8::2"),
        v4("2001:db8::1"),
        UDP,
        &[(44, vec![0, 1, 0, 0, 0, 9])],
        &udp(7, 8, b"abc"),
    );
    let d = decode(LinkType::RAW, &first).unwrap();
    assert_eq!((d.fragment, udp_of(&d).0), (Fragment::First, 7));
    let later = ipv6(
        v4("2001:db8::2"),
        v4("2001:db8::1"),
        UDP,
        &[(44, vec![0, 0x10, 0, 0, 0, 9])],
        b"\x00\x07\x00\x08garbage",
    );
    let d = decode(LinkType::RAW, &later).unwrap();
    assert_eq!(d.fragment, Fragment::Later);
    assert!(matches!(d.transport, Transport::Other(_)));
}

#[test]
fn short_and_bogus_headers_are_errors() {
    assert_eq!(
        decode(LinkType::ETHERNET, &[0; 13]),
        Err(DecodeError::Truncated("ethernet"))
    );
    assert!(matches!(
        decode(LinkType(999), &[0; 40]),
        Err(DecodeError::UnsupportedLink(999))
    ));
    let arp = {
        let mut f = ethernet(&[0x45; 28]);
        f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        f
    };
    assert_eq!(
        decode(LinkType::ETHERNET, &arp),
        Err(DecodeError::NotIp(0x0806))
    );
    let mut p = ip(
        v4("10.0.0.2"),
        v4("10.0.0.1"),
        TCP,
        &tcp(1, 2, 0, 0, 0, b""),
    );
    p[32] = 0x20; // TCP data offset 2
    assert!(matches!(
        decode(LinkType::RAW, &p),
        Err(DecodeError::Malformed { layer: "tcp", .. })
    ));
    p.truncate(30);
    assert_eq!(
        decode(LinkType::RAW, &p),
        Err(DecodeError::Truncated("tcp"))
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(link in prop::sample::select(vec![0u16, 1, 12, 14, 101, 108, 113, 228, 229, 276]), data in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(LinkType(link), &data);
    }

    #[test]
    fn mutated_packets_never_panic(at in 0usize..80, value in any::<u8>(), cut in 0usize..90) {
        let exts = vec![(0u8, vec![1, 4, 0, 0, 0, 0]), (44, vec![0, 1, 0, 0, 0, 9])];
        let mut p = ipv6(v4("2001:db8::2"), v4("2001:db8::1"), TCP, &exts, &tcp(1, 2, 3, 4, ACK, b"payload"));
        let at = at % p.len();
        p[at] = value;
        p.truncate(cut.min(p.len()));
        let _ = decode(LinkType::RAW, &p);
        let mut q = ip(v4("10.0.0.2"), v4("10.0.0.1"), UDP, &udp(1, 2, b"payload"));
        let at = at % q.len();
        q[at] = value;
        q.truncate(cut.min(q.len()));
        let _ = decode(LinkType::RAW, &q);
    }
}
