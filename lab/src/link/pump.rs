//! Moving packets between the two TUN ends of a link, each way through a FIFO that holds
//! every packet for the link's one-way delay. A full queue drops, as a router's would.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Packets queued per direction before the link drops.
const QUEUE_PACKETS: usize = 4096;
/// Largest packet a TUN hands us (its MTU is 1500; leave room).
const MAX_PACKET: usize = 65_535;

/// Counters of one link, both directions together.
#[derive(Debug, Default)]
pub struct LinkStats {
    /// Packets delivered to the far end.
    pub forwarded: AtomicU64,
    /// Packets dropped (queue full, or the far end refused them).
    pub dropped: AtomicU64,
}

/// Pumps packets between two TUN descriptors with `delay` each way, until either fails.
pub async fn pump_link(
    a: OwnedFd,
    b: OwnedFd,
    delay: Duration,
    stats: Arc<LinkStats>,
) -> io::Result<()> {
    let a = Arc::new(register(a)?);
    let b = Arc::new(register(b)?);
    let ab = direction(a.clone(), b.clone(), delay, stats.clone());
    let ba = direction(b, a, delay, stats);
    tokio::try_join!(ab, ba).map(|_| ())
}

fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an OwnedFd keeps the same open descriptor until the AsyncFd drops it.
    unsafe { AsyncFd::register(fd) }.map_err(io::Error::from)
}

async fn direction(
    from: Arc<AsyncFd<OwnedFd>>,
    to: Arc<AsyncFd<OwnedFd>>,
    delay: Duration,
    stats: Arc<LinkStats>,
) -> io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE_PACKETS);
    let writer_stats = stats.clone();
    let writer = tokio::spawn(async move {
        while let Some((due, packet)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            match write_packet(&to, &packet).await {
                Ok(()) => writer_stats.forwarded.fetch_add(1, Ordering::Relaxed),
                Err(_) => writer_stats.dropped.fetch_add(1, Ordering::Relaxed),
            };
        }
    });
    let mut buf = vec![0u8; MAX_PACKET];
    let result = loop {
        let n = match read_packet(&from, &mut buf).await {
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        let packet = buf[..n].to_vec();
        if tx.try_send((Instant::now() + delay, packet)).is_err() {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    };
    writer.abort();
    result
}

async fn read_packet(fd: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut guard = fd.readable().await?;
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock {
            guard.clear_ready();
            continue;
        }
        return Err(e);
    }
}

async fn write_packet(fd: &AsyncFd<OwnedFd>, packet: &[u8]) -> io::Result<()> {
    loop {
        let mut guard = fd.writable().await?;
        // SAFETY: packet is valid for packet.len() bytes.
        let n = unsafe { libc::write(fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
        if n >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock {
            guard.clear_ready();
            continue;
        }
        return Err(e);
    }
}
