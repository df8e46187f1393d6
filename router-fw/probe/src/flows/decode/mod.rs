//! From captured bytes to the addresses, ports and payload a flow needs: link layer, IPv4/IPv6
//! (options, extension headers, fragments) and TCP/UDP headers. Every read is length-checked
//! first; nothing here allocates.

mod ip;
mod link;
mod transport;

use super::capture::LinkType;
use std::net::IpAddr;

pub use transport::{TcpSegment, UdpDatagram};

/// IANA protocol number of TCP.
pub const TCP: u8 = 6;
/// IANA protocol number of UDP.
pub const UDP: u8 = 17;

/// Where a packet stands in IP fragmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fragment {
    /// A whole datagram.
    None,
    /// The first fragment: its transport header is parsed if complete.
    First,
    /// A later fragment: no transport header, never parsed as one.
    Later,
}

/// The transport layer of a decoded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    /// A TCP segment.
    Tcp(TcpSegment<'a>),
    /// A UDP datagram.
    Udp(UdpDatagram<'a>),
    /// Another protocol, or a later fragment: the IP payload as it is.
    Other(&'a [u8]),
}

/// An IP packet with its transport header read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Transport protocol number (after IPv6 extension headers).
    pub protocol: u8,
    /// Fragmentation state.
    pub fragment: Fragment,
    /// The transport header and payload.
    pub transport: Transport<'a>,
}

/// Why a packet was not decoded; each is counted, none is fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The link type is not one we read.
    #[error("unsupported link type {0}")]
    UnsupportedLink(u16),
    /// Not an IP packet (ARP, LLC, …): the EtherType or family seen.
    #[error("not IP (protocol {0:#06x})")]
    NotIp(u16),
    /// Shorter than the header of `layer`.
    #[error("{0} header truncated")]
    Truncated(&'static str),
    /// A header field that cannot be right.
    #[error("malformed {layer}: {what}")]
    Malformed {
        /// Which header.
        layer: &'static str,
        /// Which field.
        what: &'static str,
    },
}

/// Decodes a captured packet down to its transport header.
#[inline]
pub fn decode(link: LinkType, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    match link::network(link, data)? {
        (link::Network::Ipv4, ip) => ip::ipv4(ip),
        (link::Network::Ipv6, ip) => ip::ipv6(ip),
    }
}

/// Reads the transport header of a (first-fragment or whole) IP payload.
#[inline]
fn transport(
    protocol: u8,
    fragment: Fragment,
    payload: &[u8],
) -> Result<Transport<'_>, DecodeError> {
    if fragment == Fragment::Later {
        return Ok(Transport::Other(payload));
    }
    match protocol {
        TCP => transport::tcp(payload).map(Transport::Tcp),
        UDP => transport::udp(payload, fragment).map(Transport::Udp),
        _ => Ok(Transport::Other(payload)),
    }
}

/// Reads a big-endian u16 at `at`; the caller has checked the length.
#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian u32 at `at`; the caller has checked the length.
#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
