//! Tearing the lab down: stop its processes, delete its namespaces, remove its files. Works
//! from the state file, and also without one: every `mtd-` namespace and every process
//! inside one is removed, so a crashed run never blocks the next.

use super::state::{alive, LabState};
use crate::netns;
use crate::plan::NAMESPACE_PREFIX;
use std::path::Path;
use std::time::{Duration, Instant};

/// What a tear-down removed.
#[derive(Debug, Default)]
pub struct DownReport {
    /// Namespaces deleted.
    pub namespaces: usize,
    /// Processes stopped.
    pub processes: usize,
    /// Seconds it took.
    pub seconds: f64,
}

/// Removes everything a lab (running, half-built or crashed) left behind.
pub fn teardown(dir: &Path) -> Result<DownReport, netns::NetnsError> {
    let start = Instant::now();
    let state = LabState::load(dir);
    let mut report = DownReport::default();

    let mut pids: Vec<i32> = state
        .iter()
        .flat_map(|s| s.processes.iter().map(|p| p.pid))
        .collect();
    if let Ok(text) = std::fs::read_to_string(dir.join("daemon.pid")) {
        pids.extend(text.trim().parse::<i32>().ok());
    }
    let mut namespaces = netns::list(NAMESPACE_PREFIX);
    for n in state.iter().flat_map(|s| s.namespaces.iter()) {
        if !namespaces.contains(n) && n.starts_with(NAMESPACE_PREFIX) {
            namespaces.push(n.clone());
        }
    }
    for ns in &namespaces {
        if let Some(inode) = netns::Netns::open(ns).ok().and_then(|n| n.inode()) {
            pids.extend(netns::pids_in(inode));
        }
    }
    pids.sort_unstable();
    pids.dedup();
    // SAFETY: getpid has no preconditions; never signal ourselves.
    let me = unsafe { libc::getpid() };
    pids.retain(|&p| p != me && p > 1);
    report.processes = stop(&pids);

    for ns in &namespaces {
        netns::delete(ns)?;
        report.namespaces += 1;
    }
    for sock in state.iter().flat_map(|s| s.wg_sockets.iter()) {
        let _ = std::fs::remove_file(sock);
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| netns::NetnsError::Sys {
            name: dir.display().to_string(),
            what: "remove lab directory",
            source: e,
        })?;
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// SIGTERM, a short grace period, then SIGKILL for whatever is left. Returns how many.
fn stop(pids: &[i32]) -> usize {
    let live: Vec<i32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    for &p in &live {
        // SAFETY: kill with a valid signal.
        unsafe { libc::kill(p, libc::SIGTERM) };
    }
    wait_gone(&live, Duration::from_millis(500));
    for &p in live.iter().filter(|&&p| alive(p)) {
        // SAFETY: kill with a valid signal.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    // A killed process still holds its sockets (the phones' ADB ports) until the kernel has
    // closed every TUN queue it had; the next `lab up` must not race that.
    wait_gone(&live, Duration::from_secs(10));
    live.len()
}

/// SIGKILL at once, as a crash or a pulled cable would end them; waits until they are gone.
pub(super) fn kill_now(pids: &[i32]) -> usize {
    let live: Vec<i32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    for &p in &live {
        // SAFETY: kill with a valid signal.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    wait_gone(&live, Duration::from_secs(10));
    live.len()
}

/// Waits until none of `pids` is alive, or `timeout` has passed.
fn wait_gone(pids: &[i32], timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && pids.iter().any(|&p| alive(p)) {
        std::thread::sleep(Duration::from_millis(10));
    }
}
