//! The demo (README command 1): bring the virtual lab up, run the campaign in
//! `examples/demo.yaml` (the lab's three messengers across a few vantage-node pairs), print
//! the analysis tables and write the HTML report, and tear the lab down again (also on
//! failure). Results, screenshots and the report land in `target/demo/`.

use crate::setup;
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A private adb server, so the demo neither uses nor disturbs the user's.
const ADB_PORT: &str = "15036";

/// Tears the lab down and stops the demo's adb server when dropped, so a failed demo leaves
/// nothing behind.
struct LabGuard {
    host: PathBuf,
    adb_home: PathBuf,
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        let _ = Command::new("adb")
            .args(["-P", ADB_PORT, "kill-server"])
            .env("HOME", &self.adb_home)
            .status();
        let _ = Command::new(&self.host).args(["lab", "down"]).status();
    }
}

/// The lab up for one of the campaign jobs, with its output folder (emptied) and the guard
/// that tears it all down.
struct CampaignLab {
    host: PathBuf,
    out: PathBuf,
    _guard: LabGuard,
}

impl CampaignLab {
    /// Set-up, build, `target/<folder>/`, and the lab up.
    fn start(what: &str, folder: &str) -> Result<CampaignLab> {
        setup::require_root(what)?;
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
        let host = std::fs::canonicalize(setup::host_binary())?;
        let out =
            PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
                .join(folder);
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(out.join("adb-home"))?;
        let out = std::fs::canonicalize(&out)?;
        setup::run(Command::new(&host).args(["lab", "up"]))?;
        let guard = LabGuard {
            host: host.clone(),
            adb_home: out.join("adb-home"),
        };
        Ok(CampaignLab {
            host,
            out,
            _guard: guard,
        })
    }

    /// The results store of the run.
    fn db(&self) -> PathBuf {
        self.out.join("results.sqlite")
    }

    /// `campaign run examples/demo.yaml` with `extra` options, screenshots in the output
    /// folder, the lab's phones through a private adb server with its own key.
    fn run_demo_campaign(&self, extra: &[&str]) -> Result<()> {
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo.yaml");
        setup::run(
            Command::new(&self.host)
                .args(["campaign", "--db"])
                .arg(self.db())
                .arg("run")
                .arg(&spec)
                .args(extra)
                .arg("--out")
                .arg(self.out.join("screenshots"))
                .env("ANDROID_ADB_SERVER_PORT", ADB_PORT)
                .env("HOME", self.out.join("adb-home")),
        )
    }
}

/// `cargo xtask bench-campaign [N]`: the campaign overhead — wall time of N measurements of
/// the demo campaign (default: all 12) against the sum of their configured timers, with the
/// lab's two router pairs in parallel. The campaign prints the ratio itself.
pub fn bench_campaign(n: Option<usize>) -> Result<()> {
    let lab = CampaignLab::start("bench-campaign", "bench-campaign")?;
    let limit = n.map(|n| n.to_string());
    let extra: Vec<&str> = match &limit {
        Some(n) => vec!["--limit", n],
        None => Vec::new(),
    };
    lab.run_demo_campaign(&extra)?;
    println!("goal: < 5 % overhead (ratio < 1.05x) with the router pairs in parallel");
    Ok(())
}

pub fn run() -> Result<()> {
    let lab = CampaignLab::start("demo", "demo")?;
    setup::ensure_geo_db()?;
    let host = &lab.host;
    setup::run(Command::new(host).args(["lab", "status"]))?;
    let status: Value = serde_json::from_slice(
        &Command::new(host)
            .args(["lab", "status", "--json"])
            .output()?
            .stdout,
    )
    .context("reading `lab status --json`")?;
    let lab_geo = status["mmdb"]
        .as_str()
        .context("the lab's geolocation database")?
        .to_string();

    lab.run_demo_campaign(&[])?;
    println!();
    let db = lab.db();
    // The lab's own database knows its documentation-range addresses (the default one,
    // for the real Internet, would call them all unknown).
    setup::run(
        Command::new(host)
            .args(["analyze", "--db"])
            .arg(&db)
            .args(["--geo-db", &lab_geo]),
    )?;
    let report = lab.out.join("report.html");
    setup::run(
        Command::new(host)
            .args(["analyze", "--db"])
            .arg(&db)
            .args(["--geo-db", &lab_geo, "--format", "html", "--out"])
            .arg(&report),
    )?;
    println!(
        "\nreport: {}\nscreenshots: {}",
        report.display(),
        lab.out.join("screenshots").display()
    );
    Ok(())
}
