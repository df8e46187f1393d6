//! The lab's Internet, checked with real tools: scamper traces see the planned countries and
//! RTTs that follow the link delays; mmdblookup reads the lab's database; a WireGuard client
//! of a vantage node appears at the node's address and gets its GeoDNS answers.

mod common;

use common::Lab;
use matador_lab::plan::Plan;
use std::net::IpAddr;

/// One hop of a scamper text trace: TTL, address (None for `*`), RTT.
fn parse_scamper(text: &str) -> Vec<(u32, Option<IpAddr>, Option<f64>)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let ttl = f.next()?.parse().ok()?;
            let addr = f.next()?.parse().ok();
            let rtt = f.next().and_then(|r| r.parse().ok());
            Some((ttl, addr, rtt))
        })
        .collect()
}

fn index(plan: &Plan, name: &str) -> usize {
    plan.nodes.iter().position(|n| n.name == name).expect(name)
}

/// One-way delay of the link between two nodes.
fn link_delay(plan: &Plan, a: usize, b: usize) -> (f64, bool) {
    let l = plan
        .links
        .iter()
        .find(|l| (l.a.node == a && l.b.node == b) || (l.a.node == b && l.b.node == a))
        .expect("adjacent nodes");
    (l.delay_ms, l.is_delayed())
}

/// Traces with scamper from a vantage node to a service and checks every hop against the plan.
fn trace_matches_plan(lab: &Lab, from: &str, to: &str, method: &str, v6: bool) {
    let plan = &lab.plan;
    let dest: IpAddr = if v6 {
        plan.public_addr6(index(plan, to))
            .expect("service IPv6 address")
            .into()
    } else {
        plan.public_addr(index(plan, to))
            .expect("service address")
            .into()
    };
    let out = lab.exec(
        from,
        &[
            "scamper",
            "-c",
            &format!("trace -P {method}"),
            "-i",
            &dest.to_string(),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scamper failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hops = parse_scamper(&text);
    let expected = plan.hops(index(plan, from), dest).expect("planned path");
    assert_eq!(hops.len(), expected.len(), "hop count\n{text}");

    let mut prev = index(plan, from);
    let (mut one_way, mut queues) = (0.0, 0u32);
    for ((ttl, addr, rtt), alternatives) in hops.iter().zip(&expected) {
        let node = alternatives[0];
        let (d, delayed) = link_delay(plan, prev, node);
        one_way += d;
        queues += u32::from(delayed);
        prev = node;
        let silent = matches!(
            plan.nodes[node].role,
            matador_lab::topology::NodeRole::Router { silent: true }
        );
        match addr {
            None => assert!(
                silent,
                "TTL {ttl}: `*` but {} is not silent\n{text}",
                plan.nodes[node].name
            ),
            Some(a) => {
                let owner = plan.owner(*a).expect("a lab address");
                assert!(
                    alternatives.contains(&owner),
                    "TTL {ttl}: {a} is {}, expected {:?}\n{text}",
                    plan.nodes[owner].name,
                    alternatives
                );
                assert_eq!(
                    plan.nodes[owner].country, plan.nodes[node].country,
                    "TTL {ttl} country\n{text}"
                );
                let rtt = rtt.expect("an RTT");
                let floor = 2.0 * one_way;
                // Each queue crossed both ways may add up to a timer tick (1 ms) and a wake-up.
                let ceiling = floor * 1.02 + 2.0 * f64::from(2 * queues) + 3.0;
                assert!(
                    rtt >= floor - 0.2,
                    "TTL {ttl}: RTT {rtt} ms is faster than light in fibre ({floor:.1} ms)\n{text}"
                );
                assert!(
                    rtt <= ceiling,
                    "TTL {ttl}: RTT {rtt} ms, links add up to {floor:.1} ms\n{text}"
                );
            }
        }
    }
}

#[test]
fn scamper_sees_the_planned_countries_and_rtts_that_follow_the_links() {
    let lab = Lab::up();
    // Europe to Asia: GB, US, a silent US hop, CN.
    trace_matches_plan(&lab, "vp-gb", "msg-geo-cn", "icmp-paris", false);
    // IL to Asia crosses Europe and the US.
    trace_matches_plan(&lab, "vp-il", "msg-geo-cn", "udp-paris", false);
    // South America through Miami, then straight to Zurich; TCP to the TLS chat port.
    trace_matches_plan(&lab, "vp-br", "msg-swiss", "tcp -d 443", false);
    // IPv6 across the Atlantic.
    trace_matches_plan(&lab, "vp-gb", "msg-global", "icmp-paris", true);
}

#[test]
fn mmdblookup_reads_the_configured_countries_including_the_mistake() {
    let lab = Lab::up();
    let status = lab.status();
    let db = status["mmdb"].as_str().expect("mmdb path").to_string();
    let mut checked = 0;
    for r in status["routers"].as_array().expect("routers") {
        for a in r["addresses"].as_array().expect("addresses") {
            let out = std::process::Command::new("mmdblookup")
                .args([
                    "--file",
                    &db,
                    "--ip",
                    a.as_str().expect("addr"),
                    "country",
                    "iso_code",
                ])
                .output()
                .expect("mmdblookup runs (Debian package mmdb-bin)");
            let text = String::from_utf8_lossy(&out.stdout);
            let want = r["geo_country"].as_str().expect("geo_country");
            assert!(text.contains(&format!("\"{want}\"")), "{a}: {text}");
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
    let fra = status["routers"]
        .as_array()
        .expect("routers")
        .iter()
        .find(|r| r["name"] == "de-fra")
        .expect("de-fra");
    assert_eq!(
        (fra["country"].as_str(), fra["geo_country"].as_str()),
        (Some("DE"), Some("AU"))
    );
}

#[test]
fn a_wireguard_client_of_a_vantage_node_appears_at_its_address_and_uses_its_resolver() {
    let lab = Lab::up();
    let peer: serde_json::Value =
        serde_json::from_str(&common::host_ok(&["lab", "add-peer", "vp-ch", "--json"]))
            .expect("peer JSON");
    let conf = peer["wg_quick"].as_str().expect("config");
    let field = |k: &str| {
        conf.lines()
            .find_map(|l| l.strip_prefix(&format!("{k} = ")))
            .expect(k)
            .to_string()
    };
    let status = lab.status();
    let whoami = status["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == "whoami")
        .expect("whoami")["address"]
        .as_str()
        .expect("address")
        .to_string();
    let vp_ch = lab
        .plan
        .public_addr(index(&lab.plan, "vp-ch"))
        .expect("vp-ch address");
    // A client inside vp-de (another country) with a tunnel to vp-ch, routing whoami into it.
    let script = format!(
        "set -e\nexport WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1\nwireguard-go wgc-test >/dev/null 2>&1\n\
         umask 077; printf '%s\\n' '{key}' > /tmp/wgc-test.key\n\
         wg set wgc-test private-key /tmp/wgc-test.key peer {server} endpoint {endpoint} allowed-ips 0.0.0.0/0\n\
         rm -f /tmp/wgc-test.key\n\
         ip addr add {addr} dev wgc-test\nip link set wgc-test up\n\
         ip route add 100.64.0.0/24 dev wgc-test\nip route add {whoami}/32 dev wgc-test\n\
         curl -s --max-time 10 http://{whoami}/\n\
         dig +short +time=3 +tries=2 @{dns} whoami.lab.example\n",
        key = field("PrivateKey"),
        server = field("PublicKey"),
        endpoint = field("Endpoint"),
        addr = field("Address"),
        dns = field("DNS"),
    );
    let out = lab.exec("vp-de", &["sh", "-c", &script]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client script failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(vp_ch.to_string().as_str()),
        "whoami must see vp-ch's address (NAT)\n{text}"
    );
    assert_eq!(
        lines.get(1).copied(),
        Some(whoami.as_str()),
        "vp-ch's resolver answers through the tunnel\n{text}"
    );
}

#[test]
fn resolvers_answer_per_region() {
    let lab = Lab::up();
    let answer = |vp: &str| {
        let out = lab.exec(
            vp,
            &[
                "dig",
                "+short",
                "+time=3",
                "@127.0.0.1",
                "chat.geo-messenger.example",
                "A",
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let addr = |svc: &str| {
        lab.plan
            .public_addr(index(&lab.plan, svc))
            .expect(svc)
            .to_string()
    };
    assert_eq!(answer("vp-sg"), addr("msg-geo-cn"));
    assert_eq!(answer("vp-cn"), addr("msg-geo-cn"));
    assert_eq!(answer("vp-de"), addr("msg-geo-eu"));
    assert_eq!(answer("vp-br"), addr("msg-geo-eu"));
}

#[test]
fn ecmp_splits_flows_over_both_equal_cost_routers() {
    let lab = Lab::up();
    let plan = &lab.plan;
    let dest = plan
        .public_addr(index(plan, "vp-ar"))
        .expect("vp-ar")
        .to_string();
    let expected = plan
        .hops(index(plan, "vp-us"), dest.parse().expect("ip"))
        .expect("path");
    assert_eq!(expected[1].len(), 2, "the plan has an ECMP pair at TTL 2");
    let mut seen = std::collections::BTreeSet::new();
    let want: std::collections::BTreeSet<usize> = expected[1].iter().copied().collect();
    // Each Paris trace is one flow; different destination ports are different flows. With a
    // per-flow hash, 32 flows all landing on one router would have odds of 2^-31.
    for port in (33434..).step_by(97).take(32) {
        if seen == want {
            break;
        }
        let out = lab.exec(
            "vp-us",
            &[
                "scamper",
                "-c",
                &format!("trace -P udp-paris -d {port}"),
                "-i",
                &dest,
            ],
        );
        let hops = parse_scamper(&String::from_utf8_lossy(&out.stdout));
        if let Some((2, Some(addr), _)) = hops.get(1) {
            seen.insert(plan.owner(*addr).expect("lab address"));
        }
    }
    assert_eq!(seen, want, "flows hashed onto both ECMP routers");
}
