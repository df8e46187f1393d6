//! Shared by the lab tests: run `matador-host`, hold the lab for one test at a time, and
//! tear it down when the test ends, also when it fails.

#![allow(dead_code)]

pub mod adb;
pub mod api;

use matador_lab::plan::Plan;
use matador_lab::topology::{parse, DEFAULT_TOPOLOGY};
use serde_json::Value;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

static LAB: Mutex<()> = Mutex::new(());

/// Runs matador-host with arguments.
pub fn host(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_matador-host"))
        .args(args)
        .output()
        .expect("matador-host runs")
}

/// Stdout of a successful matador-host run.
pub fn host_ok(args: &[&str]) -> String {
    let out = host(args);
    assert!(
        out.status.success(),
        "matador-host {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Lab tests need root; without it they fail, loudly, rather than skip.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    assert_eq!(uid, 0, "lab tests need root (CAP_NET_ADMIN) to build network namespaces: run `cargo xtask test` as root");
}

/// The running default lab; `lab down` when dropped.
pub struct Lab {
    _serial: MutexGuard<'static, ()>,
    pub plan: Plan,
}

impl Lab {
    /// Takes the lab for this test and brings the default topology up.
    pub fn up() -> Lab {
        let serial = Lab::serial();
        host_ok(&["lab", "up"]);
        Lab {
            _serial: serial,
            plan: default_plan(),
        }
    }

    /// Takes the lab for this test and brings up the topology in `file` (relative to the
    /// workspace root).
    pub fn up_topology(file: &str) -> Lab {
        let serial = Lab::serial();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(file);
        let text = std::fs::read_to_string(&path).expect("topology file");
        let plan =
            Plan::build(&parse(&text, file).expect("topology parses")).expect("topology plans");
        host_ok(&["lab", "up", &path.display().to_string()]);
        Lab {
            _serial: serial,
            plan,
        }
    }

    /// Only serialises with other lab tests, builds nothing.
    pub fn serial() -> MutexGuard<'static, ()> {
        require_root();
        LAB.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `lab status --json`.
    pub fn status(&self) -> Value {
        serde_json::from_str(&host_ok(&["lab", "status", "--json"])).expect("status is JSON")
    }

    /// Runs a command inside a node.
    pub fn exec(&self, node: &str, cmd: &[&str]) -> Output {
        let mut args = vec!["lab", "exec", node, "--"];
        args.extend_from_slice(cmd);
        host(&args)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = host(&["lab", "down"]);
    }
}

/// The built-in topology's plan (the lab's ground truth).
pub fn default_plan() -> Plan {
    Plan::build(&parse(DEFAULT_TOPOLOGY, "default").expect("default parses"))
        .expect("default plans")
}

/// Namespaces with the lab's prefix.
pub fn lab_namespaces() -> Vec<String> {
    matador_lab::netns::list("mtd-")
}
