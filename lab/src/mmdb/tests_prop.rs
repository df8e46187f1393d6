//! Property tests: for random prefix sets, every lookup through the `maxminddb` crate agrees
//! with a naive longest-prefix match over the same set.

use super::tests::{lookup, rec};
use super::*;
use ipnet::{Ipv4Net, Ipv6Net};
use maxminddb::Reader;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Country codes and names drawn by the generators (names absent for some).
const COUNTRIES: &[(&str, Option<&str>)] = &[
    ("DE", Some("Germany")),
    ("FR", Some("France")),
    ("US", None),
    ("JP", Some("Japan")),
    ("BR", None),
];

/// An IPv4 address, mostly inside 10.0-3.0-3.0-3 so that random prefixes nest and overlap.
fn v4_addr() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => (0u8..4, 0u8..4, 0u8..4).prop_map(|(a, b, c)| u32::from_be_bytes([10, a, b, c])),
        1 => any::<u32>(),
    ]
}

/// An IPv6 address, mostly inside 2001:db8:0-3:0-3::0-3, or an IPv4 address in ::/96.
fn v6_addr() -> impl Strategy<Value = u128> {
    prop_oneof![
        3 => (0u16..4, 0u16..4, 0u16..4).prop_map(|(a, b, c)| u128::from(Ipv6Addr::new(
            0x2001, 0xdb8, a, b, 0, 0, 0, c
        ))),
        1 => v4_addr().prop_map(u128::from),
        1 => any::<u128>(),
    ]
}

/// Random IPv4 prefixes (with host bits) and country indices.
fn v4_prefixes() -> impl Strategy<Value = Vec<(Ipv4Net, usize)>> {
    prop::collection::vec(
        (v4_addr(), 0u8..=32, 0..COUNTRIES.len()).prop_map(|(addr, len, c)| {
            let net = Ipv4Net::new(Ipv4Addr::from(addr), len).unwrap_or_default();
            (net, c)
        }),
        0..40,
    )
}

/// Random IPv6 prefixes and country indices.
fn v6_prefixes() -> impl Strategy<Value = Vec<(Ipv6Net, usize)>> {
    prop::collection::vec(
        (v6_addr(), 0u8..=128, 0..COUNTRIES.len()).prop_map(|(addr, len, c)| {
            let net = Ipv6Net::new(Ipv6Addr::from(addr), len).unwrap_or_default();
            (net, c)
        }),
        0..30,
    )
}

/// Inserts `nets`, skipping prefixes already present (checking that they are reported as
/// duplicates), and returns the prefixes kept in the IPv6 space as (bits, len, country).
fn insert_all(b: &mut MmdbBuilder, nets: Vec<(IpNet, usize)>) -> Vec<(u128, u8, usize)> {
    let mut kept: Vec<(u128, u8, usize)> = Vec::new();
    for (net, c) in nets {
        let (bits, len) = match net.trunc() {
            IpNet::V4(v4) => (u128::from(u32::from(v4.network())), v4.prefix_len() + 96),
            IpNet::V6(v6) => (u128::from(v6.network()), v6.prefix_len()),
        };
        let (iso, name) = COUNTRIES[c];
        let result = b.insert(net, rec(iso, name));
        if kept.iter().any(|&(kb, kl, _)| (kb, kl) == (bits, len)) {
            assert!(matches!(result, Err(MmdbError::Duplicate(_))), "{net}");
        } else {
            result.unwrap();
            kept.push((bits, len, c));
        }
    }
    kept
}

/// Naive longest-prefix match in the IPv6 space.
fn naive(prefixes: &[(u128, u8, usize)], addr: u128) -> Option<(String, Option<String>)> {
    prefixes
        .iter()
        .filter(|&&(bits, len, _)| {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            addr & mask == bits
        })
        .max_by_key(|&&(_, len, _)| len)
        .map(|&(_, _, c)| {
            let (iso, name) = COUNTRIES[c];
            (iso.to_owned(), name.map(str::to_owned))
        })
}

/// Addresses worth probing for `prefixes`: each network's first and last address and their
/// neighbours just outside.
fn edges(prefixes: &[(u128, u8, usize)]) -> Vec<u128> {
    let mut out = Vec::new();
    for &(bits, len, _) in prefixes {
        let host = u128::MAX.checked_shr(u32::from(len)).unwrap_or(0);
        let last = bits | host;
        out.extend([bits, last, bits.wrapping_sub(1), last.wrapping_add(1)]);
    }
    out
}

fn builder() -> MmdbBuilder {
    let mut b = MmdbBuilder::new("MATAdOR-Lab-Country", "property test");
    b.set_build_epoch(0);
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn ipv4_lookups_match_naive_longest_prefix_match(
        nets in v4_prefixes(),
        probes in prop::collection::vec(v4_addr(), 0..40),
    ) {
        let mut b = builder();
        let nets = nets.into_iter().map(|(n, c)| (IpNet::V4(n), c)).collect();
        let kept = insert_all(&mut b, nets);
        let reader = Reader::from_source(b.to_bytes().unwrap()).unwrap();
        let mut addrs: Vec<u128> = probes.into_iter().map(u128::from).collect();
        // Only the IPv4 edges: for a v4 prefix every edge is in ::/96 except past the ends.
        addrs.extend(edges(&kept).into_iter().filter(|a| *a <= u128::from(u32::MAX)));
        for addr in addrs {
            let v4 = Ipv4Addr::from(u32::try_from(addr).unwrap());
            prop_assert_eq!(
                lookup(&reader, &v4.to_string()),
                naive(&kept, addr),
                "address {} with prefixes {:?}", v4, kept
            );
        }
    }

    #[test]
    fn mixed_lookups_match_naive_longest_prefix_match(
        v4 in v4_prefixes(),
        v6 in v6_prefixes(),
        probes in prop::collection::vec(v6_addr(), 0..40),
    ) {
        let mut b = builder();
        let nets = v4
            .into_iter()
            .map(|(n, c)| (IpNet::V4(n), c))
            .chain(v6.into_iter().map(|(n, c)| (IpNet::V6(n), c)))
            .collect();
        let kept = insert_all(&mut b, nets);
        let reader = Reader::from_source(b.to_bytes().unwrap()).unwrap();
        reader.verify().unwrap();
        for addr in probes.into_iter().chain(edges(&kept)) {
            let v6 = Ipv6Addr::from(addr);
            prop_assert_eq!(
                lookup(&reader, &v6.to_string()),
                naive(&kept, addr),
                "address {} with prefixes {:?}", v6, kept
            );
            // IPv4 addresses are looked up in ::/96.
            if let Ok(v4) = u32::try_from(addr) {
                prop_assert_eq!(
                    lookup(&reader, &Ipv4Addr::from(v4).to_string()),
                    naive(&kept, addr)
                );
            }
        }
    }
}
