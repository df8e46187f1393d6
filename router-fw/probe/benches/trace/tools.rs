//! The tools under comparison, each run on the same targets in the source namespace, and the
//! scoring of their hop lists against the hops that exist in the topology.

use crate::topology::{R1, R2A, R2B, R3, SRC};
use matador_probe::trace::{self, Protocol, Target, TraceConfig};
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

/// r4's address as seen from the source.
const R4: &str = "198.18.6.2";

/// A benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Every hop answers every probe.
    EveryHop,
    /// The kernel's default ICMP rate limits on every router.
    RateLimited,
    /// r4 silent, every tenth target silent; default rate limits.
    Silent,
}

/// What one tool did.
pub struct Outcome {
    /// Wall time.
    pub wall_s: f64,
    /// Probes sent, when the tool says.
    pub probes: Option<u64>,
    /// Responder per TTL per target (`None`: silent).
    pub hops: Vec<Vec<Option<String>>>,
    /// Peak RSS.
    pub rss_kib: Option<u64>,
    /// The floor of this run.
    pub floor_s: Option<f64>,
}

impl Scenario {
    /// Its name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::EveryHop => "every hop answers",
            Scenario::RateLimited => "ICMP rate limits",
            Scenario::Silent => "silent hop + dst",
        }
    }

    /// `n` targets; in the silent scenario every tenth is a silent destination.
    pub fn targets(self, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                if self == Scenario::Silent && i % 10 == 9 {
                    format!("198.18.127.{}", 1 + i / 10 % 250)
                } else {
                    format!("198.18.{}.{}", 64 + i / 250, 1 + i % 250)
                }
            })
            .collect()
    }

    fn silent_target(t: &str) -> bool {
        t.starts_with("198.18.127.")
    }

    /// The time the routers' rate limits force (Linux: 6 back to back, then 1 a second per
    /// router): the balancer's hop (two routers) must answer every target itself, as no
    /// other target's answer stands in for a load-balanced hop.
    pub fn forced_s(self, targets: &[String]) -> f64 {
        if self == Scenario::EveryHop {
            return 0.0;
        }
        (targets.len() as f64 - 2.0 * 6.0).max(0.0) / 2.0
    }

    /// Targets that can answer.
    pub fn reachable(self, targets: &[String]) -> usize {
        targets.iter().filter(|t| !Self::silent_target(t)).count()
    }

    /// (hops found, hops that answer) over all targets.
    pub fn score(self, targets: &[String], hops: &[Vec<Option<String>>]) -> (usize, usize) {
        let (mut found, mut exist) = (0, 0);
        for (i, t) in targets.iter().enumerate() {
            let expect: Vec<Vec<&str>> = vec![
                vec![R1],
                vec![R2A, R2B],
                vec![R3],
                vec![R4],
                vec![t.as_str()],
            ];
            for (ttl, ok) in expect.iter().enumerate() {
                let answers = match ttl {
                    3 => self != Scenario::Silent,
                    4 => !Self::silent_target(t),
                    _ => true,
                };
                if !answers {
                    continue;
                }
                exist += 1;
                let got = hops.get(i).and_then(|h| h.get(ttl)).cloned().flatten();
                if got.is_some_and(|g| ok.contains(&g.as_str())) {
                    found += 1;
                }
            }
        }
        (found, exist)
    }
}

fn config() -> TraceConfig {
    TraceConfig {
        proto: Protocol::Tcp,
        port: Some(80),
        rate_pps: crate::RATE,
        wait: Duration::from_secs(1),
        ..TraceConfig::default()
    }
}

/// The child: traces the targets in the file, prints hop lists, counters and peak RSS.
pub fn child(file: &str) {
    let text = std::fs::read_to_string(file).expect("targets");
    let targets: Vec<Target> = text
        .lines()
        .map(|l| Target::new(l.parse().unwrap(), l))
        .collect();
    let c = config();
    let run = trace::trace(&c, &targets).expect("trace");
    let mut out = std::io::stdout().lock();
    let mut max_rtt: f64 = 0.0;
    for r in &run.results {
        let hops: Vec<Option<String>> = r
            .result
            .iter()
            .map(|h| h.responders().first().map(|s| s.to_string()))
            .collect();
        for h in &r.result {
            for x in &h.result {
                if let trace::AtlasReply::Reply(p) = x {
                    max_rtt = max_rtt.max(p.rtt);
                }
            }
        }
        writeln!(out, "{}", serde_json::to_string(&hops).unwrap()).unwrap();
    }
    let s = run.stats;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("0");
    let wait = if s.schedule.timeouts > 0 {
        c.wait.as_secs_f64()
    } else {
        0.0
    };
    let floor = s.schedule.sent as f64 / f64::from(c.rate_pps) + max_rtt / 1000.0 + wait;
    writeln!(
        out,
        "STATS {} {} {} {floor}",
        s.schedule.sent,
        hwm,
        (s.ended_ns - s.started_ns) as f64 / 1e9
    )
    .unwrap();
}

fn write_targets(targets: &[String]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("mtt-bench-targets-{}.txt", std::process::id()));
    std::fs::write(&path, targets.join("\n") + "\n").unwrap();
    path
}

/// This engine, in a child process in the source namespace.
pub fn ours(targets: &[String]) -> Outcome {
    let file = write_targets(targets);
    let exe = std::env::current_exe().unwrap();
    let start = Instant::now();
    let out = Command::new("ip")
        .args(["netns", "exec", SRC])
        .arg(exe)
        .env(crate::CHILD, &file)
        .output()
        .expect("child");
    let wall_s = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "child: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut o = Outcome {
        wall_s,
        probes: None,
        hops: Vec::new(),
        rss_kib: None,
        floor_s: None,
    };
    for line in text.lines() {
        if let Some(stats) = line.strip_prefix("STATS ") {
            let v: Vec<&str> = stats.split_whitespace().collect();
            o.probes = v[0].parse().ok();
            o.rss_kib = v[1].parse().ok();
            o.wall_s = v[2].parse().unwrap_or(wall_s);
            o.floor_s = v[3].parse().ok();
        } else {
            o.hops.push(serde_json::from_str(line).unwrap());
        }
    }
    o
}

/// scamper on all targets at once: at its defaults, or tuned (high rate, many traces at
/// once, 1 s wait). Not tuned: TTLs in flight (`-N`): scamper 20211212's TCP method then no
/// longer recognises the target's RSTs and every trace ends in its gap limit.
pub fn scamper(targets: &[String], tuned: bool) -> Outcome {
    let file = write_targets(targets);
    let mut args = vec![
        "netns".to_string(),
        "exec".into(),
        SRC.into(),
        "scamper".into(),
        "-O".into(),
        "json".into(),
    ];
    if tuned {
        args.extend([
            "-p".into(),
            crate::RATE.to_string(),
            "-w".into(),
            "1000".into(),
        ]);
        args.extend(["-c".into(), "trace -P tcp -d 80 -q 3 -w 1".into()]);
    } else {
        args.extend(["-c".into(), "trace -P tcp -d 80".into()]);
    }
    args.extend(["-f".into(), file.display().to_string()]);
    let start = Instant::now();
    let out = Command::new("ip").args(&args).output().expect("scamper");
    let wall_s = start.elapsed().as_secs_f64();
    let mut by_dst = std::collections::HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["type"] != "trace" {
            continue;
        }
        let mut hops: Vec<Option<String>> = Vec::new();
        for h in v["hops"].as_array().into_iter().flatten() {
            let ttl = h["probe_ttl"].as_u64().unwrap_or(0) as usize;
            if ttl == 0 {
                continue;
            }
            if hops.len() < ttl {
                hops.resize(ttl, None);
            }
            if hops[ttl - 1].is_none() {
                hops[ttl - 1] = h["addr"].as_str().map(str::to_string);
            }
        }
        by_dst.insert(v["dst"].as_str().unwrap_or_default().to_string(), hops);
    }
    let hops = targets
        .iter()
        .map(|t| by_dst.remove(t).unwrap_or_default())
        .collect();
    Outcome {
        wall_s,
        probes: None,
        hops,
        rss_kib: None,
        floor_s: None,
    }
}

/// `traceroute -T` (TCP SYN to port 80), one target after the other, as it is used.
pub fn traceroute(targets: &[String]) -> Outcome {
    let start = Instant::now();
    let mut hops = Vec::new();
    for t in targets {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                SRC,
                "traceroute",
                "-T",
                "-p",
                "80",
                "-n",
                "-q",
                "3",
                "-w",
                "1",
                "-m",
                "30",
                t,
            ])
            .output()
            .expect("traceroute");
        let mut list = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines().skip(1) {
            let addr = line
                .split_whitespace()
                .skip(1)
                .find(|w| w.parse::<std::net::IpAddr>().is_ok());
            list.push(addr.map(str::to_string));
        }
        hops.push(list);
    }
    Outcome {
        wall_s: start.elapsed().as_secs_f64(),
        probes: None,
        hops,
        rss_kib: None,
        floor_s: None,
    }
}
