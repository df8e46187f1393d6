//! Matching: replies find their probe, and nothing else does: wrong source, port, checksum,
//! sequence base, an unsent tag, a late or duplicate answer. Property: a reply with any field
//! changed matches the probe it came from or nothing, never another probe.

use super::*;
use crate::trace::probe::tests::flow;
use crate::trace::probe::{build, MAX_PROBE};
use crate::trace::reply::tests::parse_as_received;
use crate::trace::reply::{ReplyKind, Unreach};
use crate::trace::sim;
use proptest::prelude::*;

fn shape() -> Shape {
    Shape {
        first_ttl: 1,
        max_ttl: 30,
        probes: 3,
        gap_limit: 5,
    }
}

fn traces(proto: Protocol, v6: bool) -> Traces {
    let f = flow(proto, v6);
    let mut g = f;
    g.dst = if v6 {
        "2001:db8:100::2".parse().unwrap()
    } else {
        "198.18.64.2".parse().unwrap()
    };
    g.src_port += 1;
    Traces::new(shape(), vec![(f, "a".into()), (g, "b".into())]).unwrap()
}

/// Marks a slot as sent and returns the probe's bytes.
fn send(t: &mut Traces, target: usize, slot: usize) -> Vec<u8> {
    let f = t.targets[target].flow;
    let (ttl, _) = t.shape.ttl_attempt(slot);
    let s = &mut t.targets[target].slots[slot];
    s.state = SlotState::Pending;
    s.sent_ns = 1_000;
    t.targets[target].outstanding += 1;
    let mut buf = [0u8; MAX_PROBE];
    let n = build(&f, ttl, Traces::tag(slot), &mut buf).unwrap();
    buf[..n].to_vec()
}

fn router(v6: bool) -> IpAddr {
    if v6 {
        "2001:db8:2::2".parse().unwrap()
    } else {
        "198.18.2.2".parse().unwrap()
    }
}

#[test]
fn replies_match_their_probe_once() {
    for v6 in [false, true] {
        for proto in [Protocol::Icmp, Protocol::Udp, Protocol::Tcp] {
            let mut t = traces(proto, v6);
            let p = send(&mut t, 1, 7);
            let bytes = sim::icmp_error(router(v6), &p, if v6 { 3 } else { 11 }, 0, 128);
            let r = parse_as_received(router(v6), &bytes, false).unwrap();
            assert_eq!(t.on_reply(&r, 5_000), Match::Probe { target: 1, slot: 7 });
            let s = t.targets[1].slots[7];
            assert_eq!((s.state, s.rtt_ns), (SlotState::Answered, 4_000));
            assert_eq!(t.on_reply(&r, 6_000), Match::Duplicate);
            let d = sim::destination_reply(&send(&mut t, 0, 3), false);
            let dst = t.targets[0].flow.dst;
            let r = parse_as_received(dst, &d, proto == Protocol::Tcp).unwrap();
            assert_eq!(t.on_reply(&r, 7_000), Match::Probe { target: 0, slot: 3 });
            // Slot 3 is TTL 2: the target answered there, so the trace ends at TTL 2.
            assert_eq!(t.targets[0].dest_ttl, Some(2));
            assert_eq!(t.targets[0].limit, 2);
        }
    }
}

#[test]
fn replies_to_unsent_late_or_foreign_probes_do_not_match() {
    let mut t = traces(Protocol::Udp, false);
    let p = send(&mut t, 0, 4);
    let r = parse_as_received(
        router(false),
        &sim::icmp_error(router(false), &p, 11, 0, 28),
        false,
    )
    .unwrap();
    // A reply naming a probe we have not sent.
    let mut forged = r;
    forged.probe.ident = u32::from(Traces::tag(9));
    assert_eq!(t.on_reply(&forged, 2_000), Match::Unmatched);
    for change in 0..5 {
        let mut x = r;
        match change {
            0 => x.probe.src = Some("192.0.2.9".parse().unwrap()),
            1 => x.probe.dst_port ^= 1,
            2 => x.probe.src_port ^= 0x100,
            3 => x.probe.ident = 0,
            _ => x.probe.ident = 0x1_0005,
        }
        assert_eq!(t.on_reply(&x, 2_000), Match::Unmatched, "change {change}");
    }
    t.targets[0].time_out(4, 2);
    assert_eq!(t.on_reply(&r, 3_000), Match::Late);
    assert_eq!(t.stats.late, 1);
}

#[test]
fn icmp_checksum_and_tcp_sequence_base_are_checked() {
    let mut t = traces(Protocol::Icmp, false);
    let p = send(&mut t, 0, 1);
    let mut r = parse_as_received(
        router(false),
        &sim::icmp_error(router(false), &p, 11, 0, 28),
        false,
    )
    .unwrap();
    r.probe.icmp_checksum = Some(0x2222);
    assert_eq!(t.on_reply(&r, 2_000), Match::Unmatched);
    let mut t = traces(Protocol::Tcp, false);
    let p = send(&mut t, 0, 1);
    let mut r = parse_as_received(
        router(false),
        &sim::icmp_error(router(false), &p, 11, 0, 28),
        false,
    )
    .unwrap();
    r.probe.ident = r.probe.ident.wrapping_add(0x1_0000);
    assert_eq!(t.on_reply(&r, 2_000), Match::Unmatched);
}

#[test]
fn an_unreachable_ends_the_trace_where_it_came_from() {
    let mut t = traces(Protocol::Udp, false);
    let p = send(&mut t, 0, 9); // TTL 4
    let r = parse_as_received(
        router(false),
        &sim::icmp_error(router(false), &p, 3, 1, 28),
        false,
    )
    .unwrap();
    assert_eq!(r.kind, ReplyKind::Unreachable(Unreach::Host));
    t.on_reply(&r, 2_000);
    assert_eq!(
        (
            t.targets[0].unreach_ttl,
            t.targets[0].limit,
            t.targets[0].dest_ttl
        ),
        (Some(4), 4, None)
    );
}

#[test]
fn duplicate_targets_and_empty_shapes_are_refused() {
    let f = flow(Protocol::Udp, false);
    assert!(matches!(
        Traces::new(shape(), vec![(f, "a".into()), (f, "a".into())]),
        Err(MatchError::DuplicateFlow(_))
    ));
    let big = Shape {
        first_ttl: 1,
        max_ttl: 255,
        probes: 0,
        gap_limit: 0,
    };
    assert!(matches!(
        Traces::new(big, vec![(f, "a".into())]),
        Err(MatchError::TooManyProbes { .. })
    ));
}

proptest! {
    /// Forged or corrupted replies: flip any byte of a genuine reply (to a probe of target 0)
    /// while probes of both targets are waiting; it matches its own probe or nothing.
    #[test]
    fn corrupted_replies_never_match_the_wrong_probe(
        v6 in any::<bool>(),
        proto in prop_oneof![Just(Protocol::Icmp), Just(Protocol::Udp), Just(Protocol::Tcp)],
        pos in 0usize..400,
        val in any::<u8>(),
        dest in any::<bool>(),
    ) {
        let mut t = traces(proto, v6);
        let p = send(&mut t, 0, 10);
        for s in 0..20 {
            if s != 10 { send(&mut t, 0, s); }
            send(&mut t, 1, s);
        }
        let (from, mut bytes, tcp) = if dest {
            (t.targets[0].flow.dst, sim::destination_reply(&p, false), proto == Protocol::Tcp)
        } else {
            (router(v6), sim::icmp_error(router(v6), &p, if v6 { 3 } else { 11 }, 0, 128), false)
        };
        let i = pos % bytes.len();
        bytes[i] = val;
        if let Ok(r) = parse_as_received(from, &bytes, tcp) {
            if let Match::Probe { target, slot } = t.on_reply(&r, 9_000) {
                prop_assert_eq!((target, slot), (0, 10));
            }
        }
    }
}
