//! Idempotent set-up of a fresh Debian machine: the apt packages the lab and the tests run,
//! and the Rust components the checks use. Prints what it does; does nothing twice.

use anyhow::{bail, Context, Result};
use std::process::Command;

/// Debian packages the lab and its tests use, with why.
pub const PACKAGES: &[(&str, &str)] = &[
    (
        "iproute2",
        "namespaces, links, addresses, routes (ip -batch)",
    ),
    ("nftables", "silent routers and vantage-node NAT"),
    (
        "wireguard-go",
        "userspace WireGuard on vantage nodes (this kernel has no module)",
    ),
    ("wireguard-tools", "wg: keys and WireGuard configuration"),
    ("dnsmasq-base", "vantage-node resolvers, lab routers' DHCP"),
    ("scamper", "reference traceroute the lab is checked with"),
    ("traceroute", "reference traceroute"),
    (
        "mmdb-bin",
        "mmdblookup, to check the lab's geolocation database",
    ),
    (
        "curl",
        "HTTP client for lab tests (whoami through a tunnel)",
    ),
    ("bind9-dnsutils", "dig, DNS client for lab tests"),
    (
        "iputils-ping",
        "ping, for lab checks and the emulated phones' `ping`",
    ),
    ("udhcpc", "the emulated phones' DHCP client"),
    (
        "iptables",
        "the emulated phones' `iptables` (per-app firewall by UID)",
    ),
    (
        "adb",
        "the real adb client the emulated phones are tested with",
    ),
    (
        "python3",
        "a test makes a process whose main thread exits before its other threads",
    ),
    (
        "hostapd",
        "checks that the router's generated access-point config parses",
    ),
    (
        "libnftnl-dev",
        "nftnl, the router daemon's nftables library",
    ),
    ("libmnl-dev", "mnl, netlink sockets for nftnl"),
    ("pkg-config", "finds libnftnl and libmnl when building"),
    (
        "gcc-aarch64-linux-gnu",
        "C cross compiler and linker of the aarch64 musl build (xtask cross.rs)",
    ),
    (
        "linux-libc-dev-arm64-cross",
        "arm64 kernel headers for libmnl/libnftnl of the aarch64 musl build",
    ),
    ("make", "builds libmnl and libnftnl for the musl targets"),
    ("bzip2", "unpacks the libmnl release tarball"),
    ("xz-utils", "unpacks the libnftnl release tarball"),
    (
        "file",
        "checks that the dist binaries are static and stripped",
    ),
    (
        "tcpreplay",
        "replays phone traffic into the router daemon for `cargo xtask budget`",
    ),
    (
        "qemu-user-static",
        "runs the aarch64 unit tests (qemu-aarch64-static) and the aarch64 budget",
    ),
    ("tcpdump", "lab tests capture on a router's uplink"),
    ("procps", "pgrep in lab tests"),
    (
        "age",
        "the reference age CLI the router's at-rest encryption is checked with",
    ),
    (
        "tshark",
        "reference dissector the flow extraction is checked against",
    ),
    (
        "shellcheck",
        "lints the OpenWrt package's and images' shell scripts",
    ),
    (
        "chromium",
        "headless browser that renders the HTML report in the analysis test",
    ),
    (
        "npm",
        "fetches the default geolocation database (`npm pack`, CC0 geo-whois-asn-country)",
    ),
];

/// The built `matador-host` (debug profile, in `CARGO_TARGET_DIR` or `target`).
pub fn host_binary() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
        .join("debug/matador-host")
}

/// Fetches the default geolocation database into the cache once (idempotent, ~1 s).
pub fn ensure_geo_db() -> Result<()> {
    run(Command::new(host_binary()).args([
        "analyze",
        "--fetch-geo-db",
        "--db",
        "/nonexistent/matador-setup-only.sqlite",
    ]))
}

/// Packages whose program may come from elsewhere than Debian (Node.js from NodeSource ships
/// its own npm, and apt then refuses Debian's): present when the program runs.
const PROGRAM_OF: &[(&str, &str)] = &[("npm", "npm")];

fn installed(package: &str) -> bool {
    if let Some((_, program)) = PROGRAM_OF.iter().find(|(p, _)| *p == package) {
        let runs = Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if runs {
            return true;
        }
    }
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Fails with a clear message unless running as root (the lab needs CAP_NET_ADMIN).
pub fn require_root(what: &str) -> Result<()> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .context("running `id -u`")?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        bail!(
            "{what} needs root: it installs packages and builds the virtual lab in network \
             namespaces (CAP_NET_ADMIN). Run it as root, e.g. `sudo -E cargo xtask {what}`."
        );
    }
    Ok(())
}

/// Installs missing apt packages (one `apt-get update` first, only if something is missing).
pub fn ensure_packages() -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        println!("xtask: apt packages present ({} checked)", PACKAGES.len());
        return Ok(());
    }
    for (p, why) in PACKAGES.iter().filter(|(p, _)| missing.contains(p)) {
        println!("xtask: will install {p}: {why}");
    }
    run(Command::new("apt-get")
        .args(["update", "-qq"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(())
}

/// Adds rustup components (clippy, rustfmt) when missing.
pub fn ensure_components() -> Result<()> {
    for (component, probe) in [("clippy", "clippy"), ("rustfmt", "fmt")] {
        let ok = Command::new("cargo")
            .args([probe, "--version"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            println!("xtask: adding rustup component {component}");
            run(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    Ok(())
}

/// Runs a command, echoing it, failing on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    println!("xtask: $ {}", show(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("running {}", show(cmd)))?;
    if !status.success() {
        bail!("{} failed: {status}", show(cmd));
    }
    Ok(())
}

/// A command line as a person would type it.
pub fn show(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
