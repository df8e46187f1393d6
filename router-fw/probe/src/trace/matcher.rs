//! Matching replies to probes: a reply's quoted or echoed fields name a flow (transport,
//! target, source port or echo identifier) and a tag; the flow must agree in every field we
//! sent (source, destination port, constant ICMP checksum, TCP sequence base) and the tag must
//! name a probe that is actually waiting. Anything else is counted and dropped.

use super::probe::{FlowSpec, Protocol};
use super::reply::{ProbeRef, Reply};
use super::state::{Responders, Shape, SlotState, Target};
use std::collections::HashMap;
use std::net::IpAddr;

/// Why a set of targets cannot be traced together.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MatchError {
    /// Two targets would send identical flows, so replies could not be told apart.
    #[error("{0} is listed twice with the same protocol and ports")]
    DuplicateFlow(IpAddr),
    /// The trace shape leaves no room for tags (max TTL × probes must stay below 65535).
    #[error("max TTL {max_ttl} × {probes} probes per hop is too many probes per target")]
    TooManyProbes {
        /// Requested max TTL.
        max_ttl: u8,
        /// Requested probes per hop.
        probes: u8,
    },
}

/// What became of one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// It answers a waiting probe, now recorded.
    Probe {
        /// Index of the target.
        target: u32,
        /// Slot of the probe.
        slot: usize,
    },
    /// It answers a probe already timed out or cancelled.
    Late,
    /// It answers a probe already answered.
    Duplicate,
    /// It answers nothing we sent (someone else's traffic, or forged).
    Unmatched,
}

/// Counts of what replies turned out to be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchStats {
    /// Recorded against a probe.
    pub matched: u64,
    /// Too late to count.
    pub late: u64,
    /// Second answers to one probe.
    pub duplicate: u64,
    /// Not ours.
    pub unmatched: u64,
}

type FlowKey = (Protocol, IpAddr, u16);

/// All targets of a run and the index that finds a target from a reply.
#[derive(Debug)]
pub struct Traces {
    /// Shape shared by every trace.
    pub shape: Shape,
    /// The targets, in the order given.
    pub targets: Vec<Target>,
    /// Responder addresses the slots point into.
    pub responders: Responders,
    /// What replies turned out to be.
    pub stats: MatchStats,
    index: HashMap<FlowKey, u32>,
}

impl Traces {
    /// Sets up the traces of `targets` (flow, name).
    pub fn new(shape: Shape, targets: Vec<(FlowSpec, String)>) -> Result<Traces, MatchError> {
        if shape.slots() >= 0xfffe || shape.probes == 0 || shape.max_ttl == 0 {
            return Err(MatchError::TooManyProbes {
                max_ttl: shape.max_ttl,
                probes: shape.probes,
            });
        }
        let mut index = HashMap::with_capacity(targets.len());
        let mut list = Vec::with_capacity(targets.len());
        for (i, (flow, name)) in targets.into_iter().enumerate() {
            if index
                .insert((flow.proto, flow.dst, flow.src_port), i as u32)
                .is_some()
            {
                return Err(MatchError::DuplicateFlow(flow.dst));
            }
            list.push(Target::new(flow, name, &shape));
        }
        Ok(Traces {
            shape,
            targets: list,
            responders: Responders::default(),
            stats: MatchStats::default(),
            index,
        })
    }

    /// The tag a probe in `slot` carries.
    pub fn tag(slot: usize) -> u16 {
        (slot + 1) as u16
    }

    /// The (target, slot) a reply's probe fields name, if every field agrees with what we sent.
    pub fn lookup(&self, p: &ProbeRef) -> Option<(u32, usize)> {
        let &t = self.index.get(&(p.proto, p.dst, p.src_port))?;
        let flow = &self.targets[t as usize].flow;
        if p.src.is_some_and(|src| src != flow.src) {
            return None;
        }
        let tag = match p.proto {
            Protocol::Tcp => {
                if p.dst_port != flow.dst_port {
                    return None;
                }
                let off = p.ident.wrapping_sub(flow.seq_base);
                u16::try_from(off).ok()?
            }
            Protocol::Udp => {
                if p.dst_port != flow.dst_port {
                    return None;
                }
                u16::try_from(p.ident).ok()?
            }
            Protocol::Icmp => {
                if p.icmp_checksum.is_some_and(|c| c != flow.icmp_checksum) {
                    return None;
                }
                u16::try_from(p.ident).ok()?
            }
        };
        let slot = usize::from(tag).checked_sub(1)?;
        (slot < self.shape.slots()).then_some((t, slot))
    }

    /// Matches a reply that arrived at `at_ns` and records it in its slot.
    pub fn on_reply(&mut self, reply: &Reply, at_ns: u64) -> Match {
        let Some((t, slot)) = self.lookup(&reply.probe) else {
            self.stats.unmatched += 1;
            return Match::Unmatched;
        };
        let target = &mut self.targets[t as usize];
        match target.slots[slot].state {
            SlotState::Pending => {}
            SlotState::Timeout | SlotState::Cancelled => {
                self.stats.late += 1;
                return Match::Late;
            }
            SlotState::Answered | SlotState::Inferred => {
                self.stats.duplicate += 1;
                return Match::Duplicate;
            }
            SlotState::Unsent | SlotState::Held => {
                // Nothing was sent with this tag yet: a guess or a forgery.
                self.stats.unmatched += 1;
                return Match::Unmatched;
            }
        }
        let from = self.responders.intern(reply.from);
        target.record(&self.shape, slot, reply, from, at_ns);
        target.settle(&self.shape, at_ns);
        self.stats.matched += 1;
        Match::Probe { target: t, slot }
    }
}

#[cfg(test)]
#[path = "matcher_tests.rs"]
mod tests;
