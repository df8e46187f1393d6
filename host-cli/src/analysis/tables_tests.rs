//! Both tables on a hand-built dataset; every expected number is worked out by hand below.
//!
//! | id | app   | A  | B  | network path  | app path A side | app path B side |
//! |----|-------|----|----|---------------|-----------------|-----------------|
//! | m1 | alpha | DE | FR | DE FR         | DE GB US        | FR GB US        |
//! | m2 | alpha | DE | PL | DE * PL       | DE DE           | PL DE           |
//! | m3 | beta  | GB | FR | GB FR         | GB US           | FR GB US        |
//! | m4 | beta  | US | BR | US BR         | US US           | BR US           |
//! | m5 | alpha | CH | BR | CH GB US BR   | CH DE           | BR US GB DE     |
//! | m6 | beta  | DE | FR | (none)        | DE RU           | FR RU           |
//!
//! Regions: DE FR GB PL CH RU are Europe (DE FR CH Western, GB Northern, PL RU Eastern);
//! US BR are Americas (Northern America; Latin America and the Caribbean).

use super::*;
use crate::analysis::test_support::{locate, measurement};

fn dataset() -> Vec<MeasurementPaths> {
    locate(&[
        measurement(
            "m1",
            "alpha",
            ("DE", "FR"),
            Some(&["DE", "FR"]),
            &["DE", "GB", "US"],
            &["FR", "GB", "US"],
        ),
        measurement(
            "m2",
            "alpha",
            ("DE", "PL"),
            Some(&["DE", "*", "PL"]),
            &["DE", "DE"],
            &["PL", "DE"],
        ),
        measurement(
            "m3",
            "beta",
            ("GB", "FR"),
            Some(&["GB", "FR"]),
            &["GB", "US"],
            &["FR", "GB", "US"],
        ),
        measurement(
            "m4",
            "beta",
            ("US", "BR"),
            Some(&["US", "BR"]),
            &["US", "US"],
            &["BR", "US"],
        ),
        measurement(
            "m5",
            "alpha",
            ("CH", "BR"),
            Some(&["CH", "GB", "US", "BR"]),
            &["CH", "DE"],
            &["BR", "US", "GB", "DE"],
        ),
        measurement(
            "m6",
            "beta",
            ("DE", "FR"),
            None,
            &["DE", "RU"],
            &["FR", "RU"],
        ),
    ])
}

fn share(measurements: usize, hits: usize, with_unknown: usize) -> Share {
    Share {
        measurements,
        hits,
        with_unknown,
    }
}

fn find<'a>(rows: &'a [Row], group: &str, scope: Scope, name: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.group == group && r.scope == scope && r.name == name)
        .unwrap_or_else(|| panic!("no row {group}/{scope:?}/{name}"))
}

fn tables(preset: &str) -> Tables {
    let regions = Regions::builtin().unwrap();
    let groups = Groups::preset(preset, &regions).unwrap().unwrap();
    compute(&dataset(), &regions, &groups)
}

#[test]
fn traffic_leaving_the_region() {
    let t = tables("default");
    assert_eq!(t.apps, ["alpha", "beta"]);
    // m5 is CH-BR: between regions, left out of Table 2.
    assert_eq!(t.inter_region, 1);
    assert_eq!(t.unplaced, 0);

    // Europe: m1 m2 m3 m6. Network: m1 m2 m3 traced, none leaves; m2 has an unknown hop.
    // alpha: m1 leaves (US), m2 stays: 1 of 2. beta: m3 leaves (US), m6 stays (RU is
    // Europe): 1 of 2.
    let eu = find(&t.leaving, "", Scope::Region, "Europe");
    assert_eq!(eu.measurements, 4);
    assert_eq!(eu.network, share(3, 0, 1));
    assert_eq!(eu.apps["alpha"], share(2, 1, 0));
    assert_eq!(eu.apps["beta"], share(2, 1, 0));
    assert_eq!(eu.apps["alpha"].percent(), Some(50.0));
    assert_eq!(eu.network.percent(), Some(0.0));

    // Americas: m4 only, nothing leaves.
    let am = find(&t.leaving, "", Scope::Region, "Americas");
    assert_eq!(am.measurements, 1);
    assert_eq!(am.network, share(1, 0, 0));
    assert_eq!(am.apps["beta"], share(1, 0, 0));
    assert!(!am.apps.contains_key("alpha"));

    // All intra-region: m1 m2 m3 m4 m6. beta: m3 of m3 m4 m6 = 33.3 %.
    let all = find(&t.leaving, "", Scope::All, "All regions");
    assert_eq!(all.measurements, 5);
    assert_eq!(all.network, share(4, 0, 1));
    assert_eq!(all.apps["alpha"], share(2, 1, 0));
    assert_eq!(all.apps["beta"], share(3, 1, 0));
    let pct = all.apps["beta"].percent().unwrap();
    assert!((pct - 100.0 / 3.0).abs() < 1e-9, "{pct}");

    // Western Europe: m1 and m6 (DE-FR). Network: m1 stays. alpha: m1 crosses GB
    // (Northern Europe): leaves. beta: m6 crosses RU (Eastern Europe): leaves.
    let we = find(&t.leaving, "", Scope::Subregion, "Western Europe");
    assert_eq!(we.measurements, 2);
    assert_eq!(we.network, share(1, 0, 0));
    assert_eq!(we.apps["alpha"], share(1, 1, 0));
    assert_eq!(we.apps["beta"], share(1, 1, 0));
    // No other subregion has both endpoints of a measurement.
    assert_eq!(
        t.leaving
            .iter()
            .filter(|r| r.scope == Scope::Subregion)
            .count(),
        1
    );
}

#[test]
fn traffic_accessible_for_interest_groups() {
    let t = tables("default");
    // Five Eyes: m3 (GB) and m4 (US) have an endpoint in the group and are left out.
    // Left: m1 m2 m5 m6. Network: m1 m2 m5 traced; m5 crosses GB and US. alpha: m1 (GB, US)
    // and m5 (US, GB) of m1 m2 m5. beta: m6 (DE RU FR) is not.
    let fe = find(&t.access, "Five Eyes", Scope::All, "All");
    assert_eq!(fe.measurements, 4);
    assert_eq!(fe.excluded, 2);
    assert_eq!(fe.network, share(3, 1, 1));
    assert_eq!(fe.apps["alpha"], share(3, 2, 0));
    assert_eq!(fe.apps["beta"], share(1, 0, 0));
    let eu = find(&t.access, "Five Eyes", Scope::Region, "Europe");
    assert_eq!((eu.measurements, eu.excluded), (3, 1));
    assert_eq!(eu.network, share(2, 0, 1));
    assert_eq!(eu.apps["alpha"], share(2, 1, 0));
    let am = find(&t.access, "Five Eyes", Scope::Region, "Americas");
    assert_eq!((am.measurements, am.excluded), (0, 1));
    let inter = find(&t.access, "Five Eyes", Scope::InterRegion, "Inter-region");
    assert_eq!(inter.network, share(1, 1, 0));
    assert_eq!(inter.apps["alpha"], share(1, 1, 0));

    // Russia: no endpoint in RU; only m6's app path (beta) crosses it.
    let ru = find(&t.access, "Russia", Scope::All, "All");
    assert_eq!((ru.measurements, ru.excluded), (6, 0));
    assert_eq!(ru.network, share(5, 0, 1));
    assert_eq!(ru.apps["alpha"], share(3, 0, 0));
    assert_eq!(ru.apps["beta"], share(3, 1, 0));

    // EU (27): m1 m2 m3 m6 have an EU endpoint. m4 (US BR) is not accessible; m5's network
    // path crosses GB and US only, its app path crosses DE.
    let eu27 = find(&t.access, "EU", Scope::All, "All");
    assert_eq!((eu27.measurements, eu27.excluded), (2, 4));
    assert_eq!(eu27.network, share(2, 0, 0));
    assert_eq!(eu27.apps["alpha"], share(1, 1, 0));
    assert_eq!(eu27.apps["beta"], share(1, 0, 0));
}

#[test]
fn the_paper_preset_counts_gb_in_the_eu() {
    let t = tables("paper-2015");
    // With GB in the EU, m5's network path (CH GB US BR) becomes accessible.
    let eu28 = find(&t.access, "EU", Scope::All, "All");
    assert_eq!((eu28.measurements, eu28.excluded), (2, 4));
    assert_eq!(eu28.network, share(2, 1, 0));
}

#[test]
fn counting_endpoints_makes_their_measurements_accessible() {
    let regions = Regions::builtin().unwrap();
    let mut groups = Groups::preset("default", &regions).unwrap().unwrap();
    groups.endpoints = EndpointRule::Count;
    let t = compute(&dataset(), &regions, &groups);
    // Five Eyes: m3 and m4 now count, as accessible: network 3 of 5, alpha 2 of 3, beta
    // m3 m4 accessible of m3 m4 m6.
    let fe = find(&t.access, "Five Eyes", Scope::All, "All");
    assert_eq!((fe.measurements, fe.excluded), (6, 0));
    assert_eq!(fe.network, share(5, 3, 1));
    assert_eq!(fe.apps["alpha"], share(3, 2, 0));
    assert_eq!(fe.apps["beta"], share(3, 2, 0));
}

#[test]
fn unknown_hops_never_count_but_are_reported() {
    // The only hop outside Europe is unresponsive or private: the path stays in the region.
    let ms = locate(&[measurement(
        "u1",
        "alpha",
        ("DE", "FR"),
        Some(&["DE", "*", "priv", "FR"]),
        &["DE", "*", "DE"],
        &["FR", "DE"],
    )]);
    let regions = Regions::builtin().unwrap();
    let groups = Groups::preset("default", &regions).unwrap().unwrap();
    let t = compute(&ms, &regions, &groups);
    let eu = find(&t.leaving, "", Scope::Region, "Europe");
    assert_eq!(eu.network, share(1, 0, 1));
    assert_eq!(eu.apps["alpha"], share(1, 0, 1));
    assert_eq!(ms[0].network.unknown_hops, 2);
    assert_eq!(ms[0].network.sequence, ["DE", "?", "FR"]);
}
