//! The decrypted flow records: one JSON line per intercepted (or refused, or passed-through)
//! connection, written when it ends. The router's privacy pass scans their plaintext.

use std::net::SocketAddr;
use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::append::AppendFile;
use crate::Error;

/// How much plaintext of each direction a record keeps.
pub const EXCERPT_BYTES: usize = 16 * 1024;

/// What became of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Decrypted and relayed: the excerpts are plaintext.
    Intercepted,
    /// The client refused our certificate (an alert, or a close right after it): the app
    /// pins, and its later connections to this name pass through.
    Pinned,
    /// Passed through untouched because the client pinned before: nothing decrypted.
    PassthroughPinned,
    /// Not TLS: passed through untouched.
    PassthroughNotTls,
    /// The real server's certificate is not signed by the upstream CA: refused.
    UpstreamUntrusted,
    /// The real server could not be reached or its TLS failed otherwise: refused.
    UpstreamFailed,
    /// The client's handshake failed for another reason (or timed out).
    ClientFailed,
}

impl Outcome {
    /// The name the flows file uses (`passthrough_pinned`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Intercepted => "intercepted",
            Outcome::Pinned => "pinned",
            Outcome::PassthroughPinned => "passthrough_pinned",
            Outcome::PassthroughNotTls => "passthrough_not_tls",
            Outcome::UpstreamUntrusted => "upstream_untrusted",
            Outcome::UpstreamFailed => "upstream_failed",
            Outcome::ClientFailed => "client_failed",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One connection, as the flows file has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// The phone's address and port.
    pub client: String,
    /// The original destination (before the router's redirect).
    pub server: String,
    /// The server name the client asked for, if any.
    pub sni: Option<String>,
    /// The application protocol agreed (e.g. `h2`, `http/1.1`), if any.
    pub alpn: Option<String>,
    /// When the connection was accepted (ms since the Unix epoch).
    pub started_unix_ms: u64,
    /// When it ended.
    pub ended_unix_ms: u64,
    /// The first [`EXCERPT_BYTES`] the client sent (plaintext), base64.
    pub to_server_b64: String,
    /// The first [`EXCERPT_BYTES`] the server sent (plaintext), base64.
    pub to_client_b64: String,
    /// All bytes relayed client → server (plaintext, or raw when passed through).
    pub bytes_to_server: u64,
    /// All bytes relayed server → client.
    pub bytes_to_client: u64,
    /// What became of the connection.
    pub outcome: Outcome,
    /// The TLS alert that the client sent when it refused our certificate (`pinned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// Why the connection was refused or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl FlowRecord {
    /// A record with no traffic yet.
    pub fn new(
        client: SocketAddr,
        server: SocketAddr,
        started_unix_ms: u64,
        outcome: Outcome,
    ) -> Self {
        Self {
            client: client.to_string(),
            server: server.to_string(),
            sni: None,
            alpn: None,
            started_unix_ms,
            ended_unix_ms: started_unix_ms,
            to_server_b64: String::new(),
            to_client_b64: String::new(),
            bytes_to_server: 0,
            bytes_to_client: 0,
            outcome,
            alert: None,
            error: None,
        }
    }

    /// Sets the excerpts from the captured plaintext.
    pub fn set_excerpts(&mut self, to_server: &[u8], to_client: &[u8]) {
        let b64 = base64::engine::general_purpose::STANDARD;
        self.to_server_b64 = b64.encode(&to_server[..to_server.len().min(EXCERPT_BYTES)]);
        self.to_client_b64 = b64.encode(&to_client[..to_client.len().min(EXCERPT_BYTES)]);
    }

    /// The client → server excerpt, decoded (empty if the field is not base64).
    pub fn to_server(&self) -> Vec<u8> {
        decode(&self.to_server_b64)
    }

    /// The server → client excerpt, decoded (empty if the field is not base64).
    pub fn to_client(&self) -> Vec<u8> {
        decode(&self.to_client_b64)
    }
}

fn decode(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_default()
}

/// Appends records to the flows file (see `append` for how the router collects it).
#[derive(Debug)]
pub struct FlowWriter {
    file: AppendFile,
}

impl FlowWriter {
    /// Creates `path` if missing (owner-only: it holds decrypted traffic).
    pub fn open(path: &Path) -> Result<Self, Error> {
        Ok(Self {
            file: AppendFile::open(path)?,
        })
    }

    /// Writes one record as a JSON line; a failure is logged, not returned, since the
    /// connection it describes is over either way.
    pub fn write(&self, record: &FlowRecord) {
        let mut line = match serde_json::to_vec(record) {
            Ok(line) => line,
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode a flow record");
                return;
            }
        };
        line.push(b'\n');
        if let Err(e) = self.file.append(&line) {
            tracing::warn!(path = %self.file.path().display(), error = %e, "cannot write a flow record");
        }
    }
}

/// Reads a flows file back (for the router and tests): one record per non-empty line.
pub fn read_flows(path: &Path) -> Result<Vec<FlowRecord>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| Error::BadFile {
                path: path.to_owned(),
                reason: format!("record {}: {e}", i + 1),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_as_json_lines_with_capped_excerpts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("flows.jsonl");
        let writer = FlowWriter::open(&path).expect("open");
        let mut r = FlowRecord::new(
            "10.0.0.2:40000".parse().expect("addr"),
            "192.0.2.7:443".parse().expect("addr"),
            1_700_000_000_000,
            Outcome::Intercepted,
        );
        r.sni = Some("collect.example".into());
        r.set_excerpts(&vec![b'a'; EXCERPT_BYTES + 10], b"HTTP/1.1 200 OK\r\n");
        writer.write(&r);
        let mut pinned = r.clone();
        pinned.outcome = Outcome::PassthroughPinned;
        writer.write(&pinned);
        let back = read_flows(&path).expect("read");
        assert_eq!(back, [r.clone(), pinned]);
        assert_eq!(back[0].to_server().len(), EXCERPT_BYTES);
        assert_eq!(back[0].to_client(), b"HTTP/1.1 200 OK\r\n");
        let json = std::fs::read_to_string(&path).expect("text");
        assert!(json.contains(r#""outcome":"intercepted""#), "{json}");
        assert!(json.contains(r#""outcome":"passthrough_pinned""#), "{json}");
        assert!(
            !json.contains("\"alert\""),
            "absent fields are left out: {json}"
        );
    }

    #[test]
    fn outcomes_display_as_the_flows_file_names_them() {
        for o in [
            Outcome::Intercepted,
            Outcome::Pinned,
            Outcome::PassthroughPinned,
            Outcome::PassthroughNotTls,
            Outcome::UpstreamUntrusted,
            Outcome::UpstreamFailed,
            Outcome::ClientFailed,
        ] {
            assert_eq!(serde_json::to_string(&o).ok(), Some(format!("\"{o}\"")));
        }
    }
}
