//! `cargo xtask test-aarch64` (also part of `cargo xtask test`): the probe's and the router
//! daemon's tests built for `aarch64-unknown-linux-musl` (the routers' architecture, static,
//! with the cross-built libnftnl/libmnl) and run under `qemu-aarch64-static` as cargo's
//! runner. Byte order, alignment and word size bugs in parsing, flow extraction and trace
//! matching show up here rather than on a router.
//!
//! Skipped under qemu, by name, printed on every run (see `SKIPPED`): tests that need root for
//! network namespaces (they run natively as root in `cargo xtask test`; qemu-user also
//! translates only NETLINK_ROUTE among the netlink families, so nf_tables and generic
//! netlink fail under it), and tests that re-execute the test binary (no binfmt_misc: the
//! kernel cannot run an aarch64 child). A new test of either kind belongs in `SKIPPED`.

use crate::{cross, setup};
use anyhow::{bail, Result};
use std::process::Command;
use std::time::Instant;

const TARGET: &str = "aarch64-unknown-linux-musl";

/// Test name filters passed as `--skip` (substring match), each with the reason.
pub const SKIPPED: &[(&str, &str)] = &[
    (
        "capture::tests::captures_the_phone_only_inside_a_namespace",
        "root: builds network namespaces and captures with AF_PACKET from a thread in one",
    ),
    (
        "dataplane::firewall_tests::",
        "root: network namespaces and nf_tables batches (qemu-user has no NETLINK_NETFILTER)",
    ),
    (
        "dataplane::firewall_tests_intercept::",
        "root: network namespaces and nf_tables batches (qemu-user has no NETLINK_NETFILTER)",
    ),
    (
        "dataplane::stations::tests::station_events_keep_the_set",
        "root: a network namespace with a real hostapd (run natively as root)",
    ),
    (
        "dataplane::wg_kernel_tests::the_kernel_backend_fails_closed_without_the_module",
        "root: a network namespace and generic netlink (qemu-user has no NETLINK_GENERIC)",
    ),
    (
        "store::tests::a_writer_killed_mid_write_leaves_nothing_half_written",
        "re-executes the test binary, which the kernel cannot run without binfmt_misc",
    ),
];

/// Builds and runs the aarch64 tests; prints how long each half took.
pub fn run() -> Result<()> {
    setup::ensure_packages()?;
    let mut env = cross::env_for(TARGET)?;
    env.push((
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUNNER".into(),
        "qemu-aarch64-static".into(),
    ));
    // Line tables (for backtraces) instead of full debug info, and no incremental state:
    // a tenth of the disk (the full-debug router test binary alone is 140 MB) and faster
    // links. Only target/cross/cargo is affected.
    env.push(("CARGO_PROFILE_DEV_DEBUG".into(), "line-tables-only".into()));
    env.push(("CARGO_INCREMENTAL".into(), "0".into()));
    // Unit tests of both crates, the router's `flows` subcommand tests (in the binary) and the
    // probe's test-data integration test; the others need namespaces or tshark.
    let selection = [
        "-p",
        "matador-probe",
        "-p",
        "matador-router",
        "--lib",
        "--bins",
        "--test",
        "data_files",
    ];
    let started = Instant::now();
    setup::run(
        Command::new("nice")
            .args(["-n", "10", "cargo", "test", "--no-run"])
            .args(["--target", TARGET])
            .args(selection)
            .envs(env.iter().map(|(k, v)| (k, v))),
    )?;
    let built = started.elapsed();
    for (filter, why) in SKIPPED {
        println!("xtask: under qemu, skipping tests matching `{filter}`: {why}");
    }
    let mut cmd = Command::new("cargo");
    cmd.args(["test", "--target", TARGET])
        .args(selection)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .arg("--");
    for (filter, _) in SKIPPED {
        cmd.args(["--skip", filter]);
    }
    let ran = Instant::now();
    println!("xtask: $ {}", setup::show(&cmd));
    let status = cmd.status()?;
    println!(
        "xtask: aarch64 tests: build {:.0} s, run under qemu {:.0} s",
        built.as_secs_f64(),
        ran.elapsed().as_secs_f64()
    );
    if !status.success() {
        bail!("aarch64 tests under qemu failed");
    }
    Ok(())
}
