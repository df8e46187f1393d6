//! IPv4 (with options and fragments) and IPv6 (with hop-by-hop, routing, destination options,
//! fragment and AH extension headers).

use super::{be16, transport, DecodeError, Decoded, Fragment, Transport};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const AUTH_HEADER: u8 = 51;
const NO_NEXT_HEADER: u8 = 59;
const DEST_OPTIONS: u8 = 60;
const MOBILITY: u8 = 135;
const HIP: u8 = 139;
const SHIM6: u8 = 140;
/// Longer chains than this are not real traffic.
const MAX_EXTENSION_HEADERS: usize = 8;

/// Decodes an IPv4 packet.
#[inline]
pub(super) fn ipv4(data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    if data.len() < 20 {
        return Err(DecodeError::Truncated("ipv4"));
    }
    if data[0] >> 4 != 4 {
        return Err(malformed("version is not 4"));
    }
    let header_len = usize::from(data[0] & 0x0f) * 4;
    let total_len = usize::from(be16(data, 2));
    if header_len < 20 {
        return Err(malformed("header length below 20"));
    }
    if data.len() < header_len {
        return Err(DecodeError::Truncated("ipv4 options"));
    }
    if total_len < header_len {
        return Err(malformed("total length below header length"));
    }
    // Ethernet padding follows the datagram; a cut capture ends before it.
    let end = total_len.min(data.len());
    let flags_offset = be16(data, 6);
    let more_fragments = flags_offset & 0x2000 != 0;
    let fragment = match (flags_offset & 0x1fff, more_fragments) {
        (0, false) => Fragment::None,
        (0, true) => Fragment::First,
        _ => Fragment::Later,
    };
    let protocol = data[9];
    let src = Ipv4Addr::new(data[12], data[13], data[14], data[15]);
    let dst = Ipv4Addr::new(data[16], data[17], data[18], data[19]);
    let payload = &data[header_len..end];
    Ok(Decoded {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        protocol,
        fragment,
        transport: super::transport(protocol, fragment, payload)?,
    })
}

/// Decodes an IPv6 packet, walking its extension headers.
pub(super) fn ipv6(data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    if data.len() < 40 {
        return Err(DecodeError::Truncated("ipv6"));
    }
    if data[0] >> 4 != 6 {
        return Err(DecodeError::Malformed {
            layer: "ipv6",
            what: "version is not 6",
        });
    }
    let payload_len = usize::from(be16(data, 4));
    // A zero payload length means a jumbogram (RFC 2675): the capture's length is all we have.
    let end = if payload_len == 0 {
        data.len()
    } else {
        (40 + payload_len).min(data.len())
    };
    let mut src = [0u8; 16];
    src.copy_from_slice(&data[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&data[24..40]);
    let mut next = data[6];
    let mut at = 40;
    let mut fragment = Fragment::None;
    for _ in 0..=MAX_EXTENSION_HEADERS {
        let header_len = match next {
            HOP_BY_HOP | ROUTING | DEST_OPTIONS | MOBILITY | HIP | SHIM6 => {
                if end < at + 2 {
                    return Err(DecodeError::Truncated("ipv6 extension header"));
                }
                (usize::from(data[at + 1]) + 1) * 8
            }
            AUTH_HEADER => {
                if end < at + 2 {
                    return Err(DecodeError::Truncated("ipv6 authentication header"));
                }
                (usize::from(data[at + 1]) + 2) * 4
            }
            FRAGMENT => {
                if end < at + 8 {
                    return Err(DecodeError::Truncated("ipv6 fragment header"));
                }
                let offset_flags = be16(data, at + 2);
                fragment = match (offset_flags >> 3, offset_flags & 1 != 0) {
                    (0, false) => Fragment::None,
                    (0, true) => Fragment::First,
                    _ => Fragment::Later,
                };
                8
            }
            _ => break,
        };
        if end < at + header_len {
            return Err(DecodeError::Truncated("ipv6 extension header"));
        }
        next = data[at];
        at += header_len;
        if fragment == Fragment::Later {
            // What follows is the middle of the datagram, not a header.
            break;
        }
    }
    if matches!(
        next,
        HOP_BY_HOP | ROUTING | DEST_OPTIONS | MOBILITY | HIP | SHIM6 | FRAGMENT | AUTH_HEADER
    ) && fragment != Fragment::Later
    {
        return Err(DecodeError::Malformed {
            layer: "ipv6",
            what: "too many extension headers",
        });
    }
    let payload = &data[at..end];
    let transport = if next == NO_NEXT_HEADER {
        Transport::Other(payload)
    } else {
        transport(next, fragment, payload)?
    };
    Ok(Decoded {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        protocol: next,
        fragment,
        transport,
    })
}

fn malformed(what: &'static str) -> DecodeError {
    DecodeError::Malformed {
        layer: "ipv4",
        what,
    }
}
