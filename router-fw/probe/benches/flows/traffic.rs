//! Mixed phone traffic for the benchmark: TLS over TCP (some ClientHellos split), QUIC with
//! real Initials, HTTP, DNS with CNAME chains, NTP, bulk downloads, IPv4 and IPv6, many
//! sessions interleaved as on a real link.

use crate::support::capture::PcapWriter;
use crate::support::messages::*;
use crate::support::packets::*;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::IpAddr;

/// Sessions running at once; their packets interleave.
const CONCURRENT: usize = 48;

/// A small deterministic random source (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One session's packets (IP, not yet framed), in order.
type Session = VecDeque<Vec<u8>>;

struct Ends {
    phone: IpAddr,
    server: IpAddr,
    resolver: IpAddr,
    port: u16,
}

/// Writes Ethernet-framed mixed traffic until the file holds at least `target` bytes.
pub fn write_pcap(out: impl Write, target: u64, seed: u64) -> io::Result<(u64, u64)> {
    let mut w = PcapWriter::new(out, 1, false, false)?;
    let mut rng = Rng::new(seed);
    let quic: Vec<Vec<u8>> = (0..16u8)
        .map(|i| {
            let hello = client_hello(&format!("q{i}.video.example"), 600, true);
            quic_initial(
                &[i, 1, 2, 3, 4, 5, 6, 7],
                &[i],
                0,
                &crypto_frame(0, &hello),
                1252,
            )
        })
        .collect();
    let mut live: Vec<Session> = Vec::new();
    let (mut written, mut packets, mut ts) = (24u64, 0u64, 1_700_000_000_000_000_000u64);
    let mut next_id = 0u64;
    while written < target {
        while live.len() < CONCURRENT {
            next_id += 1;
            live.push(session(&mut rng, next_id, &quic));
        }
        let i = rng.below(live.len() as u64) as usize;
        // A few packets of a session in a row, as bursts go.
        for _ in 0..1 + rng.below(4) {
            let Some(p) = live[i].pop_front() else { break };
            let frame = ethernet(&p);
            ts += 2_000 + rng.below(40_000);
            w.packet(ts, &frame)?;
            written += 16 + frame.len() as u64;
            packets += 1;
        }
        if live[i].is_empty() {
            live.swap_remove(i);
        }
    }
    w.into_inner().flush()?;
    Ok((written, packets))
}

fn session(rng: &mut Rng, id: u64, quic: &[Vec<u8>]) -> Session {
    let v6 = rng.below(5) == 0;
    let n = (id % 60_000) as u16;
    let ends = if v6 {
        Ends {
            phone: format!("2001:db8:1::{:x}", 2 + id % 8).parse().unwrap(),
            server: format!("2001:db8:30::{:x}", 1 + rng.below(5000))
                .parse()
                .unwrap(),
            resolver: "2001:db8:1::1".parse().unwrap(),
            port: 1024 + n,
        }
    } else {
        Ends {
            phone: [10, 0, 0, 2 + (id % 8) as u8].into(),
            server: [
                198,
                51,
                (rng.below(2) * 13 + 100) as u8,
                rng.below(250) as u8,
            ]
            .into(),
            resolver: [10, 0, 0, 1].into(),
            port: 1024 + n,
        }
    };
    let mut s = Session::new();
    let name = format!("s{}.svc{}.example", id % 997, rng.below(50));
    match rng.below(100) {
        0..=39 => {
            dns(&mut s, &ends, &name);
            tls(&mut s, rng, &ends, &name);
        }
        40..=59 => {
            dns(&mut s, &ends, &name);
            let initial = &quic[rng.below(quic.len() as u64) as usize];
            quic_session(&mut s, rng, &ends, initial);
        }
        60..=69 => {
            dns(&mut s, &ends, &name);
            http(&mut s, rng, &ends, &name);
        }
        70..=89 => {
            dns(&mut s, &ends, &name);
            let ntp = udp(ends.port, 123, &[0x23; 48]);
            s.push_back(ip(ends.phone, ends.server, 17, &ntp));
            s.push_back(ip(
                ends.server,
                ends.phone,
                17,
                &udp(123, ends.port, &[0x24; 48]),
            ));
        }
        _ => {
            dns(&mut s, &ends, &name);
            bulk(&mut s, rng, &ends);
        }
    }
    s
}

fn dns(s: &mut Session, e: &Ends, name: &str) {
    let target = format!("edge.{name}");
    let answer = match e.server {
        IpAddr::V4(a) => Answer::A(target.clone(), a.octets()),
        IpAddr::V6(a) => Answer::Aaaa(target.clone(), a),
    };
    s.push_back(ip(
        e.phone,
        e.resolver,
        17,
        &udp(e.port ^ 0x8000, 53, &dns_query(e.port, name)),
    ));
    let answers = [Answer::Cname(name.into(), target), answer];
    s.push_back(ip(
        e.resolver,
        e.phone,
        17,
        &udp(53, e.port ^ 0x8000, &dns_response(e.port, name, &answers)),
    ));
}

fn tcp_open(s: &mut Session, e: &Ends, dport: u16) {
    s.push_back(ip(
        e.phone,
        e.server,
        6,
        &tcp(e.port, dport, 1000, 0, SYN, b""),
    ));
    s.push_back(ip(
        e.server,
        e.phone,
        6,
        &tcp(dport, e.port, 5000, 1001, SYN | ACK, b""),
    ));
    s.push_back(ip(
        e.phone,
        e.server,
        6,
        &tcp(e.port, dport, 1001, 5001, ACK, b""),
    ));
}

/// Server data in MSS-sized segments, the client acknowledging every second one.
fn download(s: &mut Session, e: &Ends, dport: u16, bytes: usize, seq: u32) {
    let payload = [0x5a; 1448];
    let mut sent = 0;
    let mut n = 0;
    while sent < bytes {
        let len = (bytes - sent).min(1448);
        s.push_back(ip(
            e.server,
            e.phone,
            6,
            &tcp(dport, e.port, seq + sent as u32, 2000, ACK, &payload[..len]),
        ));
        sent += len;
        n += 1;
        if n % 2 == 0 {
            s.push_back(ip(
                e.phone,
                e.server,
                6,
                &tcp(e.port, dport, 2000, seq + sent as u32, ACK, b""),
            ));
        }
    }
}

fn tcp_close(s: &mut Session, e: &Ends, dport: u16) {
    s.push_back(ip(
        e.phone,
        e.server,
        6,
        &tcp(e.port, dport, 9000, 9000, FIN | ACK, b""),
    ));
    s.push_back(ip(
        e.server,
        e.phone,
        6,
        &tcp(dport, e.port, 9000, 9001, FIN | ACK, b""),
    ));
}

fn tls(s: &mut Session, rng: &mut Rng, e: &Ends, name: &str) {
    tcp_open(s, e, 443);
    let hello = tls_records(&client_hello(name, 517, false), 16384);
    if rng.below(4) == 0 {
        let cut = 100 + rng.below(300) as usize;
        s.push_back(ip(
            e.phone,
            e.server,
            6,
            &tcp(e.port, 443, 1001, 5001, ACK, &hello[..cut]),
        ));
        s.push_back(ip(
            e.phone,
            e.server,
            6,
            &tcp(
                e.port,
                443,
                1001 + cut as u32,
                5001,
                ACK | PSH,
                &hello[cut..],
            ),
        ));
    } else {
        s.push_back(ip(
            e.phone,
            e.server,
            6,
            &tcp(e.port, 443, 1001, 5001, ACK | PSH, &hello),
        ));
    }
    download(s, e, 443, 4000 + rng.below(60_000) as usize, 5001);
    for _ in 0..rng.below(8) {
        let len = 100 + rng.below(1300) as usize;
        s.push_back(ip(
            e.phone,
            e.server,
            6,
            &tcp(e.port, 443, 3000, 9000, ACK | PSH, &vec![0x17; len]),
        ));
        download(s, e, 443, 200 + rng.below(3000) as usize, 70_000);
    }
    tcp_close(s, e, 443);
}

fn quic_session(s: &mut Session, rng: &mut Rng, e: &Ends, initial: &[u8]) {
    s.push_back(ip(e.phone, e.server, 17, &udp(e.port, 443, initial)));
    let mut server_long = vec![0xc0, 0, 0, 0, 1, 0, 8];
    server_long.resize(1200, 0x33);
    s.push_back(ip(e.server, e.phone, 17, &udp(443, e.port, &server_long)));
    let mut short = vec![0x40; 1350];
    for _ in 0..10 + rng.below(300) {
        let len = 1200 + rng.below(150) as usize;
        short[0] = 0x41;
        s.push_back(ip(e.server, e.phone, 17, &udp(443, e.port, &short[..len])));
        if rng.below(3) == 0 {
            s.push_back(ip(
                e.phone,
                e.server,
                17,
                &udp(e.port, 443, &short[..40 + rng.below(30) as usize]),
            ));
        }
    }
}

fn http(s: &mut Session, rng: &mut Rng, e: &Ends, name: &str) {
    tcp_open(s, e, 80);
    let request = http_request(name, "okhttp/4.12.0", "/static/app.js");
    s.push_back(ip(
        e.phone,
        e.server,
        6,
        &tcp(e.port, 80, 1001, 5001, ACK | PSH, &request),
    ));
    download(s, e, 80, 2000 + rng.below(30_000) as usize, 5001);
    tcp_close(s, e, 80);
}

fn bulk(s: &mut Session, rng: &mut Rng, e: &Ends) {
    tcp_open(s, e, 443);
    download(s, e, 443, 500_000 + rng.below(2_000_000) as usize, 5001);
    tcp_close(s, e, 443);
}
