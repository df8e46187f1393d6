//! Hand-built measurements for the analysis tests: hops are written as country codes, each
//! country has one address in a prefix table, `*` is an unresponsive hop and `priv` a
//! private address.

use super::paths::{Locator, MeasurementPaths};
use super::regions::Regions;
use super::schema::{AppTrace, Endpoint, Measurement, Side, Status, VantageNode, RECORD_VERSION};
use crate::geo::areas::Areas;
use crate::geo::{GeoStack, PrefixTable};
use matador_probe::trace::output::AtlasPacket;
use matador_probe::trace::{AtlasHop, AtlasReply, AtlasTrace};

/// Countries the fixtures can use, in the order of their test addresses.
const COUNTRIES: [&str; 12] = [
    "DE", "FR", "GB", "US", "BR", "PL", "CH", "RU", "CN", "AU", "IL", "AR",
];

/// The test address of a hop token: a country's address, `priv`, or `*` (none).
pub fn addr(token: &str) -> Option<String> {
    match token {
        "*" => None,
        "priv" => Some("10.0.0.1".into()),
        c => Some(match COUNTRIES.iter().position(|x| *x == c) {
            Some(i) => format!("198.51.100.{}", i + 1),
            None => panic!("no test address for {c}"),
        }),
    }
}

/// The prefix table that knows every test address.
pub fn geo() -> GeoStack {
    let prefixes = COUNTRIES
        .iter()
        .map(|c| {
            let a = addr(c).expect("country address");
            (format!("{a}/32").parse().expect("prefix"), (*c).to_owned())
        })
        .collect();
    GeoStack::new(vec![Box::new(PrefixTable::new("test-table", prefixes))])
}

/// A vantage node in `country`, without coordinates (so claims are taken unchecked).
pub fn node(country: &str) -> VantageNode {
    VantageNode {
        name: format!("vp-{}", country.to_lowercase()),
        address: addr(country).and_then(|a| a.parse().ok()).expect("address"),
        country: country.into(),
        city: None,
        lat: None,
        lon: None,
    }
}

/// A trace through `hops` (tokens), each answering once with the given RTT step; the last
/// token is the destination.
pub fn trace(hops: &[&str], rtt_step_ms: f64) -> AtlasTrace {
    let dst = hops.last().and_then(|t| addr(t)).unwrap_or_default();
    let result: Vec<AtlasHop> = hops
        .iter()
        .enumerate()
        .map(|(i, t)| AtlasHop {
            hop: (i + 1) as u8,
            result: vec![match addr(t) {
                None => AtlasReply::Timeout { x: "*".into() },
                Some(from) => reply(from, rtt_step_ms * (i + 1) as f64),
            }],
        })
        .collect();
    let reached = hops.last().is_some_and(|t| *t != "*");
    atlas_trace(&dst, "10.77.1.2", reached, result)
}

/// One answer from `from` after `rtt` ms.
pub fn reply(from: String, rtt: f64) -> AtlasReply {
    AtlasReply::Reply(AtlasPacket {
        from,
        rtt,
        size: 52,
        ttl: 60,
        err: None,
        ittl: None,
        flags: None,
        icmpext: None,
        inferred: None,
    })
}

/// A TCP trace to port 443 of `dst` from `src` with these hops.
pub fn atlas_trace(dst: &str, src: &str, reached: bool, result: Vec<AtlasHop>) -> AtlasTrace {
    AtlasTrace {
        fw: 5080,
        af: 4,
        dst_addr: dst.to_string(),
        dst_name: dst.to_string(),
        src_addr: src.into(),
        proto: "TCP".into(),
        paris_id: 0,
        size: 52,
        timestamp: 0,
        endtime: 1,
        kind: "traceroute".into(),
        msm_id: 0,
        prb_id: 0,
        dst_port: Some(443),
        destination_reached: reached,
        result,
    }
}

/// A measurement of `app` between `a` and `b`: the network path (if any), and one
/// application trace per side, each to the service at the trace's last hop.
pub fn measurement(
    id: &str,
    app: &str,
    (a, b): (&str, &str),
    network: Option<&[&str]>,
    app_a: &[&str],
    app_b: &[&str],
) -> Measurement {
    let app_trace = |from, hops: &[&str]| AppTrace {
        from,
        endpoint: Endpoint {
            ip: hops
                .last()
                .and_then(|t| addr(t))
                .and_then(|a| a.parse().ok())
                .expect("service address"),
            protocol: "tcp".into(),
            port: Some(443),
            name: Some(format!("chat.{app}.example")),
        },
        trace: Some(trace(hops, 5.0)),
    };
    Measurement {
        version: RECORD_VERSION,
        id: id.into(),
        app: app.into(),
        campaign: "test".into(),
        started: 1_700_000_000,
        status: Status::Complete,
        a: node(a),
        b: node(b),
        network_path: network.map(|h| trace(h, 5.0)),
        app_paths: vec![app_trace(Side::A, app_a), app_trace(Side::B, app_b)],
    }
}

/// Locates measurements with the test table and the built-in tables.
pub fn locate(ms: &[Measurement]) -> Vec<MeasurementPaths> {
    let geo = geo();
    let areas = Areas::builtin().expect("areas");
    let regions = Regions::builtin().expect("regions");
    let mut loc = Locator::new(&geo, &areas, &regions);
    ms.iter()
        .map(|m| loc.measurement(m).expect("located"))
        .collect()
}
