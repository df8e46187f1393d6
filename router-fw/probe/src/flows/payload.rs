//! The payload tap: the first bytes of every flow, each way, for content checks such as the
//! plugin pipeline's PII and tracker detection. TCP bytes are put in sequence order
//! (retransmitted and overlapping segments land on the bytes they carry, data before the
//! stream's start or far past it is dropped); UDP keeps its first datagrams back to back.
//!
//! Bounded like extraction: at most `max_bytes` per flow and direction, at most `max_flows`
//! flows and `max_total_bytes` over all of them. Per packet nothing is allocated but the
//! growth of a flow's own buffer, up to its cap.
//!
//! Directions follow the extractor's rule (the first packet's sender opened the flow, unless
//! that packet is a SYN-ACK), so [`Payloads::of`] pairs a [`Flow`] with its bytes.

use super::capture::{CaptureError, Packet};
use super::decode::{decode, Fragment, Transport, TCP};
use super::extract::{extract_each, ExtractConfig, Extraction};
use super::names::reassembly::Reassembly;
use super::table::{Flow, FlowHash, FlowKey, Protocol};
use serde::Serialize;
use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;

/// Bytes kept per flow and direction unless configured otherwise.
pub const DEFAULT_MAX_BYTES: usize = 16 * 1024;

const SYN: u8 = 0x02;
const SYN_ACK: u8 = 0x12;
/// TCP data more than this far ahead of the stream's start is not of this stream: no window
/// is that large.
const MAX_AHEAD: u32 = i32::MAX as u32;

/// Bounds of the tap.
#[derive(Debug, Clone)]
pub struct PayloadConfig {
    /// First bytes kept per flow and direction.
    pub max_bytes: usize,
    /// Flows tapped; packets of further flows are counted as untracked.
    pub max_flows: usize,
    /// Bytes kept over all flows; data past it is dropped and counted.
    pub max_total_bytes: usize,
}

impl Default for PayloadConfig {
    fn default() -> Self {
        PayloadConfig {
            max_bytes: DEFAULT_MAX_BYTES,
            max_flows: 1 << 16,
            // 16 KiB each way for 8192 flows: a host-side bound, far above a phone's capture.
            max_total_bytes: 256 << 20,
        }
    }
}

/// What the tap did with the packets it saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PayloadStats {
    /// TCP segments and UDP datagrams that carried payload.
    pub segments: u64,
    /// Segments wholly before their stream's start (old retransmissions) or out of window.
    pub out_of_window: u64,
    /// Segments dropped because their stream had too many holes at once.
    pub too_fragmented: u64,
    /// Segments dropped because `max_total_bytes` was reached.
    pub over_budget: u64,
    /// Packets of flows beyond `max_flows`.
    pub untracked: u64,
}

/// The first bytes one side of a flow sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectionPayload {
    /// The bytes, in order from the first; a hole (a segment the capture lost) ends them.
    pub bytes: Vec<u8>,
    /// Whether bytes past a hole were seen (and are not in `bytes`).
    pub gap: bool,
    /// Whether the side sent more than the cap kept.
    pub truncated: bool,
}

/// A flow's first bytes, each way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowPayload {
    /// Transport protocol (TCP or UDP).
    pub protocol: Protocol,
    /// The side that opened the flow: address and port.
    pub initiator: (IpAddr, u16),
    /// The other side.
    pub responder: (IpAddr, u16),
    /// What the initiator sent.
    pub from_initiator: DirectionPayload,
    /// What the responder sent.
    pub from_responder: DirectionPayload,
}

/// One direction being gathered.
struct Stream {
    /// TCP: sequence number of the first data byte, once known; UDP: unused.
    base: Option<u32>,
    /// UDP: where the next datagram goes.
    next: u64,
    bytes: Reassembly,
    truncated: bool,
}

impl Stream {
    fn new(cap: usize) -> Self {
        Stream {
            base: None,
            next: 0,
            bytes: Reassembly::new(cap),
            truncated: false,
        }
    }

    fn finish(self) -> DirectionPayload {
        let gap = self.bytes.has_gap();
        DirectionPayload {
            gap,
            truncated: self.truncated,
            bytes: self.bytes.into_contiguous(),
        }
    }
}

/// A tapped flow.
struct Entry {
    protocol: u8,
    initiator: (IpAddr, u16),
    responder: (IpAddr, u16),
    initiator_is_lo: bool,
    from_initiator: Stream,
    from_responder: Stream,
}

/// Gathers flows' first bytes, one packet at a time.
pub struct PayloadTap {
    config: PayloadConfig,
    index: HashMap<FlowKey, u32, FlowHash>,
    entries: Vec<Entry>,
    /// Bytes held by every stream, holes included.
    total: usize,
    stats: PayloadStats,
}

impl PayloadTap {
    /// A tap with the given bounds.
    pub fn new(config: &PayloadConfig) -> Self {
        PayloadTap {
            config: config.clone(),
            index: HashMap::with_hasher(FlowHash::new()),
            entries: Vec::new(),
            total: 0,
            stats: PayloadStats::default(),
        }
    }

    /// Takes one captured packet into account; anything that is not TCP or UDP is ignored.
    pub fn packet(&mut self, packet: &Packet<'_>) {
        let Ok(d) = decode(packet.link, packet.data) else {
            return;
        };
        // Later fragments carry no transport header: the extractor skips them too.
        if d.fragment == Fragment::Later {
            return;
        }
        let (src_port, dst_port, seq, flags, payload) = match d.transport {
            Transport::Tcp(t) => (t.src_port, t.dst_port, Some(t.seq), t.flags, t.payload),
            Transport::Udp(u) => (u.src_port, u.dst_port, None, 0, u.payload),
            Transport::Other(_) => return,
        };
        let (key, src_is_lo) = FlowKey::new(d.protocol, (d.src, src_port), (d.dst, dst_port));
        let index = match self.index.get(&key) {
            Some(&i) => i as usize,
            None => {
                if self.entries.len() >= self.config.max_flows.min(u32::MAX as usize) {
                    self.stats.untracked += 1;
                    return;
                }
                // The extractor's rule: a SYN-ACK seen first means the receiver opened it.
                let receiver_started = d.protocol == TCP && flags & SYN_ACK == SYN_ACK;
                let (initiator, responder) = if receiver_started {
                    ((d.dst, dst_port), (d.src, src_port))
                } else {
                    ((d.src, src_port), (d.dst, dst_port))
                };
                let cap = self.config.max_bytes;
                self.index.insert(key, self.entries.len() as u32);
                self.entries.push(Entry {
                    protocol: d.protocol,
                    initiator,
                    responder,
                    initiator_is_lo: src_is_lo != receiver_started,
                    from_initiator: Stream::new(cap),
                    from_responder: Stream::new(cap),
                });
                self.entries.len() - 1
            }
        };
        let Some(entry) = self.entries.get_mut(index) else {
            return;
        };
        let stream = if src_is_lo == entry.initiator_is_lo {
            &mut entry.from_initiator
        } else {
            &mut entry.from_responder
        };
        let budget = Budget {
            cap: self.config.max_bytes,
            left: self.config.max_total_bytes.saturating_sub(self.total),
        };
        let grown = match seq {
            Some(seq) => tcp(stream, seq, flags, payload, budget, &mut self.stats),
            None => udp(stream, payload, budget, &mut self.stats),
        };
        self.total += grown;
    }

    /// Counters so far.
    pub fn stats(&self) -> &PayloadStats {
        &self.stats
    }

    /// Ends the tap: every flow's first bytes, in the order the flows started.
    pub fn finish(self) -> Payloads {
        let flows = self
            .entries
            .into_iter()
            .map(|e| FlowPayload {
                protocol: Protocol(e.protocol),
                initiator: e.initiator,
                responder: e.responder,
                from_initiator: e.from_initiator.finish(),
                from_responder: e.from_responder.finish(),
            })
            .collect();
        Payloads {
            index: self.index,
            flows,
            stats: self.stats,
        }
    }
}

/// How much one insertion may add.
#[derive(Clone, Copy)]
struct Budget {
    cap: usize,
    left: usize,
}

/// Puts `bytes` at `offset` of `stream` if the budget allows; returns the buffer's growth.
fn put(
    stream: &mut Stream,
    offset: u64,
    bytes: &[u8],
    budget: Budget,
    stats: &mut PayloadStats,
) -> usize {
    let end = offset.saturating_add(bytes.len() as u64);
    if end > budget.cap as u64 {
        stream.truncated = true;
    }
    if offset >= budget.cap as u64 || bytes.is_empty() {
        return 0;
    }
    let before = stream.bytes.buffered();
    let growth = (end.min(budget.cap as u64) as usize).saturating_sub(before);
    if growth > budget.left {
        stats.over_budget += 1;
        return 0;
    }
    if stream.bytes.insert(offset, bytes).is_err() {
        stats.too_fragmented += 1;
    }
    stream.bytes.buffered().saturating_sub(before)
}

/// A TCP segment of one direction.
fn tcp(
    stream: &mut Stream,
    seq: u32,
    flags: u8,
    payload: &[u8],
    budget: Budget,
    stats: &mut PayloadStats,
) -> usize {
    // The SYN takes one sequence number before the first data byte (data on a SYN, as in
    // TCP Fast Open, starts after it).
    let syn = flags & SYN != 0;
    let data_seq = seq.wrapping_add(u32::from(syn));
    if syn && stream.base.is_none() {
        stream.base = Some(data_seq);
    }
    if payload.is_empty() {
        return 0;
    }
    stats.segments += 1;
    // Without a SYN (the capture began mid-flow) the first data seen starts the stream.
    let base = *stream.base.get_or_insert(data_seq);
    let ahead = data_seq.wrapping_sub(base);
    if ahead <= MAX_AHEAD {
        return put(stream, u64::from(ahead), payload, budget, stats);
    }
    // Starts before the stream: keep the part from the start on, if any.
    let behind = base.wrapping_sub(data_seq) as usize;
    match payload.get(behind..) {
        Some(rest) if !rest.is_empty() => put(stream, 0, rest, budget, stats),
        _ => {
            stats.out_of_window += 1;
            0
        }
    }
}

/// A UDP datagram of one direction: appended after the ones before.
fn udp(stream: &mut Stream, payload: &[u8], budget: Budget, stats: &mut PayloadStats) -> usize {
    if payload.is_empty() {
        return 0;
    }
    stats.segments += 1;
    let at = stream.next;
    stream.next = at.saturating_add(payload.len() as u64);
    put(stream, at, payload, budget, stats)
}

/// Every tapped flow's first bytes, found by 5-tuple.
pub struct Payloads {
    index: HashMap<FlowKey, u32, FlowHash>,
    flows: Vec<FlowPayload>,
    stats: PayloadStats,
}

impl Payloads {
    /// The payload of `flow`, as (what its initiator sent, what its responder sent).
    pub fn of(&self, flow: &Flow) -> Option<(&DirectionPayload, &DirectionPayload)> {
        let initiator = (flow.initiator.address, flow.initiator.port);
        let responder = (flow.responder.address, flow.responder.port);
        self.between(flow.protocol, initiator, responder)
    }

    /// The payload of the flow of `protocol` that `initiator` opened to `responder`, as
    /// (what the initiator sent, what the responder sent).
    pub fn between(
        &self,
        protocol: Protocol,
        initiator: (IpAddr, u16),
        responder: (IpAddr, u16),
    ) -> Option<(&DirectionPayload, &DirectionPayload)> {
        let (key, _) = FlowKey::new(protocol.0, initiator, responder);
        let p = self.flows.get(*self.index.get(&key)? as usize)?;
        // Both passes apply the same rule, but a caller may name the sides the other way.
        if p.initiator == initiator {
            Some((&p.from_initiator, &p.from_responder))
        } else {
            Some((&p.from_responder, &p.from_initiator))
        }
    }

    /// Every tapped flow, in the order they started.
    pub fn iter(&self) -> impl Iterator<Item = &FlowPayload> {
        self.flows.iter()
    }

    /// Number of tapped flows.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether no flow was tapped.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// What the tap did.
    pub fn stats(&self) -> &PayloadStats {
        &self.stats
    }
}

/// Extracts the flows of a capture and taps their payloads in the same pass.
pub fn extract_with_payloads<R: Read>(
    reader: R,
    config: &ExtractConfig,
    payload: &PayloadConfig,
) -> Result<(Extraction, Payloads), CaptureError> {
    let mut tap = PayloadTap::new(payload);
    let extraction = extract_each(reader, config, |p| tap.packet(p))?;
    Ok((extraction, tap.finish()))
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
