//! Starting the emulated phones: one `matador-host lab phone` process per phone, inside the
//! phone's namespace, each serving ADB on its own loopback until the daemon forwards to it.

use super::spawn::{log_tail, spawn_in, wait_for_path};
use super::state::{LabState, ProcessRecord};
use super::up::DaemonCommand;
use super::LabError;
use crate::netns::Netns;
use crate::plan::Plan;
use crate::topology::NodeRole;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// File a phone writes once its ADB endpoint listens.
pub const PHONE_READY_FILE: &str = "adbd.ready";

/// Where a phone keeps its files (`/sdcard`, settings, logcat, leases).
pub fn phone_dir(lab_dir: &Path, phone: &str) -> PathBuf {
    lab_dir.join("phones").join(phone)
}

/// Starts every phone of the plan and waits until each one's ADB endpoint listens.
pub fn start_all(
    plan: &Plan,
    daemon: &DaemonCommand,
    dir: &Path,
    state: &mut LabState,
) -> Result<(), LabError> {
    let phones: Vec<_> = plan
        .nodes
        .iter()
        .filter(|n| matches!(n.role, NodeRole::Phone(_)))
        .collect();
    for node in &phones {
        let pdir = phone_dir(dir, &node.name);
        std::fs::create_dir_all(&pdir).map_err(|e| LabError::io("phone directory", e))?;
        let _ = std::fs::remove_file(pdir.join(PHONE_READY_FILE));
        let ns = Netns::open(&node.namespace)?;
        let mut cmd = Command::new(&daemon.program);
        cmd.args(&daemon.phone_args)
            .arg("--plan")
            .arg(dir.join("plan.json"))
            .arg("--name")
            .arg(&node.name)
            .arg("--dir")
            .arg(dir);
        let pid = spawn_in(
            &ns,
            &mut cmd,
            &dir.join("logs").join(format!("phone-{}.log", node.name)),
        )?;
        state.processes.push(ProcessRecord {
            pid,
            what: format!("phone {}", node.name),
        });
    }
    state.save(dir).map_err(|e| LabError::io("state file", e))?;
    for node in &phones {
        let ready = phone_dir(dir, &node.name).join(PHONE_READY_FILE);
        wait_for_path(&ready, Duration::from_secs(20)).map_err(|e| {
            let log = dir.join("logs").join(format!("phone-{}.log", node.name));
            LabError::Daemon(format!(
                "phone {} did not start: {e}: {}",
                node.name,
                log_tail(&log, 5)
            ))
        })?;
    }
    Ok(())
}
