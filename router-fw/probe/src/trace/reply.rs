//! Replies to probes, parsed from untrusted bytes: ICMP/ICMPv6 time exceeded and destination
//! unreachable with the quoted probe headers (RFC 4884 length and extensions honoured), echo
//! replies, and TCP SYN-ACK/RST. Every length is checked before a field is read; nothing here
//! allocates, so a flood of forged replies costs only the time to look at them.

use super::checksum;
use super::ext::{self, Extensions};
use super::probe::Protocol;
use smoltcp::wire::{Icmpv4Packet, Ipv4Packet, Ipv6Packet, TcpPacket};
use std::net::{IpAddr, Ipv6Addr};

/// Why received bytes are not a reply we can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The bytes end before a header does.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A header field holds a value that cannot be (version, header length).
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A well-formed packet that cannot answer a probe (other ICMP types, plain TCP data).
    #[error("not a reply to a probe")]
    NotAReply,
}

/// What kind of answer a reply is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// ICMP time exceeded in transit: a router on the path.
    TimeExceeded,
    /// ICMP destination unreachable, with its ICMP code (port unreachable from the target is
    /// how a UDP trace ends).
    Unreachable(Unreach),
    /// ICMP echo reply from the target.
    EchoReply,
    /// TCP SYN-ACK from the target.
    SynAck,
    /// TCP RST from the target.
    Rst,
}

/// The unreachable codes that mean something to a traceroute, folded across ICMP versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreach {
    /// No route to the network (`!N`).
    Network,
    /// Host or address unreachable (`!H`).
    Host,
    /// Protocol unreachable (`!P`).
    Protocol,
    /// Port unreachable: the target's normal answer to a UDP probe.
    Port,
    /// Administratively prohibited (`!X`).
    Prohibited,
    /// Any other code, as received.
    Other(u8),
}

/// The probe a reply points at: the fields it quotes or echoes, not yet checked against any
/// trace (the matcher does that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeRef {
    /// Transport of the probe.
    pub proto: Protocol,
    /// The probe's source, when the reply shows it (quotes do).
    pub src: Option<IpAddr>,
    /// The probe's destination (the target).
    pub dst: IpAddr,
    /// The probe's source port (ICMP: echo identifier).
    pub src_port: u16,
    /// The probe's destination port (0 for ICMP).
    pub dst_port: u16,
    /// Where the tag rides: UDP checksum, ICMP sequence, TCP sequence (for a SYN-ACK or RST:
    /// its acknowledgment number minus one).
    pub ident: u32,
    /// The quoted ICMP echo checksum (Paris keeps it constant), when quoted.
    pub icmp_checksum: Option<u16>,
    /// TTL left in the quoted IP header (1 when the router behaves), when quoted.
    pub quoted_ttl: Option<u8>,
}

/// A parsed reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// Who answered.
    pub from: IpAddr,
    /// What the answer is.
    pub kind: ReplyKind,
    /// TTL (hop limit) of the reply when it reached us.
    pub ttl: u8,
    /// Length of the reply's IP packet.
    pub size: u16,
    /// The probe it answers.
    pub probe: ProbeRef,
    /// RFC 4884 extensions (MPLS label stack).
    pub ext: Extensions,
}

/// Parses a whole IPv4 packet as received on a raw ICMP or TCP socket (header included).
pub fn parse_ipv4(packet: &[u8]) -> Result<Reply, ReplyError> {
    let ip = Ipv4Packet::new_checked(packet).map_err(|_| ReplyError::Truncated("IPv4 packet"))?;
    if ip.version() != 4 || usize::from(ip.header_len()) < 20 {
        return Err(ReplyError::Malformed("IPv4 header"));
    }
    if ip.frag_offset() != 0 || ip.more_frags() {
        // A fragment is not a reply we can read whole; the kernel reassembles real ones.
        return Err(ReplyError::NotAReply);
    }
    let from = IpAddr::V4(ip.src_addr());
    let ttl = ip.hop_limit();
    let size = ip.total_len();
    let payload = ip.payload();
    match u8::from(ip.next_header()) {
        1 => {
            // Raw ICMP sockets get messages before the kernel's ICMP code checks them.
            if checksum::sum(payload) != 0xffff {
                return Err(ReplyError::Malformed("ICMP checksum"));
            }
            parse_icmpv4(from, ttl, size, payload)
        }
        6 => {
            check_transport_sum(from, IpAddr::V4(ip.dst_addr()), 6, payload)?;
            parse_tcp(from, ttl, size, payload)
        }
        _ => Err(ReplyError::NotAReply),
    }
}

/// Parses an ICMPv6 message as received on a raw ICMPv6 socket (no IPv6 header), with the
/// sender and hop limit the kernel reported beside it.
pub fn parse_icmpv6(from: Ipv6Addr, hop_limit: u8, msg: &[u8]) -> Result<Reply, ReplyError> {
    if msg.len() < 8 {
        return Err(ReplyError::Truncated("ICMPv6 header"));
    }
    let size = (msg.len() + 40).min(usize::from(u16::MAX)) as u16;
    let from = IpAddr::V6(from);
    let (kind, code) = (msg[0], msg[1]);
    let kind = match kind {
        129 => {
            let probe = ProbeRef {
                proto: Protocol::Icmp,
                src: None,
                dst: from,
                src_port: u16::from_be_bytes([msg[4], msg[5]]),
                dst_port: 0,
                ident: u32::from(u16::from_be_bytes([msg[6], msg[7]])),
                icmp_checksum: None,
                quoted_ttl: None,
            };
            let ext = Extensions::default();
            return Ok(Reply {
                from,
                kind: ReplyKind::EchoReply,
                ttl: hop_limit,
                size,
                probe,
                ext,
            });
        }
        3 if code == 0 => ReplyKind::TimeExceeded,
        1 => ReplyKind::Unreachable(match code {
            0 => Unreach::Network,
            1 | 5 | 6 => Unreach::Prohibited,
            3 => Unreach::Host,
            4 => Unreach::Port,
            c => Unreach::Other(c),
        }),
        _ => return Err(ReplyError::NotAReply),
    };
    // RFC 4884: byte 4 is the quote's length in 64-bit words when extensions follow.
    let (quote, ext) = ext::split(&msg[8..], usize::from(msg[4]) * 8);
    let probe = parse_quote_v6(quote)?;
    Ok(Reply {
        from,
        kind,
        ttl: hop_limit,
        size,
        probe,
        ext,
    })
}

/// Parses a TCP segment received over IPv6 (the kernel strips the IPv6 header and, for raw
/// TCP sockets, does not check the checksum: with `to`, our address, it is checked here).
pub fn parse_tcpv6(
    from: Ipv6Addr,
    to: Option<Ipv6Addr>,
    hop_limit: u8,
    segment: &[u8],
) -> Result<Reply, ReplyError> {
    let size = (segment.len() + 40).min(usize::from(u16::MAX)) as u16;
    if let Some(to) = to {
        check_transport_sum(IpAddr::V6(from), IpAddr::V6(to), 6, segment)?;
    }
    parse_tcp(IpAddr::V6(from), hop_limit, size, segment)
}

/// Checks a TCP checksum: raw sockets hand up segments before the kernel's TCP code would.
///
/// Also accepted: a checksum left as the sender's offload seed (the pseudo-header sum), which
/// is what segments built with checksum offload carry over virtual links (veth, tap) that
/// never finish it; a corrupted segment does not turn into that by chance.
fn check_transport_sum(src: IpAddr, dst: IpAddr, proto: u8, data: &[u8]) -> Result<(), ReplyError> {
    let pseudo = checksum::pseudo_header(src, dst, proto, data.len() as u32);
    if checksum::add(pseudo, checksum::sum(data)) == 0xffff {
        return Ok(());
    }
    match data.get(16..18) {
        Some(field) if u16::from_be_bytes([field[0], field[1]]) == pseudo => Ok(()),
        _ => Err(ReplyError::Malformed("checksum")),
    }
}

fn parse_icmpv4(from: IpAddr, ttl: u8, size: u16, msg: &[u8]) -> Result<Reply, ReplyError> {
    let icmp = Icmpv4Packet::new_checked(msg).map_err(|_| ReplyError::Truncated("ICMP header"))?;
    if msg.len() < 8 {
        return Err(ReplyError::Truncated("ICMP header"));
    }
    let code = icmp.msg_code();
    let kind = match msg[0] {
        0 => {
            let probe = ProbeRef {
                proto: Protocol::Icmp,
                src: None,
                dst: from,
                src_port: icmp.echo_ident(),
                dst_port: 0,
                ident: u32::from(icmp.echo_seq_no()),
                icmp_checksum: None,
                quoted_ttl: None,
            };
            let ext = Extensions::default();
            return Ok(Reply {
                from,
                kind: ReplyKind::EchoReply,
                ttl,
                size,
                probe,
                ext,
            });
        }
        11 if code == 0 => ReplyKind::TimeExceeded,
        3 => ReplyKind::Unreachable(match code {
            0 | 6 | 9 => Unreach::Network,
            1 | 7 | 10 => Unreach::Host,
            2 => Unreach::Protocol,
            3 => Unreach::Port,
            13 => Unreach::Prohibited,
            c => Unreach::Other(c),
        }),
        _ => return Err(ReplyError::NotAReply),
    };
    // RFC 4884: byte 5 is the quote's length in 32-bit words when extensions follow.
    let (quote, ext) = ext::split(&msg[8..], usize::from(msg[5]) * 4);
    let probe = parse_quote_v4(quote)?;
    Ok(Reply {
        from,
        kind,
        ttl,
        size,
        probe,
        ext,
    })
}

fn parse_tcp(from: IpAddr, ttl: u8, size: u16, seg: &[u8]) -> Result<Reply, ReplyError> {
    let tcp = TcpPacket::new_checked(seg).map_err(|_| ReplyError::Truncated("TCP header"))?;
    let kind = match (tcp.syn(), tcp.ack(), tcp.rst()) {
        (true, true, false) => ReplyKind::SynAck,
        (false, true, true) => ReplyKind::Rst,
        // A RST without ACK does not say which SYN it answers.
        _ => return Err(ReplyError::NotAReply),
    };
    let probe = ProbeRef {
        proto: Protocol::Tcp,
        src: None,
        dst: from,
        src_port: tcp.dst_port(),
        dst_port: tcp.src_port(),
        ident: (tcp.ack_number().0 as u32).wrapping_sub(1),
        icmp_checksum: None,
        quoted_ttl: None,
    };
    Ok(Reply {
        from,
        kind,
        ttl,
        size,
        probe,
        ext: Extensions::default(),
    })
}

/// The quoted IPv4 header and first 8 transport bytes of a probe. Quotes are often cut short
/// and their total length may not match what is quoted, so only the header length is trusted.
fn parse_quote_v4(q: &[u8]) -> Result<ProbeRef, ReplyError> {
    if q.len() < 20 {
        return Err(ReplyError::Truncated("quoted IPv4 header"));
    }
    let ip = Ipv4Packet::new_unchecked(q);
    let hl = usize::from(ip.header_len());
    if ip.version() != 4 || hl < 20 {
        return Err(ReplyError::Malformed("quoted IPv4 header"));
    }
    if ip.frag_offset() != 0 {
        return Err(ReplyError::NotAReply);
    }
    let t = q
        .get(hl..hl + 8)
        .ok_or(ReplyError::Truncated("quoted transport header"))?;
    let src = IpAddr::V4(ip.src_addr());
    let dst = IpAddr::V4(ip.dst_addr());
    quote_transport(
        u8::from(ip.next_header()),
        false,
        src,
        dst,
        ip.hop_limit(),
        t,
    )
}

fn parse_quote_v6(q: &[u8]) -> Result<ProbeRef, ReplyError> {
    if q.len() < 40 {
        return Err(ReplyError::Truncated("quoted IPv6 header"));
    }
    let ip = Ipv6Packet::new_unchecked(q);
    if ip.version() != 6 {
        return Err(ReplyError::Malformed("quoted IPv6 header"));
    }
    let t = q
        .get(40..48)
        .ok_or(ReplyError::Truncated("quoted transport header"))?;
    let src = IpAddr::V6(ip.src_addr());
    let dst = IpAddr::V6(ip.dst_addr());
    quote_transport(
        u8::from(ip.next_header()),
        true,
        src,
        dst,
        ip.hop_limit(),
        t,
    )
}

/// Reads the first 8 bytes of a quoted transport header (all a quote is sure to hold).
fn quote_transport(
    proto: u8,
    v6: bool,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    t: &[u8],
) -> Result<ProbeRef, ReplyError> {
    let word = |i: usize| u16::from_be_bytes([t[i], t[i + 1]]);
    let (proto, src_port, dst_port, ident, icmp_checksum) = match proto {
        6 => (
            Protocol::Tcp,
            word(0),
            word(2),
            u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
            None,
        ),
        17 => (Protocol::Udp, word(0), word(2), u32::from(word(6)), None),
        1 if !v6 && t[0] == 8 && t[1] == 0 => (
            Protocol::Icmp,
            word(4),
            0,
            u32::from(word(6)),
            Some(word(2)),
        ),
        58 if v6 && t[0] == 128 && t[1] == 0 => (
            Protocol::Icmp,
            word(4),
            0,
            u32::from(word(6)),
            Some(word(2)),
        ),
        _ => return Err(ReplyError::NotAReply),
    };
    Ok(ProbeRef {
        proto,
        src: Some(src),
        dst,
        src_port,
        dst_port,
        ident,
        icmp_checksum,
        quoted_ttl: Some(ttl),
    })
}

#[cfg(test)]
#[path = "reply_tests.rs"]
pub(crate) mod tests;
