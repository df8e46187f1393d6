//! Starting the emulated phones: one `matador-host lab phone` process per phone, inside the
//! phone's namespace, each serving ADB on its own loopback until the daemon forwards to it.

use super::down::kill_now;
use super::spawn::{log_tail, spawn_in, wait_for_path};
use super::state::{alive, LabLock, LabState, ProcessRecord};
use super::up::DaemonCommand;
use super::LabError;
use crate::netns::Netns;
use crate::plan::{NodePlan, Plan};
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
    let phones: Vec<String> = plan
        .nodes
        .iter()
        .filter(|n| matches!(n.role, NodeRole::Phone(_)))
        .map(|n| n.name.clone())
        .collect();
    for name in &phones {
        spawn_phone(plan, daemon, dir, name, state)?;
    }
    state.save(dir).map_err(|e| LabError::io("state file", e))?;
    for name in &phones {
        wait_ready(dir, name)?;
    }
    Ok(())
}

/// Starts one phone's process in its namespace and records it.
fn spawn_phone(
    plan: &Plan,
    daemon: &DaemonCommand,
    dir: &Path,
    name: &str,
    state: &mut LabState,
) -> Result<(), LabError> {
    let node = phone_node(plan, name)?;
    let pdir = phone_dir(dir, name);
    std::fs::create_dir_all(&pdir).map_err(|e| LabError::io("phone directory", e))?;
    let _ = std::fs::remove_file(pdir.join(PHONE_READY_FILE));
    let ns = Netns::open(&node.namespace)?;
    let mut cmd = Command::new(&daemon.program);
    cmd.args(&daemon.phone_args)
        .arg("--plan")
        .arg(dir.join("plan.json"))
        .arg("--name")
        .arg(name)
        .arg("--dir")
        .arg(dir);
    let pid = spawn_in(&ns, &mut cmd, &phone_log(dir, name))?;
    state.processes.push(ProcessRecord {
        pid,
        what: phone_process(name),
    });
    // A cellular phone's VPN runs wireguard-go, whose control socket `lab down` removes.
    let sock = crate::phone::vpn::socket_path(name);
    if matches!(&node.role, NodeRole::Phone(r) if r.is_cellular())
        && !state.wg_sockets.contains(&sock)
    {
        state.wg_sockets.push(sock);
    }
    Ok(())
}

/// Waits until a phone's ADB endpoint listens.
fn wait_ready(dir: &Path, name: &str) -> Result<(), LabError> {
    let ready = phone_dir(dir, name).join(PHONE_READY_FILE);
    wait_for_path(&ready, Duration::from_secs(20)).map_err(|e| {
        LabError::Daemon(format!(
            "phone {name} did not start: {e}: {}",
            log_tail(&phone_log(dir, name), 5)
        ))
    })
}

/// Cuts a phone off, as a crash or a pulled cable does: every process in its namespace (the
/// phone, its DHCP client) is killed at once, so its ADB endpoint refuses connections until
/// [`plug`]. Returns how many processes ended.
pub fn unplug(dir: &Path, name: &str) -> Result<usize, LabError> {
    let _lock = LabLock::take(dir).map_err(|e| LabError::io("lab lock", e))?;
    let mut state = running_state(dir)?;
    let node = phone_node(&state.plan, name)?;
    let ns = Netns::open(&node.namespace)?;
    let mut pids: Vec<i32> = ns.inode().map(crate::netns::pids_in).unwrap_or_default();
    let what = phone_process(name);
    pids.extend(
        state
            .processes
            .iter()
            .filter(|p| p.what == what)
            .map(|p| p.pid),
    );
    pids.sort_unstable();
    pids.dedup();
    // Out of the state first: `lab status` must not see a recorded phone that is dead and
    // call the whole lab degraded.
    state.processes.retain(|p| p.what != what);
    state.save(dir).map_err(|e| LabError::io("state file", e))?;
    let _ = std::fs::remove_file(phone_dir(dir, name).join(PHONE_READY_FILE));
    Ok(kill_now(&pids))
}

/// Starts an unplugged phone again (a fresh boot: Wi-Fi off, no app running) and waits for
/// its ADB endpoint. A phone that is running is left alone.
pub fn plug(daemon: &DaemonCommand, dir: &Path, name: &str) -> Result<bool, LabError> {
    let _lock = LabLock::take(dir).map_err(|e| LabError::io("lab lock", e))?;
    let mut state = running_state(dir)?;
    let what = phone_process(name);
    if state
        .processes
        .iter()
        .any(|p| p.what == what && alive(p.pid))
    {
        return Ok(false);
    }
    state.processes.retain(|p| p.what != what);
    let plan = state.plan.clone();
    spawn_phone(&plan, daemon, dir, name, &mut state)?;
    state.save(dir).map_err(|e| LabError::io("state file", e))?;
    wait_ready(dir, name)?;
    Ok(true)
}

fn running_state(dir: &Path) -> Result<LabState, LabError> {
    LabState::load(dir)
        .filter(|s| s.complete)
        .ok_or_else(|| LabError::Daemon("no lab is up: run `matador-host lab up`".into()))
}

fn phone_node<'p>(plan: &'p Plan, name: &str) -> Result<&'p NodePlan, LabError> {
    plan.nodes
        .iter()
        .find(|n| n.name == name && matches!(n.role, NodeRole::Phone(_)))
        .ok_or_else(|| {
            let phones: Vec<_> = plan
                .nodes
                .iter()
                .filter(|n| matches!(n.role, NodeRole::Phone(_)))
                .map(|n| n.name.as_str())
                .collect();
            LabError::Daemon(format!(
                "no phone {name:?} in the lab (phones: {})",
                phones.join(", ")
            ))
        })
}

fn phone_process(name: &str) -> String {
    format!("phone {name}")
}

fn phone_log(dir: &Path, name: &str) -> PathBuf {
    dir.join("logs").join(format!("phone-{name}.log"))
}
