//! What can go wrong talking to a router, each case worded as what to fix.

use std::io;
use std::time::Duration;

use crate::{ApiError, Invalid, MeasurementState};

/// Why a request to the router failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The router's address is not `host:port`.
    #[error("router address {address:?}: {reason} (give host:port, e.g. 192.0.2.1:8443)")]
    BadAddress {
        /// What was given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The pinned fingerprint is not a SHA-256.
    #[error(
        "pinned fingerprint {given:?} is not a SHA-256 (64 hex digits): copy it from \
         state_dir/api-fingerprint on the router"
    )]
    BadFingerprint {
        /// What was given.
        given: String,
    },
    /// The TLS library refused the client's own settings (a bug, not the router's fault).
    #[error("TLS setup: {0}")]
    TlsSetup(String),
    /// A request the router would refuse; nothing was sent.
    #[error("request not sent: {0}")]
    Invalid(#[from] Invalid),
    /// No TCP connection: nothing listens there, or the address is wrong.
    #[error(
        "cannot connect to the router at {address}: {source} (is matador-routerd running, \
         and is this its management address and API port?)"
    )]
    Connect {
        /// The router's address.
        address: String,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// The TCP connection or TLS handshake took too long.
    #[error(
        "no connection to the router at {address} within {} s (router down or unreachable, \
         or the wrong address)",
        .after.as_secs_f64()
    )]
    ConnectTimeout {
        /// The router's address.
        address: String,
        /// The connect timeout.
        after: Duration,
    },
    /// The router presented another certificate than the pinned one; no request was sent.
    #[error(
        "the router's certificate is not the pinned one: expected {expected}, got {got} — \
         re-read state_dir/api-fingerprint on the router at {address} (it changes only when \
         api-cert.der is deleted; if it did not, something else answers at this address)"
    )]
    CertificateMismatch {
        /// The router's address.
        address: String,
        /// The pinned fingerprint.
        expected: String,
        /// The fingerprint of the certificate presented.
        got: String,
    },
    /// The TLS handshake failed for another reason (not a MATAdOR router, or not TLS 1.3).
    #[error("TLS handshake with {address} failed: {source} (is this the router's API port?)")]
    Tls {
        /// The router's address.
        address: String,
        /// rustls's error.
        #[source]
        source: io::Error,
    },
    /// 401: the router did not take the token.
    #[error(
        "{method} {path}: the router at {address} refused the token (401): wrong token, use \
         the one in the router's token_file (default /etc/matador/token)"
    )]
    Unauthorized {
        /// The router's address.
        address: String,
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
    },
    /// The router answered with an error of its API.
    #[error("{method} {path}: the router answered {status}: {error}")]
    Api {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The router's error code and detail.
        error: ApiError,
    },
    /// The router answered with an unexpected status and no API error (not our router?).
    #[error("{method} {path}: the router answered {status} without an API error: {body:?}")]
    Status {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A success whose body is not the expected JSON (router and host versions apart?).
    #[error(
        "{method} {path}: the answer is not the expected JSON ({source}); are the router's \
         and the host's versions compatible?"
    )]
    BadJson {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// The router stopped answering partway: sent nothing within the request timeout.
    #[error(
        "{method} {path}: the router at {address} sent nothing for {} s (hung or overloaded)",
        .after.as_secs_f64()
    )]
    Timeout {
        /// The router's address.
        address: String,
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
        /// The request timeout.
        after: Duration,
    },
    /// The HTTP exchange broke (connection closed or reset, malformed answer).
    #[error("{method} {path}: HTTP exchange with the router at {address} failed: {source}")]
    Http {
        /// The router's address.
        address: String,
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
    /// A success whose body is not what the route gives (e.g. no PEM certificate).
    #[error("{method} {path}: the answer is not {expected}; are the router's and the host's versions compatible?")]
    BadBody {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
        /// What the answer should have been.
        expected: &'static str,
    },
    /// An answer larger than the client takes.
    #[error("{method} {path}: the answer is larger than {limit} bytes")]
    TooLarge {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
        /// The limit.
        limit: u64,
    },
    /// A fetched result's bytes do not have the SHA-256 the router announced.
    #[error(
        "result {id}: the bytes received have SHA-256 {got} but the router announced \
         {expected}; the transfer was damaged: fetch it again, do not acknowledge it"
    )]
    HashMismatch {
        /// The result's id.
        id: String,
        /// What the router announced in `x-matador-sha256`.
        expected: String,
        /// What the bytes hash to.
        got: String,
    },
    /// A fetched result without a usable `x-matador-sha256` header.
    #[error(
        "result {id}: the answer has no valid x-matador-sha256 header, so it cannot be checked"
    )]
    MissingHash {
        /// The result's id.
        id: String,
    },
    /// A measurement was not done or failed within the wait.
    #[error(
        "measurement {id} is still {} after {} s{}",
        state_name(.state),
        .after.as_secs_f64(),
        .last_error.as_ref().map(|e| format!(" (last poll: {e})")).unwrap_or_default()
    )]
    WaitTimeout {
        /// The measurement.
        id: String,
        /// Its last known state (`None`: never read).
        state: Option<MeasurementState>,
        /// How long the client waited.
        after: Duration,
        /// The last poll's error, if it failed.
        last_error: Option<Box<ClientError>>,
    },
}

/// A measurement state as the API spells it.
fn state_name(state: &Option<MeasurementState>) -> &'static str {
    match state {
        None => "unknown (never read)",
        Some(MeasurementState::Running) => "running",
        Some(MeasurementState::Processing) => "processing",
        Some(MeasurementState::Done) => "done",
        Some(MeasurementState::Failed) => "failed",
    }
}

impl ClientError {
    /// The router's error code (`not_found`, `conflict`, …) for an [`ClientError::Api`].
    pub fn api_code(&self) -> Option<&str> {
        match self {
            Self::Api { error, .. } => Some(&error.error),
            _ => None,
        }
    }

    /// The HTTP status the router answered, if it answered one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Status { status, .. } => Some(*status),
            Self::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }

    /// Whether trying again later may succeed (router down, restarting, busy), as opposed to
    /// an error that repeats until someone fixes the token, pin, address or request.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Connect { .. }
            | Self::ConnectTimeout { .. }
            | Self::Timeout { .. }
            | Self::Http { .. } => true,
            // 408 timeout, 503 unavailable, 507 store full: the router may recover.
            Self::Api { status, .. } | Self::Status { status, .. } => {
                matches!(status, 408 | 502..=504 | 507)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_fix() {
        let e = ClientError::CertificateMismatch {
            address: "192.0.2.1:8443".into(),
            expected: "aa".into(),
            got: "bb".into(),
        };
        let text = e.to_string();
        assert!(text.contains("expected aa, got bb"), "{text}");
        assert!(text.contains("re-read state_dir/api-fingerprint"), "{text}");
        let e = ClientError::Unauthorized {
            address: "r:1".into(),
            method: "GET".into(),
            path: "/v1/status".into(),
        };
        assert!(e.to_string().contains("wrong token"), "{e}");
        assert_eq!(e.status(), Some(401));
        assert!(!e.is_transient());
        let e = ClientError::Api {
            method: "PUT".into(),
            path: "/v1/aps/ap9/vantage".into(),
            status: 404,
            error: ApiError::new("not_found", "no AP ap9"),
        };
        assert_eq!(e.api_code(), Some("not_found"));
        assert_eq!(
            e.to_string(),
            "PUT /v1/aps/ap9/vantage: the router answered 404: not_found: no AP ap9"
        );
        let e = ClientError::WaitTimeout {
            id: "m1".into(),
            state: Some(MeasurementState::Processing),
            after: Duration::from_millis(1500),
            last_error: None,
        };
        assert_eq!(
            e.to_string(),
            "measurement m1 is still processing after 1.5 s"
        );
    }
}
