//! The lab's state file: what a running lab is made of (namespaces, processes, keys), so
//! `lab status` can describe it and `lab down` — or the next `lab up` after a crash — can
//! remove exactly what was made.

use crate::plan::Plan;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Default directory of the lab's files (tmpfs: gone with the namespaces at reboot).
pub const DEFAULT_LAB_DIR: &str = "/run/matador-lab";

/// The lab's directory: `MATADOR_LAB_DIR` or the default.
pub fn lab_dir() -> PathBuf {
    std::env::var_os("MATADOR_LAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| DEFAULT_LAB_DIR.into())
}

/// A process the lab started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// Process id.
    pub pid: i32,
    /// What it is (`daemon`, `wireguard-go vp-ch`, `dnsmasq vp-ch`).
    pub what: String,
}

/// A WireGuard client the lab added to a vantage node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerRecord {
    /// The client's public key.
    pub public_key: String,
    /// The tunnel address given to it.
    pub address: std::net::Ipv4Addr,
}

/// A vantage node's run-time facts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VantageRecord {
    /// Node name.
    pub node: String,
    /// WireGuard public key (base64).
    pub public_key: String,
    /// Peers added with `lab add-peer`.
    pub peers: Vec<PeerRecord>,
}

/// Everything a running lab is made of.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    /// Namespaces created (all `mtd-` prefixed).
    pub namespaces: Vec<String>,
    /// Processes started.
    pub processes: Vec<ProcessRecord>,
    /// WireGuard UAPI sockets of the lab's interfaces.
    pub wg_sockets: Vec<PathBuf>,
    /// Vantage nodes' keys and peers.
    pub vantage: Vec<VantageRecord>,
    /// The plan the lab was built from.
    pub plan: Plan,
    /// The geolocation database written for the address plan.
    pub mmdb: PathBuf,
    /// The lab CA's certificate (PEM), trusted by lab clients.
    pub ca_pem: PathBuf,
    /// Whether bring-up finished.
    pub complete: bool,
    /// Seconds `lab up` took.
    pub up_seconds: f64,
}

impl LabState {
    /// Path of the state file in a lab directory.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    /// Reads the state file; `None` when there is none or it is unreadable.
    pub fn load(dir: &Path) -> Option<LabState> {
        let text = std::fs::read_to_string(Self::path(dir)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes the state file atomically (temp + fsync + rename).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::atomic::write_atomically(&Self::path(dir), &json)
    }
}

/// An exclusive lock on the lab, so two `lab up`/`lab down` never interleave.
pub struct LabLock {
    _file: std::fs::File,
}

impl LabLock {
    /// Waits for and takes the lab lock (beside the lab directory, which `down` removes).
    pub fn take(dir: &Path) -> std::io::Result<LabLock> {
        use std::os::fd::AsRawFd;
        let lock_path = dir.with_extension("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path)?;
        // SAFETY: flock on an open descriptor.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(LabLock { _file: file })
    }
}

/// Whether a process is alive (and not a zombie).
pub fn alive(pid: i32) -> bool {
    // A killed process whose leader is already a zombie may still have threads closing its
    // descriptors (the lab daemon's TUN queues take a while), and until the last one is gone
    // its sockets stay bound: count it alive while any thread is not a zombie.
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.filter_map(|t| t.ok()).any(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            .map(|s| {
                // State is the field after the parenthesised command name.
                s.rsplit_once(')')
                    .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
                    .unwrap_or(false)
            })
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::alive;
    use std::time::{Duration, Instant};

    fn wait_until(mut f: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn a_process_is_alive_until_its_last_thread_is_gone() {
        assert!(alive(std::process::id() as i32));
        assert!(!alive(i32::MAX), "no such process");
        // The main thread exits (its leader turns zombie) while a second thread still runs:
        // what a killed lab daemon looks like while the kernel closes its TUN queues.
        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                "import threading, time, ctypes\n\
                 threading.Thread(target=time.sleep, args=(1.5,)).start()\n\
                 ctypes.CDLL(None).pthread_exit(None)\n",
            ])
            .spawn()
            .expect("python3 runs");
        let pid = child.id() as i32;
        let leader_zombie = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    s.rsplit_once(')')
                        .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
                })
                .unwrap_or(false)
        };
        assert!(wait_until(leader_zombie), "the leader exits first");
        assert!(alive(pid), "a thread still runs");
        assert!(wait_until(|| !alive(pid)), "then the process is gone");
        assert!(leader_zombie(), "not yet reaped, and still not alive");
        let _ = child.wait();
    }
}
