use super::*;
use crate::topology::{parse, DEFAULT_TOPOLOGY};
use std::collections::HashSet;

fn default_plan() -> Plan {
    let topo = parse(DEFAULT_TOPOLOGY, "default.yaml").expect("default topology parses");
    Plan::build(&topo).expect("default topology plans")
}

fn idx(plan: &Plan, name: &str) -> usize {
    plan.nodes.iter().position(|n| n.name == name).expect(name)
}

/// Countries along the path, one per TTL (ECMP alternatives joined with `|`).
fn countries(plan: &Plan, from: &str, to: &str) -> Vec<String> {
    let dest = IpAddr::V4(plan.public_addr(idx(plan, to)).expect("stub"));
    let hops = plan.hops(idx(plan, from), dest).expect("a path");
    hops.iter()
        .map(|alts| {
            let set: std::collections::BTreeSet<&str> = alts
                .iter()
                .map(|&n| plan.nodes[n].country.as_str())
                .collect();
            set.into_iter().collect::<Vec<_>>().join("|")
        })
        .collect()
}

fn names(plan: &Plan, from: &str, to: &str) -> Vec<String> {
    let dest = IpAddr::V4(plan.public_addr(idx(plan, to)).expect("stub"));
    plan.hops(idx(plan, from), dest)
        .expect("a path")
        .iter()
        .map(|alts| {
            alts.iter()
                .map(|&n| plan.nodes[n].name.as_str())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

#[test]
fn every_address_is_unique_and_in_the_documentation_ranges() {
    let plan = default_plan();
    let mut seen = HashSet::new();
    for l in &plan.links {
        for e in [&l.a, &l.b] {
            assert!(crate::topology::is_lab_range(e.addr4), "{}", e.addr4);
            assert!(seen.insert(IpAddr::V4(e.addr4)), "duplicate {}", e.addr4);
            if let Some(a6) = e.addr6 {
                assert_eq!(a6.segments()[..2], [0x2001, 0xdb8], "{a6}");
                assert!(seen.insert(IpAddr::V6(a6)), "duplicate {a6}");
            }
        }
        assert_eq!(u32::from(l.a.addr4) ^ 1, u32::from(l.b.addr4), "a /31 pair");
    }
}

#[test]
fn intra_europe_paths_cross_gb_except_the_direct_de_ch_link() {
    let plan = default_plan();
    assert_eq!(
        countries(&plan, "vp-pl", "msg-swiss"),
        ["PL", "GB", "CH", "CH"]
    );
    assert_eq!(
        names(&plan, "vp-de", "msg-swiss"),
        ["de-fra", "ch-zrh", "msg-swiss"]
    );
}

#[test]
fn south_america_goes_through_miami_and_miami_goes_straight_to_zurich() {
    let plan = default_plan();
    assert_eq!(
        names(&plan, "vp-br", "msg-swiss"),
        ["br-sao", "us-mia", "ch-zrh", "msg-swiss"]
    );
    assert_eq!(names(&plan, "vp-br", "vp-ar")[..2], ["br-sao", "us-mia"]);
}

#[test]
fn israel_to_asia_crosses_europe_and_the_us() {
    let plan = default_plan();
    let c = countries(&plan, "vp-il", "msg-geo-cn");
    assert_eq!(c, ["IL", "DE", "GB", "US", "US", "CN", "CN"]);
}

#[test]
fn new_york_to_miami_is_equal_cost_multipath() {
    let plan = default_plan();
    let n = names(&plan, "vp-us", "vp-ar");
    assert_eq!(
        n,
        ["us-nyc", "us-ash1|us-ash2", "us-mia", "ar-bue", "vp-ar"]
    );
    let nyc = plan.node("us-nyc").expect("us-nyc");
    let ar = plan.public_addr(idx(&plan, "vp-ar")).expect("vp-ar");
    let route = nyc
        .routes
        .iter()
        .find(|r| r.dest.contains(&IpAddr::V4(ar)))
        .expect("route");
    assert_eq!(route.via.len(), 2, "{route:?}");
}

#[test]
fn geodns_sends_asian_resolvers_to_cn_and_the_rest_to_de() {
    let plan = default_plan();
    let answer = |vp: &str| {
        let v = plan
            .node(vp)
            .and_then(|n| n.vantage.clone())
            .expect("vantage");
        v.dns
            .into_iter()
            .find(|a| a.name == "chat.geo-messenger.example")
            .expect("answer")
            .service
    };
    assert_eq!(answer("vp-sg"), "msg-geo-cn");
    assert_eq!(answer("vp-il"), "msg-geo-cn");
    assert_eq!(answer("vp-de"), "msg-geo-eu");
    assert_eq!(answer("vp-br"), "msg-geo-eu");
}

#[test]
fn ipv6_reaches_the_global_messenger_from_gb() {
    let plan = default_plan();
    let dest = IpAddr::V6(plan.public_addr6(idx(&plan, "msg-global")).expect("v6"));
    let hops = plan.hops(idx(&plan, "vp-gb"), dest).expect("v6 path");
    let n: Vec<&str> = hops
        .iter()
        .map(|h| plan.nodes[h[0]].name.as_str())
        .collect();
    assert_eq!(n, ["gb-lon", "us-nyc", "msg-global"]);
}

#[test]
fn the_geolocation_mistake_is_in_the_plan() {
    let plan = default_plan();
    let fra = plan.node("de-fra").expect("de-fra");
    assert_eq!(
        (fra.country.as_str(), fra.geo_country.as_str()),
        ("DE", "AU")
    );
}

#[test]
fn split_topology_is_an_error_naming_both_nodes() {
    let yaml = DEFAULT_TOPOLOGY.replace("  - { a: au-syd, b: nz-akl }\n", "");
    let topo = parse(&yaml, "split.yaml").expect("parses");
    let e = Plan::build(&topo).expect_err("split");
    assert!(
        e.message.contains("nz-akl") && e.message.contains("no route"),
        "{e}"
    );
    assert!(e.position.is_some(), "{e}");
}

#[test]
fn overlapping_explicit_addresses_are_an_error() {
    let yaml = DEFAULT_TOPOLOGY
        .replace(
            "{ name: vp-ch, country: CH, attach: ch-zrh }",
            "{ name: vp-ch, country: CH, attach: ch-zrh, address: 192.0.2.77 }",
        )
        .replace(
            "{ name: vp-pl, country: PL, attach: pl-waw }",
            "{ name: vp-pl, country: PL, attach: pl-waw, address: 192.0.2.76 }",
        );
    let topo = parse(&yaml, "overlap.yaml").expect("parses");
    let e = Plan::build(&topo).expect_err("overlap");
    assert!(e.message.contains("overlaps"), "{e}");
    assert!(e.to_string().starts_with("overlap.yaml:"), "{e}");
}
