//! A corpus of small captures, one per feature the parser must get right: DNS with CNAME
//! chains, a ClientHello split over two segments, HTTP, QUIC Initials (the RFC 9001 packet and
//! a ClientHello over two Initials), IPv6 extension headers, VLAN, Linux cooked v1/v2, IPv4
//! and IPv6 fragments, pcap in both byte orders and resolutions, pcapng with two interfaces.
#![allow(dead_code)]

use super::capture::{self, pcap, pcapng};
use super::messages::*;
use super::packets::*;
use super::trace::{addr, Trace, PHONE, PHONE6, RESOLVER};

/// One capture of the corpus.
pub struct Case {
    /// File name (the extension tells the format).
    pub name: &'static str,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

fn raw(p: &[u8]) -> Vec<u8> {
    p.to_vec()
}

fn vlan42(p: &[u8]) -> Vec<u8> {
    vlan(42, p)
}

fn tls_reply() -> Vec<u8> {
    let mut r = vec![0x17, 3, 3, 0x05, 0x00];
    r.extend([0x5a; 1280]);
    r
}

/// DNS with CNAME chains, a ClientHello split over two segments, an RST, NTP.
fn dns_and_tls() -> Case {
    let mut t = Trace::new();
    t.dns(
        40001,
        1,
        "chat.messenger.example",
        &[
            Answer::Cname("chat.messenger.example".into(), "edge.cdn.example".into()),
            Answer::Cname("edge.cdn.example".into(), "pop7.cdn.example".into()),
            Answer::A("pop7.cdn.example".into(), [198, 51, 100, 30]),
            Answer::A("pop7.cdn.example".into(), [198, 51, 100, 31]),
        ],
    );
    t.dns(
        40002,
        2,
        "media.messenger.example",
        &[Answer::Aaaa(
            "media.messenger.example".into(),
            "2001:db8:30::1".parse().unwrap(),
        )],
    );
    let hello = tls_records(&client_hello("chat.messenger.example", 900, false), 16384);
    t.connection(
        (PHONE, 51000),
        ("198.51.100.30", 443),
        &[&hello[..500], &hello[500..]],
        &tls_reply(),
    );
    t.tcp((PHONE, 51001), ("198.51.100.31", 443), 7, 0, SYN, b"");
    t.tcp(("198.51.100.31", 443), (PHONE, 51001), 0, 8, RST | ACK, b"");
    t.udp((PHONE, 123), ("192.0.2.123", 123), &[0x23; 48]);
    t.udp(("192.0.2.123", 123), (PHONE, 123), &[0x24; 48]);
    Case {
        name: "dns-tls.pcap",
        bytes: pcap(capture::ETHERNET, false, false, &t.framed(ethernet)),
    }
}

/// HTTP/1.1 in a big-endian nanosecond pcap.
fn http() -> Case {
    let mut t = Trace::new();
    t.dns(
        40003,
        3,
        "api.messenger.example",
        &[Answer::A(
            "api.messenger.example".into(),
            [198, 51, 100, 80],
        )],
    );
    let request = http_request(
        "api.messenger.example",
        "Messenger/3.1 (Android 14)",
        "/v1/keys",
    );
    t.connection(
        (PHONE, 52000),
        ("198.51.100.80", 80),
        &[&request],
        b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n",
    );
    Case {
        name: "http-be-ns.pcap",
        bytes: pcap(capture::ETHERNET, true, true, &t.framed(ethernet)),
    }
}

/// The RFC 9001 client Initial, and a ClientHello over two sealed Initials.
fn quic() -> Case {
    let mut t = Trace::new();
    t.udp(
        (PHONE, 50000),
        ("198.51.100.40", 443),
        &rfc9001_client_initial(),
    );
    let hello = client_hello("push.messenger.example", 1700, true);
    let dcid = [0x5a, 0x17, 0x42, 0x99, 0x01, 0x02, 0x03, 0x04];
    let scid = [0xc1, 0xc2, 0xc3, 0xc4];
    let first = quic_initial(&dcid, &scid, 0, &crypto_frame(0, &hello[..1000]), 1200);
    let second = quic_initial(&dcid, &scid, 1, &crypto_frame(1000, &hello[1000..]), 1200);
    t.udp((PHONE, 50001), ("198.51.100.41", 443), &first);
    t.udp((PHONE, 50001), ("198.51.100.41", 443), &second);
    Case {
        name: "quic.pcapng",
        bytes: pcapng(
            false,
            &[(capture::ETHERNET, Some(9))],
            &t.framed(ethernet)
                .into_iter()
                .map(|(ts, p)| (0, ts, p))
                .collect::<Vec<_>>(),
        ),
    }
}

/// IPv6 with hop-by-hop, routing and destination options; DNS over IPv6; IPv6 fragments.
fn ipv6_extensions() -> Case {
    let mut t = Trace::new();
    let c = addr(PHONE6);
    let s = addr("2001:db8:30::1");
    let r = addr("2001:db8:1::1");
    t.ip(ipv6(
        c,
        r,
        17,
        &[],
        &udp(40004, 53, &dns_query(4, "media.messenger.example")),
    ));
    t.ip(ipv6(
        r,
        c,
        17,
        &[],
        &udp(
            53,
            40004,
            &dns_response(
                4,
                "media.messenger.example",
                &[Answer::Aaaa(
                    "media.messenger.example".into(),
                    "2001:db8:30::1".parse().unwrap(),
                )],
            ),
        ),
    ));
    let exts = vec![
        (0u8, vec![1, 4, 0, 0, 0, 0]),
        (43u8, vec![0, 0, 0, 0, 0, 0]),
        (60u8, vec![1, 4, 0, 0, 0, 0]),
    ];
    let hello = tls_records(&client_hello("media.messenger.example", 400, false), 16384);
    t.ip(ipv6(c, s, 6, &exts, &tcp(53000, 443, 100, 0, SYN, b"")));
    t.ip(ipv6(
        s,
        c,
        6,
        &[],
        &tcp(443, 53000, 700, 101, SYN | ACK, b""),
    ));
    t.ip(ipv6(
        c,
        s,
        6,
        &exts,
        &tcp(53000, 443, 101, 701, ACK | PSH, &hello),
    ));
    // A UDP datagram in two IPv6 fragments.
    let body = udp(40005, 9999, &[0x77; 120]);
    t.ip(ipv6(c, s, 17, &[(44, vec![0, 1, 0, 0, 0, 5])], &body[..64]));
    t.ip(ipv6(
        c,
        s,
        17,
        &[(44, vec![0, 64, 0, 0, 0, 5])],
        &body[64..],
    ));
    Case {
        name: "ipv6-ext.pcap",
        bytes: pcap(capture::RAW, false, false, &t.framed(raw)),
    }
}

/// 802.1Q-tagged Ethernet.
fn vlan_tagged() -> Case {
    let mut t = Trace::new();
    t.dns(
        40006,
        6,
        "cdn.messenger.example",
        &[Answer::A("cdn.messenger.example".into(), [203, 0, 113, 6])],
    );
    let request = http_request("cdn.messenger.example", "okhttp/4.12", "/avatar/1.jpg");
    t.connection(
        (PHONE, 54000),
        ("203.0.113.6", 80),
        &[&request],
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    Case {
        name: "vlan.pcap",
        bytes: pcap(capture::ETHERNET, false, false, &t.framed(vlan42)),
    }
}

/// Linux cooked capture v2 (`tcpdump -i any`).
fn cooked_v2() -> Case {
    let mut t = Trace::new();
    t.dns(
        40007,
        7,
        "sync.messenger.example",
        &[Answer::A("sync.messenger.example".into(), [203, 0, 113, 7])],
    );
    let hello = tls_records(&client_hello("sync.messenger.example", 512, false), 16384);
    t.connection(
        (PHONE, 55000),
        ("203.0.113.7", 443),
        &[&hello],
        &tls_reply(),
    );
    Case {
        name: "sll2.pcap",
        bytes: pcap(capture::SLL2, false, false, &t.framed(sll2)),
    }
}

/// Linux cooked capture v1.
fn cooked_v1() -> Case {
    let mut t = Trace::new();
    t.udp((PHONE, 123), ("192.0.2.123", 123), &[0x23; 48]);
    let hello = tls_records(&client_hello("auth.messenger.example", 512, false), 16384);
    t.connection(
        (PHONE, 56000),
        ("203.0.113.8", 443),
        &[&hello],
        &tls_reply(),
    );
    Case {
        name: "sll.pcap",
        bytes: pcap(capture::SLL, true, false, &t.framed(sll)),
    }
}

/// A DNS response in three IPv4 fragments.
fn fragments() -> Case {
    let mut t = Trace::new();
    let name = "many.messenger.example";
    let answers: Vec<Answer> = (1..=40)
        .map(|i| Answer::A(name.into(), [198, 51, 100, i]))
        .collect();
    t.udp((PHONE, 40008), (RESOLVER, 53), &dns_query(8, name));
    let response = udp(53, 40008, &dns_response(8, name, &answers));
    for frag in ipv4_fragments(addr(RESOLVER), addr(PHONE), 17, 0x4242, &response, 320) {
        t.ip(frag);
    }
    t.tcp((PHONE, 57000), ("198.51.100.1", 443), 1, 0, SYN, b"");
    Case {
        name: "fragments.pcap",
        bytes: pcap(capture::ETHERNET, false, false, &t.framed(ethernet)),
    }
}

/// A big-endian pcapng with two interfaces of different link types and resolutions.
fn two_interfaces() -> Case {
    let mut t = Trace::new();
    t.dns(
        40009,
        9,
        "chat.messenger.example",
        &[Answer::A(
            "chat.messenger.example".into(),
            [198, 51, 100, 30],
        )],
    );
    let hello = tls_records(&client_hello("chat.messenger.example", 700, false), 300);
    t.connection(
        (PHONE, 58000),
        ("198.51.100.30", 443),
        &[&hello[..200], &hello[200..]],
        &tls_reply(),
    );
    let packets: Vec<(u32, u64, Vec<u8>)> = t
        .packets
        .iter()
        .enumerate()
        .map(|(i, (ts, p))| {
            if i % 2 == 0 {
                (0, *ts, ethernet(p))
            } else {
                (1, *ts, p.clone())
            }
        })
        .collect();
    Case {
        name: "two-interfaces.pcapng",
        bytes: pcapng(
            true,
            &[(capture::ETHERNET, None), (capture::RAW, Some(9))],
            &packets,
        ),
    }
}

/// The whole corpus.
pub fn all() -> Vec<Case> {
    vec![
        dns_and_tls(),
        http(),
        quic(),
        ipv6_extensions(),
        vlan_tagged(),
        cooked_v2(),
        cooked_v1(),
        fragments(),
        two_interfaces(),
    ]
}
