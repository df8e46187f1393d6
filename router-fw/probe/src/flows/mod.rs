//! Flow extraction: from a pcap/pcapng stream to flows (5-tuple, direction, bytes and packets
//! each way, times, TCP flags) with names (TLS/QUIC SNI, HTTP Host and User-Agent, DNS), then
//! to the app's service endpoints after rules and a noise baseline, classified by phase; and,
//! for content checks, each flow's first payload bytes each way (`PayloadTap`).
//!
//! Streaming and bounded: the capture is read in place from one buffer, the flow table and
//! every per-flow buffer have limits, nothing is allocated per packet in the hot loop.
//!
//! ```no_run
//! use matador_probe::flows::{extract, endpoints, ExtractConfig, Rules};
//! let file = std::fs::File::open("capture.pcapng").unwrap();
//! let extraction = extract(file, &ExtractConfig::default()).unwrap();
//! let rules = Rules::default();
//! let endpoints = endpoints(&extraction.flows, &rules, None);
//! ```

pub mod capture;
pub mod decode;
pub mod endpoints;
mod extract;
mod inspect;
pub mod names;
mod payload;
mod table;

pub use capture::{CaptureError, CaptureReader, LinkType, Packet};
pub use endpoints::{endpoints, Endpoint, Phase, Rules, RulesError, Timers, Verdict};
pub use extract::{extract, ExtractConfig, Extraction, Extractor, Stats};
pub use names::{NameSource, Names};
pub use payload::{
    extract_with_payloads, DirectionPayload, FlowPayload, PayloadConfig, PayloadStats, PayloadTap,
    Payloads, DEFAULT_MAX_BYTES,
};
pub use table::{Burst, Flow, FlowSide, Protocol, TcpFlags, BURST_GAP_NS, MAX_BURSTS};

/// Message templates shared with the integration tests, the benchmark and the fuzz targets.
#[cfg(test)]
#[path = "../../tests/support/messages.rs"]
pub(crate) mod messages;
/// Packet templates shared with the integration tests, the benchmark and the fuzz targets.
#[cfg(test)]
#[path = "../../tests/support/packets.rs"]
pub(crate) mod packets;
