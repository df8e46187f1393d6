//! `cargo xtask demo` (the main job) and `cargo xtask test` (the whole test suite), plus
//! `cargo xtask bench-campaign` (campaign overhead). Each installs what it needs first,
//! idempotently.

mod budget;
mod budget_netns;
mod cross;
mod demo;
mod dist;
mod fuzz;
mod openwrt;
mod qemu;
mod setup;

use anyhow::{bail, Result};
use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::run(),
        Some("test") => test(),
        Some("bench-campaign") => demo::bench_campaign(args.get(1).and_then(|n| n.parse().ok())),
        Some("dist") => dist::run(),
        Some("test-aarch64") => qemu::run(),
        Some("cross-and-fuzz") => cross_and_fuzz(),
        Some("budget") => budget::run(),
        Some("setup") => setup::require_root("setup").and_then(|_| setup::ensure_packages()),
        _ => {
            eprintln!("usage: cargo xtask demo | test | test-aarch64 | cross-and-fuzz | dist | budget | setup | bench-campaign [N]");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

/// The whole test suite: formatting, lints, unit tests, lab tests (as root), bounded fuzzing.
///
/// The lab tests mostly wait (apps' timers, tunnels, traces); the aarch64 tests under qemu
/// and the fuzzers mostly compute. So the latter run beside `cargo test`, in a child
/// `cargo xtask cross-and-fuzz` at low priority whose output goes to a log file, printed
/// when it fails. That keeps the suite under CI's 30 minutes on two cores.
fn test() -> Result<()> {
    setup::require_root("test")?;
    setup::ensure_packages()?;
    setup::ensure_components()?;
    setup::run(Command::new("cargo").args(["fmt", "--all", "--check"]))?;
    setup::run(Command::new("cargo").args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The lab tests' routers run matador-routerd, which `cargo test` alone does not build
    // (the router crate has no integration test that would ask for its binary).
    setup::run(Command::new("cargo").args(["build", "--workspace", "--bins"]))?;
    openwrt::check()?;
    setup::ensure_geo_db()?;
    setup::run(Command::new("cargo").args(["test", "--workspace", "--no-run"]))?;
    let log_path = std::path::Path::new("target/cross-and-fuzz.log");
    let log = std::fs::File::create(log_path)?;
    println!(
        "xtask: aarch64 tests under qemu and fuzzing run beside the tests (log: {})",
        log_path.display()
    );
    // This very program, through /proc: `cargo test` above relinks target/debug/xtask, and
    // the path of the running one then names a deleted file.
    let mut beside = Command::new("nice")
        .args(["-n", "10"])
        .arg(format!("/proc/{}/exe", std::process::id()))
        .arg("cross-and-fuzz")
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let tests = Command::new("cargo")
        .args(["test", "--workspace", "--no-fail-fast"])
        .status();
    let beside = beside.wait()?;
    if !beside.success() {
        let text = std::fs::read_to_string(log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        for line in tail.into_iter().rev() {
            eprintln!("{line}");
        }
        bail!(
            "aarch64 tests or fuzzing failed (whole log: {})",
            log_path.display()
        );
    }
    println!("xtask: aarch64 tests under qemu and fuzzing passed");
    if !tests?.success() {
        bail!("cargo test failed");
    }
    Ok(())
}

/// The probe's and the router's unit tests for aarch64 musl under qemu-aarch64-static,
/// then every fuzz target for a bounded time.
fn cross_and_fuzz() -> Result<()> {
    // Both run, so one failure does not hide the other's result.
    let cross = qemu::run();
    let fuzz = fuzz::run_all();
    match (cross, fuzz) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Err(c), Err(f)) => bail!("{c:#}; and {f:#}"),
    }
}
