//! Relaying bytes both ways between the client and the server, with a fixed buffer per
//! direction, the first bytes of each direction kept for the record, an idle limit, and an
//! early end when the proxy stops.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::watch;

/// The copy buffer of each direction.
const BUFFER: usize = 16 * 1024;

/// One direction's traffic.
#[derive(Debug, Default)]
pub(crate) struct Direction {
    /// The first bytes, up to the excerpt size.
    pub excerpt: Vec<u8>,
    /// All bytes relayed.
    pub bytes: u64,
    /// When the direction ended (end of stream or error on either side), from the start.
    pub ended_after: Option<Duration>,
}

/// How the relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Both directions ended.
    Closed,
    /// Nothing moved for the idle limit.
    Idle,
    /// The proxy is stopping.
    Stopped,
}

/// What went through.
#[derive(Debug)]
pub(crate) struct Transfer {
    /// Client → server.
    pub to_server: Direction,
    /// Server → client.
    pub to_client: Direction,
    /// How it ended.
    pub end: End,
}

impl Transfer {
    /// When the client stopped sending, if it did so first.
    pub fn client_closed_after(&self) -> Option<Duration> {
        match (self.to_server.ended_after, self.to_client.ended_after) {
            (Some(c), Some(s)) if c <= s => Some(c),
            (Some(c), None) => Some(c),
            _ => None,
        }
    }
}

async fn pump<R, W>(
    mut from: R,
    mut to: W,
    keep: usize,
    start: Instant,
    activity: &AtomicU64,
    dir: &mut Direction,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let data = &buf[..n];
        dir.bytes += n as u64;
        let room = keep.saturating_sub(dir.excerpt.len());
        dir.excerpt.extend_from_slice(&data[..n.min(room)]);
        activity.store(elapsed_ms(start), Ordering::Relaxed);
        if to.write_all(data).await.is_err() || to.flush().await.is_err() {
            break;
        }
    }
    dir.ended_after = Some(start.elapsed());
    // Half-close: the other direction may still have an answer to deliver.
    let _ = to.shutdown().await;
}

fn elapsed_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

async fn idle(start: Instant, activity: &AtomicU64, limit: Duration) {
    let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
    loop {
        let last = activity.load(Ordering::Relaxed);
        let quiet = elapsed_ms(start).saturating_sub(last);
        if quiet >= limit_ms {
            return;
        }
        tokio::time::sleep(Duration::from_millis(limit_ms - quiet)).await;
    }
}

/// Resolves when the proxy is told to stop; never if the sender is gone.
pub(crate) async fn stopping(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Relays between `client` and `server` until both directions end, nothing moves for
/// `idle_limit`, or `stop` says so; keeps the first `keep` bytes of each direction.
pub(crate) async fn relay<C, S>(
    client: C,
    server: S,
    keep: usize,
    idle_limit: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Transfer
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    let activity = AtomicU64::new(0);
    let (client_read, client_write) = tokio::io::split(client);
    let (server_read, server_write) = tokio::io::split(server);
    let mut to_server = Direction::default();
    let mut to_client = Direction::default();
    let end = {
        let up = pump(
            client_read,
            server_write,
            keep,
            start,
            &activity,
            &mut to_server,
        );
        let down = pump(
            server_read,
            client_write,
            keep,
            start,
            &activity,
            &mut to_client,
        );
        tokio::select! {
            _ = async { tokio::join!(up, down) } => End::Closed,
            () = idle(start, &activity, idle_limit) => End::Idle,
            () = stopping(stop) => End::Stopped,
        }
    };
    Transfer {
        to_server,
        to_client,
        end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_directions_are_relayed_counted_and_excerpted() {
        let (client, mut phone) = tokio::io::duplex(1024);
        let (server, mut remote) = tokio::io::duplex(1024);
        let (_tx, mut rx) = watch::channel(false);
        let task =
            tokio::spawn(
                async move { relay(client, server, 4, Duration::from_secs(5), &mut rx).await },
            );
        phone.write_all(b"hello server").await.expect("write");
        phone.shutdown().await.expect("half-close");
        let mut got = Vec::new();
        remote.read_to_end(&mut got).await.expect("read");
        assert_eq!(got, b"hello server");
        remote.write_all(b"hi phone").await.expect("write");
        drop(remote);
        let mut back = Vec::new();
        phone.read_to_end(&mut back).await.expect("read");
        assert_eq!(back, b"hi phone");
        let t = task.await.expect("join");
        assert_eq!(t.end, End::Closed);
        assert_eq!((t.to_server.bytes, t.to_client.bytes), (12, 8));
        assert_eq!(
            (&t.to_server.excerpt[..], &t.to_client.excerpt[..]),
            (&b"hell"[..], &b"hi p"[..])
        );
        assert!(t.client_closed_after().is_some());
    }

    #[tokio::test]
    async fn a_quiet_connection_ends_at_the_idle_limit_and_stop_ends_any() {
        let (client, _phone) = tokio::io::duplex(64);
        let (server, _remote) = tokio::io::duplex(64);
        let (_tx, mut rx) = watch::channel(false);
        let t = relay(client, server, 0, Duration::from_millis(50), &mut rx).await;
        assert_eq!(t.end, End::Idle);

        let (client, _phone) = tokio::io::duplex(64);
        let (server, _remote) = tokio::io::duplex(64);
        let (tx, mut rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            relay(client, server, 0, Duration::from_secs(60), &mut rx).await
        });
        tx.send(true).expect("send");
        assert_eq!(task.await.expect("join").end, End::Stopped);
    }
}
