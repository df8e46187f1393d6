//! Per-target trace state: one slot per (TTL, attempt), the TTL the trace stops at (the
//! destination, an unreachable, max TTL, or a run of silent hops), and the table of responder
//! addresses that slots point into (so a slot stays small and `Copy`).

use super::ext::Extensions;
use super::probe::FlowSpec;
use super::reply::{Reply, ReplyKind};
use std::collections::HashMap;
use std::net::IpAddr;

/// Where a probe stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Not sent yet.
    Unsent,
    /// Not sent yet: waiting for its router's rate limit to allow another reply.
    Held,
    /// Sent, waiting for a reply.
    Pending,
    /// A reply came back.
    Answered,
    /// No reply within the wait time.
    Timeout,
    /// Not sent: the hop was taken from the stop set (a hop many targets share).
    Inferred,
    /// Not needed any more (beyond where the trace stopped).
    Cancelled,
}

/// One probe of one target, and its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Where the probe stands.
    pub state: SlotState,
    /// When it was sent (ns since the Unix epoch).
    pub sent_ns: u64,
    /// Round-trip time in ns (answered and inferred slots).
    pub rtt_ns: u32,
    /// Responder index in [`Responders`] (answered and inferred slots).
    pub from: u32,
    /// Length of the reply's IP packet.
    pub size: u16,
    /// TTL of the reply on arrival.
    pub reply_ttl: u8,
    /// TTL left in the quoted header (1 when normal; 0 when not quoted).
    pub quoted_ttl: u8,
    /// What the reply was.
    pub kind: Option<ReplyKind>,
    /// The probe was charged to its predicted responder's rate bucket when sent.
    pub charged: bool,
}

impl Slot {
    const EMPTY: Slot = Slot {
        state: SlotState::Unsent,
        sent_ns: 0,
        rtt_ns: 0,
        from: 0,
        size: 0,
        reply_ttl: 0,
        quoted_ttl: 0,
        kind: None,
        charged: false,
    };

    /// Whether the slot has its final answer (or will never have one).
    pub fn is_resolved(&self) -> bool {
        !matches!(
            self.state,
            SlotState::Unsent | SlotState::Held | SlotState::Pending
        )
    }

    /// Whether the slot holds a responder.
    pub fn has_reply(&self) -> bool {
        matches!(self.state, SlotState::Answered | SlotState::Inferred)
    }
}

/// Interned responder addresses: slots hold a `u32` instead of a 17-byte address.
#[derive(Debug, Default)]
pub struct Responders {
    addrs: Vec<IpAddr>,
    index: HashMap<IpAddr, u32>,
}

impl Responders {
    /// The index of `addr`, adding it when new.
    pub fn intern(&mut self, addr: IpAddr) -> u32 {
        if let Some(&i) = self.index.get(&addr) {
            return i;
        }
        let i = self.addrs.len() as u32;
        self.addrs.push(addr);
        self.index.insert(addr, i);
        i
    }

    /// The address at `index`.
    pub fn get(&self, index: u32) -> Option<IpAddr> {
        self.addrs.get(index as usize).copied()
    }

    /// The index of `addr`, if it has been seen.
    pub fn find(&self, addr: &IpAddr) -> Option<u32> {
        self.index.get(addr).copied()
    }
}

/// Shape of every trace of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// First TTL probed.
    pub first_ttl: u8,
    /// Last TTL probed at most.
    pub max_ttl: u8,
    /// Probes per hop.
    pub probes: u8,
    /// Stop after this many consecutive hops without any reply (0: never).
    pub gap_limit: u8,
}

impl Shape {
    /// Number of slots per target.
    pub fn slots(&self) -> usize {
        usize::from(self.max_ttl) * usize::from(self.probes)
    }

    /// Slot index of (ttl, attempt).
    pub fn slot(&self, ttl: u8, attempt: u8) -> usize {
        usize::from(ttl - 1) * usize::from(self.probes) + usize::from(attempt)
    }

    /// (ttl, attempt) of a slot index.
    pub fn ttl_attempt(&self, slot: usize) -> (u8, u8) {
        let p = usize::from(self.probes);
        ((slot / p + 1) as u8, (slot % p) as u8)
    }
}

/// One target's trace.
#[derive(Debug)]
pub struct Target {
    /// The Paris flow of its probes.
    pub flow: FlowSpec,
    /// The name the user gave (an address or a host name).
    pub name: String,
    /// One per (TTL, attempt), see [`Shape::slot`].
    pub slots: Box<[Slot]>,
    /// RFC 4884 extensions, kept only for the rare replies that carry them.
    pub exts: Vec<(u16, Extensions)>,
    /// Lowest TTL the target itself answered at.
    pub dest_ttl: Option<u8>,
    /// Lowest TTL an unreachable came from (the trace cannot go further).
    pub unreach_ttl: Option<u8>,
    /// Last TTL of a run of `gap_limit` silent hops.
    pub gap_end: Option<u8>,
    /// Highest TTL still worth probing.
    pub limit: u8,
    /// Highest TTL with an answered, timed-out or inferred probe.
    pub reach: u8,
    /// Probes sent and not resolved.
    pub outstanding: u16,
    /// When the first probe went out (ns since the epoch).
    pub started_ns: u64,
    /// When the trace finished.
    pub ended_ns: u64,
    /// All slots up to `limit` are resolved.
    pub done: bool,
}

impl Target {
    /// A fresh target.
    pub fn new(flow: FlowSpec, name: String, shape: &Shape) -> Target {
        Target {
            flow,
            name,
            slots: vec![Slot::EMPTY; shape.slots()].into_boxed_slice(),
            exts: Vec::new(),
            dest_ttl: None,
            unreach_ttl: None,
            gap_end: None,
            limit: shape.max_ttl,
            reach: 0,
            outstanding: 0,
            started_ns: 0,
            ended_ns: 0,
            done: false,
        }
    }

    /// The slots of one hop.
    pub fn hop<'a>(&'a self, shape: &Shape, ttl: u8) -> &'a [Slot] {
        let start = shape.slot(ttl, 0);
        &self.slots[start..start + usize::from(shape.probes)]
    }

    /// The responder of a hop: the latest answered (or inferred) slot's.
    pub fn hop_responder(&self, shape: &Shape, ttl: u8) -> Option<u32> {
        self.hop(shape, ttl)
            .iter()
            .rev()
            .find(|s| s.has_reply())
            .map(|s| s.from)
    }

    /// Records a reply in `slot`, and whether it ends the trace at that hop.
    pub fn record(&mut self, shape: &Shape, slot: usize, reply: &Reply, from: u32, at_ns: u64) {
        let (ttl, _) = shape.ttl_attempt(slot);
        self.reach = self.reach.max(ttl);
        let s = &mut self.slots[slot];
        s.state = SlotState::Answered;
        s.rtt_ns = at_ns.saturating_sub(s.sent_ns).min(u64::from(u32::MAX)) as u32;
        s.from = from;
        s.size = reply.size;
        s.reply_ttl = reply.ttl;
        s.quoted_ttl = reply.probe.quoted_ttl.unwrap_or(0);
        s.kind = Some(reply.kind);
        if reply.ext.present {
            self.exts.push((slot as u16, reply.ext));
        }
        self.outstanding = self.outstanding.saturating_sub(1);
        let from_target = reply.from == self.flow.dst;
        match reply.kind {
            ReplyKind::TimeExceeded => {}
            _ if from_target => self.dest_ttl = Some(self.dest_ttl.map_or(ttl, |d| d.min(ttl))),
            _ => self.unreach_ttl = Some(self.unreach_ttl.map_or(ttl, |d| d.min(ttl))),
        }
    }

    /// Marks a pending slot (of `ttl`) as timed out.
    pub fn time_out(&mut self, slot: usize, ttl: u8) {
        self.reach = self.reach.max(ttl);
        self.slots[slot].state = SlotState::Timeout;
        self.outstanding = self.outstanding.saturating_sub(1);
    }

    /// Recomputes where the trace stops, cancels what lies beyond, and whether it is done.
    pub fn settle(&mut self, shape: &Shape, now_ns: u64) {
        let mut limit = shape.max_ttl;
        for stop in [self.dest_ttl, self.unreach_ttl].into_iter().flatten() {
            limit = limit.min(stop);
        }
        if shape.gap_limit > 0 && self.gap_end.is_none() {
            // Only a run preceded by fully resolved hops counts: an unresolved hop before it
            // could still turn silent and end the trace earlier, as a sequential trace would.
            let mut run = 0u8;
            for ttl in shape.first_ttl..=limit {
                let hop = self.hop(shape, ttl);
                if !hop.iter().all(Slot::is_resolved) {
                    break;
                }
                let silent = hop.iter().all(|s| s.state == SlotState::Timeout);
                run = if silent { run + 1 } else { 0 };
                if run == shape.gap_limit {
                    self.gap_end = Some(ttl);
                    break;
                }
            }
        }
        if let Some(g) = self.gap_end {
            limit = limit.min(g);
        }
        if limit < self.limit {
            let from = shape.slot(limit + 1, 0).min(self.slots.len());
            for s in &mut self.slots[from..] {
                if s.state == SlotState::Pending {
                    self.outstanding = self.outstanding.saturating_sub(1);
                }
                if matches!(
                    s.state,
                    SlotState::Pending | SlotState::Unsent | SlotState::Held
                ) {
                    s.state = SlotState::Cancelled;
                }
            }
            self.limit = limit;
        }
        if !self.done {
            let end = shape.slot(self.limit, shape.probes - 1);
            let first = shape.slot(shape.first_ttl, 0);
            if self.slots[first..=end].iter().all(Slot::is_resolved) {
                self.done = true;
                self.ended_ns = now_ns;
            }
        }
    }
}
