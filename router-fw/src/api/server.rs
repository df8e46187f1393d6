//! The listener: TLS handshakes, HTTP/1.1 connections, the connection cap and shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use super::auth::{Token, MIN_TOKEN_LEN};
use super::routes::{router, App};
use super::tls::TlsIdentity;
use super::{ApiConfig, ApiLimits, ApiServerError, Control};
use crate::store::Store;

/// Largest buffer hyper keeps per connection (request head included).
const MAX_BUF: usize = 64 * 1024;

/// A bound API server, not yet serving.
pub struct ApiServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
    limits: ApiLimits,
    fingerprint: String,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("local_addr", &self.local_addr)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Binds the API as `config` says and serves it until `shutdown` completes.
pub async fn serve(
    config: ApiConfig,
    control: Arc<dyn Control>,
    store: Arc<Store>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ApiServerError> {
    ApiServer::bind(config, control, store)
        .await?
        .run(shutdown)
        .await
}

impl ApiServer {
    /// Checks the config, loads (or first generates) the TLS identity, and binds the
    /// management address.
    pub async fn bind(
        config: ApiConfig,
        control: Arc<dyn Control>,
        store: Arc<Store>,
    ) -> Result<Self, ApiServerError> {
        if config.listen.ip().is_unspecified() {
            return Err(ApiServerError::Config(format!(
                "listen address {}: the API binds only to the management address, never to \
                 all addresses (the AP side must not reach it)",
                config.listen
            )));
        }
        if config.token.chars().count() < MIN_TOKEN_LEN {
            return Err(ApiServerError::Config(format!(
                "the token must have at least {MIN_TOKEN_LEN} characters"
            )));
        }
        let limits = config.limits.clone();
        if limits.max_connections == 0 {
            return Err(ApiServerError::Config(
                "max_connections must be at least 1".into(),
            ));
        }
        let identity = TlsIdentity::load_or_generate(&config.state_dir)?;
        let tls = identity
            .server_config()
            .map_err(|e| ApiServerError::Tls(e.to_string()))?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ApiServerError::Io {
                    context: format!("binding {}", config.listen),
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ApiServerError::Io {
            context: "reading the bound address".into(),
            source,
        })?;
        let app = App { control, store };
        let router = router(
            app,
            Token::new(&config.token),
            limits.max_body_bytes,
            limits.request_timeout,
        );
        Ok(Self {
            listener,
            local_addr,
            acceptor: TlsAcceptor::from(tls),
            router,
            limits,
            fingerprint: identity.fingerprint(),
        })
    }

    /// The address it listens on (useful when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// SHA-256 of its certificate, lowercase hex: what the host pins.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Serves until `shutdown` completes, then stops accepting, lets requests in flight
    /// finish within the grace time, and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ApiServerError> {
        tracing::info!(listen = %self.local_addr, fingerprint = %self.fingerprint, "API listening");
        let permits = Arc::new(Semaphore::new(self.limits.max_connections));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            while connections.try_join_next().is_some() {}
            let permit = tokio::select! {
                permit = Arc::clone(&permits).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break, // closed: never happens, the semaphore is ours
                },
                () = &mut shutdown => break,
            };
            let (tcp, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "API accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            connections.spawn(connection(
                tcp,
                peer,
                self.acceptor.clone(),
                self.router.clone(),
                self.limits.clone(),
                permit,
                stop_rx.clone(),
            ));
        }
        drop(self.listener);
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(self.limits.shutdown_grace, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                open = connections.len(),
                "API shutdown: closing connections still busy after the grace time"
            );
            connections.shutdown().await;
        }
        tracing::info!("API stopped");
        Ok(())
    }
}

/// One client connection: TLS handshake, then HTTP/1.1 requests until it closes, times out
/// or the server stops.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
    limits: ApiLimits,
    _permit: OwnedSemaphorePermit,
    mut stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "API TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "API TLS handshake timed out");
            return;
        }
    };
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        async move { router.call(request).await }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUF);
    let conn = http.serve_connection(TokioIo::new(tls), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "API connection ended with an error");
    }
}
