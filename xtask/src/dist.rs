//! `cargo xtask dist`: static, stripped `matador-routerd` for x86_64 and aarch64 musl, built
//! with the size-first `dist` profile (release + `opt-level = "z"`), copied to
//! `target/dist/<target>/matador-routerd`.

use crate::{cross, setup};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// The binary shipped to routers.
pub const BINARY: &str = "matador-routerd";

/// Builds and copies both targets; prints each size.
pub fn run() -> Result<()> {
    setup::ensure_packages()?;
    let mut built = Vec::new();
    for target in cross::TARGETS {
        built.push((target, build(target)?));
    }
    for (target, path) in &built {
        let size = std::fs::metadata(path)?.len();
        println!(
            "xtask: {target}: {} {size} bytes ({:.2} MiB)",
            path.display(),
            size as f64 / 1048576.0
        );
    }
    Ok(())
}

/// Builds `matador-routerd` for `target` with the `dist` profile, checks that it is static
/// and stripped, and copies it to `target/dist/<target>/`. Returns the copy.
pub fn build(target: &str) -> Result<PathBuf> {
    let env = cross::env_for(target)?;
    setup::run(
        Command::new("nice")
            .args(["-n", "10", "cargo", "build", "--profile", "dist"])
            .args(["--target", target, "-p", "matador-router", "--bin", BINARY])
            .envs(env.iter().map(|(k, v)| (k, v))),
    )?;
    let built = cross::cargo_target_dir()
        .join(target)
        .join("dist")
        .join(BINARY);
    check_static(&built)?;
    let out_dir = cross::workspace_root().join("target/dist").join(target);
    std::fs::create_dir_all(&out_dir)?;
    let out = out_dir.join(BINARY);
    // Copy through a temporary name: a running copy (the budget's daemon) stays intact.
    let tmp = out_dir.join(format!(".{BINARY}.tmp"));
    std::fs::copy(&built, &tmp).with_context(|| format!("copying {}", built.display()))?;
    std::fs::rename(&tmp, &out)?;
    Ok(out)
}

/// `file` must say "statically linked" (or "static-pie linked") and "stripped".
fn check_static(path: &std::path::Path) -> Result<()> {
    let out = Command::new("file")
        .arg("-b")
        .arg(path)
        .output()
        .context("running `file` (apt: file)")?;
    let what = String::from_utf8_lossy(&out.stdout).trim().to_string();
    println!("xtask: {}: {what}", path.display());
    let is_static = what.contains("statically linked") || what.contains("static-pie linked");
    if !is_static || what.contains("not stripped") || !what.contains("stripped") {
        bail!(
            "{} is not a static, stripped binary: {what}",
            path.display()
        );
    }
    Ok(())
}
