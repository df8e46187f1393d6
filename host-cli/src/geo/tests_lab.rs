//! The lab's own geolocation database, built with matador-lab's writer from the default
//! topology, read by our reader; traces with the RTTs the lab's delayed links produce. The
//! database's deliberate lie (de-fra "in Australia") must be flagged by RTT and corrected.

use crate::analysis::paths::{Locator, MeasurementPaths};
use crate::analysis::regions::Regions;
use crate::analysis::schema::{
    AppTrace, Endpoint, Measurement, Side, Status, VantageNode, RECORD_VERSION,
};
use crate::analysis::test_support::{atlas_trace, reply};
use crate::geo::areas::Areas;
use crate::geo::mmdb::MmdbSource;
use crate::geo::plausible::Check;
use crate::geo::{CountrySource, GeoStack};
use matador_lab::control::geo_database;
use matador_lab::plan::Plan;
use matador_lab::topology::{parse, DEFAULT_TOPOLOGY};
use matador_probe::trace::{AtlasHop, AtlasTrace};
use std::net::IpAddr;

fn plan() -> Plan {
    Plan::build(&parse(DEFAULT_TOPOLOGY, "default.yaml").expect("parses")).expect("plans")
}

fn lab_db(plan: &Plan) -> MmdbSource {
    let bytes = geo_database(plan).expect("db").to_bytes().expect("bytes");
    MmdbSource::from_bytes("lab-geo.mmdb", bytes).expect("reads")
}

fn idx(plan: &Plan, name: &str) -> usize {
    plan.nodes
        .iter()
        .position(|n| n.name == name)
        .unwrap_or_else(|| panic!("no node {name}"))
}

/// The trace the lab would give from node `from` to `dst`: each hop answers from its address
/// on the link it was reached over, after twice the one-way delays so far (+0.2 ms).
fn lab_trace(plan: &Plan, from: usize, dst: IpAddr) -> AtlasTrace {
    let hops = plan.hops(from, dst).expect("route");
    let (mut prev, mut one_way) = (from, 0.0);
    let mut result = Vec::new();
    for (i, step) in hops.iter().enumerate() {
        let node = step[0];
        let link = plan
            .links
            .iter()
            .find(|l| (l.a.node, l.b.node) == (prev, node) || (l.b.node, l.a.node) == (prev, node))
            .expect("link");
        let end = if link.a.node == node {
            &link.a
        } else {
            &link.b
        };
        one_way += link.delay_ms;
        let from_addr = if i + 1 == hops.len() {
            dst
        } else {
            IpAddr::V4(end.addr4)
        };
        result.push(AtlasHop {
            hop: (i + 1) as u8,
            result: vec![reply(from_addr.to_string(), 2.0 * one_way + 0.2)],
        });
        prev = node;
    }
    atlas_trace(&dst.to_string(), "10.0.0.2", true, result)
}

fn vantage(plan: &Plan, name: &str) -> VantageNode {
    let n = &plan.nodes[idx(plan, name)];
    VantageNode {
        name: n.name.clone(),
        address: IpAddr::V4(plan.public_addr(idx(plan, name)).expect("public address")),
        country: n.country.clone(),
        city: Some(n.city.name.clone()),
        lat: Some(n.city.lat),
        lon: Some(n.city.lon),
    }
}

/// geo-messenger between vp-gb (London) and vp-ch (Zurich): its European backend sits
/// behind de-fra, which the lab's database places in Australia.
fn measurement(plan: &Plan) -> Measurement {
    let (gb, ch) = (idx(plan, "vp-gb"), idx(plan, "vp-ch"));
    let service = IpAddr::V4(plan.public_addr(idx(plan, "msg-geo-eu")).expect("service"));
    let endpoint = Endpoint {
        ip: service,
        protocol: "tcp".into(),
        port: Some(443),
        name: Some("chat.geo-messenger.example".into()),
    };
    let ch_addr = IpAddr::V4(plan.public_addr(ch).expect("vp-ch"));
    Measurement {
        version: RECORD_VERSION,
        id: "lab-1".into(),
        app: "geo-messenger".into(),
        campaign: "lab".into(),
        started: 0,
        status: Status::Complete,
        a: vantage(plan, "vp-gb"),
        b: vantage(plan, "vp-ch"),
        network_path: Some(lab_trace(plan, gb, ch_addr)),
        app_paths: vec![
            AppTrace {
                from: Side::A,
                endpoint: endpoint.clone(),
                trace: Some(lab_trace(plan, gb, service)),
            },
            AppTrace {
                from: Side::B,
                endpoint,
                trace: Some(lab_trace(plan, ch, service)),
            },
        ],
    }
}

fn locate(plan: &Plan, m: &Measurement) -> MeasurementPaths {
    let geo = GeoStack::new(vec![Box::new(lab_db(plan))]);
    let areas = Areas::builtin().unwrap();
    let regions = Regions::builtin().unwrap();
    let mut loc = Locator::new(&geo, &areas, &regions);
    loc.measurement(m).unwrap()
}

#[test]
fn the_lab_database_is_read_and_holds_its_deliberate_lie() {
    let plan = plan();
    let db = lab_db(&plan);
    assert_eq!(db.database_type(), "MATAdOR-Lab-Country");
    for (name, expect) in [("gb-lon", "GB"), ("de-fra", "AU"), ("us-nyc", "US")] {
        for addr in plan.addresses_of(idx(&plan, name)) {
            assert_eq!(
                db.country(addr).unwrap().as_deref(),
                Some(expect),
                "{name} {addr}"
            );
        }
    }
}

#[test]
fn de_fra_claimed_in_australia_is_flagged_by_rtt_and_corrected() {
    let plan = plan();
    let m = measurement(&plan);
    let paths = locate(&plan, &m);
    let de_fra: Vec<IpAddr> = plan.addresses_of(idx(&plan, "de-fra"));
    let hops: Vec<_> = paths
        .application
        .traces
        .iter()
        .flat_map(|t| &t.hops)
        .filter(|h| {
            h.addr
                .as_deref()
                .and_then(|a| a.parse().ok())
                .is_some_and(|a: IpAddr| de_fra.contains(&a))
        })
        .collect();
    assert_eq!(hops.len(), 2, "both application traces cross de-fra");
    for h in hops {
        assert_eq!(h.geo.claims[0].country, "AU");
        let flag = &h.geo.flagged[0];
        assert_eq!(flag.claimed, "AU");
        // Lab RTTs to Frankfurt are a few ms: a reach of at most ~1,500 km, while
        // Australia's nearest point is over 10,000 km away.
        assert!(flag.max_km < 1_500.0, "{flag:?}");
        assert!(flag.min_km > 10_000.0, "{flag:?}");
        assert_eq!(h.geo.country.as_deref(), Some("DE"), "{:?}", h.geo);
        assert_eq!(h.geo.source.as_deref(), Some("next hop"));
        assert!(matches!(h.geo.check, Some(Check::Plausible { .. })));
        assert!(h
            .geo
            .correction
            .as_deref()
            .unwrap()
            .contains("lab-geo.mmdb says AU"));
    }
    assert!(!paths.application.countries.contains("AU"));
    assert_eq!(
        paths.application.countries.iter().collect::<Vec<_>>(),
        ["CH", "DE", "GB"]
    );
    // The network path London-Zurich does not cross de-fra: nothing flagged there.
    assert_eq!(paths.network.flagged_hops, 0);
    assert_eq!(paths.network.unknown_hops, 0);
}

#[test]
fn without_vantage_coordinates_the_lie_would_stand() {
    let plan = plan();
    let mut m = measurement(&plan);
    m.a.lat = None;
    m.a.lon = None;
    let paths = locate(&plan, &m);
    assert!(paths.application.countries.contains("AU"));
}
