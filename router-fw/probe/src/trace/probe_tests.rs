//! Probe construction: valid headers and checksums, and the Paris invariants (every hashed
//! field constant across the probes of one trace, the tag where it belongs).

use super::*;
use proptest::prelude::*;
use smoltcp::wire::{
    IpAddress, Ipv4Packet as V4, Ipv6Packet as V6, TcpPacket as Tcp, UdpPacket as Udp,
};

pub(crate) fn flow(proto: Protocol, v6: bool) -> FlowSpec {
    let (src, dst): (IpAddr, IpAddr) = if v6 {
        (
            "2001:db8:1::2".parse().unwrap(),
            "2001:db8:100::1".parse().unwrap(),
        )
    } else {
        (
            "198.18.1.2".parse().unwrap(),
            "198.18.64.1".parse().unwrap(),
        )
    };
    FlowSpec {
        proto,
        src,
        dst,
        src_port: 40000,
        dst_port: if proto == Protocol::Tcp { 443 } else { 33434 },
        icmp_checksum: 0x1001,
        flow_label: 0,
        seq_base: 0x5a5a_0000,
        size: if v6 { 80 } else { 60 },
    }
}

fn built(f: &FlowSpec, ttl: u8, tag: u16) -> Vec<u8> {
    let mut buf = [0u8; MAX_PROBE];
    let n = build(f, ttl, tag, &mut buf).unwrap();
    buf[..n].to_vec()
}

/// The transport part and the IP-level fields balancers may hash, of a built probe.
fn hashed(p: &[u8]) -> (Vec<u8>, Vec<u8>) {
    if p[0] >> 4 == 4 {
        let ip = V4::new_checked(p).unwrap();
        assert!(ip.verify_checksum());
        let t = ip.payload();
        // TOS, total length, protocol, addresses.
        let fields = [&p[1..4], &p[9..10], &p[12..20]].concat();
        (fields, t[..4].to_vec())
    } else {
        let ip = V6::new_checked(p).unwrap();
        let fields = [&p[0..6], &p[6..7], &p[8..40]].concat();
        (fields, ip.payload()[..4].to_vec())
    }
}

#[test]
fn every_protocol_and_family_builds_valid_probes() {
    for v6 in [false, true] {
        for proto in [Protocol::Icmp, Protocol::Udp, Protocol::Tcp] {
            let f = flow(proto, v6);
            let p = built(&f, 7, 42);
            assert_eq!(p.len(), f.probe_len());
            let (src, dst) = (IpAddress::from(f.src), IpAddress::from(f.dst));
            let t = if v6 {
                let ip = V6::new_checked(&p[..]).unwrap();
                assert_eq!(ip.hop_limit(), 7);
                ip.payload().to_vec()
            } else {
                let ip = V4::new_checked(&p[..]).unwrap();
                assert_eq!((ip.hop_limit(), ip.ident()), (7, 42));
                ip.payload().to_vec()
            };
            match proto {
                Protocol::Tcp => {
                    let tcp = Tcp::new_checked(&t[..]).unwrap();
                    assert!(tcp.syn() && !tcp.ack());
                    assert!(tcp.verify_checksum(&src, &dst), "{proto} v6={v6}");
                    assert_eq!(tcp.seq_number().0 as u32, 0x5a5a_0000 + 42);
                }
                Protocol::Udp => {
                    let udp = Udp::new_checked(&t[..]).unwrap();
                    assert_eq!(udp.checksum(), 42, "the checksum is the tag");
                    assert!(udp.verify_checksum(&src, &dst), "{proto} v6={v6}");
                }
                Protocol::Icmp => {
                    assert_eq!(u16::from_be_bytes([t[2], t[3]]), 0x1001);
                    assert_eq!(
                        u16::from_be_bytes([t[6], t[7]]),
                        42,
                        "the sequence is the tag"
                    );
                    let sum = if v6 {
                        checksum::add(
                            checksum::pseudo_header(f.src, f.dst, 58, t.len() as u32),
                            checksum::sum(&t),
                        )
                    } else {
                        checksum::sum(&t)
                    };
                    assert_eq!(sum, 0xffff, "ICMP checksum valid, v6={v6}");
                }
            }
        }
    }
}

#[test]
fn bad_flows_and_tags_are_refused() {
    let mut f = flow(Protocol::Udp, false);
    let mut buf = [0u8; MAX_PROBE];
    assert_eq!(build(&f, 1, 0, &mut buf), Err(ProbeError::ReservedTag(0)));
    assert_eq!(
        build(&f, 1, 0xffff, &mut buf),
        Err(ProbeError::ReservedTag(0xffff))
    );
    assert!(matches!(
        build(&f, 1, 1, &mut buf[..10]),
        Err(ProbeError::Buffer(10))
    ));
    f.size = 29;
    assert!(matches!(f.validate(), Err(ProbeError::Size { .. })));
    f.size = 60;
    f.dst = "2001:db8::1".parse().unwrap();
    assert!(matches!(f.validate(), Err(ProbeError::MixedFamilies(..))));
}

proptest! {
    /// Paris: whatever the TTL and tag, what balancers hash stays the same.
    #[test]
    fn hashed_fields_are_constant_per_trace(
        proto in prop_oneof![Just(Protocol::Icmp), Just(Protocol::Udp), Just(Protocol::Tcp)],
        v6 in any::<bool>(),
        a in (1u8..=255, 1u16..0xffff),
        b in (1u8..=255, 1u16..0xffff),
    ) {
        let f = flow(proto, v6);
        let (pa, pb) = (built(&f, a.0, a.1), built(&f, b.0, b.1));
        prop_assert_eq!(hashed(&pa), hashed(&pb));
    }
}
