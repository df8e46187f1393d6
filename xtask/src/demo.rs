//! The demo: bring the virtual lab up, trace across it from two vantage nodes with the
//! Debian tools, name the countries on the way, send a message between the emulated phones,
//! and tear it down again (also on failure).

use crate::setup;
use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

/// Tears the lab down when dropped, so a failed demo leaves nothing behind.
struct LabGuard(PathBuf);

impl Drop for LabGuard {
    fn drop(&mut self) {
        let _ = Command::new(&self.0).args(["lab", "down"]).status();
    }
}

pub fn run() -> Result<()> {
    setup::require_root("demo")?;
    setup::ensure_packages()?;
    // The lab routers run matador-routerd, which lab up finds beside matador-host.
    setup::run(Command::new("cargo").args([
        "build",
        "--quiet",
        "-p",
        "matador-host",
        "-p",
        "matador-router",
    ]))?;
    let host = setup::host_binary();
    setup::ensure_geo_db()?;
    setup::run(Command::new(&host).args(["lab", "up"]))?;
    let guard = LabGuard(host.clone());
    setup::run(Command::new(&host).args(["lab", "status"]))?;

    let status: Value = serde_json::from_slice(
        &Command::new(&host)
            .args(["lab", "status", "--json"])
            .output()?
            .stdout,
    )
    .context("reading `lab status --json`")?;
    let where_is = addresses(&status);
    for (from, to, method) in [
        ("vp-gb", "msg-geo-cn", "icmp-paris"),
        ("vp-br", "msg-swiss", "tcp -d 443"),
        ("vp-il", "msg-geo-cn", "udp-paris"),
    ] {
        let dest = service_address(&status, to).with_context(|| format!("no address for {to}"))?;
        println!("\n== scamper trace -P {method}: {from} -> {to} ({dest})");
        let out = Command::new(&host)
            .args([
                "lab",
                "exec",
                from,
                "--",
                "scamper",
                "-c",
                &format!("trace -P {method}"),
                "-i",
                &dest,
            ])
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        print!("{text}");
        let countries: Vec<String> = text
            .lines()
            .skip(1)
            .map(|l| match l.split_whitespace().nth(1) {
                Some("*") | None => "*".to_string(),
                Some(ip) => where_is.get(ip).cloned().unwrap_or_else(|| "?".into()),
            })
            .collect();
        println!("   countries: {}", countries.join(" -> "));
    }
    let out_dir =
        PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
            .join("demo");
    crate::demo_phones::run(&status, &out_dir)?;
    drop(guard);
    Ok(())
}

/// Address -> "node (CC)" for every router and service of the running lab.
fn addresses(status: &Value) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for r in status["routers"].as_array().into_iter().flatten() {
        for a in r["addresses"].as_array().into_iter().flatten() {
            if let (Some(a), Some(n), Some(c)) =
                (a.as_str(), r["name"].as_str(), r["country"].as_str())
            {
                map.insert(a.to_string(), format!("{n} ({c})"));
            }
        }
    }
    for s in status["services"].as_array().into_iter().flatten() {
        if let (Some(a), Some(n), Some(c)) = (
            s["address"].as_str(),
            s["name"].as_str(),
            s["country"].as_str(),
        ) {
            map.insert(a.to_string(), format!("{n} ({c})"));
        }
    }
    map
}

fn service_address(status: &Value, name: &str) -> Option<String> {
    status["services"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)?["address"]
        .as_str()
        .map(String::from)
}
