//! The budget's private network: two namespaces `mtb-<pid>-router` and `mtb-<pid>-phone`
//! joined by a veth pair (`ap0` on the router, `ph0` on the phone), plus a veth pair `up0`/`up1`
//! inside the router namespace, `up0` its uplink and management interface (192.0.2.1/24, a documentation
//! range). Nothing is added to the host's namespace. Leftovers of a killed run (every
//! namespace named `mtb-*`) are removed first; the guard removes its own on drop, after
//! killing what runs inside them (the daemon and the dnsmasq it started).

use anyhow::{bail, Context, Result};
use std::process::Command;

/// Name prefix of every namespace the budget makes.
pub const PREFIX: &str = "mtb-";

/// The router's management (API) address.
pub const MANAGEMENT: &str = "192.0.2.1";

/// The two namespaces; removed on drop.
pub struct Net {
    pub router: String,
    pub phone: String,
}

impl Net {
    /// Removes leftovers, then builds the namespaces and links.
    pub fn new() -> Result<Net> {
        remove_leftovers();
        let pid = std::process::id();
        let net = Net {
            router: format!("{PREFIX}{pid}-router"),
            phone: format!("{PREFIX}{pid}-phone"),
        };
        for ns in [&net.router, &net.phone] {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        let (r, p) = (net.router.as_str(), net.phone.as_str());
        ip(&[
            "link", "add", "ap0", "netns", r, "type", "veth", "peer", "name", "ph0", "netns", p,
        ])?;
        // The uplink: a veth pair inside the router's namespace (no `dummy` module needed).
        ip(&[
            "-n", r, "link", "add", "up0", "type", "veth", "peer", "name", "up1",
        ])?;
        ip(&[
            "-n",
            r,
            "addr",
            "add",
            &format!("{MANAGEMENT}/24"),
            "dev",
            "up0",
        ])?;
        for (ns, link) in [(r, "up0"), (r, "up1"), (r, "ap0"), (p, "ph0")] {
            ip(&["-n", ns, "link", "set", link, "up"])?;
        }
        Ok(net)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in [&self.router, &self.phone] {
            remove(ns);
        }
    }
}

/// Runs `ip ARGS`, failing with its stderr.
fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip (apt: iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Kills every process in `ns` (all started by a budget run), then deletes it.
fn remove(ns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
    }
    let _ = Command::new("ip").args(["netns", "del", ns]).status();
}

/// Removes every `mtb-*` namespace a killed run left.
fn remove_leftovers() {
    let Ok(list) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        if name.starts_with(PREFIX) {
            println!("xtask: removing leftover namespace {name}");
            remove(name);
        }
    }
}
