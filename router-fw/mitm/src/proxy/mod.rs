//! The proxy: listeners, the connection cap, graceful stop; each connection is handled in
//! `conn`.

mod conn;
mod hello;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::ServerConfig;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::RootCertStore;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::keylog::KeyLogFile;
use crate::leaf::LeafCache;
use crate::pinning::PinnedSet;
use crate::record::FlowWriter;
use crate::upstream::UpstreamSocket;
use crate::{Error, InterceptionCa, OriginalDst};

/// Limits that keep the proxy inside a router's means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections handled at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// The most a ClientHello, the connection to the server or the client's handshake may
    /// take, each.
    pub handshake_timeout: Duration,
    /// A relayed connection with no traffic either way for this long is closed (peers that
    /// vanished would otherwise hold a slot forever).
    pub idle_timeout: Duration,
    /// On stop, how long open connections get to end and write their records.
    pub stop_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(900),
            stop_grace: Duration::from_secs(3),
        }
    }
}

/// What the proxy needs to run.
#[derive(Debug)]
pub struct ProxyConfig {
    /// The interception CA that signs the leaves.
    pub ca: InterceptionCa,
    /// The CAs real servers must chain to; `None` trusts no server (fail closed).
    pub upstream_roots: Option<RootCertStore>,
    /// How connections to real servers leave the router (mark, device).
    pub upstream_socket: UpstreamSocket,
    /// The NSS key log file (appended).
    pub keylog: PathBuf,
    /// The flow records file (JSON lines, appended).
    pub flows: PathBuf,
    /// Limits.
    pub limits: Limits,
}

/// What every connection shares.
struct Shared {
    original_dst: Arc<dyn OriginalDst>,
    leaves: LeafCache,
    upstream: Arc<rustls::ClientConfig>,
    upstream_socket: UpstreamSocket,
    provider: Arc<rustls::crypto::CryptoProvider>,
    keylog: Arc<KeyLogFile>,
    flows: FlowWriter,
    pinned: PinnedSet,
    limits: Limits,
}

impl Shared {
    /// The client-side configuration of one connection: its leaf, and the protocol the
    /// server chose (offering only that one, so both sides speak the same).
    fn server_config(
        &self,
        leaf: Arc<CertifiedKey>,
        alpn: Option<Vec<u8>>,
    ) -> Result<Arc<ServerConfig>, rustls::Error> {
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(leaf)));
        config.alpn_protocols = alpn.into_iter().collect();
        config.key_log = Arc::clone(&self.keylog) as Arc<dyn rustls::KeyLog>;
        // Each connection has its own configuration, so tickets could never be redeemed.
        config.send_tls13_tickets = 0;
        Ok(Arc::new(config))
    }
}

/// The interception proxy.
pub struct Proxy {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

/// Binds the listening sockets (IPv6 ones accept IPv6 only, so `0.0.0.0` and `[::]` can
/// be given together).
pub async fn bind(addrs: &[SocketAddr]) -> Result<Vec<TcpListener>, Error> {
    let mut listeners = Vec::with_capacity(addrs.len());
    for &addr in addrs {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        };
        let bound = socket.and_then(|s| {
            s.set_reuseaddr(true)?;
            if addr.is_ipv6() {
                set_v6only(&s)?;
            }
            s.bind(addr)?;
            s.listen(1024)
        });
        listeners.push(bound.map_err(|error| Error::Socket {
            what: format!("cannot listen on {addr}"),
            error,
        })?);
    }
    Ok(listeners)
}

fn set_v6only(socket: &tokio::net::TcpSocket) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let on: libc::c_int = 1;
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `on` is a live c_int and `len` its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            std::ptr::addr_of!(on).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

impl Proxy {
    /// Opens the key log and flows files and prepares the leaves and the upstream side.
    pub fn new(config: ProxyConfig, original_dst: Arc<dyn OriginalDst>) -> Result<Self, Error> {
        let keylog = Arc::new(KeyLogFile::open(&config.keylog)?);
        let roots = match config.upstream_roots {
            Some(roots) => roots,
            None => {
                tracing::warn!(
                    "no upstream CA: no server can be verified, so every connection will be \
                     refused (upstream_untrusted); pass --upstream-ca"
                );
                RootCertStore::empty()
            }
        };
        let upstream = crate::upstream::client_config(roots, Arc::clone(&keylog) as _)?;
        let shared = Shared {
            original_dst,
            leaves: LeafCache::new(config.ca)?,
            upstream,
            upstream_socket: config.upstream_socket,
            provider: crate::provider(),
            keylog,
            flows: FlowWriter::open(&config.flows)?,
            pinned: PinnedSet::default(),
            limits: config.limits,
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// Serves connections on `listeners` until `shutdown` resolves, then stops accepting,
    /// tells open connections to end (each writes its record), and waits for them up to
    /// the stop grace.
    pub async fn serve(
        self,
        listeners: Vec<TcpListener>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        let limits = self.shared.limits;
        let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        let slots = Arc::new(Semaphore::new(max));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut accept_loops = tokio::task::JoinSet::new();
        for listener in listeners {
            let local = listener.local_addr().map_err(|error| Error::Socket {
                what: "listener address".into(),
                error,
            })?;
            tracing::info!(listen = %local, max_connections = max, "interception proxy listening");
            accept_loops.spawn(accept_loop(
                listener,
                Arc::clone(&self.shared),
                Arc::clone(&slots),
                stop_rx.clone(),
            ));
        }
        shutdown.await;
        tracing::info!("stopping: no new connections, ending open ones");
        let _ = stop_tx.send(true);
        while accept_loops.join_next().await.is_some() {}
        let all = u32::try_from(max).unwrap_or(u32::MAX);
        if tokio::time::timeout(limits.stop_grace, slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!(
                open = max - slots.available_permits(),
                "connections still open after the stop grace; abandoned"
            );
        }
        Ok(())
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    slots: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let mut full_logged = false;
    loop {
        if slots.available_permits() == 0 && !full_logged {
            tracing::warn!("connection cap reached; new connections wait");
            full_logged = true;
        }
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
            () = crate::relay::stopping(&mut stop) => return,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = crate::relay::stopping(&mut stop) => return,
        };
        match accepted {
            Ok((tcp, client)) => {
                full_logged = false;
                let shared = Arc::clone(&shared);
                let stop = stop.clone();
                tokio::spawn(async move {
                    conn::handle(shared, tcp, client, stop).await;
                    drop(slot);
                });
            }
            Err(e) => {
                // Out of descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
