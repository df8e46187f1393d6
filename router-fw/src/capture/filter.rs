//! Which frames belong to the phone: its MAC address on the Ethernet header, or one of its IP
//! addresses in an IPv4/IPv6 header, an ARP packet or an IPv6 neighbour solicitation/advert.

use matador_probe::flows::LinkType;
use std::net::IpAddr;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const IPPROTO_ICMPV6: u8 = 58;
const ND_NEIGHBOR_SOLICIT: u8 = 135;
const ND_NEIGHBOR_ADVERT: u8 = 136;

/// The phone whose traffic is kept: its MAC and its addresses; empty means every frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhoneFilter {
    /// The phone's MAC address, matched as Ethernet source or destination.
    pub mac: Option<[u8; 6]>,
    /// The phone's IPv4/IPv6 addresses, matched as source or destination.
    pub addresses: Vec<IpAddr>,
}

impl PhoneFilter {
    /// A filter that keeps every frame.
    pub fn everything() -> Self {
        PhoneFilter::default()
    }

    /// True when the filter keeps every frame.
    pub fn is_empty(&self) -> bool {
        self.mac.is_none() && self.addresses.is_empty()
    }

    /// True when a frame of this link type is to or from the phone: Ethernet, or bare IP
    /// (a WireGuard interface, where only the addresses can match).
    pub fn matches_link(&self, link: LinkType, frame: &[u8]) -> bool {
        if link != LinkType::RAW {
            return self.matches(frame);
        }
        if self.is_empty() {
            return true;
        }
        match frame.first().map(|v| v >> 4) {
            Some(4) => self.ipv4_matches(frame),
            Some(6) => self.ipv6_matches(frame),
            _ => false,
        }
    }

    /// True when an Ethernet frame is to or from the phone (no allocation, never panics).
    pub fn matches(&self, frame: &[u8]) -> bool {
        if self.is_empty() {
            return true;
        }
        let (Some(dst), Some(src)) = (frame.get(0..6), frame.get(6..12)) else {
            return false;
        };
        if let Some(mac) = &self.mac {
            if dst == mac || src == mac {
                return true;
            }
        }
        if self.addresses.is_empty() {
            return false;
        }
        let Some((ethertype, payload)) = ethertype_and_payload(frame) else {
            return false;
        };
        match ethertype {
            ETHERTYPE_IPV4 => self.ipv4_matches(payload),
            ETHERTYPE_IPV6 => self.ipv6_matches(payload),
            ETHERTYPE_ARP => self.arp_matches(payload),
            _ => false,
        }
    }

    fn ipv4_matches(&self, ip: &[u8]) -> bool {
        match (ip.first(), ip.get(12..16), ip.get(16..20)) {
            (Some(v), Some(src), Some(dst)) if v >> 4 == 4 => self.has(src) || self.has(dst),
            _ => false,
        }
    }

    fn ipv6_matches(&self, ip: &[u8]) -> bool {
        let (Some(v), Some(next), Some(src), Some(dst)) =
            (ip.first(), ip.get(6), ip.get(8..24), ip.get(24..40))
        else {
            return false;
        };
        if v >> 4 != 6 {
            return false;
        }
        if self.has(src) || self.has(dst) {
            return true;
        }
        // Neighbour discovery about the phone's address (sent to a solicited-node group).
        if *next == IPPROTO_ICMPV6 {
            if let (Some(kind), Some(target)) = (ip.get(40), ip.get(48..64)) {
                let nd = matches!(*kind, ND_NEIGHBOR_SOLICIT | ND_NEIGHBOR_ADVERT);
                return nd && self.has(target);
            }
        }
        false
    }

    fn arp_matches(&self, arp: &[u8]) -> bool {
        // Ethernet/IPv4 ARP: sender address at 14, target address at 24.
        match (
            arp.get(2..4),
            arp.get(4..6),
            arp.get(14..18),
            arp.get(24..28),
        ) {
            (Some([0x08, 0x00]), Some([6, 4]), Some(sender), Some(target)) => {
                self.has(sender) || self.has(target)
            }
            _ => false,
        }
    }

    /// True when `raw` (4 or 16 bytes) is one of the phone's addresses.
    fn has(&self, raw: &[u8]) -> bool {
        self.addresses.iter().any(|a| match a {
            IpAddr::V4(v4) => raw == v4.octets(),
            IpAddr::V6(v6) => raw == v6.octets(),
        })
    }
}

/// The EtherType after up to two VLAN tags, and the bytes that follow it.
fn ethertype_and_payload(frame: &[u8]) -> Option<(u16, &[u8])> {
    let mut at = 12;
    for _ in 0..3 {
        let raw = frame.get(at..at + 2)?;
        let ethertype = u16::from_be_bytes([raw[0], raw[1]]);
        if matches!(ethertype, ETHERTYPE_VLAN | ETHERTYPE_QINQ) {
            at += 4;
            continue;
        }
        return Some((ethertype, frame.get(at + 2..)?));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const PHONE_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const ROUTER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const OTHER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 3];
    const PHONE_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const PHONE_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

    fn ether(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = [dst, src].concat();
        f.extend(ethertype.to_be_bytes());
        f.extend(payload);
        f
    }

    fn ipv4(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0];
        ip.extend(src.octets());
        ip.extend(dst.octets());
        ip
    }

    fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
        let mut ip = vec![0x60, 0, 0, 0, 0, payload.len() as u8, next, 255];
        ip.extend(src.octets());
        ip.extend(dst.octets());
        ip.extend(payload);
        ip
    }

    fn by_address() -> PhoneFilter {
        PhoneFilter {
            mac: None,
            addresses: vec![IpAddr::V4(PHONE_V4), IpAddr::V6(PHONE_V6)],
        }
    }

    #[test]
    fn empty_filter_keeps_everything_even_garbage() {
        assert!(PhoneFilter::everything().matches(&[]));
        assert!(PhoneFilter::everything().matches(&[1, 2, 3]));
    }

    #[test]
    fn mac_matches_either_direction() {
        let f = PhoneFilter {
            mac: Some(PHONE_MAC),
            addresses: vec![],
        };
        let other = Ipv4Addr::new(198, 51, 100, 3);
        assert!(f.matches(&ether(ROUTER_MAC, PHONE_MAC, 0x0800, &ipv4(other, other))));
        assert!(f.matches(&ether(PHONE_MAC, ROUTER_MAC, 0x9999, &[])));
        assert!(!f.matches(&ether(ROUTER_MAC, OTHER_MAC, 0x0800, &ipv4(other, other))));
        assert!(!f.matches(&PHONE_MAC));
    }

    #[test]
    fn addresses_match_ipv4_ipv6_and_vlan_tagged() {
        let f = by_address();
        let router = Ipv4Addr::new(192, 0, 2, 1);
        let other = Ipv4Addr::new(198, 51, 100, 3);
        assert!(f.matches(&ether(
            ROUTER_MAC,
            OTHER_MAC,
            0x0800,
            &ipv4(PHONE_V4, router)
        )));
        assert!(f.matches(&ether(
            ROUTER_MAC,
            OTHER_MAC,
            0x0800,
            &ipv4(router, PHONE_V4)
        )));
        assert!(!f.matches(&ether(ROUTER_MAC, OTHER_MAC, 0x0800, &ipv4(router, other))));
        let v6 = ipv6(Ipv6Addr::LOCALHOST, PHONE_V6, 17, &[0; 8]);
        assert!(f.matches(&ether(ROUTER_MAC, OTHER_MAC, 0x86dd, &v6)));
        let mut tagged = ether(ROUTER_MAC, OTHER_MAC, 0x8100, &[0, 5]);
        tagged.extend(0x0800u16.to_be_bytes());
        tagged.extend(ipv4(PHONE_V4, router));
        assert!(f.matches(&tagged));
        // An IPv6 header behind an IPv4 EtherType is not read as IPv6.
        assert!(!f.matches(&ether(ROUTER_MAC, OTHER_MAC, 0x0800, &v6)));
    }

    #[test]
    fn arp_and_neighbour_discovery_about_the_phone_are_kept() {
        let f = by_address();
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
        arp.extend(ROUTER_MAC);
        arp.extend([192, 0, 2, 1]);
        arp.extend([0; 6]);
        arp.extend(PHONE_V4.octets());
        assert!(f.matches(&ether([0xff; 6], ROUTER_MAC, 0x0806, &arp)));
        arp[24..28].copy_from_slice(&[192, 0, 2, 9]);
        assert!(!f.matches(&ether([0xff; 6], ROUTER_MAC, 0x0806, &arp)));

        let mut ns = vec![ND_NEIGHBOR_SOLICIT, 0, 0, 0, 0, 0, 0, 0];
        ns.extend(PHONE_V6.octets());
        let group: Ipv6Addr = "ff02::1:ff00:2".parse().unwrap();
        let v6 = ipv6(Ipv6Addr::LOCALHOST, group, IPPROTO_ICMPV6, &ns);
        assert!(f.matches(&ether([0x33; 6], ROUTER_MAC, 0x86dd, &v6)));
        let v6 = ipv6(Ipv6Addr::LOCALHOST, group, IPPROTO_ICMPV6, &ns[..20]);
        assert!(!f.matches(&ether([0x33; 6], ROUTER_MAC, 0x86dd, &v6)));
    }

    proptest::proptest! {
        #[test]
        fn random_frames_never_panic(frame in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let f = PhoneFilter { mac: Some(PHONE_MAC), addresses: by_address().addresses };
            let _ = f.matches(&frame);
            let _ = by_address().matches(&frame);
        }
    }
}
