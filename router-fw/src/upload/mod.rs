//! Store-and-forward: results wait in the store (the spool) until the controller's collector
//! has them. The uploader pushes each one with `PUT /v1/uploads/<router>/<result>`, streaming
//! the file, and deletes it only when the collector answers with the same SHA-256 it
//! stored. When the collector is unreachable it waits, doubling the wait up to a cap, and
//! resumes where it stopped: nothing is lost across cuts, restarts or reboots, because the
//! store itself is the spool.

mod http;

pub use http::{parse_answer, request_head, Ack, Answer, AnswerError, MAX_ANSWER};

use crate::store::Store;
use matador_api::{ResultSummary, UploadHealth};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long connecting, or one read or write, may take before the attempt counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an idle uploader looks for new results.
const IDLE_POLL: Duration = Duration::from_secs(2);

/// The collector's address, from `http://ADDRESS:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collector {
    /// Where it listens.
    pub addr: SocketAddr,
}

/// A collector URL that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not http://ADDRESS:PORT (an IP address inside the management tunnel)")]
pub struct CollectorUrlError(String);

impl Collector {
    /// Parses `http://ADDRESS:PORT` (IPv6 in brackets), with an optional trailing `/`.
    pub fn parse(url: &str) -> Result<Collector, CollectorUrlError> {
        let bad = || CollectorUrlError(url.to_string());
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let addr: SocketAddr = rest.parse().map_err(|_| bad())?;
        if addr.port() == 0 {
            return Err(bad());
        }
        Ok(Collector { addr })
    }
}

/// The wait before the next attempt: doubles per failure from `min` up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// A backoff between `min` and `max`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            failures: 0,
        }
    }

    /// Records a failure; returns how long to wait now.
    pub fn failed(&mut self) -> Duration {
        let wait = self
            .min
            .saturating_mul(1u32 << self.failures.min(20))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        wait
    }

    /// Records a success: the next failure waits `min` again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// The uploader: the store, where to, and as whom.
pub struct Uploader {
    /// The spool.
    pub store: Arc<Store>,
    /// Where results go.
    pub collector: Collector,
    /// This router's name (the collector files results under it).
    pub router: String,
    /// The router's API token, which the collector knows as this router's.
    pub token: String,
    /// Waits between failed attempts.
    pub backoff: Backoff,
    /// What it reports, shared with the status report (`/v1/status` shows it as is).
    pub state: Arc<Mutex<UploadHealth>>,
}

/// Why one upload failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// No connection, a timeout, a reset.
    #[error("collector {addr}: {source}")]
    Io {
        /// The collector.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The collector answered, but not with an acknowledgement of these bytes.
    #[error("collector {addr} refused {id}: {why}")]
    Refused {
        /// The collector.
        addr: SocketAddr,
        /// The result.
        id: String,
        /// Its status and message.
        why: String,
    },
    /// The answer was not HTTP.
    #[error("collector {addr}: {source}")]
    Answer {
        /// The collector.
        addr: SocketAddr,
        /// What was wrong with it.
        source: AnswerError,
    },
}

impl Uploader {
    /// Uploads until `stop` fires: everything spooled, oldest first, then whatever arrives.
    pub async fn run(mut self, mut stop: tokio::sync::oneshot::Receiver<()>) {
        loop {
            let wait = self.round().await;
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Uploads what is spooled until done or an attempt fails; returns how long to wait.
    async fn round(&mut self) -> Duration {
        // `list` is oldest first.
        for result in self.store.list() {
            match self.upload(&result).await {
                Ok(()) => {
                    self.backoff.succeeded();
                    let mut s = lock(&self.state);
                    s.uploaded += 1;
                    s.failures = 0;
                    s.last_error = None;
                    s.last_success = Some(crate::dataplane::wireguard::unix_now());
                }
                Err(e) => {
                    let wait = self.backoff.failed();
                    let failures = self.backoff.failures();
                    // A cut is expected in the field: warn once, then only every tenth time.
                    if failures == 1 || failures % 10 == 0 {
                        tracing::warn!(result = %result.id, error = %e, failures, retry_s = wait.as_secs_f32(), "upload failed; results stay spooled");
                    }
                    let mut s = lock(&self.state);
                    s.failures = failures;
                    s.last_error = Some(e.to_string());
                    return wait;
                }
            }
        }
        IDLE_POLL
    }

    /// Uploads one result and deletes it once the collector acknowledges its hash. A result
    /// the host fetched over the API meanwhile is simply gone: not an error.
    async fn upload(&self, result: &ResultSummary) -> Result<(), UploadError> {
        let addr = self.collector.addr;
        let io = |source| UploadError::Io { addr, source };
        let file = match self.store.open_result(&result.id) {
            Ok((_, file)) => file,
            Err(_) => return Ok(()),
        };
        let mut stream = timeout(TcpStream::connect(addr)).await.map_err(io)?;
        let now = crate::dataplane::wireguard::unix_now().to_string();
        let created = result.created.to_string();
        let mut headers = vec![
            ("x-matador-sha256", result.sha256.as_str()),
            ("x-matador-measurement", &result.measurement),
            ("x-matador-kind", result.kind.as_str()),
            ("x-matador-created", &created),
            ("x-matador-router-time", &now),
        ];
        // As on `GET /v1/results/{id}`: the collector must know the bytes are an age file.
        if result.encrypted {
            headers.push((matador_api::ENCRYPTED_HEADER, matador_api::ENCRYPTED_AGE));
        }
        let head = request_head(
            &addr.to_string(),
            &format!("/v1/uploads/{}/{}", self.router, result.id),
            &self.token,
            result.size,
            &headers,
        );
        timeout(stream.write_all(head.as_bytes()))
            .await
            .map_err(io)?;
        let mut file = tokio::fs::File::from_std(file).take(result.size);
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = timeout(file.read(&mut buffer)).await.map_err(io)?;
            if n == 0 {
                break;
            }
            timeout(stream.write_all(&buffer[..n])).await.map_err(io)?;
        }
        let mut answer = Vec::with_capacity(512);
        let mut limited = (&mut stream).take(MAX_ANSWER as u64);
        timeout(limited.read_to_end(&mut answer))
            .await
            .map_err(io)?;
        let answer =
            parse_answer(&answer).map_err(|source| UploadError::Answer { addr, source })?;
        let refused = |why: String| UploadError::Refused {
            addr,
            id: result.id.clone(),
            why,
        };
        if !(200..300).contains(&answer.status) {
            return Err(refused(format!("{} {}", answer.status, answer.body.trim())));
        }
        let ack: Ack = serde_json::from_str(&answer.body)
            .map_err(|e| refused(format!("acknowledgement: {e}")))?;
        if ack.sha256 != result.sha256 {
            return Err(refused(format!(
                "it stored sha256 {} for {}",
                ack.sha256, result.sha256
            )));
        }
        // Acknowledged: the collector has exactly these bytes on disk.
        if let Err(e) = self.store.acknowledge(&result.id, Some(&result.sha256)) {
            tracing::debug!(result = %result.id, error = %e, "already gone");
        }
        tracing::info!(result = %result.id, bytes = result.size, "uploaded");
        Ok(())
    }
}

fn lock(state: &Mutex<UploadHealth>) -> std::sync::MutexGuard<'_, UploadHealth> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn timeout<T>(
    f: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    tokio::time::timeout(IO_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

#[cfg(test)]
mod tests;
