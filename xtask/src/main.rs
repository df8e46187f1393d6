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
        Some("budget") => budget::run(),
        Some("setup") => setup::require_root("setup").and_then(|_| setup::ensure_packages()),
        _ => {
            eprintln!("usage: cargo xtask demo | test | test-aarch64 | dist | budget | setup | bench-campaign [N]");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

/// The whole test suite: formatting, lints, unit tests, lab tests (as root), bounded fuzzing.
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
    // The probe's and the router's unit tests for aarch64 musl under qemu-aarch64-static.
    qemu::run()?;
    // Fuzzing before the tests, so the test runner's summary is the last thing printed.
    fuzz::run_all()?;
    // The lab tests' routers run matador-routerd, which `cargo test` alone does not build
    // (the router crate has no integration test that would ask for its binary).
    setup::run(Command::new("cargo").args(["build", "--workspace", "--bins"]))?;
    openwrt::check()?;
    setup::ensure_geo_db()?;
    let status = Command::new("cargo")
        .args(["test", "--workspace", "--no-fail-fast"])
        .status()?;
    if !status.success() {
        bail!("cargo test failed");
    }
    Ok(())
}
