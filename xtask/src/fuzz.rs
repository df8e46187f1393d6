//! Bounded fuzzing in the test suite: every cargo-fuzz target of the project runs for a few
//! seconds (`MATADOR_FUZZ_SECONDS`, default 15), so a parser that panics on hostile input
//! fails CI. cargo-fuzz needs nightly flags; `RUSTC_BOOTSTRAP=1` lets this machine's one
//! stable toolchain accept them.

use crate::setup;
use anyhow::{Context, Result};
use std::process::Command;

/// Fuzz crates (relative to the workspace root) and their targets.
pub const TARGETS: &[(&str, &[&str])] = &[
    ("lab", &["adb_message"]),
    (
        "router-fw/probe",
        &[
            "pcap_reader",
            "pcapng_reader",
            "dns",
            "tls_client_hello",
            "quic_initial",
            "http",
            "trace_reply",
        ],
    ),
];

/// Installs cargo-fuzz if missing (from crates.io), then runs each target for a while.
pub fn run_all() -> Result<()> {
    let present = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !present {
        println!("xtask: installing cargo-fuzz (runs the fuzz targets)");
        setup::run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    let seconds = std::env::var("MATADOR_FUZZ_SECONDS").unwrap_or_else(|_| "15".into());
    for (dir, targets) in TARGETS {
        for target in *targets {
            println!("xtask: fuzzing {dir}::{target} for {seconds} s");
            setup::run(
                Command::new("cargo")
                    .current_dir(dir)
                    .env("RUSTC_BOOTSTRAP", "1")
                    // Safe Rust needs no address sanitizer; a panic is what we hunt for.
                    .args(["fuzz", "run", "--sanitizer", "none", target, "--"])
                    .arg(format!("-max_total_time={seconds}")),
            )
            .with_context(|| format!("fuzz target {dir}::{target} found a failing input"))?;
        }
    }
    Ok(())
}
