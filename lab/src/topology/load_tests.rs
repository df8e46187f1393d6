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
