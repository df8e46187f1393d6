//! Conversations as timed IP packets: a client and a server exchanging TCP segments (with
//! handshake and FIN), UDP datagrams and DNS lookups; framed for any link type afterwards.
#![allow(dead_code)]

use super::messages::*;
use super::packets::*;
use std::net::IpAddr;

pub const PHONE: &str = "10.0.0.2";
pub const RESOLVER: &str = "10.0.0.1";
pub const PHONE6: &str = "2001:db8:1::2";

/// An address from its text.
pub fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// IP packets with times, 1 ms apart.
pub struct Trace {
    t: u64,
    pub packets: Vec<(u64, Vec<u8>)>,
}

impl Trace {
    pub fn new() -> Self {
        Trace {
            t: 1_700_000_000_000_000_000,
            packets: Vec::new(),
        }
    }

    pub fn ip(&mut self, packet: Vec<u8>) {
        self.t += 1_000_000 + 1_234;
        self.packets.push((self.t, packet));
    }

    pub fn tcp(
        &mut self,
        from: (&str, u16),
        to: (&str, u16),
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) {
        let seg = tcp(from.1, to.1, seq, ack, flags, payload);
        self.ip(ip(addr(from.0), addr(to.0), 6, &seg));
    }

    pub fn udp(&mut self, from: (&str, u16), to: (&str, u16), payload: &[u8]) {
        let d = udp(from.1, to.1, payload);
        self.ip(ip(addr(from.0), addr(to.0), 17, &d));
    }

    /// A TCP connection: handshake, the client's bytes in the given pieces, the server's
    /// reply, and a FIN exchange.
    pub fn connection(
        &mut self,
        client: (&str, u16),
        server: (&str, u16),
        pieces: &[&[u8]],
        reply: &[u8],
    ) {
        let (mut cs, mut ss) = (1_000u32, 90_000u32);
        self.tcp(client, server, cs, 0, SYN, b"");
        self.tcp(server, client, ss, cs + 1, SYN | ACK, b"");
        cs += 1;
        ss += 1;
        self.tcp(client, server, cs, ss, ACK, b"");
        for piece in pieces {
            self.tcp(client, server, cs, ss, ACK | PSH, piece);
            cs += piece.len() as u32;
        }
        self.tcp(server, client, ss, cs, ACK | PSH, reply);
        ss += reply.len() as u32;
        self.tcp(client, server, cs, ss, ACK | FIN, b"");
        self.tcp(server, client, ss, cs + 1, ACK | FIN, b"");
        self.tcp(client, server, cs + 1, ss + 1, ACK, b"");
    }

    /// A DNS exchange with the resolver.
    pub fn dns(&mut self, port: u16, id: u16, name: &str, answers: &[Answer]) {
        self.udp((PHONE, port), (RESOLVER, 53), &dns_query(id, name));
        self.udp(
            (RESOLVER, 53),
            (PHONE, port),
            &dns_response(id, name, answers),
        );
    }

    /// The packets framed for a link type.
    pub fn framed(&self, frame: fn(&[u8]) -> Vec<u8>) -> Vec<(u64, Vec<u8>)> {
        self.packets.iter().map(|(t, p)| (*t, frame(p))).collect()
    }
}

impl Default for Trace {
    fn default() -> Self {
        Trace::new()
    }
}
