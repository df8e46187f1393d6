//! Namespace plumbing for the tests: run a closure inside a namespace, and a layer-3 tunnel
//! made of two TUN devices joined by a thread (no link-layer header, like WireGuard).

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs `f` on a thread that has entered namespace `ns` (sockets it opens live there).
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: file is an open namespace file; setns changes only this thread.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("thread in namespace")
}

/// Opens a TUN device (no packet-info header) in the current namespace.
pub fn open_tun(name: &str) -> OwnedFd {
    // SAFETY: plain open(2) of the TUN clone device.
    let fd = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_NONBLOCK) };
    assert!(fd >= 0, "/dev/net/tun: {}", std::io::Error::last_os_error());
    // SAFETY: fd was just opened and is owned here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = [0u8; 40];
    req[..name.len()].copy_from_slice(name.as_bytes());
    let flags = (libc::IFF_TUN | libc::IFF_NO_PI) as u16;
    req[16..18].copy_from_slice(&flags.to_ne_bytes());
    // SAFETY: req is a zeroed struct ifreq with the name and flags set.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, req.as_mut_ptr()) };
    assert_eq!(
        r,
        0,
        "TUNSETIFF {name}: {}",
        std::io::Error::last_os_error()
    );
    fd
}

/// Copies packets between the two TUN devices until told to stop: a layer-3 tunnel.
pub fn bridge(a: OwnedFd, b: OwnedFd, stop: &AtomicBool) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [
            libc::pollfd {
                fd: a.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: b.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: fds is a valid pollfd array.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, 50) };
        for (from, to) in [(&a, &b), (&b, &a)] {
            loop {
                // SAFETY: buf is writable for its length; the fds are open.
                let n = unsafe { libc::read(from.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    break;
                }
                // SAFETY: writes the n bytes just read.
                unsafe { libc::write(to.as_raw_fd(), buf.as_ptr().cast(), n as usize) };
            }
        }
    }
}
