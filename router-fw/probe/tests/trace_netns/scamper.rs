//! scamper as the reference: runs `scamper -O json` in the source namespace and reads the hop
//! list of its trace (responder per TTL, `None` for a silent hop).

use std::collections::BTreeMap;
use std::process::Command;

/// One scamper trace: stop reason and responder per TTL up to the last TTL probed.
#[derive(Debug)]
pub struct ScamperTrace {
    /// scamper's stop reason (`COMPLETED`, `GAPLIMIT`, …).
    pub stop_reason: String,
    /// Responder per TTL, from TTL 1 to the highest TTL scamper reports.
    pub hops: Vec<Option<String>>,
}

/// Runs `trace <options>` to `target` inside namespace `ns`.
pub fn trace(ns: &str, options: &str, target: &str) -> ScamperTrace {
    let cmd = format!("trace {options}");
    let out = Command::new("ip")
        .args([
            "netns", "exec", ns, "scamper", "-O", "json", "-c", &cmd, "-i", target,
        ])
        .output()
        .expect("scamper (installed with the test tools) must run");
    assert!(
        out.status.success(),
        "scamper: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "trace")
        .unwrap_or_else(|| panic!("no trace in scamper output: {text}"));
    let mut by_ttl: BTreeMap<u64, String> = BTreeMap::new();
    for h in v["hops"].as_array().into_iter().flatten() {
        let ttl = h["probe_ttl"].as_u64().unwrap_or(0);
        let addr = h["addr"].as_str().unwrap_or_default().to_string();
        by_ttl.entry(ttl).or_insert(addr);
    }
    let probed = v["hop_count"]
        .as_u64()
        .unwrap_or(0)
        .max(by_ttl.keys().copied().max().unwrap_or(0));
    let hops = (1..=probed).map(|t| by_ttl.get(&t).cloned()).collect();
    ScamperTrace {
        stop_reason: v["stop_reason"].as_str().unwrap_or_default().to_string(),
        hops,
    }
}
