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
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            // State is the field after the parenthesised command name.
            s.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}
