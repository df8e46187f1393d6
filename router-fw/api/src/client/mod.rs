//! The host's client of the router API (feature `client`): HTTPS to the router's management
//! address, its self-signed certificate pinned by SHA-256, the bearer token on every request,
//! and the `/v1` calls as typed methods.
//!
//! ```no_run
//! # async fn demo() -> Result<(), matador_api::client::ClientError> {
//! use matador_api::client::RouterClient;
//! let router = RouterClient::new("192.0.2.1:8443", "the-token-from-config", "ab12…")?;
//! let status = router.status().await?;
//! for summary in router.results(None).await?.results {
//!     let result = router.fetch_result(&summary.id).await?; // SHA-256 checked
//!     // … store `result.bytes` durably, then:
//!     router.acknowledge(&result.id, &result.sha256).await?;
//! }
//! # let _ = status; Ok(()) }
//! ```

mod blocking;
mod error;
mod ingress;
mod interception;
mod pin;
mod transport;

use std::fmt;
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use error::ClientError;
pub use pin::{
    fingerprint, normalize_sha256, pinned_config, sha256_hex, PinMismatch, PinnedVerifier,
};
pub use transport::Timeouts;

use crate::{
    check_id, check_result_id, ApiError, Invalid, MeasurementState, MeasurementStatus, ResultList,
    RouterStatus, SetVantage, StartMeasurement, StopMeasurement, WgPeer, ENCRYPTED_AGE,
    ENCRYPTED_HEADER, SHA256_HEADER,
};
use transport::{Answer, Transport};

/// Largest JSON answer taken (a result list of thousands of entries is far smaller).
const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;
/// Largest result taken in memory (the router's store is capped at 256 MiB by default).
pub const MAX_RESULT_BYTES: u64 = 1024 * 1024 * 1024;
/// Shortest pause between two polls of [`RouterClient::wait_measurement`].
const MIN_POLL: Duration = Duration::from_millis(10);

/// A result fetched from the router, its SHA-256 checked against the router's header.
#[derive(Clone, PartialEq, Eq)]
pub struct FetchedResult {
    /// The result's id (`<measurement>.<kind>`).
    pub id: String,
    /// SHA-256 of `bytes`, lowercase hex; pass it to [`RouterClient::acknowledge`].
    pub sha256: String,
    /// The result's bytes, as stored on the router: an age file when `encrypted`.
    pub bytes: Vec<u8>,
    /// The router stored the result encrypted to the researcher's key (its
    /// `x-matador-encrypted: age` header); `matador-host` decrypts it with the identity file.
    pub encrypted: bool,
}

impl fmt::Debug for FetchedResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A capture is megabytes: show its size, not its bytes.
        f.debug_struct("FetchedResult")
            .field("id", &self.id)
            .field("sha256", &self.sha256)
            .field("len", &self.bytes.len())
            .field("encrypted", &self.encrypted)
            .finish()
    }
}

/// A client of one router's API. Cheap to clone; each request opens its own connection.
#[derive(Clone)]
pub struct RouterClient {
    transport: Transport,
}

impl fmt::Debug for RouterClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterClient")
            .field("address", &self.transport.address)
            .field("fingerprint", &self.transport.fingerprint)
            .field("token", &"<redacted>")
            .field("timeouts", &self.transport.timeouts)
            .finish()
    }
}

impl RouterClient {
    /// A client for the router at `address` (`host:port` or a `SocketAddr`), sending `token`,
    /// trusting only the certificate whose SHA-256 is `fingerprint` (the router's
    /// `state_dir/api-fingerprint`; colons and upper case are fine). Connects to nothing yet.
    pub fn new(
        address: impl fmt::Display,
        token: impl Into<String>,
        fingerprint: impl AsRef<str>,
    ) -> Result<Self, ClientError> {
        let transport = Transport::new(&address.to_string(), &token.into(), fingerprint.as_ref())?;
        Ok(Self { transport })
    }

    /// The same client with other timeouts.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.transport.timeouts = timeouts;
        self
    }

    /// The router's `host:port`.
    pub fn address(&self) -> &str {
        &self.transport.address
    }

    /// The pinned fingerprint, normalised to lowercase hex.
    pub fn fingerprint(&self) -> &str {
        &self.transport.fingerprint
    }

    /// `GET /v1/status`: the router, its APs, stations, tunnels and counters.
    pub async fn status(&self) -> Result<RouterStatus, ClientError> {
        self.json(Method::GET, "/v1/status", None).await
    }

    /// `PUT /v1/aps/{ap}/vantage`: tunnel the AP to this vantage node from now on.
    pub async fn set_vantage(&self, ap: &str, peer: &WgPeer) -> Result<(), ClientError> {
        check_id("ap", ap)?;
        peer.validate()?;
        let body = encode(&SetVantage { peer: peer.clone() })?;
        let path = format!("/v1/aps/{ap}/vantage");
        self.call(Method::PUT, &path, Some(body), MAX_JSON_BYTES)
            .await
            .map(drop)
    }

    /// `POST /v1/measurements`: start a measurement; the router answers it `running`.
    pub async fn start_measurement(
        &self,
        request: &StartMeasurement,
    ) -> Result<MeasurementStatus, ClientError> {
        request.validate()?;
        self.json(Method::POST, "/v1/measurements", Some(encode(request)?))
            .await
    }

    /// `POST /v1/measurements/{id}/stop`: end the capture, with the host's launch and message
    /// times; the router answers it `processing` and makes the results in the background.
    pub async fn stop_measurement(
        &self,
        id: &str,
        request: &StopMeasurement,
    ) -> Result<MeasurementStatus, ClientError> {
        check_id("id", id)?;
        request.validate()?;
        let path = format!("/v1/measurements/{id}/stop");
        self.json(Method::POST, &path, Some(encode(request)?)).await
    }

    /// `GET /v1/measurements/{id}`: where a measurement is, and its results so far.
    pub async fn measurement(&self, id: &str) -> Result<MeasurementStatus, ClientError> {
        check_id("id", id)?;
        self.json(Method::GET, &format!("/v1/measurements/{id}"), None)
            .await
    }

    /// Polls a measurement every `poll` until it is `done` or `failed` (both are returned:
    /// a failed one still has results and a `detail`), for at most `limit`. Errors that may
    /// pass (router restarting, unreachable for a moment) are polled through; others (token,
    /// pin, unknown measurement) end the wait at once.
    pub async fn wait_measurement(
        &self,
        id: &str,
        poll: Duration,
        limit: Duration,
    ) -> Result<MeasurementStatus, ClientError> {
        check_id("id", id)?;
        let deadline = tokio::time::Instant::now() + limit;
        let mut state = None;
        let mut last_error = None;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(remaining, self.measurement(id)).await {
                Err(_) => break,
                Ok(Ok(status)) => {
                    if matches!(
                        status.state,
                        MeasurementState::Done | MeasurementState::Failed
                    ) {
                        return Ok(status);
                    }
                    state = Some(status.state);
                    last_error = None;
                }
                Ok(Err(e)) if e.is_transient() => last_error = Some(Box::new(e)),
                Ok(Err(e)) => return Err(e),
            }
            let pause = poll.max(MIN_POLL);
            if tokio::time::Instant::now() + pause >= deadline {
                break;
            }
            tokio::time::sleep(pause).await;
        }
        Err(ClientError::WaitTimeout {
            id: id.to_owned(),
            state,
            after: limit,
            last_error,
        })
    }

    /// `GET /v1/results[?measurement=ID]`: the results not yet acknowledged, and how full the
    /// store is.
    pub async fn results(&self, measurement: Option<&str>) -> Result<ResultList, ClientError> {
        let path = match measurement {
            Some(m) => {
                // Checked ids need no escaping in a query.
                check_id("measurement", m)?;
                format!("/v1/results?measurement={m}")
            }
            None => "/v1/results".to_owned(),
        };
        self.json(Method::GET, &path, None).await
    }

    /// `GET /v1/results/{id}`: a result's bytes, checked against the SHA-256 the router
    /// announces (a mismatch is [`ClientError::HashMismatch`]; never acknowledge then), and
    /// whether they are encrypted at rest.
    pub async fn fetch_result(&self, id: &str) -> Result<FetchedResult, ClientError> {
        check_result_id("id", id)?;
        let path = format!("/v1/results/{id}");
        let answer = self
            .call(Method::GET, &path, None, MAX_RESULT_BYTES)
            .await?;
        let expected = answer
            .headers
            .get(SHA256_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(normalize_sha256)
            .ok_or_else(|| ClientError::MissingHash { id: id.to_owned() })?;
        let got = sha256_hex(&answer.body);
        if got != expected {
            return Err(ClientError::HashMismatch {
                id: id.to_owned(),
                expected,
                got,
            });
        }
        // Routers older than encryption at rest send no such header: their results are plain.
        let encrypted = answer
            .headers
            .get(ENCRYPTED_HEADER)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(ENCRYPTED_AGE.as_bytes()));
        Ok(FetchedResult {
            id: id.to_owned(),
            sha256: got,
            bytes: answer.body,
            encrypted,
        })
    }

    /// `DELETE /v1/results/{id}?sha256=HEX`: the host has the result safe; the router deletes
    /// it, but only if it still has these bytes (409 `conflict` otherwise).
    pub async fn acknowledge(&self, id: &str, sha256: &str) -> Result<(), ClientError> {
        check_result_id("id", id)?;
        let sha256 = normalize_sha256(sha256)
            .ok_or_else(|| Invalid::new("sha256", "must be a SHA-256, 64 hex digits"))?;
        let path = format!("/v1/results/{id}?sha256={sha256}");
        self.call(Method::DELETE, &path, None, MAX_JSON_BYTES)
            .await
            .map(drop)
    }

    /// A request whose successful answer is JSON of type `T`.
    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, ClientError> {
        let answer = self
            .call(method.clone(), path, body, MAX_JSON_BYTES)
            .await?;
        serde_json::from_slice(&answer.body).map_err(|source| ClientError::BadJson {
            method: method.to_string(),
            path: path.to_owned(),
            source,
        })
    }

    /// A request whose answer must be a success; failures become [`ClientError`]s.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        limit: u64,
    ) -> Result<Answer, ClientError> {
        let answer = self
            .transport
            .send(method.clone(), path, body, limit)
            .await?;
        judge(&self.transport.address, &method, path, answer)
    }
}

/// A request body as JSON.
fn encode(body: &impl Serialize) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(body).map_err(|e| ClientError::Invalid(Invalid::new("body", e.to_string())))
}

/// Turns an answer that is not a success into the error that says what to fix.
fn judge(
    address: &str,
    method: &Method,
    path: &str,
    answer: Answer,
) -> Result<Answer, ClientError> {
    if answer.status.is_success() {
        return Ok(answer);
    }
    let (method, path) = (method.to_string(), path.to_owned());
    if answer.status == StatusCode::UNAUTHORIZED {
        return Err(ClientError::Unauthorized {
            address: address.to_owned(),
            method,
            path,
        });
    }
    let status = answer.status.as_u16();
    match serde_json::from_slice::<ApiError>(&answer.body) {
        Ok(error) => Err(ClientError::Api {
            method,
            path,
            status,
            error,
        }),
        Err(_) => {
            let text = String::from_utf8_lossy(&answer.body);
            Err(ClientError::Status {
                method,
                path,
                status,
                body: text.chars().take(200).collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests;
