//! The interception proxy as a child process: started for one measurement with a pid file
//! (so a daemon restarted after a crash kills a stale one) and PR_SET_PDEATHSIG (so it never
//! outlives the daemon), stopped with SIGTERM (it writes the records of cut connections),
//! killed after a grace time; and the outcomes its flow records count.

use super::InterceptError;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::BufRead as _;
use std::net::SocketAddrV4;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often the keeper thread and the waits look at the child.
const POLL: Duration = Duration::from_millis(50);

/// What one proxy run is given (`matador-mitm run …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRun {
    /// Where redirected connections arrive: the AP's gateway address, the AP's port.
    pub listen: SocketAddrV4,
    /// The interception CA's certificate.
    pub ca_cert: PathBuf,
    /// The interception CA's key.
    pub ca_key: PathBuf,
    /// The CAs servers must chain to.
    pub upstream_ca: PathBuf,
    /// The key log (SSLKEYLOGFILE format).
    pub keylog: PathBuf,
    /// The flow records (JSON lines).
    pub flows: PathBuf,
    /// The interface the proxy's own connections leave by: the AP's tunnel.
    pub upstream_device: String,
}

impl ProxyRun {
    /// The command line after the program's name.
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["run".into(), "--listen".into()];
        a.push(self.listen.to_string().into());
        for (flag, path) in [
            ("--ca-cert", &self.ca_cert),
            ("--ca-key", &self.ca_key),
            ("--upstream-ca", &self.upstream_ca),
            ("--keylog", &self.keylog),
            ("--flows", &self.flows),
        ] {
            a.push(flag.into());
            a.push(path.into());
        }
        a.push("--upstream-device".into());
        a.push(self.upstream_device.clone().into());
        a
    }
}

/// A running proxy. Dropping it kills the process.
pub struct Proxy {
    child: Arc<Mutex<Child>>,
    pid: u32,
    pid_file: PathBuf,
    keeper: Option<std::thread::JoinHandle<()>>,
}

fn lock(child: &Mutex<Child>) -> MutexGuard<'_, Child> {
    child
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Proxy {
    /// Starts `program` with `run`'s arguments and writes its pid to `pid_file`. The child is
    /// spawned by a thread that lives until it exits: the parent-death signal follows the
    /// thread that forked, so a short-lived (e.g. tokio blocking) thread must not fork it.
    pub fn spawn(
        program: &Path,
        run: &ProxyRun,
        pid_file: PathBuf,
    ) -> Result<Proxy, InterceptError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let shown = program.display().to_string();
        let (program, args) = (program.to_path_buf(), run.args());
        let keeper = std::thread::Builder::new()
            .name("matador-mitm".into())
            .spawn(move || {
                let mut command = Command::new(&program);
                command.args(&args).stdin(Stdio::null());
                let parent = std::process::id();
                // SAFETY: runs in the forked child before exec and calls only the
                // async-signal-safe prctl and getppid, allocating nothing.
                unsafe {
                    command.pre_exec(move || {
                        let sig = libc::SIGTERM as libc::c_ulong;
                        if libc::prctl(
                            libc::PR_SET_PDEATHSIG,
                            sig,
                            0 as libc::c_ulong,
                            0 as libc::c_ulong,
                            0 as libc::c_ulong,
                        ) != 0
                        {
                            return Err(std::io::Error::last_os_error());
                        }
                        // The daemon died before the signal was armed: do not start at all.
                        if libc::getppid() as u32 != parent {
                            return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                        }
                        Ok(())
                    });
                }
                let child = match command.spawn() {
                    Ok(c) => Arc::new(Mutex::new(c)),
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let _ = tx.send(Ok(Arc::clone(&child)));
                while matches!(lock(&child).try_wait(), Ok(None)) {
                    std::thread::sleep(POLL);
                }
            })
            .map_err(|e| InterceptError::Proxy(format!("a thread for it: {e}")))?;
        let child = match rx.recv() {
            Ok(Ok(child)) => child,
            Ok(Err(e)) => {
                let _ = keeper.join();
                return Err(InterceptError::Proxy(format!("starting {shown}: {e}")));
            }
            Err(_) => {
                let _ = keeper.join();
                return Err(InterceptError::Proxy(
                    "its thread ended before starting it".into(),
                ));
            }
        };
        let pid = lock(&child).id();
        if let Some(dir) = pid_file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&pid_file, pid.to_string());
        tracing::info!(pid, listen = %run.listen, upstream = %run.upstream_device, "interception proxy started");
        Ok(Proxy {
            child,
            pid,
            pid_file,
            keeper: Some(keeper),
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// How it ended, if it has.
    pub fn exited(&self) -> Option<ExitStatus> {
        lock(&self.child).try_wait().ok().flatten()
    }

    /// Waits until it listens on `addr` (true), or `timeout` passes with it still running
    /// (false); an error if it exits meanwhile.
    pub fn wait_listening(
        &self,
        addr: SocketAddrV4,
        timeout: Duration,
    ) -> Result<bool, InterceptError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Err(InterceptError::Proxy(format!(
                    "exited at start ({status}); its log lines say why"
                )));
            }
            let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
            if listening(&table, addr) {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Sends SIGTERM (it stops accepting and writes the records of open connections), waits
    /// up to `grace`, then kills it. Says how it ended, for the measurement's log.
    pub fn stop(mut self, grace: Duration) -> String {
        let ended = self.end(grace);
        self.cleanup();
        ended
    }

    fn end(&mut self, grace: Duration) -> String {
        {
            let mut child = lock(&self.child);
            match child.try_wait() {
                Ok(Some(status)) => return format!("had exited before the stop ({status})"),
                // Not yet reaped (we hold the lock): the pid is still this process's.
                // SAFETY: kill with a valid signal on our own child's pid.
                Ok(None) => unsafe {
                    libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
                },
                Err(e) => return format!("unknown ({e})"),
            }
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return format!("stopped ({status})");
            }
            std::thread::sleep(POLL);
        }
        let mut child = lock(&self.child);
        let _ = child.kill();
        match child.wait() {
            Ok(status) => format!(
                "killed after {} s without ending ({status})",
                grace.as_secs()
            ),
            Err(e) => format!("killed; waiting for it failed: {e}"),
        }
    }

    fn cleanup(&mut self) {
        {
            let mut child = lock(&self.child);
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if self.keeper.is_some() {
            tracing::warn!(
                pid = self.pid,
                "interception proxy dropped while running: killed"
            );
            self.cleanup();
        }
    }
}

/// Kills a proxy a crashed run left (its pid file), if the file is still there.
pub fn kill_stale(pid_file: &Path) {
    let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<libc::pid_t>().ok())
        .filter(|p| *p > 1)
    else {
        return;
    };
    // SAFETY: kill with a valid signal; a pid that is gone gives ESRCH, ignored.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let _ = std::fs::remove_file(pid_file);
    tracing::warn!(pid, "killed an interception proxy left by an earlier run");
}

/// Whether `/proc/net/tcp` text has a listening socket on `addr` (or on 0.0.0.0 and its port).
pub fn listening(proc_net_tcp: &str, addr: SocketAddrV4) -> bool {
    proc_net_tcp.lines().skip(1).any(|line| {
        let mut f = line.split_whitespace();
        let (Some(local), Some(_remote), Some(state)) = (f.nth(1), f.next(), f.next()) else {
            return false;
        };
        let Some((ip, port)) = local.split_once(':') else {
            return false;
        };
        let (Ok(ip), Ok(port)) = (u32::from_str_radix(ip, 16), u16::from_str_radix(port, 16))
        else {
            return false;
        };
        // The kernel prints the address's bytes as a host-order word.
        let ip = std::net::Ipv4Addr::from(ip.to_ne_bytes());
        state == "0A" && port == addr.port() && (ip == *addr.ip() || ip.is_unspecified())
    })
}

/// How many flow records had each outcome (`intercepted`, `pinned`, …).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcomes {
    /// Records by outcome.
    pub by_outcome: BTreeMap<String, u64>,
    /// Lines that were not a record with an outcome (skipped).
    pub unreadable: u64,
}

impl Outcomes {
    /// Records read.
    pub fn total(&self) -> u64 {
        self.by_outcome.values().sum()
    }

    /// Records with this outcome.
    pub fn count(&self, outcome: &str) -> u64 {
        self.by_outcome.get(outcome).copied().unwrap_or(0)
    }
}

impl std::fmt::Display for Outcomes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} connection(s)", self.total())?;
        for (i, (outcome, n)) in self.by_outcome.iter().enumerate() {
            write!(f, "{} {n} {outcome}", if i == 0 { ":" } else { "," })?;
        }
        if self.unreadable > 0 {
            write!(f, " ({} unreadable line(s) skipped)", self.unreadable)?;
        }
        Ok(())
    }
}

/// Counts the outcomes of a flows file (JSON lines), skipping lines that are not records.
pub fn count_outcomes(path: &Path) -> std::io::Result<Outcomes> {
    #[derive(serde::Deserialize)]
    struct Line {
        outcome: String,
    }
    let mut reader = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut counts = Outcomes::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(counts);
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Line>(&line) {
            Ok(l) => *counts.by_outcome.entry(l.outcome).or_default() += 1,
            Err(_) => counts.unreadable += 1,
        }
    }
}
