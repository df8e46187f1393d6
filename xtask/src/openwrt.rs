//! The OpenWrt packaging's checks (`openwrt/tests/run.sh`): shellcheck, the procd init
//! script against stub procd/UCI, the uci-defaults scripts, `images/build.sh`, the package
//! Makefile, and the daemon's verdict on the shipped `/etc/config/matador`.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the harness with the daemon `cargo build` made (debug, in `CARGO_TARGET_DIR` or
/// `target`), so the shipped UCI config is checked by the real parser.
pub fn check() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the workspace root")?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let daemon = std::path::absolute(target.join("debug/matador-routerd"))?;
    super::setup::run(
        Command::new(root.join("openwrt/tests/run.sh")).env("MATADOR_ROUTERD", daemon),
    )
}
