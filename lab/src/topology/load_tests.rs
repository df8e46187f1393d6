use super::*;

#[test]
fn the_default_topology_is_valid() {
    let t = parse(DEFAULT_TOPOLOGY, "default.yaml").expect("default parses");
    let vantage = t
        .nodes
        .iter()
        .filter(|n| n.role == NodeRole::Vantage)
        .count();
    assert!(vantage >= 12, "{vantage} vantage nodes");
    for code in [
        "CH", "GB", "US", "BR", "AR", "AU", "NZ", "IL", "SG", "CN", "DE", "PL",
    ] {
        assert!(
            t.nodes
                .iter()
                .any(|n| n.role == NodeRole::Vantage && n.country == code),
            "no vantage node in {code}"
        );
    }
    let transatlantic = t
        .links
        .iter()
        .find(|l| t.nodes[l.a].name == "gb-lon" && t.nodes[l.b].name == "us-nyc")
        .expect("LON-NYC");
    assert!(
        (transatlantic.delay_ms - 27.9).abs() < 0.5,
        "{}",
        transatlantic.delay_ms
    );
}

#[test]
fn unknown_key_names_file_line_and_column() {
    let yaml = DEFAULT_TOPOLOGY.replace(
        "  - { name: ch-zrh, country: CH }",
        "  - { name: ch-zrh, country: CH, colour: red }",
    );
    let e = parse(&yaml, "bad.yaml").expect_err("unknown key");
    let line = yaml
        .lines()
        .position(|l| l.contains("colour"))
        .expect("line") as u64
        + 1;
    assert_eq!(e.position.map(|p| p.0), Some(line), "{e}");
    assert!(
        e.to_string().starts_with(&format!("bad.yaml:{line}:")),
        "{e}"
    );
    assert!(e.message.contains("colour"), "{e}");
}

#[test]
fn link_to_a_missing_node_points_at_the_link() {
    let yaml = DEFAULT_TOPOLOGY.replace("{ a: us-mia, b: ch-zrh }", "{ a: us-mia, b: ch-gva }");
    let e = parse(&yaml, "bad.yaml").expect_err("missing node");
    let line = yaml
        .lines()
        .position(|l| l.contains("ch-gva"))
        .expect("line") as u64
        + 1;
    assert_eq!(e.position.map(|p| p.0), Some(line), "{e}");
    assert!(e.message.contains("`ch-gva` is not a node"), "{e}");
}

#[test]
fn attaching_to_a_service_is_refused() {
    let yaml = DEFAULT_TOPOLOGY.replace(
        "{ name: vp-pl, country: PL, attach: pl-waw }",
        "{ name: vp-pl, country: PL, attach: ntp }",
    );
    let e = parse(&yaml, "bad.yaml").expect_err("attach to a service");
    assert!(e.message.contains("not a transit router"), "{e}");
}

#[test]
fn zero_cost_is_refused_because_it_can_loop() {
    let yaml = DEFAULT_TOPOLOGY.replace(
        "{ a: us-nyc, b: us-ash1, cost: 5 }",
        "{ a: us-nyc, b: us-ash1, cost: 0 }",
    );
    let e = parse(&yaml, "bad.yaml").expect_err("zero cost");
    assert!(e.message.contains("cost 0"), "{e}");
}

#[test]
fn addresses_outside_the_lab_ranges_are_refused() {
    let yaml = DEFAULT_TOPOLOGY.replace(
        "{ name: vp-ch, country: CH, attach: ch-zrh }",
        "{ name: vp-ch, country: CH, attach: ch-zrh, address: 8.8.8.8 }",
    );
    let e = parse(&yaml, "bad.yaml").expect_err("public address");
    assert!(
        e.message.contains("outside the documentation/test ranges"),
        "{e}"
    );
}

#[test]
fn bad_names_codes_and_duplicates_are_refused() {
    let cases = [
        (
            "{ name: ch-zrh, country: CH }",
            "{ name: Ch_Zrh, country: CH }",
            "node name",
        ),
        (
            "{ name: pl-waw, country: PL }",
            "{ name: gb-lon, country: PL }",
            "used twice",
        ),
        (
            "{ name: pl-waw, country: PL }",
            "{ name: pl-waw, country: XX }",
            "not defined",
        ),
        ("geo_claim: AU", "geo_claim: Australia", "ISO 3166"),
        ("    regions: [Asia]\n", "", "already answers"),
    ];
    for (from, to, expect) in cases {
        let yaml = DEFAULT_TOPOLOGY.replacen(from, to, 1);
        assert_ne!(yaml, DEFAULT_TOPOLOGY, "case {from}");
        let e = parse(&yaml, "bad.yaml").expect_err(expect);
        assert!(e.message.contains(expect), "{expect}: {e}");
    }
}

#[test]
fn syntax_errors_have_a_position() {
    let e = parse("name: x\ncountries: [\n", "broken.yaml").expect_err("syntax");
    assert!(e.position.is_some(), "{e}");
}

/// Parses the default topology with one replacement, expecting an error on the replaced
/// line that mentions `expect`.
fn refused_on_its_line(from: &str, to: &str, expect: &str) {
    assert!(DEFAULT_TOPOLOGY.contains(from), "{from}");
    let yaml = DEFAULT_TOPOLOGY.replacen(from, to, 1);
    let e = parse(&yaml, "edge.yaml").expect_err(to);
    let at = DEFAULT_TOPOLOGY.find(from).expect("found");
    let line = DEFAULT_TOPOLOGY[..at].matches('\n').count() as u64 + 1;
    assert_eq!(e.position.map(|p| p.0), Some(line), "{to}: {e}");
    assert!(e.message.contains(expect), "{to}: {e}");
}

#[test]
fn access_points_are_checked_as_hostapd_would() {
    refused_on_its_line(
        "passphrase: lab-passphrase-a",
        "passphrase: short",
        "8 to 63",
    );
    refused_on_its_line("ssid: matador-a,", "ssid: '',", "SSID");
    refused_on_its_line("subnet: 10.77.1.0/24", "subnet: 192.0.2.0/24", "RFC 1918");
    refused_on_its_line("subnet: 10.77.2.0/24", "subnet: 10.77.0.0/16", "overlaps");
}

#[test]
fn phones_and_apps_must_fit_together() {
    refused_on_its_line("    router: lr-a", "    router: ch-zrh", "not a lab router");
    refused_on_its_line(
        "    router: lr-b",
        "    router: lr-a",
        "already has a phone",
    );
    refused_on_its_line(
        "    contact: phone-b",
        "    contact: phone-z",
        "not another phone",
    );
    refused_on_its_line("    adb_port: 25551", "    adb_port: 25550", "taken");
    refused_on_its_line("    uid: 10124", "    uid: 99", "10000-19999");
    refused_on_its_line(
        "    package: ch.swissmessenger.app",
        "    package: swiss",
        "package name",
    );
    refused_on_its_line(
        "    send_button: [600, 1480, 96, 96]",
        "    send_button: [700, 1480, 96, 96]",
        "inside",
    );
    let yaml = DEFAULT_TOPOLOGY.replacen(
        "    server: chat.swiss-messenger.example",
        "    server: chat.nowhere.example",
        1,
    );
    let e = parse(&yaml, "edge.yaml").expect_err("no backend");
    assert!(e.message.contains("chat.nowhere.example"), "{e}");
}

#[test]
fn phones_are_off_the_internet_but_their_routers_are_not() {
    let t = parse(DEFAULT_TOPOLOGY, "default.yaml").expect("default parses");
    let phone = t.node_index("phone-a").expect("phone-a");
    assert!(t.nodes[phone].is_phone());
    assert!(t.links.iter().all(|l| l.a != phone && l.b != phone));
    let router = t.node_index("lr-a").expect("lr-a");
    assert_eq!(
        t.links.iter().filter(|l| l.b == router).count(),
        1,
        "one uplink"
    );
    assert_eq!(t.nodes[phone].country, t.nodes[router].country);
}

#[test]
fn the_controller_is_a_vantage_node_that_no_access_point_tunnels_to() {
    let t = parse(DEFAULT_TOPOLOGY, "default.yaml").expect("default parses");
    assert_eq!(t.controller.as_deref(), Some("ctl"));
    let plan = crate::plan::Plan::build(&t).expect("plan");
    let addrs: Vec<_> = plan
        .nodes
        .iter()
        .filter_map(|n| n.lab_router.as_ref())
        .map(|r| {
            r.management_addr
                .expect("every lab router dials the controller")
        })
        .collect();
    let net = plan
        .node("ctl")
        .and_then(|n| n.vantage.as_ref())
        .map(|v| v.tunnel_net)
        .expect("controller tunnel");
    assert!(addrs.iter().all(|a| net.contains(a)), "{addrs:?} in {net}");
    let mut unique = addrs.clone();
    unique.dedup();
    assert_eq!(unique.len(), addrs.len());

    let e = parse(
        &DEFAULT_TOPOLOGY.replace("controller: ctl", "controller: ch-zrh"),
        "bad.yaml",
    )
    .expect_err("a transit router");
    assert!(
        e.to_string().contains("`ch-zrh` is not a vantage node"),
        "{e}"
    );
    let e = parse(
        &DEFAULT_TOPOLOGY.replace("controller: ctl", "controller: vp-gb"),
        "bad.yaml",
    )
    .expect_err("lr-a tunnels to vp-gb");
    assert!(
        e.to_string().contains("lab router `lr-a`'s vantage node"),
        "{e}"
    );
}

const PRIVACY: &str = include_str!("../../topologies/privacy.yaml");

fn phone_role<'a>(t: &'a Topology, name: &str) -> &'a crate::topology::PhoneRole {
    match t.node_index(name).map(|i| &t.nodes[i].role) {
        Some(NodeRole::Phone(p)) => p,
        other => panic!("{name} is not a phone: {other:?}"),
    }
}

#[test]
fn every_shipped_topology_loads_and_plans() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("topologies dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let t = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
            crate::plan::Plan::build(&t).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            names.push(t.name);
        }
    }
    for expected in ["default", "privacy"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
}

#[test]
fn the_privacy_topology_has_known_imeis_and_a_leaky_messenger() {
    let t = parse(PRIVACY, "privacy.yaml").expect("privacy parses");
    assert_eq!(phone_role(&t, "phone-a").imei, "490154203237518");
    assert_eq!(phone_role(&t, "phone-b").imei, "352099001761481");
    assert_eq!(
        phone_role(&t, "phone-b").contact.as_deref(),
        Some("phone-a")
    );
    let app = t.apps.iter().find(|a| a.name == "global-messenger");
    assert_eq!(
        app.and_then(|a| a.analytics.as_deref()),
        Some("analytics.tracker.example")
    );
    let lr_b = t.node_index("lr-b").map(|i| &t.nodes[i].role);
    let Some(NodeRole::LabRouter { ap, .. }) = lr_b else {
        panic!("lr-b is not a lab router: {lr_b:?}");
    };
    assert_eq!(
        ap.ingress.map(|n| n.to_string()).as_deref(),
        Some("10.78.2.0/24")
    );

    let d = parse(DEFAULT_TOPOLOGY, "default.yaml").expect("default parses");
    let leaky: Vec<_> = d.apps.iter().filter(|a| a.analytics.is_some()).collect();
    assert_eq!(leaky.len(), 1);
    assert_eq!(leaky[0].name, "global-messenger");
}

#[test]
fn phones_without_an_imei_get_valid_unique_ones() {
    let t = parse(DEFAULT_TOPOLOGY, "default.yaml").expect("default parses");
    let imeis: Vec<&str> = ["phone-a", "phone-b", "phone-c", "phone-d"]
        .iter()
        .map(|p| phone_role(&t, p).imei.as_str())
        .collect();
    for (i, imei) in imeis.iter().enumerate() {
        assert_eq!(
            *imei,
            crate::topology::default_imei(i),
            "derived from the index"
        );
        assert_eq!(crate::topology::imei_problem(imei), None, "{imei}");
    }
    let unique: HashSet<&&str> = imeis.iter().collect();
    assert_eq!(unique.len(), imeis.len(), "{imeis:?}");
}

/// `from` (first occurrence) becomes `to` in privacy.yaml; the error is on that line.
fn privacy_refused(from: &str, to: &str, expect: &str) {
    assert!(PRIVACY.contains(from), "{from}");
    let e = parse(&PRIVACY.replacen(from, to, 1), "privacy.yaml").expect_err(to);
    let at = PRIVACY.find(from).expect("found");
    let line = PRIVACY[..at].matches('\n').count() as u64 + 1;
    assert_eq!(e.position.map(|p| p.0), Some(line), "{to}: {e}");
    assert!(e.message.contains(expect), "{to}: {e}");
}

#[test]
fn bad_imeis_and_analytics_names_are_refused_on_their_line() {
    let a = "imei: \"490154203237518\"";
    privacy_refused(a, "imei: \"49015420323751\"", "exactly 15 ASCII digits");
    privacy_refused(a, "imei: \"4901542032375180\"", "exactly 15 ASCII digits");
    privacy_refused(a, "imei: \"49015420323751x\"", "exactly 15 ASCII digits");
    privacy_refused(a, "imei: \"490154203237519\"", "Luhn");
    privacy_refused(
        "imei: \"352099001761481\"",
        "imei: \"490154203237518\"",
        "also phone `phone-a`'s",
    );
    privacy_refused(
        "analytics: analytics.tracker.example",
        "analytics: chat.global-messenger.example",
        "no analytics service answers `chat.global-messenger.example`",
    );
}
