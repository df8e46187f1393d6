//! Lab tests of `matador-routerd trace` against scamper, the reference: on the default
//! topology (a silent router, an equal-cost pair) and on one with two load-balanced stages,
//! for TCP, UDP-Paris and ICMP-Paris with the same ports and flow ids, the hop lists agree
//! TTL by TTL, silent hops as `*` at the same TTLs. The lab keeps the kernel's default ICMP
//! rate limits.

mod common;

use common::Lab;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

fn routerd() -> String {
    std::env::var("MATADOR_ROUTERD").unwrap_or_else(|_| {
        std::path::Path::new(env!("CARGO_BIN_EXE_matador-host"))
            .with_file_name("matador-routerd")
            .display()
            .to_string()
    })
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Responder per TTL (the first probe that got an answer), trailing silent hops dropped.
fn trim(mut hops: Vec<Option<String>>) -> Vec<Option<String>> {
    while hops.last().is_some_and(|h| h.is_none()) {
        hops.pop();
    }
    hops
}

/// Our trace from node `from` to `target`.
fn ours(
    lab: &Lab,
    from: &str,
    proto: &str,
    port: u16,
    src_port: u16,
    target: &str,
) -> Vec<Option<String>> {
    let mut args = vec![
        routerd(),
        "trace".into(),
        "--json".into(),
        "--proto".into(),
        proto.into(),
    ];
    args.extend(["--src-port".into(), src_port.to_string()]);
    if proto != "icmp" {
        args.extend(["--port".into(), port.to_string()]);
    }
    args.push(target.into());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = lab.exec(from, &argv);
    assert!(
        out.status.success(),
        "matador-routerd trace: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = json_lines(&out.stdout)
        .into_iter()
        .next()
        .expect("one trace");
    let hops = t["result"]
        .as_array()
        .expect("hops")
        .iter()
        .map(|h| {
            h["result"]
                .as_array()
                .and_then(|r| r.iter().find_map(|p| p["from"].as_str()))
                .map(str::to_string)
        })
        .collect();
    trim(hops)
}

/// scamper's trace from node `from` to `target` with the same settings.
fn scamper(
    lab: &Lab,
    from: &str,
    method: &str,
    port: u16,
    src_port: u16,
    target: &str,
) -> Vec<Option<String>> {
    let cmd = format!("trace -P {method} -s {src_port} -d {port} -q 3 -w 1 -g 5 -m 30");
    let out = lab.exec(from, &["scamper", "-O", "json", "-c", &cmd, "-i", target]);
    assert!(
        out.status.success(),
        "scamper: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = json_lines(&out.stdout)
        .into_iter()
        .find(|v| v["type"] == "trace")
        .expect("a scamper trace");
    let mut by_ttl: BTreeMap<u64, String> = BTreeMap::new();
    for h in t["hops"].as_array().into_iter().flatten() {
        if let (Some(ttl), Some(addr)) = (h["probe_ttl"].as_u64(), h["addr"].as_str()) {
            by_ttl.entry(ttl).or_insert_with(|| addr.to_string());
        }
    }
    let last = by_ttl.keys().copied().max().unwrap_or(0);
    trim((1..=last).map(|ttl| by_ttl.get(&ttl).cloned()).collect())
}

/// Both tools' hop lists for one target and method; asserts they agree.
fn agree(lab: &Lab, from: &str, method: &str, src_port: u16, target: &str) -> Vec<Option<String>> {
    let (proto, port) = match method {
        "tcp" => ("tcp", 443),
        "udp-paris" => ("udp", 33434),
        // scamper's -d is the constant ICMP checksum; ours for Paris id 1.
        _ => ("icmp", 0x1001),
    };
    let theirs = scamper(lab, from, method, port, src_port, target);
    // Let the routers' ICMP rate limits refill between the two tools.
    std::thread::sleep(Duration::from_millis(1500));
    let mine = ours(lab, from, proto, port, src_port, target);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        mine, theirs,
        "{from} → {target} ({method}, source port {src_port}): ours vs scamper"
    );
    mine
}

fn service(lab: &Lab, name: &str) -> String {
    let status = lab.status();
    status["services"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["name"] == name))
        .and_then(|s| s["address"].as_str())
        .unwrap_or_else(|| panic!("service {name}"))
        .to_string()
}

#[test]
fn hop_lists_equal_scampers_on_the_default_topology() {
    let lab = Lab::up();
    // httpdns (Singapore) lies behind the silent Los Angeles router.
    for name in ["msg-global", "msg-swiss", "httpdns", "analytics"] {
        let target = service(&lab, name);
        for method in ["tcp", "udp-paris", "icmp-paris"] {
            let hops = agree(&lab, "vp-ch", method, 41000, &target);
            assert_eq!(
                hops.last().cloned().flatten().as_deref(),
                Some(target.as_str()),
                "{name} reached"
            );
            if name == "httpdns" {
                assert!(
                    hops.contains(&None),
                    "the silent router shows as *: {hops:?}"
                );
            }
        }
    }
    // From São Paulo to New York: two equal-cost ways through Ashburn.
    let target = service(&lab, "whoami");
    for src_port in [41000, 41001, 41002, 41003] {
        agree(&lab, "vp-br", "tcp", src_port, &target);
    }
}

#[test]
fn hop_lists_equal_scampers_across_two_load_balanced_stages() {
    let lab = Lab::up_topology("lab/topologies/ecmp.yaml");
    let target = service(&lab, "whoami");
    let mut second_hops = BTreeSet::new();
    for src_port in 41000..41006 {
        let hops = agree(&lab, "vp-ch", "tcp", src_port, &target);
        second_hops.extend(hops.get(1).cloned().flatten());
    }
    for src_port in [41000, 41001] {
        agree(&lab, "vp-ch", "udp-paris", src_port, &target);
    }
    assert!(
        second_hops.len() >= 2,
        "the flows took different ways: {second_hops:?}"
    );
}
