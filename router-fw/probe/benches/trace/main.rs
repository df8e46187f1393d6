//! `cargo bench -p matador-probe --bench trace` (as root): this engine against scamper and
//! `traceroute -T` on the `mtt-*` namespace topology of the tests, for 10, 100 and 1000
//! targets, in three scenarios: every hop answers (ICMP rate limits off), the kernel's default
//! ICMP rate limits, and a silent router plus 10 % silent destinations (default limits).
//! All tools probe with TCP SYN to port 80.
//!
//! Prints per tool: wall time, probes sent (ours), hops found out of hops that answer,
//! destinations reached, peak RSS (ours), and the floor: probes / rate + slowest RTT (+ the
//! wait when some probe could only time out), or with rate limits the time they force, if
//! longer. Our engine runs in a child process inside the
//! source namespace, so its peak RSS is its own.
//!
//! `MATADOR_BENCH_SIZES=10,100` picks sizes; `MATADOR_BENCH_ALL=1` also runs scamper at its
//! defaults and `traceroute -T` beyond 100 and 10 targets (slow).

#[path = "../../tests/trace_netns/netns.rs"]
mod netns;
#[path = "../../tests/trace_netns/topology.rs"]
#[allow(dead_code)]
mod topology;

mod tools;

use std::time::Duration;
use tools::{Outcome, Scenario};
use topology::{Options, Topology};

/// Our engine runs in a child process; this names the targets file.
const CHILD: &str = "MATADOR_TRACE_BENCH_CHILD";

/// The probe rate of our engine and of tuned scamper.
pub const RATE: u32 = 2000;

fn main() {
    if let Ok(file) = std::env::var(CHILD) {
        tools::child(&file);
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    topology::require_root();
    let sizes: Vec<usize> = std::env::var("MATADOR_BENCH_SIZES")
        .unwrap_or_else(|_| "10,100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let all = std::env::var("MATADOR_BENCH_ALL").is_ok_and(|v| v == "1");
    println!(
        "{:<22} {:>6} {:<16} {:>9} {:>8} {:>14} {:>10} {:>9} {:>9}",
        "scenario",
        "targets",
        "tool",
        "wall s",
        "probes",
        "hops found",
        "reached",
        "RSS KiB",
        "floor s"
    );
    for scenario in [Scenario::EveryHop, Scenario::RateLimited, Scenario::Silent] {
        let options = match scenario {
            Scenario::EveryHop => Options {
                silent_router: false,
                rate_limits: false,
            },
            Scenario::RateLimited => Options {
                silent_router: false,
                rate_limits: true,
            },
            Scenario::Silent => Options {
                silent_router: true,
                rate_limits: true,
            },
        };
        let _topology = Topology::with(options);
        for &n in &sizes {
            let targets = scenario.targets(n);
            let mut runs: Vec<(&str, Outcome)> = vec![("matador", tools::ours(&targets))];
            let settle = || {
                std::thread::sleep(Duration::from_secs(if scenario == Scenario::EveryHop {
                    1
                } else {
                    7
                }))
            };
            settle();
            runs.push(("scamper tuned", tools::scamper(&targets, true)));
            if n <= 100 || all {
                settle();
                runs.push(("scamper default", tools::scamper(&targets, false)));
            }
            if n <= 10 || all {
                settle();
                runs.push(("traceroute -T", tools::traceroute(&targets)));
            }
            for (tool, o) in runs {
                let (found, exist) = scenario.score(&targets, &o.hops);
                let reached = o
                    .hops
                    .iter()
                    .zip(&targets)
                    .filter(|(h, t)| h.iter().any(|x| x.as_deref() == Some(t.as_str())))
                    .count();
                let probes = o.probes.map_or("-".into(), |p| p.to_string());
                let rss = o.rss_kib.map_or("-".into(), |r| r.to_string());
                let forced = scenario.forced_s(&targets);
                let floor = o
                    .floor_s
                    .map_or("-".into(), |f| format!("{:.2}", f.max(forced)));
                println!(
                    "{:<22} {:>6} {:<16} {:>9.2} {:>8} {:>14} {:>10} {:>9} {:>9}",
                    scenario.name(),
                    n,
                    tool,
                    o.wall_s,
                    probes,
                    format!(
                        "{found}/{exist} {:.0}%",
                        100.0 * found as f64 / exist.max(1) as f64
                    ),
                    format!("{reached}/{}", scenario.reachable(&targets)),
                    rss,
                    floor
                );
            }
            settle();
        }
    }
}
