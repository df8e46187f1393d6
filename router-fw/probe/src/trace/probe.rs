//! Probe packets: TCP SYN, UDP and ICMP echo over IPv4 and IPv6, built whole (IP header
//! included) with the Paris traceroute invariants: every field a load balancer may hash stays
//! constant for one trace, and the probe's identity (its *tag*) rides in fields they do not hash.

use super::checksum;
use smoltcp::wire::{
    Icmpv4Message, Icmpv4Packet, Icmpv6Message, Icmpv6Packet, IpProtocol, Ipv4Packet, Ipv6Packet,
    TcpPacket, TcpSeqNumber, UdpPacket,
};
use std::fmt;
use std::net::IpAddr;

/// IPv4 header length of our probes (no options).
pub const IPV4_HEADER: usize = 20;
/// IPv6 header length of our probes (no extension headers).
pub const IPV6_HEADER: usize = 40;
/// TCP header length of our SYN probes (no options).
pub const TCP_HEADER: usize = 20;
/// The largest probe we build.
pub const MAX_PROBE: usize = 1500;

/// The transport a trace probes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// ICMP (or ICMPv6) echo request.
    Icmp,
    /// UDP datagram, normally to a closed port.
    Udp,
    /// TCP SYN.
    Tcp,
}

impl Protocol {
    /// The IP protocol number for this transport in the given family.
    pub fn number(self, v6: bool) -> u8 {
        match (self, v6) {
            (Protocol::Icmp, false) => 1,
            (Protocol::Icmp, true) => 58,
            (Protocol::Udp, _) => 17,
            (Protocol::Tcp, _) => 6,
        }
    }

    /// The name RIPE Atlas uses in its `proto` field.
    pub fn atlas_name(self) -> &'static str {
        match self {
            Protocol::Icmp => "ICMP",
            Protocol::Udp => "UDP",
            Protocol::Tcp => "TCP",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Icmp => "icmp",
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        })
    }
}

/// What stays constant for every probe of one trace (the Paris flow), and how probes carry
/// their tag: UDP checksum, ICMP echo sequence (checksum kept at `icmp_checksum` by two
/// payload bytes), TCP sequence number `seq_base + tag`; in IPv4 also the IP ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowSpec {
    /// Transport of the probes.
    pub proto: Protocol,
    /// Source address written into the probes.
    pub src: IpAddr,
    /// The target.
    pub dst: IpAddr,
    /// TCP/UDP source port; for ICMP the echo identifier.
    pub src_port: u16,
    /// TCP/UDP destination port; unused for ICMP.
    pub dst_port: u16,
    /// ICMP echo checksum held constant for the whole trace.
    pub icmp_checksum: u16,
    /// IPv6 flow label (20 bits), constant for the trace.
    pub flow_label: u32,
    /// High bits of the TCP sequence number, so stray segments do not match.
    pub seq_base: u32,
    /// Total IP packet length of UDP and ICMP probes (TCP probes are a bare SYN).
    pub size: u16,
}

/// Why a probe could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProbeError {
    /// Source and destination are of different families.
    #[error("source {0} and destination {1} are not of the same address family")]
    MixedFamilies(IpAddr, IpAddr),
    /// The requested size cannot hold the headers and the two checksum bytes, or is too big.
    #[error("probe size {size} outside {min}..={max}")]
    Size {
        /// What was asked for.
        size: u16,
        /// Smallest size possible for this protocol and family.
        min: u16,
        /// Largest size supported.
        max: u16,
    },
    /// Tags 0 and 0xffff cannot be carried in a UDP checksum.
    #[error("tag {0} is reserved")]
    ReservedTag(u16),
    /// The output buffer is too small.
    #[error("buffer of {0} bytes too small")]
    Buffer(usize),
}

impl FlowSpec {
    /// Whether the trace is over IPv6.
    pub fn is_v6(&self) -> bool {
        self.dst.is_ipv6()
    }

    /// The length of every probe of this flow.
    pub fn probe_len(&self) -> usize {
        let ip = if self.is_v6() {
            IPV6_HEADER
        } else {
            IPV4_HEADER
        };
        match self.proto {
            Protocol::Tcp => ip + TCP_HEADER,
            _ => usize::from(self.size),
        }
    }

    /// Smallest total size of a UDP or ICMP probe: headers plus the two compensation bytes.
    pub fn min_size(&self) -> u16 {
        let ip = if self.is_v6() {
            IPV6_HEADER
        } else {
            IPV4_HEADER
        };
        let transport = match self.proto {
            Protocol::Tcp => TCP_HEADER,
            _ => 8 + 2,
        };
        (ip + transport) as u16
    }

    /// Checks the flow once, so [`build`] cannot fail for a good tag.
    pub fn validate(&self) -> Result<(), ProbeError> {
        if self.src.is_ipv6() != self.dst.is_ipv6() {
            return Err(ProbeError::MixedFamilies(self.src, self.dst));
        }
        let (min, max) = (self.min_size(), MAX_PROBE as u16);
        if self.proto != Protocol::Tcp && !(min..=max).contains(&self.size) {
            return Err(ProbeError::Size {
                size: self.size,
                min,
                max,
            });
        }
        Ok(())
    }

    /// The TCP sequence number a probe with `tag` carries.
    pub fn tcp_seq(&self, tag: u16) -> u32 {
        self.seq_base.wrapping_add(u32::from(tag))
    }
}

/// Writes the probe with `tag` and `ttl` into `buf`; returns its length.
///
/// `tag` must be in `1..=0xfffe` (it is a UDP checksum, where 0 means "none").
pub fn build(flow: &FlowSpec, ttl: u8, tag: u16, buf: &mut [u8]) -> Result<usize, ProbeError> {
    flow.validate()?;
    if tag == 0 || tag == 0xffff {
        return Err(ProbeError::ReservedTag(tag));
    }
    let len = flow.probe_len();
    let have = buf.len();
    let buf = buf.get_mut(..len).ok_or(ProbeError::Buffer(have))?;
    buf.fill(0);
    let v6 = flow.is_v6();
    let ip_len = if v6 { IPV6_HEADER } else { IPV4_HEADER };
    let proto = flow.proto.number(v6);
    let (header, transport) = buf.split_at_mut(ip_len);
    write_transport(flow, tag, transport);
    match (flow.src, flow.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let mut ip = Ipv4Packet::new_unchecked(&mut *header);
            ip.set_version(4);
            ip.set_header_len(IPV4_HEADER as u8);
            ip.set_total_len(len as u16);
            // The IP ID is not hashed by load balancers; the kernel fills a zero ID itself,
            // which is why tags start at 1.
            ip.set_ident(tag);
            ip.set_hop_limit(ttl);
            ip.set_next_header(IpProtocol::from(proto));
            ip.set_src_addr(src);
            ip.set_dst_addr(dst);
            ip.fill_checksum();
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let mut ip = Ipv6Packet::new_unchecked(&mut *header);
            ip.set_version(6);
            ip.set_flow_label(flow.flow_label & 0xf_ffff);
            ip.set_payload_len((len - IPV6_HEADER) as u16);
            ip.set_next_header(IpProtocol::from(proto));
            ip.set_hop_limit(ttl);
            ip.set_src_addr(src);
            ip.set_dst_addr(dst);
        }
        (s, d) => return Err(ProbeError::MixedFamilies(s, d)),
    }
    Ok(len)
}

/// Fills the transport header and payload (already zeroed) of a probe.
fn write_transport(flow: &FlowSpec, tag: u16, t: &mut [u8]) {
    let v6 = flow.is_v6();
    let proto = flow.proto.number(v6);
    let pseudo = checksum::pseudo_header(flow.src, flow.dst, proto, t.len() as u32);
    match flow.proto {
        Protocol::Tcp => {
            let mut tcp = TcpPacket::new_unchecked(&mut *t);
            tcp.set_src_port(flow.src_port);
            tcp.set_dst_port(flow.dst_port);
            tcp.set_seq_number(TcpSeqNumber(flow.tcp_seq(tag) as i32));
            tcp.set_header_len(TCP_HEADER as u8);
            tcp.set_syn(true);
            tcp.set_window_len(64240);
            let sum = checksum::add(pseudo, checksum::sum(t));
            TcpPacket::new_unchecked(&mut *t).set_checksum(checksum::finish(sum));
        }
        Protocol::Udp => {
            let total = t.len() as u16;
            let mut udp = UdpPacket::new_unchecked(&mut *t);
            udp.set_src_port(flow.src_port);
            udp.set_dst_port(flow.dst_port);
            udp.set_len(total);
            // The checksum *is* the tag: two payload bytes make the real checksum equal it.
            let rest = checksum::add(pseudo, checksum::sum(t));
            let comp = checksum::compensate(rest, tag);
            t[8..10].copy_from_slice(&comp);
            UdpPacket::new_unchecked(&mut *t).set_checksum(tag);
        }
        Protocol::Icmp => {
            if v6 {
                let mut icmp = Icmpv6Packet::new_unchecked(&mut *t);
                icmp.set_msg_type(Icmpv6Message::EchoRequest);
                icmp.set_echo_ident(flow.src_port);
                icmp.set_echo_seq_no(tag);
            } else {
                let mut icmp = Icmpv4Packet::new_unchecked(&mut *t);
                icmp.set_msg_type(Icmpv4Message::EchoRequest);
                icmp.set_echo_ident(flow.src_port);
                icmp.set_echo_seq_no(tag);
            }
            let rest = if v6 {
                checksum::add(pseudo, checksum::sum(t))
            } else {
                checksum::sum(t)
            };
            // The sequence number changes per probe; these bytes keep the checksum (which
            // some load balancers hash as if it were a port) the same for the whole trace.
            let comp = checksum::compensate(rest, flow.icmp_checksum);
            t[8..10].copy_from_slice(&comp);
            t[2..4].copy_from_slice(&flow.icmp_checksum.to_be_bytes());
        }
    }
}

#[cfg(test)]
#[path = "probe_tests.rs"]
pub(crate) mod tests;
