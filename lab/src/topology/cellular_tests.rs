//! Cellular phones: checks of `cellular:`, their uplink in the plan, the lab router's Wi-Fi
//! phone, the geolocation database.

use super::*;
use crate::plan::Plan;
use std::net::IpAddr;

/// The field topology (lr-f in CH with ingress 10.78.9.0/24; transit routers ch-zrh, de-fra).
const FIELD: &str = include_str!("../../topologies/field.yaml");

/// The field topology with these phones (YAML list items).
pub(crate) fn field_with_phones(phones: &str) -> String {
    format!("{FIELD}\nphones:\n{phones}")
}

/// A cellular phone on de-fra's mobile network that joins lr-f's ingress.
pub(crate) const CELLULAR_PHONE: &str =
    "  - { name: phone-v, router: lr-f, cellular: de-fra, model: Pixel 8 }\n";

fn refused(yaml: &str, needle: &str) -> TopologyError {
    let e = parse(yaml, "cell.yaml").expect_err("refused");
    let line = yaml.lines().position(|l| l.contains(needle)).expect("line") as u64 + 1;
    assert_eq!(e.position.map(|p| p.0), Some(line), "{e}");
    e
}

#[test]
fn a_cellular_phone_is_a_stub_of_its_mobile_network_in_its_country() {
    let t = parse(&field_with_phones(CELLULAR_PHONE), "cell.yaml").expect("parses");
    let phone = t.node_index("phone-v").expect("phone-v");
    let fra = t.node_index("de-fra").expect("de-fra");
    let NodeRole::Phone(role) = &t.nodes[phone].role else {
        panic!("not a phone");
    };
    assert_eq!(role.cellular.as_deref(), Some("de-fra"));
    assert_eq!(role.router, "lr-f");
    assert!(role.is_cellular());
    assert_eq!(t.nodes[phone].country, "DE", "where its mobile network is");
    let uplinks: Vec<_> = t.links.iter().filter(|l| l.b == phone).collect();
    assert_eq!(uplinks.len(), 1);
    assert_eq!(uplinks[0].a, fra);
}

#[test]
fn a_cellular_phone_needs_an_ingress_on_its_router() {
    let yaml = field_with_phones(CELLULAR_PHONE).replace(", ingress: 10.78.9.0/24", "");
    let e = refused(&yaml, "phone-v");
    assert!(
        e.message
            .contains("lab router `lr-f` has no WireGuard ingress to join"),
        "{e}"
    );
}

#[test]
fn cellular_must_name_a_transit_router() {
    for bad in ["nowhere", "vp-de", "lr-f"] {
        let yaml = field_with_phones(
            &CELLULAR_PHONE.replace("cellular: de-fra", &format!("cellular: {bad}")),
        );
        let e = refused(&yaml, "phone-v");
        assert!(
            e.message
                .contains(&format!("cellular `{bad}` is not a transit router")),
            "{e}"
        );
    }
}

#[test]
fn a_cellular_phone_leaves_the_wifi_to_another_phone() {
    let wifi = "  - { name: phone-w, router: lr-f }\n";
    let t = parse(&field_with_phones(&format!("{CELLULAR_PHONE}{wifi}")), "x").expect("both");
    let plan = Plan::build(&t).expect("plans");
    let lr = plan
        .node("lr-f")
        .and_then(|n| n.lab_router.as_ref())
        .expect("lr-f");
    assert_eq!(lr.phone.as_deref(), Some("phone-w"));
    let two = field_with_phones(&format!("{wifi}{}", wifi.replace("phone-w", "phone-x")));
    let e = parse(&two, "x").expect_err("two Wi-Fi phones");
    assert!(e.message.contains("already has a phone"), "{e}");
}

#[test]
fn the_plan_gives_a_cellular_phone_a_public_uplink_and_a_default_route() {
    let plan = Plan::build(&parse(&field_with_phones(CELLULAR_PHONE), "x").expect("parses"))
        .expect("plans");
    let i = plan
        .nodes
        .iter()
        .position(|n| n.name == "phone-v")
        .expect("phone");
    let addr = plan.public_addr(i).expect("an uplink address");
    assert!(
        is_lab_range(addr) && addr.octets()[..3] == [192, 0, 2],
        "{addr}"
    );
    let lr = plan
        .node("lr-f")
        .and_then(|n| n.lab_router.as_ref())
        .expect("lr-f");
    assert_eq!(lr.phone, None, "no Wi-Fi phone on lr-f");
    let routes = &plan.nodes[i].routes;
    assert_eq!(routes.len(), 1, "{routes:?}");
    assert_eq!(routes[0].dest.prefix_len(), 0);
    assert_eq!(routes[0].via[0].ifname, "t-de-fra");
    let batch = crate::control::ip_batch(&plan, i);
    assert!(
        batch.contains(&format!("addr add {addr}/31 dev t-de-fra")),
        "{batch}"
    );
    assert!(batch.contains("route add 0.0.0.0/0 via "), "{batch}");
    // The lab router's ingress endpoint is reachable: de-fra, ch-zrh, lr-f.
    let lr_i = plan
        .nodes
        .iter()
        .position(|n| n.name == "lr-f")
        .expect("lr-f");
    let lr_addr = plan.public_addr(lr_i).expect("lr-f uplink");
    let hops = plan.hops(i, IpAddr::V4(lr_addr)).expect("a path");
    let names: Vec<&str> = hops
        .iter()
        .map(|h| plan.nodes[h[0]].name.as_str())
        .collect();
    assert_eq!(names, ["de-fra", "ch-zrh", "lr-f"]);
}

#[test]
fn the_geolocation_database_places_a_cellular_phone_in_its_country() {
    let plan = Plan::build(&parse(&field_with_phones(CELLULAR_PHONE), "x").expect("parses"))
        .expect("plans");
    let i = plan
        .nodes
        .iter()
        .position(|n| n.name == "phone-v")
        .expect("phone");
    let addr = plan.public_addr(i).expect("address");
    let bytes = crate::control::geo_database(&plan)
        .expect("database")
        .to_bytes()
        .expect("bytes");
    let reader = maxminddb::Reader::from_source(bytes).expect("reader");
    let found = reader.lookup(IpAddr::V4(addr)).expect("lookup");
    let country: Option<maxminddb::geoip2::Country> = found.decode().expect("decode");
    let iso = country.and_then(|c| c.country.iso_code.map(str::to_owned));
    assert_eq!(iso.as_deref(), Some("DE"));
}
