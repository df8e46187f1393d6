//! Link-layer headers: Ethernet with 802.1Q/802.1ad tags and PPPoE, Linux cooked capture v1
//! and v2, BSD loopback, and bare IP.

use super::{be16, DecodeError};
use crate::flows::capture::LinkType;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
/// Stacked tags beyond this are taken as garbage.
const MAX_VLAN_TAGS: usize = 4;

/// The network protocol a link header announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Network {
    Ipv4,
    Ipv6,
}

/// Strips the link header; returns the network protocol and its packet.
#[inline]
pub(super) fn network(link: LinkType, data: &[u8]) -> Result<(Network, &[u8]), DecodeError> {
    match link {
        LinkType::ETHERNET => ethernet(data),
        LinkType::LINUX_SLL => {
            if data.len() < 16 {
                return Err(DecodeError::Truncated("linux cooked"));
            }
            ethertype(be16(data, 14), &data[16..])
        }
        LinkType::LINUX_SLL2 => {
            if data.len() < 20 {
                return Err(DecodeError::Truncated("linux cooked v2"));
            }
            ethertype(be16(data, 0), &data[20..])
        }
        LinkType::RAW | LinkType::RAW_BSD | LinkType::RAW_OPENBSD => by_version(data),
        LinkType::IPV4 => Ok((Network::Ipv4, data)),
        LinkType::IPV6 => Ok((Network::Ipv6, data)),
        LinkType::NULL | LinkType::LOOP => loopback(link, data),
        LinkType(other) => Err(DecodeError::UnsupportedLink(other)),
    }
}

#[inline]
fn ethernet(data: &[u8]) -> Result<(Network, &[u8]), DecodeError> {
    if data.len() < 14 {
        return Err(DecodeError::Truncated("ethernet"));
    }
    let mut kind = be16(data, 12);
    let mut at = 14;
    let mut tags = 0;
    while matches!(kind, ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD) {
        tags += 1;
        if tags > MAX_VLAN_TAGS {
            return Err(DecodeError::Malformed {
                layer: "ethernet",
                what: "too many VLAN tags",
            });
        }
        if data.len() < at + 4 {
            return Err(DecodeError::Truncated("802.1Q"));
        }
        kind = be16(data, at + 2);
        at += 4;
    }
    ethertype(kind, &data[at..])
}

#[inline]
fn ethertype(kind: u16, rest: &[u8]) -> Result<(Network, &[u8]), DecodeError> {
    match kind {
        ETHERTYPE_IPV4 => Ok((Network::Ipv4, rest)),
        ETHERTYPE_IPV6 => Ok((Network::Ipv6, rest)),
        ETHERTYPE_PPPOE_SESSION => {
            // PPPoE header (6 bytes), then the 2-byte PPP protocol.
            if rest.len() < 8 {
                return Err(DecodeError::Truncated("pppoe"));
            }
            match be16(rest, 6) {
                PPP_IPV4 => Ok((Network::Ipv4, &rest[8..])),
                PPP_IPV6 => Ok((Network::Ipv6, &rest[8..])),
                other => Err(DecodeError::NotIp(other)),
            }
        }
        other => Err(DecodeError::NotIp(other)),
    }
}

fn by_version(data: &[u8]) -> Result<(Network, &[u8]), DecodeError> {
    match data.first().map(|b| b >> 4) {
        Some(4) => Ok((Network::Ipv4, data)),
        Some(6) => Ok((Network::Ipv6, data)),
        Some(v) => Err(DecodeError::NotIp(u16::from(v))),
        None => Err(DecodeError::Truncated("ip")),
    }
}

fn loopback(link: LinkType, data: &[u8]) -> Result<(Network, &[u8]), DecodeError> {
    if data.len() < 4 {
        return Err(DecodeError::Truncated("loopback"));
    }
    let raw = [data[0], data[1], data[2], data[3]];
    // NULL stores the family in the writer's byte order, which the file does not say.
    let family = if link == LinkType::LOOP || u32::from_le_bytes(raw) > 0xffff {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    };
    match family {
        2 => Ok((Network::Ipv4, &data[4..])),
        // AF_INET6 on the BSDs, macOS and others.
        10 | 24 | 28 | 30 => Ok((Network::Ipv6, &data[4..])),
        other => Err(DecodeError::NotIp(other as u16)),
    }
}
