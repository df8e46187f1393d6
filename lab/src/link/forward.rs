//! Port forwards into a namespace: accept on 127.0.0.1 of the host's namespace, connect
//! from inside the target namespace, copy both ways. This is how a phone's ADB endpoint
//! appears on the host, as a USB phone does, without adding anything to the host namespace.

use crate::netns::Netns;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

/// Most forwarded connections open at once per forward.
const MAX_CONNECTIONS: usize = 64;

/// Forwards every connection accepted on `listener` to `target` inside `ns`.
pub async fn forward_into(
    listener: TcpListener,
    ns: Arc<Netns>,
    target: SocketAddr,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (client, peer) = listener.accept().await?;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, ns = ns.name(), "too many forwarded connections; refused");
            continue;
        };
        let ns = ns.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let connected = tokio::task::spawn_blocking(move || {
                ns.run(move || {
                    std::net::TcpStream::connect_timeout(&target, std::time::Duration::from_secs(5))
                })
            })
            .await;
            let inner = match connected {
                Ok(Ok(Ok(s))) => s,
                Ok(Ok(Err(e))) => {
                    tracing::warn!(%peer, %target, error = %e, "forward: cannot connect inside the namespace");
                    return;
                }
                _ => return,
            };
            let inner = inner
                .set_nonblocking(true)
                .map(|()| inner)
                .and_then(TcpStream::from_std);
            let (mut a, mut b) = match inner {
                Ok(inner) => (client, inner),
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "forward: socket");
                    return;
                }
            };
            let _ = a.set_nodelay(true);
            let _ = b.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
        });
    }
}
