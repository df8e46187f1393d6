//! Payload tap tests over packets in memory: order, retransmissions, overlaps, the cap, holes,
//! UDP, direction, bounds; and a property: any delivery order gives the original prefix.

use super::*;
use crate::flows::capture::{LinkType, PcapngWriter};
use crate::flows::packets::{self, ACK, PSH, SYN};
use proptest::prelude::*;

const PHONE: (&str, u16) = ("10.0.0.2", 40000);
const SERVER: (&str, u16) = ("192.0.2.7", 80);

fn addr(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn raw(tap: &mut PayloadTap, ip: &[u8]) {
    tap.packet(&Packet {
        timestamp_ns: 1,
        link: LinkType::RAW,
        wire_len: ip.len() as u32,
        data: ip,
    });
}

fn tcp(tap: &mut PayloadTap, from: (&str, u16), to: (&str, u16), seq: u32, flags: u8, data: &[u8]) {
    let seg = packets::tcp(from.1, to.1, seq, 0, flags, data);
    raw(tap, &packets::ip(addr(from.0), addr(to.0), 6, &seg));
}

fn udp(tap: &mut PayloadTap, from: (&str, u16), to: (&str, u16), data: &[u8]) {
    let d = packets::udp(from.1, to.1, data);
    raw(tap, &packets::ip(addr(from.0), addr(to.0), 17, &d));
}

fn tap_with(max_bytes: usize) -> PayloadTap {
    PayloadTap::new(&PayloadConfig {
        max_bytes,
        ..PayloadConfig::default()
    })
}

fn only(p: &Payloads) -> &FlowPayload {
    assert_eq!(p.len(), 1);
    p.iter().next().expect("one flow")
}

#[test]
fn tcp_streams_come_out_in_sequence_order_each_way() {
    let mut tap = tap_with(DEFAULT_MAX_BYTES);
    tcp(&mut tap, PHONE, SERVER, 999, SYN, b"");
    tcp(&mut tap, SERVER, PHONE, 4999, SYN | ACK, b"");
    // Out of order, a retransmission, and a retransmission that overlaps two segments.
    tcp(&mut tap, PHONE, SERVER, 1005, ACK | PSH, b"t?id=");
    tcp(&mut tap, PHONE, SERVER, 1000, ACK | PSH, b"GET /");
    tcp(&mut tap, SERVER, PHONE, 5000, ACK | PSH, b"HTTP/1.1 ");
    tcp(&mut tap, PHONE, SERVER, 1000, ACK | PSH, b"GET /");
    tcp(&mut tap, PHONE, SERVER, 1002, ACK | PSH, b"T /t?i");
    tcp(&mut tap, PHONE, SERVER, 1010, ACK | PSH, b"42");
    tcp(&mut tap, SERVER, PHONE, 5009, ACK | PSH, b"200 OK");
    let p = tap.finish();
    let f = only(&p);
    assert_eq!(f.initiator, (addr(PHONE.0), PHONE.1));
    assert_eq!(f.from_initiator.bytes, b"GET /t?id=42");
    assert_eq!(f.from_responder.bytes, b"HTTP/1.1 200 OK");
    assert!(!f.from_initiator.gap && !f.from_initiator.truncated);
    assert_eq!(p.stats().segments, 7);
}

#[test]
fn sequence_numbers_wrap() {
    let mut tap = tap_with(64);
    tcp(&mut tap, PHONE, SERVER, u32::MAX - 2, SYN, b"");
    tcp(&mut tap, PHONE, SERVER, 3, ACK, b"world");
    tcp(&mut tap, PHONE, SERVER, u32::MAX - 1, ACK, b"hello");
    let p = tap.finish();
    assert_eq!(only(&p).from_initiator.bytes, b"helloworld");
}

#[test]
fn the_cap_truncates_and_data_before_the_start_is_dropped() {
    let mut tap = tap_with(8);
    tcp(&mut tap, PHONE, SERVER, 99, SYN, b"");
    tcp(&mut tap, PHONE, SERVER, 100, ACK, b"0123456789");
    tcp(&mut tap, PHONE, SERVER, 110, ACK, b"abc");
    // Before the SYN's sequence number: wholly, and in part.
    tcp(&mut tap, PHONE, SERVER, 90, ACK, b"old");
    tcp(&mut tap, PHONE, SERVER, 95, ACK, b"zzzzz01");
    let p = tap.finish();
    let f = only(&p);
    assert_eq!(f.from_initiator.bytes, b"01234567");
    assert!(f.from_initiator.truncated);
    assert_eq!(p.stats().out_of_window, 1);
}

#[test]
fn a_lost_segment_ends_the_prefix() {
    let mut tap = tap_with(DEFAULT_MAX_BYTES);
    tcp(&mut tap, PHONE, SERVER, 0, SYN, b"");
    tcp(&mut tap, PHONE, SERVER, 1, ACK, b"abc");
    tcp(&mut tap, PHONE, SERVER, 10, ACK, b"xyz");
    let p = tap.finish();
    let f = only(&p);
    assert_eq!(f.from_initiator.bytes, b"abc");
    assert!(f.from_initiator.gap);
}

#[test]
fn without_a_syn_the_first_data_starts_the_stream() {
    let mut tap = tap_with(DEFAULT_MAX_BYTES);
    tcp(&mut tap, PHONE, SERVER, 500, ACK, b"mid-");
    tcp(&mut tap, PHONE, SERVER, 504, ACK, b"flow");
    let p = tap.finish();
    assert_eq!(only(&p).from_initiator.bytes, b"mid-flow");
}

#[test]
fn udp_keeps_the_first_datagrams_up_to_the_cap() {
    let mut tap = tap_with(10);
    udp(&mut tap, ("10.0.0.2", 5000), ("192.0.2.53", 53), b"query");
    udp(&mut tap, ("192.0.2.53", 53), ("10.0.0.2", 5000), b"answer");
    udp(&mut tap, ("10.0.0.2", 5000), ("192.0.2.53", 53), b"second");
    let p = tap.finish();
    let f = only(&p);
    assert_eq!(f.protocol, Protocol::UDP);
    assert_eq!(f.from_initiator.bytes, b"querysecon");
    assert!(f.from_initiator.truncated);
    assert_eq!(f.from_responder.bytes, b"answer");
}

#[test]
fn directions_match_the_extractor_even_from_a_syn_ack() {
    let mut w = PcapngWriter::new(Vec::new(), LinkType::RAW, 0, "test").expect("in memory");
    let mut add = |from: (&str, u16), to: (&str, u16), seq: u32, flags: u8, data: &[u8]| {
        let seg = packets::tcp(from.1, to.1, seq, 0, flags, data);
        let ip = packets::ip(addr(from.0), addr(to.0), 6, &seg);
        w.write_packet(1_700_000_000_000_000_000, &ip, ip.len() as u32)
            .expect("in memory");
    };
    // The capture starts at the SYN-ACK: the phone still opened the flow.
    add(SERVER, PHONE, 7, SYN | ACK, b"");
    add(
        PHONE,
        SERVER,
        1,
        ACK | PSH,
        b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
    );
    add(
        SERVER,
        PHONE,
        8,
        ACK | PSH,
        b"HTTP/1.1 204 No Content\r\n\r\n",
    );
    let file = w.into_inner().expect("in memory");
    let (extraction, payloads) = extract_with_payloads(
        &file[..],
        &ExtractConfig::default(),
        &PayloadConfig::default(),
    )
    .expect("capture reads");
    let flow = &extraction.flows[0];
    assert_eq!(flow.initiator.address, addr(PHONE.0));
    assert_eq!(flow.names.http_host.as_deref(), Some("a.example"));
    let (up, down) = payloads.of(flow).expect("tapped");
    assert!(up.bytes.starts_with(b"GET / "));
    assert!(down.bytes.starts_with(b"HTTP/1.1 204"));
    // Naming the sides the other way round swaps them back.
    let (a, _) = payloads
        .between(
            Protocol::TCP,
            (addr(SERVER.0), SERVER.1),
            (addr(PHONE.0), PHONE.1),
        )
        .expect("tapped");
    assert!(a.bytes.starts_with(b"HTTP/1.1"));
}

#[test]
fn flows_and_bytes_are_bounded() {
    let mut tap = PayloadTap::new(&PayloadConfig {
        max_bytes: 100,
        max_flows: 2,
        max_total_bytes: 150,
    });
    for port in 1..=3u16 {
        udp(&mut tap, ("10.0.0.2", port), ("192.0.2.1", 9), &[b'x'; 100]);
    }
    assert_eq!(tap.stats().untracked, 1);
    assert_eq!(tap.stats().over_budget, 1);
    let p = tap.finish();
    let kept: Vec<usize> = p.iter().map(|f| f.from_initiator.bytes.len()).collect();
    assert_eq!(kept, [100, 0]);
}

#[test]
fn other_protocols_and_junk_are_ignored() {
    let mut tap = tap_with(DEFAULT_MAX_BYTES);
    raw(
        &mut tap,
        &packets::ip(
            addr("10.0.0.2"),
            addr("192.0.2.1"),
            1,
            &[8, 0, 0, 0, 0, 1, 0, 1],
        ),
    );
    raw(&mut tap, b"\x45\x00");
    raw(&mut tap, &[]);
    assert!(tap.finish().is_empty());
}

/// A deterministic shuffle from a seed (xorshift).
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut s = seed | 1;
    for i in (1..items.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        items.swap(i, (s % (i as u64 + 1)) as usize);
    }
}

proptest! {
    #[test]
    fn shuffled_and_duplicated_segments_reassemble_to_the_prefix(
        stream in prop::collection::vec(any::<u8>(), 1..3000),
        cuts in prop::collection::vec(1usize..600, 1..8),
        repeats in prop::collection::vec((any::<prop::sample::Index>(), 1usize..400), 0..6),
        isn in any::<u32>(),
        cap in 1usize..4000,
        seed in any::<u64>(),
    ) {
        // Pieces that cover the stream, then retransmissions of arbitrary ranges of it.
        let mut pieces: Vec<(usize, usize)> = Vec::new();
        let mut at = 0;
        for c in cuts.iter().cycle() {
            if at >= stream.len() {
                break;
            }
            let end = (at + c).min(stream.len());
            pieces.push((at, end));
            at = end;
            if pieces.len() >= 8 {
                pieces.push((at, stream.len()));
                break;
            }
        }
        pieces.retain(|(s, e)| s < e);
        for (start, len) in &repeats {
            let s = start.index(stream.len());
            pieces.push((s, (s + len).min(stream.len())));
        }
        shuffle(&mut pieces, seed);
        let mut tap = tap_with(cap);
        // The SYN comes first, as a capture on the phone's link sees it.
        tcp(&mut tap, PHONE, SERVER, isn, SYN, b"");
        for (s, e) in pieces {
            let seq = isn.wrapping_add(1).wrapping_add(s as u32);
            tcp(&mut tap, PHONE, SERVER, seq, ACK, &stream[s..e]);
        }
        let p = tap.finish();
        let f = only(&p);
        let want = &stream[..stream.len().min(cap)];
        prop_assert_eq!(&f.from_initiator.bytes[..], want);
        prop_assert_eq!(f.from_initiator.truncated, stream.len() > cap);
        prop_assert!(!f.from_initiator.gap);
    }
}
