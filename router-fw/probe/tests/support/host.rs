//! Test plumbing on the host side, shared through `#[path]` by the probe's and the router's
//! root tests: run a closure inside a network namespace, and read a capture with tshark.
#![allow(dead_code)]

use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

/// Runs `f` on a thread that entered network namespace `ns` (sockets it opens live there).
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: a valid namespace descriptor; setns changes only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("the thread in the namespace panicked")
}

/// tshark's fields for every frame of a capture file, tab-separated; fails clearly without
/// tshark.
pub fn tshark_fields(path: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path).args(["-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!("tshark is needed to check pcapng files (apt-get install tshark): {e}"),
    };
    assert!(
        out.status.success(),
        "tshark cannot read {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}
