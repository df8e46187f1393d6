//! Packet templates for tests and the benchmark, built field by field so a test reads as the
//! packet it sends: link headers, IPv4/IPv6, TCP, UDP (application messages are in
//! `messages.rs`). Shared by unit tests (through `#[path]`), integration tests, the bench
//! and the fuzz targets; it uses only std.
#![allow(dead_code)]

use std::net::IpAddr;

/// EtherType of IPv4.
pub const ETH_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETH_IPV6: u16 = 0x86dd;
/// TCP flag bits.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// EtherType for an IP packet.
pub fn ethertype_of(ip: &[u8]) -> u16 {
    if ip.first().map(|b| b >> 4) == Some(6) {
        ETH_IPV6
    } else {
        ETH_IPV4
    }
}

/// An Ethernet II frame.
pub fn ethernet(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02];
    f.extend(ethertype_of(payload).to_be_bytes());
    f.extend(payload);
    f
}

/// An Ethernet frame with one 802.1Q tag.
pub fn vlan(vid: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x81, 0x00];
    f.extend((vid & 0x0fff).to_be_bytes());
    f.extend(ethertype_of(payload).to_be_bytes());
    f.extend(payload);
    f
}

/// A Linux cooked capture v1 header, then the packet.
pub fn sll(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 4, 0, 1, 0, 6, 0x02, 0, 0, 0, 0, 1, 0, 0];
    f.extend(ethertype_of(payload).to_be_bytes());
    f.extend(payload);
    f
}

/// A Linux cooked capture v2 header, then the packet.
pub fn sll2(payload: &[u8]) -> Vec<u8> {
    let mut f = ethertype_of(payload).to_be_bytes().to_vec();
    f.extend([0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 0x02, 0, 0, 0, 0, 1, 0, 0]);
    f.extend(payload);
    f
}

fn checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in chunks {
        let mut pairs = chunk.chunks_exact(2);
        for p in &mut pairs {
            sum += u32::from(u16::from_be_bytes([p[0], p[1]]));
        }
        if let [last] = pairs.remainder() {
            sum += u32::from(*last) << 8;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Fills in the TCP or UDP checksum of `segment` under the given pseudo-header.
fn transport_checksum(src: IpAddr, dst: IpAddr, protocol: u8, segment: &mut [u8]) {
    let at = match protocol {
        6 if segment.len() >= 20 => 16,
        17 if segment.len() >= 8 => 6,
        _ => return,
    };
    segment[at] = 0;
    segment[at + 1] = 0;
    let (s, d): (Vec<u8>, Vec<u8>) = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => (s.octets().to_vec(), d.octets().to_vec()),
        (IpAddr::V6(s), IpAddr::V6(d)) => (s.octets().to_vec(), d.octets().to_vec()),
        _ => panic!("mixed address families"),
    };
    let len = (segment.len() as u32).to_be_bytes();
    let pseudo = [0, 0, 0, protocol];
    let sum = checksum(&[&s, &d, &len, &pseudo, segment]);
    let sum = if sum == 0 && protocol == 17 {
        0xffff
    } else {
        sum
    };
    segment[at..at + 2].copy_from_slice(&sum.to_be_bytes());
}

/// An IPv4 or IPv6 packet (no extension headers), transport checksum filled in.
pub fn ip(src: IpAddr, dst: IpAddr, protocol: u8, payload: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(..), IpAddr::V4(..)) => ipv4(src, dst, protocol, 0, 0, payload),
        _ => ipv6(src, dst, protocol, &[], payload),
    }
}

/// An IPv4 packet; `id` and `frag` (flags and offset word) as given, checksums filled in.
pub fn ipv4(src: IpAddr, dst: IpAddr, protocol: u8, id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
        panic!("ipv4 needs IPv4 addresses")
    };
    let mut body = payload.to_vec();
    if frag == 0 {
        transport_checksum(src, dst, protocol, &mut body);
    }
    let mut p = vec![0x45, 0];
    p.extend(((20 + body.len()) as u16).to_be_bytes());
    p.extend(id.to_be_bytes());
    p.extend(frag.to_be_bytes());
    p.extend([64, protocol, 0, 0]);
    p.extend(s.octets());
    p.extend(d.octets());
    let sum = checksum(&[&p]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend(body);
    p
}

/// The fragments of an IPv4 datagram whose payload is cut every `chunk` bytes (a multiple
/// of 8); the transport checksum is computed over the whole payload first.
pub fn ipv4_fragments(
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    id: u16,
    payload: &[u8],
    chunk: usize,
) -> Vec<Vec<u8>> {
    assert_eq!(chunk % 8, 0);
    let mut whole = payload.to_vec();
    transport_checksum(src, dst, protocol, &mut whole);
    let pieces: Vec<&[u8]> = whole.chunks(chunk).collect();
    let last = pieces.len() - 1;
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let more = if i < last { 0x2000 } else { 0 };
            let offset = ((i * chunk) / 8) as u16;
            ipv4(src, dst, protocol, id, more | offset, piece)
        })
        .collect()
}

/// An IPv6 packet with extension headers given as (header type, body without the first two
/// bytes; padded to 8-byte units here).
pub fn ipv6(
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    extensions: &[(u8, Vec<u8>)],
    payload: &[u8],
) -> Vec<u8> {
    let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) else {
        panic!("ipv6 needs IPv6 addresses")
    };
    let mut body = payload.to_vec();
    transport_checksum(src, dst, protocol, &mut body);
    let mut ext = Vec::new();
    for (i, (_, content)) in extensions.iter().enumerate() {
        let next = extensions.get(i + 1).map(|e| e.0).unwrap_or(protocol);
        let mut h = vec![next, 0];
        h.extend(content);
        h.resize(h.len().div_ceil(8) * 8, 0);
        h[1] = (h.len() / 8 - 1) as u8;
        ext.extend(h);
    }
    let first = extensions.first().map(|e| e.0).unwrap_or(protocol);
    let mut p = vec![0x60, 0, 0, 0];
    p.extend(((ext.len() + body.len()) as u16).to_be_bytes());
    p.extend([first, 64]);
    p.extend(s.octets());
    p.extend(d.octets());
    p.extend(ext);
    p.extend(body);
    p
}

/// A TCP segment (20-byte header, window 65535); the checksum is filled in by `ip`.
pub fn tcp(src_port: u16, dst_port: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(20 + payload.len());
    s.extend(src_port.to_be_bytes());
    s.extend(dst_port.to_be_bytes());
    s.extend(seq.to_be_bytes());
    s.extend(ack.to_be_bytes());
    s.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    s.extend(payload);
    s
}

/// A UDP datagram; the checksum is filled in by `ip`.
pub fn udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(8 + payload.len());
    d.extend(src_port.to_be_bytes());
    d.extend(dst_port.to_be_bytes());
    d.extend(((8 + payload.len()) as u16).to_be_bytes());
    d.extend([0, 0]);
    d.extend(payload);
    d
}
