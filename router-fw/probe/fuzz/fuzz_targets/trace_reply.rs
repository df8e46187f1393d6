#![no_main]
//! Traceroute replies: parse arbitrary bytes as what each raw socket hands up (an IPv4
//! packet, an ICMPv6 message, a TCP segment over IPv6), match them against traces whose every
//! probe is waiting, and render the results. A match must name a probe of the flow the reply
//! quotes; nothing may panic.

use libfuzzer_sys::fuzz_target;
use matador_probe::trace::checksum;
use matador_probe::trace::scheduler::{Next, Pacing, Scheduler};
use matador_probe::trace::{output, reply, FlowSpec, Match, Protocol, Shape, Traces};
use std::net::{IpAddr, Ipv6Addr};

/// Makes the outer checksum right, so mutations reach the quote instead of stopping at the
/// checksum check.
fn fix_checksum(kind: u8, b: &mut [u8], from: Ipv6Addr, me: Ipv6Addr) {
    let (start, field, pseudo) = match kind {
        0 => {
            let Some(&v) = b.first() else { return };
            let hl = usize::from(v & 15) * 4;
            if b.len() < 20 || b[9] != 1 || hl < 20 {
                return;
            }
            (hl, hl + 2, 0)
        }
        1 => (
            0,
            2,
            checksum::pseudo_header(from.into(), me.into(), 58, b.len() as u32),
        ),
        _ => (
            0,
            16,
            checksum::pseudo_header(from.into(), me.into(), 6, b.len() as u32),
        ),
    };
    if b.len() < field + 2 {
        return;
    }
    b[field..field + 2].fill(0);
    let sum = checksum::finish(checksum::add(pseudo, checksum::sum(&b[start..])));
    b[field..field + 2].copy_from_slice(&sum.to_be_bytes());
}

fn traces() -> (Traces, Scheduler) {
    let shape = Shape {
        first_ttl: 1,
        max_ttl: 8,
        probes: 2,
        gap_limit: 3,
    };
    let mut flows = Vec::new();
    for (i, proto) in [Protocol::Icmp, Protocol::Udp, Protocol::Tcp]
        .into_iter()
        .enumerate()
    {
        for v6 in [false, true] {
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
            let flow = FlowSpec {
                proto,
                src,
                dst,
                src_port: 40000 + i as u16,
                dst_port: 33434,
                icmp_checksum: 0x1001,
                flow_label: 0,
                seq_base: 0x5a5a_0000,
                size: if v6 { 80 } else { 60 },
            };
            flows.push((flow, format!("{proto}")));
        }
    }
    let mut t = Traces::new(shape, flows).unwrap();
    let pacing = Pacing {
        rate_pps: u32::MAX,
        window: 1000,
        lookahead: 0,
        hop_burst: 0,
        ..Pacing::default()
    };
    let mut s = Scheduler::new(pacing, &t, 0);
    while let Next::Send { target, slot } = s.next(&mut t, 1) {
        s.on_sent(&mut t, target, slot, 1);
    }
    (t, s)
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let (mut t, mut s) = traces();
    let from = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2);
    let me = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
    // Several replies in one input, split on a length byte, so sequences are explored.
    let mut input = rest;
    let mut now = 10;
    while !input.is_empty() {
        let n = usize::from(input[0]).min(input.len() - 1);
        let mut buf = input[1..1 + n].to_vec();
        input = &input[1 + n..];
        if kind & 4 != 0 {
            fix_checksum(kind % 3, &mut buf, from, me);
        }
        let bytes = &buf[..];
        let parsed = match kind % 3 {
            0 => reply::parse_ipv4(bytes),
            1 => reply::parse_icmpv6(from, 64, bytes),
            _ => reply::parse_tcpv6(from, Some(me), 64, bytes),
        };
        let Ok(r) = parsed else { continue };
        now += 1000;
        if let Match::Probe { target, slot } = t.on_reply(&r, now) {
            let flow = t.targets[target as usize].flow;
            assert_eq!(
                (flow.proto, flow.dst, flow.src_port),
                (r.probe.proto, r.probe.dst, r.probe.src_port)
            );
            assert!(slot < t.shape.slots());
            s.on_reply(&t, target, slot, now);
        }
    }
    let _ = s.next(&mut t, now);
    for result in output::atlas(&t, 1) {
        let mut out = Vec::new();
        output::write_table(&mut out, &result).unwrap();
        serde_json::to_string(&result).unwrap();
    }
});
