//! Starting long-lived helper processes inside namespaces, detached from the caller.

use crate::netns::{Netns, NetnsError};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `cmd` in `ns`, in its own session, output appended to `log`; returns its pid.
pub fn spawn_in(ns: &Netns, cmd: &mut Command, log: &Path) -> Result<i32, NetnsError> {
    let line = format!("{cmd:?}");
    let fail = |detail: String| NetnsError::Command {
        command: line.clone(),
        detail,
    };
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| fail(e.to_string()))?;
    let err = out.try_clone().map_err(|e| fail(e.to_string()))?;
    ns.command(cmd, true)?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    i32::try_from(child.id()).map_err(|e| fail(e.to_string()))
}

/// The last `n` lines of a log file, joined with ` | ` (for start-up errors).
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(n).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Waits until a path exists.
pub fn wait_for_path(path: &Path, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not appear within {:?}",
                path.display(),
                timeout
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}
