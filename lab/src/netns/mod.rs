//! Network namespaces: create and delete them by name, run code or start processes inside
//! one, and find the processes that live in one. Namespaces live as bind mounts under
//! `/run/netns`, the iproute2 convention, so `ip netns` and `ip -n` see them too.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

/// Where named namespaces are mounted.
pub const NETNS_DIR: &str = "/run/netns";

/// Errors of namespace handling.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// A system call on a namespace failed.
    #[error("namespace {name}: {what}: {source}")]
    Sys {
        /// Namespace name.
        name: String,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// A helper command failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and stderr.
        detail: String,
    },
    /// No CAP_SYS_ADMIN / CAP_NET_ADMIN.
    #[error(
        "the virtual lab needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network \
         namespaces; run it as root (e.g. `sudo -E cargo xtask demo`)"
    )]
    NotRoot,
}

fn sys<'a>(name: &'a str, what: &'static str) -> impl FnOnce(io::Error) -> NetnsError + 'a {
    move |source| NetnsError::Sys {
        name: name.to_string(),
        what,
        source,
    }
}

/// Path of a named namespace.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_DIR).join(name)
}

/// Fails with a clear message unless the process may create namespaces.
pub fn require_root() -> Result<(), NetnsError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        Ok(())
    } else {
        Err(NetnsError::NotRoot)
    }
}

/// Names of existing namespaces starting with `prefix`.
pub fn list(prefix: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// Creates namespaces (one `ip -batch` for all of them, with iproute2's mount conventions).
pub fn create_all(names: &[String]) -> Result<(), NetnsError> {
    let batch: String = names.iter().map(|n| format!("netns add {n}\n")).collect();
    run_batch(None, &batch)
}

/// Deletes a namespace: unmounts and removes its file. Missing is not an error.
pub fn delete(name: &str) -> Result<(), NetnsError> {
    let p = path(name);
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes())
        .map_err(|e| sys(name, "path")(io::Error::other(e)))?;
    // SAFETY: c is a valid NUL-terminated path.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    match std::fs::remove_file(&p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(sys(name, "remove")(e)),
        _ => Ok(()),
    }
}

/// An open handle on a namespace, to enter it.
pub struct Netns {
    name: String,
    file: File,
}

impl Netns {
    /// Opens a named namespace.
    pub fn open(name: &str) -> Result<Netns, NetnsError> {
        let file = File::open(path(name)).map_err(sys(name, "open"))?;
        Ok(Netns {
            name: name.to_string(),
            file,
        })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `f` on a new thread that has entered this namespace; sockets and devices it
    /// creates belong to the namespace, whatever thread uses them later.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, NetnsError> {
        let fd = self.file.try_clone().map_err(sys(&self.name, "dup"))?;
        let name = self.name.clone();
        std::thread::spawn(move || {
            enter(fd.as_raw_fd()).map_err(sys(&name, "setns"))?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| Err(sys(&self.name, "thread")(io::Error::other("panicked"))))
    }

    /// Makes `cmd` start inside this namespace, in a session of its own (so it outlives
    /// the terminal of whoever started it).
    pub fn command(&self, cmd: &mut Command, detach: bool) -> Result<(), NetnsError> {
        // The closure owns its own descriptor, so it lives exactly as long as the Command.
        let fd = self.file.try_clone().map_err(sys(&self.name, "dup"))?;
        // SAFETY: the closure only calls async-signal-safe system calls (setns, setsid).
        unsafe {
            cmd.pre_exec(move || {
                enter(fd.as_raw_fd())?;
                if detach {
                    libc::setsid();
                }
                Ok(())
            });
        }
        Ok(())
    }

    /// Inode of the namespace, to recognise processes inside it.
    pub fn inode(&self) -> Option<u64> {
        self.file.metadata().ok().map(|m| m.ino())
    }
}

fn enter(fd: RawFd) -> io::Result<()> {
    // SAFETY: fd is an open namespace descriptor.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Processes whose network namespace is the one with this inode.
pub fn pids_in(inode: u64) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .map(|m| m.ino() == inode)
                .unwrap_or(false)
        })
        .collect()
}

/// Runs an `ip -batch` (optionally `-n NAMESPACE`) with the given commands.
pub fn run_batch(netns: Option<&str>, batch: &str) -> Result<(), NetnsError> {
    let mut cmd = Command::new("ip");
    if let Some(n) = netns {
        cmd.args(["-n", n]);
    }
    cmd.args(["-batch", "-"]);
    run_with_stdin(&mut cmd, batch).map(drop)
}

/// Runs a command to completion with `input` on stdin and returns its stdout (trimmed);
/// its stderr is the error detail.
pub fn run_with_stdin(cmd: &mut Command, input: &str) -> Result<String, NetnsError> {
    use std::io::Write;
    let line = format!("{cmd:?}");
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| NetnsError::Command {
            command: line.clone(),
            detail: e.to_string(),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| NetnsError::Command {
                command: line.clone(),
                detail: e.to_string(),
            })?;
    }
    let out = child.wait_with_output().map_err(|e| NetnsError::Command {
        command: line.clone(),
        detail: e.to_string(),
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(NetnsError::Command {
            command: line,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// Writes a sysctl of the calling thread's namespace (`net/ipv4/ip_forward` style key).
pub fn sysctl(key: &str, value: &str) -> io::Result<()> {
    std::fs::write(format!("/proc/sys/{key}"), value)
}
