//! TCP and UDP headers: ports, TCP sequence number and flags, and the payload.

use super::{be16, be32, DecodeError, Fragment};

/// A TCP segment's header fields a flow needs, and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number of the first byte (of the SYN, when SYN is set).
    pub seq: u32,
    /// The flag byte: FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40,
    /// CWR 0x80.
    pub flags: u8,
    /// The payload as captured (shorter than sent when the capture was cut).
    pub payload: &'a [u8],
}

/// A UDP datagram's ports and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The payload as captured (only its start, for a first fragment).
    pub payload: &'a [u8],
}

/// Reads a TCP header.
#[inline]
pub(super) fn tcp(data: &[u8]) -> Result<TcpSegment<'_>, DecodeError> {
    if data.len() < 20 {
        return Err(DecodeError::Truncated("tcp"));
    }
    let header_len = usize::from(data[12] >> 4) * 4;
    if header_len < 20 {
        return Err(DecodeError::Malformed {
            layer: "tcp",
            what: "data offset below 5",
        });
    }
    if data.len() < header_len {
        return Err(DecodeError::Truncated("tcp options"));
    }
    Ok(TcpSegment {
        src_port: be16(data, 0),
        dst_port: be16(data, 2),
        seq: be32(data, 4),
        flags: data[13],
        payload: &data[header_len..],
    })
}

/// Reads a UDP header.
#[inline]
pub(super) fn udp(data: &[u8], fragment: Fragment) -> Result<UdpDatagram<'_>, DecodeError> {
    if data.len() < 8 {
        return Err(DecodeError::Truncated("udp"));
    }
    let length = usize::from(be16(data, 4));
    let end = match length {
        // Zero: a jumbogram (RFC 2675) or a send offload; the IP length is all there is.
        0 => data.len(),
        1..=7 => {
            return Err(DecodeError::Malformed {
                layer: "udp",
                what: "length below 8",
            })
        }
        // A first fragment holds only the start of what the length announces.
        _ if fragment == Fragment::First => data.len(),
        n => n.min(data.len()),
    };
    Ok(UdpDatagram {
        src_port: be16(data, 0),
        dst_port: be16(data, 2),
        payload: &data[8..end],
    })
}
