//! The whole engine against the simulated network: hops and silent hops, the destination,
//! gap limits, Paris over load balancers, rate-limited shared hops with the stop set, the
//! global rate, and the run time against its floor.

use super::*;
use crate::trace::output::AtlasTrace;
use crate::trace::sim::{Router, SimNet};
use crate::trace::{trace_over, Protocol, TraceConfig};
use std::time::Duration;

fn r(a: &str) -> Router {
    Router {
        addr: a.parse().unwrap(),
        silent: false,
    }
}

fn silent(a: &str) -> Router {
    Router {
        addr: a.parse().unwrap(),
        silent: true,
    }
}

fn config(proto: Protocol) -> TraceConfig {
    TraceConfig {
        proto,
        src_port: Some(40000),
        wait: Duration::from_millis(500),
        ..TraceConfig::default()
    }
}

fn run_sim(net: &mut SimNet, c: &TraceConfig, targets: &[IpAddr]) -> (Vec<AtlasTrace>, RunStats) {
    let src: IpAddr = if targets[0].is_ipv6() {
        "2001:db8:1::2".parse().unwrap()
    } else {
        "198.18.1.2".parse().unwrap()
    };
    let flows = targets
        .iter()
        .enumerate()
        .map(|(i, t)| (c.flow(i, *t, src, 0x1234_5678), t.to_string()))
        .collect();
    let run = trace_over(net, c, flows).unwrap();
    (run.results, run.stats)
}

fn hops(t: &AtlasTrace) -> Vec<Option<String>> {
    t.result
        .iter()
        .map(|h| h.responders().first().map(|s| s.to_string()))
        .collect()
}

fn some(v: &[&str]) -> Vec<Option<String>> {
    v.iter()
        .map(|s| if *s == "*" { None } else { Some(s.to_string()) })
        .collect()
}

#[test]
fn every_protocol_and_family_finds_hops_silent_hops_and_the_target() {
    for v6 in [false, true] {
        let (a, b, c, d, t) = if v6 {
            (
                "2001:db8:1::1",
                "2001:db8:2::2",
                "2001:db8:4::2",
                "2001:db8:6::2",
                "2001:db8:100::1",
            )
        } else {
            (
                "198.18.1.1",
                "198.18.2.2",
                "198.18.4.2",
                "198.18.6.2",
                "198.18.64.1",
            )
        };
        for proto in [Protocol::Icmp, Protocol::Udp, Protocol::Tcp] {
            let mut net = SimNet::new();
            let target: IpAddr = t.parse().unwrap();
            net.paths.insert(
                target,
                vec![vec![r(a)], vec![r(b)], vec![silent(c)], vec![r(d)]],
            );
            let (res, _) = run_sim(&mut net, &config(proto), &[target]);
            assert_eq!(hops(&res[0]), some(&[a, b, "*", d, t]), "{proto} v6={v6}");
            assert!(res[0].destination_reached);
            let first = &res[0].result[0].result;
            assert_eq!(first.len(), 3, "three probes per hop");
            assert!(first
                .iter()
                .all(|p| matches!(p, crate::trace::AtlasReply::Reply(x) if x.rtt > 0.0)));
        }
    }
}

#[test]
fn a_silent_target_ends_after_the_gap_limit() {
    let mut net = SimNet::new();
    let t: IpAddr = "198.18.127.1".parse().unwrap();
    net.paths
        .insert(t, vec![vec![r("198.18.1.1")], vec![r("198.18.2.2")]]);
    net.silent_targets.push(t);
    let (res, stats) = run_sim(&mut net, &config(Protocol::Udp), &[t]);
    assert_eq!(
        hops(&res[0]),
        some(&["198.18.1.1", "198.18.2.2", "*", "*", "*", "*", "*"])
    );
    assert!(!res[0].destination_reached);
    // The gap is judged once its probes time out: at most the horizon (8 TTLs) past it was
    // probed, not max TTL's worth.
    assert!(stats.schedule.sent <= (7 + 8) * 3, "{stats:?}");
}

#[test]
fn paris_flows_stay_on_one_branch_of_a_balancer() {
    let mut net = SimNet::new();
    let targets: Vec<IpAddr> = (1..=32)
        .map(|i| format!("198.18.64.{i}").parse().unwrap())
        .collect();
    for t in &targets {
        net.paths.insert(
            *t,
            vec![
                vec![r("198.18.1.1")],
                vec![r("198.18.2.2"), r("198.18.3.2")],
                vec![r("198.18.4.2"), r("198.18.5.2")],
            ],
        );
    }
    for proto in [Protocol::Icmp, Protocol::Udp, Protocol::Tcp] {
        let (res, _) = run_sim(
            &mut net,
            &TraceConfig {
                hop_burst: 0,
                ..config(proto)
            },
            &targets,
        );
        let mut seen = std::collections::BTreeSet::new();
        for t in &res {
            for hop in &t.result[1..3] {
                let addrs = hop.responders();
                assert_eq!(addrs.len(), 1, "{proto}: one flow, one branch: {addrs:?}");
                seen.insert(addrs[0].to_string());
            }
        }
        assert_eq!(
            seen.len(),
            4,
            "{proto}: all branches used across flows: {seen:?}"
        );
    }
}

/// `n` targets behind three shared routers, then one router of their own.
fn shared_prefix(n: usize) -> (SimNet, Vec<IpAddr>) {
    let mut net = SimNet::new();
    net.rate_limit = Some((6.0, 1.0));
    let targets: Vec<IpAddr> = (0..n)
        .map(|i| {
            format!("198.18.{}.{}", 64 + i / 250, 1 + i % 250)
                .parse()
                .unwrap()
        })
        .collect();
    for (i, t) in targets.iter().enumerate() {
        let own = format!("198.19.{}.{}", i / 250, 1 + i % 250);
        net.paths.insert(
            *t,
            vec![
                vec![r("198.18.1.1")],
                vec![r("198.18.2.2")],
                vec![r("198.18.4.2")],
                vec![r(&own)],
            ],
        );
    }
    (net, targets)
}

fn coverage(res: &[AtlasTrace], hops_per_target: usize) -> f64 {
    let found: usize = res
        .iter()
        .map(|t| {
            t.result
                .iter()
                .take(hops_per_target)
                .filter(|h| !h.responders().is_empty())
                .count()
        })
        .sum();
    found as f64 / (res.len() * hops_per_target) as f64
}

#[test]
fn rate_limited_shared_hops_are_covered_with_pacing_and_the_stop_set() {
    let (mut net, targets) = shared_prefix(200);
    let (res, stats) = run_sim(&mut net, &config(Protocol::Tcp), &targets);
    let cov = coverage(&res, 5);
    let wall = (stats.ended_ns - stats.started_ns) as f64 / 1e9;
    assert!(cov >= 0.95, "coverage {cov} {stats:?}");
    assert!(res.iter().all(|t| t.destination_reached));
    assert!(
        stats.schedule.inferred > 0,
        "shared hops came from the stop set: {stats:?}"
    );
    assert!(wall < 30.0, "wall {wall} s {stats:?}");
    // Without pacing or stop set, the same run loses most shared hops to the rate limits.
    let (mut net, targets) = shared_prefix(200);
    let blind = TraceConfig {
        hop_burst: 0,
        min_sharers: 0,
        ..config(Protocol::Tcp)
    };
    let (res, _) = run_sim(&mut net, &blind, &targets);
    assert!(
        coverage(&res, 5) < 0.8,
        "blind coverage {}",
        coverage(&res, 5)
    );
}

#[test]
fn all_ttls_in_flight_keep_the_run_near_its_floor() {
    // 100 targets, 8 answering hops each, no rate limits: the floor is the probes at the
    // global rate plus the slowest round trip.
    let mut net = SimNet::new();
    let targets: Vec<IpAddr> = (1..=100)
        .map(|i| format!("198.18.64.{i}").parse().unwrap())
        .collect();
    for (i, t) in targets.iter().enumerate() {
        let path = (1..=8).map(|h| vec![r(&format!("10.{h}.{i}.1"))]).collect();
        net.paths.insert(*t, path);
    }
    let c = TraceConfig {
        hop_burst: 0,
        rate_pps: 10_000,
        lookahead: 0,
        ..config(Protocol::Icmp)
    };
    let (res, stats) = run_sim(&mut net, &c, &targets);
    assert!(res
        .iter()
        .all(|t| t.destination_reached && t.result.len() == 9));
    let wall = (stats.ended_ns - stats.started_ns) as f64 / 1e9;
    let floor = stats.schedule.sent as f64 / 10_000.0 + 2.0 * 9.0 * 100e-6;
    assert!(
        wall <= 1.1 * floor + 0.002,
        "wall {wall} floor {floor} {stats:?}"
    );
}

#[test]
fn the_global_rate_and_the_window_hold() {
    let mut net = SimNet::new();
    let targets: Vec<IpAddr> = (1..=20)
        .map(|i| format!("198.18.127.{i}").parse().unwrap())
        .collect();
    net.silent_targets = targets.clone();
    let c = TraceConfig {
        rate_pps: 200,
        window: 4,
        gap_limit: 3,
        lookahead: 3,
        ..config(Protocol::Udp)
    };
    let (_, stats) = run_sim(&mut net, &c, &targets);
    assert_eq!(net.sent.len() as u64, stats.schedule.sent);
    // 20 targets, three silent hops end each trace; the horizon (3 TTLs) lets a few more out.
    let sent = stats.schedule.sent;
    assert!((20 * 3 * 3..=20 * 6 * 3).contains(&sent), "{stats:?}");
    let wall = (stats.ended_ns - stats.started_ns) as f64 / 1e9;
    assert!(
        wall >= sent as f64 / 200.0 - 0.05,
        "rate respected: {wall} s"
    );
    // At most 4 of a target's probes in flight: its 9 probes of the silent hops need three
    // waits of 500 ms.
    assert!(wall >= 3.0 * 0.5 - 0.01, "window: {wall} s");
}

#[test]
fn pacing_does_not_slow_a_run_where_shared_hops_answer_everything() {
    // The lab's shape: a shared first hop, a balancer, two more shared routers, then the
    // targets; routers answer every probe. The model of their rate limits must not make the
    // run wait: shared hops come from the stop set once enough targets agree.
    let mut net = SimNet::new();
    let targets: Vec<IpAddr> = (1..=100)
        .map(|i| format!("198.18.64.{i}").parse().unwrap())
        .collect();
    for t in &targets {
        net.paths.insert(
            *t,
            vec![
                vec![r("198.18.1.1")],
                vec![r("198.18.2.2"), r("198.18.3.2")],
                vec![r("198.18.4.2")],
                vec![r("198.18.6.2")],
            ],
        );
    }
    let c = TraceConfig {
        rate_pps: 2000,
        ..config(Protocol::Tcp)
    };
    let (res, stats) = run_sim(&mut net, &c, &targets);
    let wall = (stats.ended_ns - stats.started_ns) as f64 / 1e9;
    assert!(res
        .iter()
        .all(|t| t.destination_reached && t.result.len() == 5));
    assert!(wall < 2.0, "wall {wall} s {stats:?}");
}
