//! The privacy pass: every flow of a measurement's capture, with the first bytes it carried
//! each way, through the matador-pipeline plugins (classification, PII leaks, trackers), for
//! the phone and app of the measurement. The findings are kept per measurement and side (a
//! JSON file beside the screenshots, a row in the result store) for the report's Privacy
//! section (docs/analysis.md).
//!
//! The campaign runs it right after a router's capture is fetched ([`PrivacyPass::run`]);
//! [`analyse_capture`] is the pure part: capture bytes (and the router's interception
//! records, when it decrypted TLS for the phone) in, findings out.

pub mod decrypted;
mod pass;
mod policy;
mod records;
pub mod store;

pub use pass::PrivacyPass;
use records::flow_record;

use matador_pipeline::{Finding, PayloadKind};
use matador_pipeline::{FlowSide, Names, Pipeline, Protocol};
use matador_probe::flows::{self, CaptureError, ExtractConfig, PayloadConfig};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Version of the privacy record this build writes and reads.
pub const PRIVACY_VERSION: u32 = 1;

/// One side of one measurement: what the pipeline found in its phone's capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasurementPrivacy {
    /// Record version ([`PRIVACY_VERSION`]).
    pub version: u32,
    /// The measurement's id.
    pub measurement: String,
    /// `a` (the sender's router) or `b`.
    pub side: String,
    /// The phone, as the policy names devices (its inventory serial).
    pub device: String,
    /// The app under test (its Android package): the per-app firewall lets nothing else out.
    pub app: String,
    /// The policy the pipeline ran: a file, or the default built from the inventory.
    pub policy: String,
    /// What the capture held.
    pub capture: CaptureSummary,
    /// Every flow of the capture with its findings, in the order the flows started.
    pub flows: Vec<FlowFindings>,
}

/// What a capture held, as far as the privacy pass is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSummary {
    /// Packets read.
    pub packets: u64,
    /// Flows found.
    pub flows: usize,
    /// Payload bytes kept per flow and direction.
    pub payload_cap: usize,
    /// Whether the capture ended in the middle of a record.
    pub cut_short: bool,
    /// The router's interception records for this capture; absent without interception.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interception: Option<InterceptionSummary>,
}

/// How the router's interception records (the "decrypted" result) fitted the capture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterceptionSummary {
    /// Records read.
    pub records: usize,
    /// Records matched to a flow of the capture.
    pub matched: usize,
    /// Lines that were not a usable record (left out).
    pub skipped_lines: usize,
}

/// Whether a flow's payload could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadState {
    /// Cleartext (HTTP, DNS, …): searched.
    Cleartext,
    /// TLS or QUIC, not decrypted: not searched, a leak inside would not be visible.
    Encrypted,
    /// TLS decrypted by the router's interception proxy: searched.
    Decrypted,
    /// No payload was seen (a handshake only, or nothing kept).
    None,
}

/// One flow and what the pipeline found in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFindings {
    /// Transport protocol.
    pub protocol: Protocol,
    /// The phone's side: address, port, what it sent.
    pub client: FlowSide,
    /// The server's side.
    pub server: FlowSide,
    /// Names from the capture (SNI, HTTP Host, DNS, User-Agent): untrusted, escaped in reports.
    pub names: Names,
    /// The flow's server name, else `address:port`.
    pub destination: String,
    /// Whether its payload was read.
    pub payload: PayloadState,
    /// Payload bytes the pipeline had, both ways.
    pub payload_bytes: u64,
    /// Classification, PII leaks, trackers and notes, in plugin order.
    pub findings: Vec<Finding>,
    /// The policy blocks it (its blocking plugin): why, and whether the server still
    /// answered (the router's blocklist missed it); absent when it is not blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<Blocked>,
    /// What the router's interception proxy did with it (`intercepted`, `pinned`,
    /// `passthrough_pinned`, `upstream_failed`, …); absent when it has no record of the flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interception: Option<String>,
}

impl FlowFindings {
    /// The app refused the interception certificate (now or on an earlier connection).
    pub fn pinned(&self) -> bool {
        matches!(
            self.interception.as_deref(),
            Some("pinned" | "passthrough_pinned")
        )
    }
}

/// A flow the policy blocks, as the capture shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Blocked {
    /// The blocking plugin's reason (`name: tracker `X` (category, owned by Y)`).
    pub reason: String,
    /// The server sent payload back: the flow got through despite the block.
    pub answered: bool,
}

/// Why a capture could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The capture did not read.
    #[error("the capture: {0}")]
    Capture(#[from] CaptureError),
    /// The record could not be written as JSON.
    #[error("privacy record: {0}")]
    Json(#[from] serde_json::Error),
    /// The result store failed.
    #[error("result store: {0}")]
    Store(#[from] rusqlite::Error),
    /// The per-measurement file could not be written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// Who and what a capture belongs to.
#[derive(Debug, Clone, Copy)]
pub struct CaptureOf<'a> {
    /// The measurement's id.
    pub measurement: &'a str,
    /// `a` or `b`.
    pub side: &'a str,
    /// The phone's device id in the policy.
    pub device: &'a str,
    /// The app's package.
    pub app: &'a str,
}

/// Runs every flow of a pcap/pcapng capture through `pipeline`, with each flow's first
/// `payload.max_bytes` each way; `decrypted` is the router's interception records (JSON
/// lines), whose plaintext replaces the ciphertext of the TCP flows they intercepted.
pub fn analyse_capture(
    capture: &[u8],
    decrypted: Option<&[u8]>,
    of: CaptureOf<'_>,
    pipeline: &Pipeline,
    payload: &PayloadConfig,
) -> Result<MeasurementPrivacy, PrivacyError> {
    let (extraction, payloads) =
        flows::extract_with_payloads(capture, &ExtractConfig::default(), payload)?;
    let mut proxy = decrypted.map(decrypted::parse);
    let mut out = Vec::with_capacity(extraction.flows.len());
    for flow in &extraction.flows {
        let mut record = flow_record(flow, payloads.of(flow), of.device, of.app);
        let interception = match (proxy.as_mut(), record.protocol) {
            (Some(proxy), Protocol::Tcp) => proxy.take(
                SocketAddr::new(record.client.address, record.client.port),
                SocketAddr::new(record.server.address, record.server.port),
                flow.first_ns / 1_000_000,
            ),
            _ => None,
        };
        if let Some(i) = &interception {
            decrypted::apply(&mut record, i, payload.max_bytes);
        }
        let state = match record.payload.as_ref().map(|p| p.kind) {
            None => PayloadState::None,
            Some(PayloadKind::Encrypted) => PayloadState::Encrypted,
            Some(PayloadKind::Decrypted) => PayloadState::Decrypted,
            Some(PayloadKind::Cleartext) => PayloadState::Cleartext,
        };
        let payload_bytes = record
            .payload
            .as_ref()
            .map_or(0, |p| (p.to_server.len() + p.to_client.len()) as u64);
        let result = pipeline.run(&record);
        let blocked = match &result.verdict {
            matador_pipeline::Verdict::Block { reason } => Some(Blocked {
                reason: reason.clone(),
                answered: record
                    .payload
                    .as_ref()
                    .is_some_and(|p| !p.to_client.is_empty()),
            }),
            _ => None,
        };
        out.push(FlowFindings {
            protocol: record.protocol,
            client: record.client,
            server: record.server,
            names: record.names,
            destination: result.destination,
            payload: state,
            payload_bytes,
            findings: result.findings,
            blocked,
            interception: interception.map(|i| i.outcome.as_str().to_string()),
        });
    }
    Ok(MeasurementPrivacy {
        version: PRIVACY_VERSION,
        measurement: of.measurement.to_string(),
        side: of.side.to_string(),
        device: of.device.to_string(),
        app: of.app.to_string(),
        policy: pipeline.policy().file.clone(),
        capture: CaptureSummary {
            packets: extraction.stats.packets,
            flows: extraction.flows.len(),
            payload_cap: payload.max_bytes,
            cut_short: extraction.stats.cut_short,
            interception: proxy.map(|p| InterceptionSummary {
                records: p.records,
                matched: p.records - p.unmatched(),
                skipped_lines: p.skipped_lines,
            }),
        },
        flows: out,
    })
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_decrypted;
