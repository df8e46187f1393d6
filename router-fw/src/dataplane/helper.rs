//! Supervised helper processes (wireguard-go, hostapd, dnsmasq): started with a pid file,
//! restarted when they exit, killed on stop; the pid files let a restart after kill -9 clean
//! what the crashed run left.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::{Child, Command};

/// Which tunnel a helper carries: such a helper is rebuilt with its tunnel's configuration,
/// not merely restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TunnelOf {
    /// The tunnel of AP `i` to its vantage node.
    Ap(usize),
    /// The management tunnel to the controller.
    Management,
    /// The WireGuard ingress of AP `i` (phones are its peers).
    Ingress(usize),
}

/// A supervised helper process.
pub(super) struct Helper {
    pub(super) what: String,
    pub(super) program: String,
    pub(super) args: Vec<String>,
    pub(super) envs: Vec<(String, String)>,
    pub(super) child: Option<Child>,
    /// The AP whose tunnel this is: rebuilt as a whole (process and configuration), not
    /// merely restarted.
    pub(super) tunnel_of: Option<TunnelOf>,
}

impl Helper {
    pub(super) fn new(what: &str, program: &str, args: &[String]) -> Helper {
        Helper {
            what: what.into(),
            program: program.into(),
            args: args.to_vec(),
            envs: Vec::new(),
            child: None,
            tunnel_of: None,
        }
    }

    pub(super) fn start(&mut self, run_dir: &Path) -> Result<()> {
        let child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} ({})", self.what, self.program))?;
        if let Some(pid) = child.id() {
            let _ = std::fs::write(pid_file(run_dir, &self.what), pid.to_string());
        }
        tracing::info!(helper = %self.what, pid = child.id(), "started");
        self.child = Some(child);
        Ok(())
    }

    /// Why the helper is no longer running, if it is not.
    pub(super) fn exited(&mut self) -> Option<String> {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(status))) => Some(status.to_string()),
            Some(Err(e)) => Some(e.to_string()),
            Some(Ok(None)) => None,
            None => Some("not started".into()),
        }
    }

    /// Restarts the helper if it has exited.
    pub(super) fn keep_alive(&mut self, run_dir: &Path) {
        if let Some(why) = self.exited() {
            tracing::warn!(helper = %self.what, status = %why, "exited; restarting");
            if let Err(e) = self.start(run_dir) {
                tracing::error!(helper = %self.what, error = %e, "restart failed");
            }
        }
    }

    pub(super) async fn stop(&mut self, run_dir: &Path) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
        let _ = std::fs::remove_file(pid_file(run_dir, &self.what));
    }
}

fn pid_file(run_dir: &Path, what: &str) -> PathBuf {
    run_dir
        .join("pids")
        .join(format!("{}.pid", what.replace(' ', "-")))
}

/// Kills helpers a crashed run left (their pid files), so ports and sockets are free.
pub(super) fn kill_leftovers(run_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(run_dir.join("pids")) else {
        return;
    };
    for e in entries.flatten() {
        if let Some(pid) = std::fs::read_to_string(e.path())
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        {
            // SAFETY: kill with a valid signal; a pid that is gone gives ESRCH, ignored.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            tracing::info!(pid, file = %e.path().display(), "killed a helper left by an earlier run");
        }
        let _ = std::fs::remove_file(e.path());
    }
}

/// Waits up to 5 s for a file (a UAPI socket, a pid file) to appear.
pub(super) async fn wait_for(path: &Path) -> Result<()> {
    for _ in 0..500 {
        if path.exists() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("{} did not appear", path.display())
}
