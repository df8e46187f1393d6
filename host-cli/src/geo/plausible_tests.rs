//! The RTT plausibility decision on hand-made hops, from a vantage node in London.

use super::*;

fn areas() -> Areas {
    Areas::from_circles(&[
        ("GB", 54.0, -2.0, 600.0),
        ("DE", 51.0, 10.0, 450.0),
        ("FR", 46.5, 2.5, 600.0),
        ("AU", -25.0, 134.0, 2500.0),
        ("US", 39.0, -98.0, 2500.0),
    ])
}

fn london() -> Origin {
    Origin {
        coord: Some(Coord {
            lat: 51.5074,
            lon: -0.1278,
        }),
        country: "GB".into(),
    }
}

fn claim(source: &str, country: &str) -> Claim {
    Claim {
        source: source.into(),
        country: country.into(),
    }
}

fn hop(claims: &[(&str, &str)], rtt: f64) -> HopInput {
    HopInput {
        class: Some(AddressClass::Public),
        claims: claims.iter().map(|(s, c)| claim(s, c)).collect(),
        min_rtt_ms: Some(rtt),
    }
}

#[test]
fn a_plausible_first_claim_is_taken_as_is() {
    let g = locate_path(
        &areas(),
        &london(),
        &[hop(&[("db1", "DE"), ("db2", "FR")], 14.0)],
    );
    assert_eq!(g[0].country.as_deref(), Some("DE"));
    assert_eq!(g[0].source.as_deref(), Some("db1"));
    assert!(g[0].flagged.is_empty());
    assert!(g[0].correction.is_none());
    assert_eq!(g[0].claims.len(), 2, "every answer kept as evidence");
    assert!(matches!(g[0].check, Some(Check::Plausible { .. })));
}

#[test]
fn an_implausible_claim_is_corrected_by_the_next_database() {
    let g = locate_path(
        &areas(),
        &london(),
        &[hop(&[("db1", "AU"), ("db2", "DE")], 14.0)],
    );
    assert_eq!(g[0].country.as_deref(), Some("DE"));
    assert_eq!(g[0].source.as_deref(), Some("db2"));
    assert_eq!(g[0].flagged.len(), 1);
    assert_eq!(g[0].flagged[0].claimed, "AU");
    // 14 ms: light in fibre reaches 1,400 km in 7 ms.
    assert_eq!(g[0].flagged[0].max_km, 1400.0);
    let why = g[0].correction.as_deref().unwrap();
    assert!(
        why.contains("db1 says AU") && why.contains("db2 says DE"),
        "{why}"
    );
}

#[test]
fn with_every_claim_implausible_the_neighbour_closer_in_rtt_wins() {
    let hops = [
        hop(&[("db", "GB")], 2.0),
        hop(&[("db", "AU")], 9.0),
        hop(&[("db", "DE")], 10.0),
    ];
    let g = locate_path(&areas(), &london(), &hops);
    assert_eq!(g[1].country.as_deref(), Some("DE"));
    assert_eq!(g[1].source.as_deref(), Some("next hop"));
    assert_eq!(g[1].flagged[0].claimed, "AU");
    assert!(g[1].correction.as_deref().unwrap().contains("next hop"));
    // The neighbours keep their own countries.
    assert_eq!(g[0].country.as_deref(), Some("GB"));
    assert_eq!(g[2].country.as_deref(), Some("DE"));
}

#[test]
fn neighbours_that_are_implausible_too_leave_the_hop_unknown_but_flagged() {
    // 2 ms: 200 km of reach from New York. The only neighbour is the vantage node, whose
    // (declared) country FR is out of reach as well.
    let far = Origin {
        coord: Some(Coord {
            lat: 40.7,
            lon: -74.0,
        }),
        country: "FR".into(),
    };
    let g = locate_path(&areas(), &far, &[hop(&[("db", "AU")], 2.0)]);
    assert_eq!(g[0].country, None);
    assert_eq!(g[0].unknown, Some(Unknown::Implausible));
    assert_eq!(g[0].flagged.len(), 1);
}

#[test]
fn the_first_hop_can_take_the_vantage_nodes_country() {
    let g = locate_path(&areas(), &london(), &[hop(&[("db", "AU")], 1.0)]);
    assert_eq!(g[0].country.as_deref(), Some("GB"));
    assert_eq!(g[0].source.as_deref(), Some("vantage node"));
}

#[test]
fn disagreeing_neighbours_equally_close_in_rtt_are_ambiguous() {
    let hops = [
        hop(&[("db", "GB")], 8.0),
        hop(&[("db", "AU")], 10.0),
        hop(&[("db", "FR")], 12.0),
    ];
    let g = locate_path(&areas(), &london(), &hops);
    assert_eq!(g[1].country, None);
    assert_eq!(g[1].unknown, Some(Unknown::Ambiguous));
}

#[test]
fn unresponsive_private_and_shared_hops_are_unknown_without_lookups() {
    let mk = |class| HopInput {
        class,
        claims: vec![claim("db", "DE")],
        min_rtt_ms: Some(5.0),
    };
    let g = locate_path(
        &areas(),
        &london(),
        &[
            mk(None),
            mk(Some(AddressClass::Private)),
            mk(Some(AddressClass::Shared)),
            mk(Some(AddressClass::Special)),
            hop(&[], 5.0),
        ],
    );
    let why: Vec<_> = g.iter().map(|h| h.unknown).collect();
    assert_eq!(
        why,
        vec![
            Some(Unknown::Unresponsive),
            Some(Unknown::Private),
            Some(Unknown::Shared),
            Some(Unknown::Special),
            Some(Unknown::NoEntry),
        ]
    );
    assert!(g.iter().all(|h| h.country.is_none()));
}

#[test]
fn without_vantage_coordinates_claims_are_taken_unchecked() {
    let origin = Origin {
        coord: None,
        country: "GB".into(),
    };
    let g = locate_path(&areas(), &origin, &[hop(&[("db", "AU")], 1.0)]);
    assert_eq!(g[0].country.as_deref(), Some("AU"));
    assert!(matches!(g[0].check, Some(Check::NotChecked { .. })));
}

#[test]
fn a_corrected_hop_is_not_a_neighbour_for_the_next_one() {
    // Hop 2 is corrected from hop 3; hop 1 must not chain off hop 2's correction but use
    // its own first-pass neighbours.
    let hops = [
        hop(&[("db", "AU")], 1.0),
        hop(&[("db", "AU")], 9.0),
        hop(&[("db", "DE")], 10.0),
    ];
    let g = locate_path(&areas(), &london(), &hops);
    assert_eq!(g[0].source.as_deref(), Some("vantage node"));
    assert_eq!(g[1].source.as_deref(), Some("next hop"));
}
