//! Extraction tests over packets in memory: direction, counters, every name source and the
//! MobiScope DNS rule, bounds.

use super::*;
use crate::flows::capture::LinkType;
use crate::flows::messages::*;
use crate::flows::names::NameSource;
use crate::flows::packets::*;

const PHONE: &str = "10.0.0.2";
const RESOLVER: &str = "10.0.0.1";

fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

struct Run {
    ex: Extractor,
    t: u64,
}

impl Run {
    fn new() -> Self {
        Self::with(&ExtractConfig::default())
    }

    fn with(config: &ExtractConfig) -> Self {
        Run {
            ex: Extractor::new(config),
            t: 1_700_000_000_000_000_000,
        }
    }

    fn send(&mut self, ip: &[u8]) {
        self.t += 1_000_000;
        let frame = ethernet(ip);
        self.ex.packet(&Packet {
            timestamp_ns: self.t,
            link: LinkType::ETHERNET,
            wire_len: frame.len() as u32,
            data: &frame,
        });
    }

    fn tcp(&mut self, from: (&str, u16), to: (&str, u16), seq: u32, flags: u8, payload: &[u8]) {
        let seg = tcp(from.1, to.1, seq, 0, flags, payload);
        self.send(&ip(addr(from.0), addr(to.0), 6, &seg));
    }

    fn udp(&mut self, from: (&str, u16), to: (&str, u16), payload: &[u8]) {
        let d = udp(from.1, to.1, payload);
        self.send(&ip(addr(from.0), addr(to.0), 17, &d));
    }

    fn finish(self) -> Extraction {
        self.ex.finish()
    }
}

#[test]
fn tcp_flow_with_split_client_hello() {
    let mut r = Run::new();
    let (c, s) = ((PHONE, 40000), ("198.51.100.30", 443));
    let hello = tls_records(&client_hello("chat.messenger.example", 1800, false), 16384);
    r.tcp(c, s, 1000, SYN, b"");
    r.tcp(s, c, 5000, SYN | ACK, b"");
    r.tcp(c, s, 1001, ACK, b"");
    // The second half arrives first.
    r.tcp(c, s, 1001 + 1000, ACK | PSH, &hello[1000..]);
    r.tcp(c, s, 1001, ACK, &hello[..1000]);
    r.tcp(s, c, 5001, ACK | FIN, b"");
    let x = r.finish();
    assert_eq!(x.flows.len(), 1);
    let f = &x.flows[0];
    assert_eq!(f.initiator.address, addr(PHONE));
    assert_eq!((f.initiator.packets, f.responder.packets), (4, 2));
    assert_eq!(f.initiator.tcp_flags.to_string(), "SPA");
    assert_eq!(f.responder.tcp_flags.to_string(), "FSA");
    assert_eq!(f.names.sni.as_deref(), Some("chat.messenger.example"));
    assert_eq!(
        (f.name.as_deref(), f.name_source),
        (Some("chat.messenger.example"), Some(NameSource::Sni))
    );
    assert_eq!(x.stats.tls_client_hellos, 1);
    assert_eq!(f.last_ns - f.first_ns, 5_000_000);
}

#[test]
fn syn_ack_seen_first_makes_the_receiver_the_initiator() {
    let mut r = Run::new();
    r.tcp(("198.51.100.30", 443), (PHONE, 40001), 9, SYN | ACK, b"");
    r.tcp(
        (PHONE, 40001),
        ("198.51.100.30", 443),
        1,
        ACK,
        b"GET / HTTP/1.1\r\nHost: h.example\r\nUser-Agent: app/2\r\n\r\n",
    );
    let x = r.finish();
    let f = &x.flows[0];
    assert_eq!(
        (f.initiator.address, f.initiator.port),
        (addr(PHONE), 40001)
    );
    assert_eq!(f.names.http_host.as_deref(), Some("h.example"));
    assert_eq!(f.names.user_agent.as_deref(), Some("app/2"));
    assert_eq!(f.name_source, Some(NameSource::HttpHost));
}

#[test]
fn dns_names_follow_the_mobiscope_rule() {
    let mut r = Run::new();
    let res = (RESOLVER, 53);
    r.udp((PHONE, 5000), res, &dns_query(1, "chat.messenger.example"));
    r.udp(
        res,
        (PHONE, 5000),
        &dns_response(
            1,
            "chat.messenger.example",
            &[
                Answer::Cname("chat.messenger.example".into(), "edge.cdn.example".into()),
                Answer::A("edge.cdn.example".into(), [198, 51, 100, 30]),
                Answer::A("edge.cdn.example".into(), [198, 51, 100, 31]),
            ],
        ),
    );
    // .31 came second in the answer: it gets no name.
    r.tcp((PHONE, 40000), ("198.51.100.30", 443), 1, SYN, b"");
    r.tcp((PHONE, 40001), ("198.51.100.31", 443), 1, SYN, b"");
    // A later response gives .30 out for another name: only later flows see it.
    r.udp(
        res,
        (PHONE, 5001),
        &dns_response(
            2,
            "other.example",
            &[Answer::A("other.example".into(), [198, 51, 100, 30])],
        ),
    );
    r.tcp((PHONE, 40002), ("198.51.100.30", 443), 1, SYN, b"");
    r.tcp((PHONE, 40000), ("198.51.100.30", 443), 2, ACK, b"");
    let x = r.finish();
    let by_port = |p: u16| x.flows.iter().find(|f| f.initiator.port == p).unwrap();
    assert_eq!(
        by_port(40000).names.dns.as_deref(),
        Some("chat.messenger.example")
    );
    assert_eq!(by_port(40000).name_source, Some(NameSource::Dns));
    assert_eq!(by_port(40001).names.dns, None);
    assert_eq!(by_port(40002).names.dns.as_deref(), Some("other.example"));
    assert_eq!(x.stats.dns_responses, 2);
}

#[test]
fn quic_initial_names_a_udp_flow() {
    let mut r = Run::new();
    r.udp(
        (PHONE, 50000),
        ("198.51.100.40", 443),
        &rfc9001_client_initial(),
    );
    let hello = client_hello("big.quic.example", 2500, true);
    let dcid = [3u8; 8];
    r.udp(
        (PHONE, 50001),
        ("198.51.100.40", 443),
        &quic_initial(&dcid, &[], 0, &crypto_frame(0, &hello[..1100]), 1200),
    );
    r.udp(("198.51.100.40", 443), (PHONE, 50001), &[0xc0; 60]);
    r.udp(
        (PHONE, 50001),
        ("198.51.100.40", 443),
        &quic_initial(&dcid, &[], 1, &crypto_frame(1100, &hello[1100..]), 1500),
    );
    let x = r.finish();
    assert_eq!(x.flows[0].names.sni.as_deref(), Some("example.com"));
    assert_eq!(x.flows[1].names.sni.as_deref(), Some("big.quic.example"));
    assert_eq!(x.stats.quic_initials, 3);
}

#[test]
fn fragments_are_counted_and_later_ones_left_out() {
    let mut r = Run::new();
    let big = dns_response(
        7,
        "frag.example",
        &vec![Answer::A("frag.example".into(), [192, 0, 2, 77]); 40],
    );
    for frag in ipv4_fragments(
        addr(RESOLVER),
        addr(PHONE),
        17,
        99,
        &udp(53, 5353, &big),
        256,
    ) {
        r.send(&frag);
    }
    let x = r.finish();
    assert_eq!(x.flows.len(), 1);
    assert_eq!(x.flows[0].initiator.packets, 1);
    assert_eq!(x.stats.fragments, 3);
    assert_eq!(x.stats.later_fragments, 2);
    // The first fragment holds only part of the response, enough for its first address.
    assert_eq!((x.stats.dns_responses, x.stats.dns_malformed), (1, 0));
}

#[test]
fn bounds_hold() {
    let config = ExtractConfig {
        max_flows: 2,
        max_gathering_flows: 1,
        ..ExtractConfig::default()
    };
    let mut r = Run::with(&config);
    let partial = tls_records(&client_hello("a.example", 3000, false), 16384);
    r.tcp((PHONE, 1), ("192.0.2.1", 443), 0, ACK, &partial[..100]);
    r.tcp((PHONE, 2), ("192.0.2.1", 443), 0, ACK, &partial[..100]);
    r.tcp((PHONE, 3), ("192.0.2.1", 443), 0, ACK, &partial[..100]);
    r.tcp((PHONE, 2), ("192.0.2.1", 443), 100, ACK, &partial[100..]);
    let x = r.finish();
    assert_eq!(x.flows.len(), 2);
    assert_eq!(x.stats.untracked, 1);
    // Only one flow could gather; the second gave up.
    assert_eq!(x.flows[1].names.sni, None);
}

#[test]
fn garbage_is_counted_not_fatal() {
    let mut r = Run::new();
    r.send(&[0x45, 0, 0]);
    r.send(&[0x60; 30]);
    let arp = [0u8; 28];
    r.t += 1;
    let mut frame = ethernet(&arp);
    frame[12..14].copy_from_slice(&[0x08, 0x06]);
    r.ex.packet(&Packet {
        timestamp_ns: r.t,
        link: LinkType::ETHERNET,
        wire_len: 42,
        data: &frame,
    });
    r.ex.packet(&Packet {
        timestamp_ns: r.t,
        link: LinkType(147),
        wire_len: 42,
        data: &frame,
    });
    let x = r.finish();
    assert_eq!(
        (x.stats.malformed, x.stats.not_ip, x.stats.unsupported_link),
        (2, 1, 1)
    );
    assert!(x.flows.is_empty());
}

proptest::proptest! {
    #[test]
    fn arbitrary_packets_never_panic(
        packets in proptest::collection::vec(
            (proptest::sample::select(vec![1u16, 101, 113, 276]), proptest::collection::vec(proptest::num::u8::ANY, 0..400)),
            0..30,
        ),
    ) {
        let mut ex = Extractor::new(&ExtractConfig::default());
        for (i, (link, data)) in packets.iter().enumerate() {
            ex.packet(&Packet { timestamp_ns: i as u64, link: LinkType(*link), wire_len: data.len() as u32, data });
        }
        let x = ex.finish();
        proptest::prop_assert_eq!(x.stats.packets, packets.len() as u64);
    }

    #[test]
    fn mutated_conversations_never_panic(at in 0usize..2000, value in proptest::num::u8::ANY) {
        // A real conversation with one byte changed somewhere in its packets.
        let hello = tls_records(&client_hello("m.example", 600, false), 16384);
        let mut packets = vec![
            ip(addr(PHONE), addr("192.0.2.1"), 6, &tcp(1, 443, 0, 0, SYN, b"")),
            ip(addr(PHONE), addr("192.0.2.1"), 6, &tcp(1, 443, 1, 0, ACK, &hello)),
            ip(addr(RESOLVER), addr(PHONE), 17, &udp(53, 9, &dns_response(1, "m.example", &[Answer::A("m.example".into(), [192, 0, 2, 1])]))),
            ip(addr(PHONE), addr("192.0.2.1"), 17, &udp(9, 443, &rfc9001_client_initial())),
        ];
        let total: usize = packets.iter().map(Vec::len).sum();
        let mut at = at % total;
        for p in &mut packets {
            if at < p.len() {
                p[at] = value;
                break;
            }
            at -= p.len();
        }
        let mut r = Run::new();
        for p in &packets {
            r.send(p);
        }
        let _ = r.finish();
    }
}

#[test]
fn a_long_lived_flow_is_split_into_bursts_of_activity() {
    let mut run = Run::new();
    let (phone, server) = ((PHONE, 40000), ("198.51.100.30", 5222));
    run.udp(phone, server, b"login");
    run.udp(server, phone, b"ok");
    let start = run.t - 1_000_000;
    run.t += 5_000_000_000;
    run.udp(phone, server, b"message");
    run.udp(server, phone, b"ack");
    let second = run.t - 1_000_000;
    let x = run.finish();
    let flow = &x.flows[0];
    let spans: Vec<_> = flow
        .bursts
        .iter()
        .map(|b| (b.first_ns, b.last_ns))
        .collect();
    assert_eq!(
        spans,
        [(start, start + 1_000_000), (second, second + 1_000_000)]
    );
}

#[test]
fn bursts_are_bounded_per_flow() {
    let mut run = Run::new();
    for _ in 0..(crate::flows::MAX_BURSTS + 10) {
        run.t += 2 * crate::flows::BURST_GAP_NS;
        run.udp((PHONE, 40000), ("198.51.100.30", 5222), b"ping");
    }
    let last = run.t;
    let x = run.finish();
    let bursts = &x.flows[0].bursts;
    assert_eq!(bursts.len(), crate::flows::MAX_BURSTS);
    assert_eq!(bursts.last().map(|b| b.last_ns), Some(last));
}
