//! The router's HTTP API (`/v1`): HTTPS with a pinned self-signed certificate, a bearer token
//! on every request, listening on the management address only. The daemon plugs in through
//! [`Control`]; results come from the [`Store`](crate::store::Store).
//!
//! | request | body | answer |
//! |---|---|---|
//! | `GET /v1/status` | | `RouterStatus` |
//! | `PUT /v1/aps/{ap}/vantage` | `SetVantage` | 204 |
//! | `POST /v1/measurements` | `StartMeasurement` | 201, `MeasurementStatus` |
//! | `GET /v1/measurements/{id}` | | `MeasurementStatus` |
//! | `POST /v1/measurements/{id}/stop` | `StopMeasurement`, or empty | `MeasurementStatus` |
//! | `GET /v1/results[?measurement=ID]` | | `ResultList` |
//! | `GET /v1/results/{id}` | | the bytes, SHA-256 in `x-matador-sha256`, `x-matador-encrypted: age` if encrypted at rest |
//! | `DELETE /v1/results/{id}[?sha256=HEX]` | | 204 (acknowledged, deleted) |
//! | `GET /v1/interception/ca` | | the TLS interception CA certificate, PEM (`application/x-pem-file`) |
//!
//! Every failure is an `ApiError` body: 400 bad JSON or an invalid field (named), 401 no or
//! wrong token, 404, 405, 408 too slow, 409 conflict (id reused, hash mismatch), 413 body too
//! large, 500, 501 unsupported (e.g. no interception proxy), 503, 507 store full.
//!
//! Start it with [`serve`], or with [`ApiServer::bind`] (fails fast on a bad address or TLS
//! identity, tells the bound address and the certificate fingerprint) then [`ApiServer::run`].

mod auth;
mod blocklist;
mod body;
mod control;
mod devices;
mod interception;
mod routes;
mod server;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use auth::MIN_TOKEN_LEN;
pub use control::{Control, ControlError, ControlFuture};
pub use server::{serve, ApiServer};
pub use tls::identity_fingerprint;

/// Where and how the API listens.
#[derive(Clone)]
pub struct ApiConfig {
    /// The management address and port. An unspecified address (`0.0.0.0`, `::`) is refused:
    /// the API must not be reachable from the AP side.
    pub listen: SocketAddr,
    /// The router's token, at least [`MIN_TOKEN_LEN`] characters.
    pub token: String,
    /// Where the TLS certificate and key are kept (`api-cert.der`, `api-key.der`).
    pub state_dir: PathBuf,
    /// Limits against misbehaving clients.
    pub limits: ApiLimits,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("listen", &self.listen)
            .field("token", &"<redacted>")
            .field("state_dir", &self.state_dir)
            .field("limits", &self.limits)
            .finish()
    }
}

impl ApiConfig {
    /// A config with the default limits.
    pub fn new(
        listen: SocketAddr,
        token: impl Into<String>,
        state_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            listen,
            token: token.into(),
            state_dir: state_dir.into(),
            limits: ApiLimits::default(),
        }
    }
}

/// Limits of the API server.
#[derive(Debug, Clone)]
pub struct ApiLimits {
    /// Largest request body (413 beyond it). Bodies are small JSON documents.
    pub max_body_bytes: usize,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Time for a client to complete the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time for a client to send a request's headers (also closes idle keep-alive connections).
    pub header_timeout: Duration,
    /// Time for a request, body included, until its response starts (408 beyond it).
    pub request_timeout: Duration,
    /// On shutdown, time granted to requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            max_connections: 16,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Why the API server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ApiServerError {
    /// The config is unusable.
    #[error("API config: {0}")]
    Config(String),
    /// The TLS identity is unusable.
    #[error("API TLS: {0}")]
    Tls(String),
    /// A file or socket operation failed.
    #[error("API: {context}: {source}")]
    Io {
        /// What the server was doing.
        context: String,
        /// The error from the system.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests;
