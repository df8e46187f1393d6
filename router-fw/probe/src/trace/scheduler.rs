//! What to send next, and when: a global probe rate, a window of unresolved probes per target,
//! per-responder pacing that models the usual ICMP rate limit (a burst, then about one reply a
//! second), the stop set that spares shared hops, and the timeouts. Probes go out in TTL order,
//! the attempts of a hop together (so a run of silent hops is judged early), up to a horizon a
//! few TTLs past the highest TTL resolved so far.

use super::matcher::Traces;
use super::reply::ReplyKind;
use super::state::{Slot, SlotState, Target};
use super::stopset::{Seen, StopSet, SOURCE};
use std::collections::VecDeque;

pub use super::pacing::Pacing;
use super::pacing::{global_burst, Bucket};
use super::ratelimit::Limits;

/// The scheduler's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Send this probe now.
    Send {
        /// Index of the target.
        target: u32,
        /// Slot of the probe.
        slot: usize,
    },
    /// Nothing to send before this time (ns): wait for replies until then.
    Wait(u64),
    /// Every trace is done.
    Done,
}

enum Gate {
    Go,
    /// Fill the hop's unsent probes with this reply instead of probing.
    Infer(Slot),
    Hold(u64),
}

/// Counts of what the scheduler did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleStats {
    /// Probes sent.
    pub sent: u64,
    /// Probes that timed out.
    pub timeouts: u64,
    /// Probes not sent because their hop came from the stop set.
    pub inferred: u64,
    /// Times a probe waited on a router's rate limit.
    pub held: u64,
}

/// The scheduler of one run.
#[derive(Debug)]
pub struct Scheduler {
    pacing: Pacing,
    global: Bucket,
    limits: Limits,
    /// Per target, the lowest slot that may still be unsent (slots only leave `Unsent`).
    cursors: Vec<usize>,
    deferred: Vec<Vec<u16>>,
    timeouts: VecDeque<(u64, u32, u16)>,
    active: Vec<u32>,
    rr: usize,
    stop: StopSet,
    /// What the scheduler did.
    pub stats: ScheduleStats,
}

impl Scheduler {
    /// A scheduler for `traces`, starting at `now` (ns).
    pub fn new(pacing: Pacing, traces: &Traces, now: u64) -> Scheduler {
        let n = traces.targets.len();
        let first = traces.shape.slot(traces.shape.first_ttl, 0);
        Scheduler {
            pacing,
            global: Bucket::full(global_burst(pacing.rate_pps), now),
            limits: Limits::new(&pacing),
            cursors: vec![first; n],
            deferred: vec![Vec::new(); n],
            timeouts: VecDeque::new(),
            active: (0..n as u32).collect(),
            rr: 0,
            stop: StopSet::default(),
            stats: ScheduleStats::default(),
        }
    }

    /// The stop set built so far.
    pub fn stop_set(&self) -> &StopSet {
        &self.stop
    }

    /// Decides what to do at `now`.
    pub fn next(&mut self, traces: &mut Traces, now: u64) -> Next {
        self.expire(traces, now);
        self.active.retain(|&t| !traces.targets[t as usize].done);
        if self.active.is_empty() {
            return Next::Done;
        }
        let rate = f64::from(self.pacing.rate_pps.max(1));
        self.global
            .refill(now, rate, global_burst(self.pacing.rate_pps));
        let mut wake = self.timeouts.front().map_or(u64::MAX, |e| e.0);
        if self.global.tokens < 1.0 {
            return Next::Wait(wake.min(self.global.ready_at(rate)));
        }
        let n = self.active.len();
        for i in 0..n {
            let t = self.active[(self.rr + i) % n];
            match self.pick(traces, t, now) {
                Ok(slot) => {
                    self.rr = (self.rr + i + 1) % n;
                    self.global.tokens -= 1.0;
                    return Next::Send { target: t, slot };
                }
                Err(until) => wake = wake.min(until),
            }
        }
        if wake == u64::MAX {
            // Nothing in flight and nothing to send, yet not done: settle again soon.
            wake = now + 1_000_000;
        }
        Next::Wait(wake.max(now))
    }

    /// Records that the probe in `slot` left at `sent_ns`.
    pub fn on_sent(&mut self, traces: &mut Traces, target: u32, slot: usize, sent_ns: u64) {
        let t = &mut traces.targets[target as usize];
        let s = &mut t.slots[slot];
        s.state = SlotState::Pending;
        s.sent_ns = sent_ns;
        t.outstanding += 1;
        if t.started_ns == 0 {
            t.started_ns = sent_ns;
        }
        self.stats.sent += 1;
        self.timeouts
            .push_back((sent_ns + self.pacing.wait_ns, target, slot as u16));
    }

    /// Puts a probe that could not be sent (a full socket buffer) back in line.
    pub fn retry(&mut self, traces: &mut Traces, target: u32, slot: usize) {
        traces.targets[target as usize].slots[slot].state = SlotState::Held;
        self.deferred[target as usize].insert(0, slot as u16);
        self.global.tokens += 1.0;
    }

    /// Learns from a reply recorded in `slot`: the stop set, and the responder's rate bucket.
    pub fn on_reply(&mut self, traces: &Traces, target: u32, slot: usize, now: u64) {
        let shape = traces.shape;
        let t = &traces.targets[target as usize];
        let s = t.slots[slot];
        let (ttl, _) = shape.ttl_attempt(slot);
        if self.pacing.hop_burst > 0 && is_rate_limited(s.kind) {
            self.limits.answered(s.from, s.charged, now);
        }
        let answered = t
            .hop(&shape, ttl)
            .iter()
            .filter(|x| x.state == SlotState::Answered)
            .count();
        let seen = |prev: u32, addr: u32, first: bool, x: &super::state::Slot| Seen {
            ttl: 0,
            prev,
            addr,
            first,
            rtt_ns: x.rtt_ns,
            size: x.size,
            reply_ttl: x.reply_ttl,
        };
        self.stop.observe_ttl(Seen {
            ttl,
            ..seen(0, s.from, answered == 1, &s)
        });
        if let Some(prev) = predecessor(t, &shape, ttl) {
            self.stop.observe(Seen {
                ttl,
                ..seen(prev, s.from, answered == 1, &s)
            });
        }
        // This hop may be the missing predecessor of the next one.
        if answered == 1 && ttl < shape.max_ttl {
            let next = t.hop(&shape, ttl + 1);
            if let Some(x) = next.iter().find(|x| x.state == SlotState::Answered) {
                self.stop.observe(Seen {
                    ttl: ttl + 1,
                    ..seen(s.from, x.from, true, x)
                });
            }
        }
    }

    /// Times out every pending probe whose wait is over.
    fn expire(&mut self, traces: &mut Traces, now: u64) {
        let shape = traces.shape;
        while let Some(&(deadline, t, slot)) = self.timeouts.front() {
            if deadline > now {
                break;
            }
            self.timeouts.pop_front();
            let target = &mut traces.targets[t as usize];
            if target.slots[usize::from(slot)].state == SlotState::Pending {
                let (ttl, _) = shape.ttl_attempt(usize::from(slot));
                target.time_out(usize::from(slot), ttl);
                self.stats.timeouts += 1;
                if target
                    .hop(&shape, ttl)
                    .iter()
                    .all(|x| x.state == SlotState::Timeout)
                {
                    // A hop many targets share and agree on went silent for this one: its
                    // router was out of rate-limit budget, not silent.
                    if let Some(reply) = self.shared_hop(target, &shape, ttl) {
                        for a in 0..shape.probes {
                            target.slots[shape.slot(ttl, a)] = Slot {
                                state: SlotState::Inferred,
                                ..reply
                            };
                        }
                        self.stats.inferred += u64::from(shape.probes);
                    }
                }
                target.settle(&shape, now);
            }
        }
    }

    /// The next probe of target `t` that may go now, or when to look again.
    fn pick(&mut self, traces: &mut Traces, t: u32, now: u64) -> Result<usize, u64> {
        let shape = traces.shape;
        let ti = t as usize;
        let mut wake = u64::MAX;
        let mut i = 0;
        while i < self.deferred[ti].len() {
            let slot = usize::from(self.deferred[ti][i]);
            if traces.targets[ti].slots[slot].state != SlotState::Held {
                self.deferred[ti].remove(i);
                continue;
            }
            match self.gate(traces, t, slot, now) {
                Gate::Go => {
                    self.deferred[ti].remove(i);
                    return Ok(slot);
                }
                Gate::Infer(reply) => {
                    self.deferred[ti].remove(i);
                    self.infer(traces, t, slot, reply, now);
                }
                Gate::Hold(until) => {
                    wake = wake.min(until);
                    i += 1;
                }
            }
        }
        loop {
            let target = &traces.targets[ti];
            if usize::from(target.outstanding) + self.deferred[ti].len()
                >= usize::from(self.pacing.window)
            {
                return Err(wake);
            }
            let la = self.pacing.lookahead;
            let horizon = if la == 0 {
                target.limit
            } else {
                let h = u16::from(target.reach.max(shape.first_ttl - 1)) + u16::from(la);
                target.limit.min(h.min(255) as u8)
            };
            if horizon < shape.first_ttl {
                return Err(wake);
            }
            let last = shape.slot(horizon, shape.probes - 1);
            let c = &mut self.cursors[ti];
            while *c <= last && target.slots[*c].state != SlotState::Unsent {
                *c += 1;
            }
            if *c > last {
                // Nothing more below the horizon: replies or timeouts will move it.
                return Err(wake);
            }
            let slot = *c;
            *c += 1;
            match self.gate(traces, t, slot, now) {
                Gate::Go => return Ok(slot),
                Gate::Infer(reply) => self.infer(traces, t, slot, reply, now),
                Gate::Hold(until) => {
                    self.stats.held += 1;
                    wake = wake.min(until);
                    traces.targets[ti].slots[slot].state = SlotState::Held;
                    self.deferred[ti].push(slot as u16);
                }
            }
        }
    }

    /// Whether the probe in `slot` may go now given its expected responder's rate limit.
    fn gate(&mut self, traces: &mut Traces, t: u32, slot: usize, now: u64) -> Gate {
        if self.pacing.hop_burst == 0 {
            return Gate::Go;
        }
        let shape = traces.shape;
        let target = &traces.targets[t as usize];
        let (ttl, _) = shape.ttl_attempt(slot);
        let own = target.hop_responder(&shape, ttl);
        let prev = predecessor(target, &shape, ttl);
        let entry = prev.and_then(|p| self.stop.entry(ttl, p));
        let predicted = match (own, prev, entry) {
            (Some(o), _, _) => Some(o),
            (None, Some(_), Some(e)) => (!e.conflict).then_some(e.addr),
            (None, _, None) => self.stop.predict_ttl(ttl),
            (None, None, Some(_)) => None,
        };
        let verdict = match (predicted, prev, entry) {
            (Some(r), _, _) => {
                let to_target = traces.responders.get(r) == Some(target.flow.dst);
                if to_target && target.flow.proto != super::probe::Protocol::Udp {
                    // Echo replies and TCP answers are not ICMP errors: no rate limit applies.
                    return Gate::Go;
                }
                self.limits.admit_router(r, now)
            }
            (None, Some(p), Some(e)) => {
                let alts = e.alts;
                self.limits
                    .admit_position(ttl, p, &alts[..usize::from(e.n_alts)], now)
            }
            _ => return Gate::Go,
        };
        let ready = match verdict {
            Ok(()) => {
                traces.targets[t as usize].slots[slot].charged = predicted.is_some();
                return Gate::Go;
            }
            Err(ready) => ready,
        };
        // The hop already answered this flow: its remaining attempts would only wait on the
        // router's rate limit to say the same (Paris keeps the path), so they repeat it.
        let target = &traces.targets[t as usize];
        let hop = target.hop(&shape, ttl);
        if let Some(answered) = hop.iter().rev().find(|s| s.state == SlotState::Answered) {
            return Gate::Infer(*answered);
        }
        // A hop enough targets share and agree on: take it from the stop set rather than wait.
        if let Some(reply) = self.shared_hop(target, &shape, ttl) {
            return Gate::Infer(reply);
        }
        Gate::Hold(ready)
    }

    /// The stop set's answer for this target's hop at `ttl`, when enough targets share it.
    fn shared_hop(&self, target: &Target, shape: &super::state::Shape, ttl: u8) -> Option<Slot> {
        let k = self.pacing.min_sharers;
        let shared = match predecessor(target, shape, ttl) {
            Some(p) if self.stop.entry(ttl, p).is_some() => self.stop.shared(ttl, p, k),
            _ => self.stop.shared_ttl(ttl, k),
        }?;
        Some(Slot {
            state: SlotState::Inferred,
            sent_ns: 0,
            rtt_ns: shared.rtt_ns,
            from: shared.addr,
            size: shared.size,
            reply_ttl: shared.reply_ttl,
            quoted_ttl: 1,
            kind: Some(ReplyKind::TimeExceeded),
            charged: false,
        })
    }

    /// Fills every unsent probe of the hop at `slot` with `reply` (marked inferred).
    fn infer(&mut self, traces: &mut Traces, t: u32, slot: usize, reply: Slot, now: u64) {
        let shape = traces.shape;
        let (ttl, _) = shape.ttl_attempt(slot);
        let target = &mut traces.targets[t as usize];
        for a in 0..shape.probes {
            let s = &mut target.slots[shape.slot(ttl, a)];
            if matches!(s.state, SlotState::Unsent | SlotState::Held) {
                *s = Slot {
                    state: SlotState::Inferred,
                    sent_ns: 0,
                    charged: false,
                    ..reply
                };
                self.stats.inferred += 1;
            }
        }
        target.reach = target.reach.max(ttl);
        target.settle(&shape, now);
    }
}

/// The responder before `ttl` on this target's path ([`SOURCE`] before the first TTL).
fn predecessor(t: &Target, shape: &super::state::Shape, ttl: u8) -> Option<u32> {
    if ttl <= shape.first_ttl {
        return Some(SOURCE);
    }
    t.hop_responder(shape, ttl - 1)
}

/// Whether routers rate-limit this kind of reply (ICMP errors; not echo or TCP answers).
fn is_rate_limited(kind: Option<ReplyKind>) -> bool {
    matches!(
        kind,
        Some(ReplyKind::TimeExceeded | ReplyKind::Unreachable(_))
    )
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
