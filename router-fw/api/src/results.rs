//! Results spooled on the router (`/v1/results`), and the error body of every failed request.

use serde::{Deserialize, Serialize};

/// What a result holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    /// The phone's traffic, pcapng.
    Capture,
    /// Flows and service endpoints, JSON.
    Flows,
    /// Traceroutes, JSON in the RIPE Atlas result schema.
    Traces,
    /// The daemon's log of the measurement, text.
    Log,
    /// SSLKEYLOGFILE text of the sessions the interception proxy decrypted, so the capture
    /// decrypts in Wireshark (measurements with `intercept_tls` only).
    Keylog,
    /// The interception proxy's flow records, JSON lines: one per TLS connection, with its
    /// outcome (`intercepted`, `pinned`, …) and plaintext excerpts.
    Decrypted,
}

impl ResultKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ResultKind; 6] = [
        Self::Capture,
        Self::Flows,
        Self::Traces,
        Self::Log,
        Self::Keylog,
        Self::Decrypted,
    ];

    /// The wire name (`capture`, `flows`, `traces`, `log`, `keylog`, `decrypted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Capture => "capture",
            Self::Flows => "flows",
            Self::Traces => "traces",
            Self::Log => "log",
            Self::Keylog => "keylog",
            Self::Decrypted => "decrypted",
        }
    }
}

/// One stored result, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultSummary {
    /// `<measurement>.<kind>`.
    pub id: String,
    /// The measurement it belongs to.
    pub measurement: String,
    /// What it holds.
    pub kind: ResultKind,
    /// Its length in bytes.
    pub size: u64,
    /// When it was stored, Unix seconds (the router's clock).
    pub created: u64,
    /// SHA-256 of its bytes, lowercase hex; the host checks it before acknowledging.
    pub sha256: String,
    /// The ingress device whose traffic it holds; absent for an AP's measurement and from
    /// routers older than the ingress, so both still parse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The stored bytes are an age v1 file to the researcher's key (a device's result on a
    /// router with `at_rest`); `size` and `sha256` are the encrypted file's. Absent means
    /// plain, so older routers and hosts still parse.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
}

/// `GET /v1/results`: what is stored, and how full the store is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultList {
    /// Results not yet acknowledged, oldest first.
    pub results: Vec<ResultSummary>,
    /// Bytes the stored results take.
    pub used_bytes: u64,
    /// The store's size cap; new results are refused beyond it.
    pub capacity_bytes: u64,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// A short, stable code: `unauthorized`, `bad_request`, `not_found`, `conflict`,
    /// `payload_too_large`, `timeout`, `unavailable`, `internal`, …
    pub error: String,
    /// What went wrong, for a person.
    pub detail: String,
}

impl ApiError {
    /// An error body with this code and detail.
    pub fn new(error: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.detail)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_as_their_names() {
        for kind in ResultKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<ResultKind>(&json).unwrap(), kind);
        }
        let names: Vec<&str> = ResultKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            ["capture", "flows", "traces", "log", "keylog", "decrypted"]
        );
        let kind: ResultKind = serde_json::from_str(r#""decrypted""#).unwrap();
        assert_eq!(kind, ResultKind::Decrypted);
        assert_eq!(
            serde_json::from_str::<ResultKind>(r#""keylog""#).unwrap(),
            ResultKind::Keylog
        );
    }

    #[test]
    fn a_summary_without_device_or_encrypted_parses_and_is_written_without_them() {
        let old = r#"{"id":"m1.log","measurement":"m1","kind":"log","size":3,"created":7,
            "sha256":"00"}"#;
        let summary: ResultSummary = serde_json::from_str(old).unwrap();
        assert_eq!(summary.device, None);
        assert!(!summary.encrypted);
        let json = serde_json::to_value(&summary).unwrap();
        assert!(json.get("device").is_none(), "{json}");
        assert!(json.get("encrypted").is_none(), "{json}");
        let with = ResultSummary {
            device: Some("pixel".into()),
            encrypted: true,
            ..summary
        };
        let back: ResultSummary =
            serde_json::from_str(&serde_json::to_string(&with).unwrap()).unwrap();
        assert_eq!(back, with);
    }
}
