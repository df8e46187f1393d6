//! What routers are expected to answer: a token bucket per router modelling its ICMP rate
//! limit, one per load-balanced position (its branches together), and the evidence that a
//! router has no such limit (it answered more in a second than the model allows), so the
//! model never slows a run through routers that answer everything.

use super::pacing::{Bucket, Pacing};
use std::collections::HashMap;

/// What we know of one router's answers.
#[derive(Debug, Clone, Copy)]
struct Observed {
    /// Start of the current one-second window (ns).
    window_ns: u64,
    /// Answers in the window.
    answers: u16,
    /// Probes let through beyond the model, to see whether the model holds.
    tests: u16,
    /// It answered more than a rate-limited router could.
    unlimited: bool,
}

/// The rate-limit model of one run.
#[derive(Debug)]
pub struct Limits {
    burst: f64,
    per_s: f64,
    routers: HashMap<u32, Bucket>,
    positions: HashMap<(u8, u32), (Bucket, u16)>,
    observed: HashMap<u32, Observed>,
}

impl Limits {
    /// The model for `pacing` (burst and rate per router).
    pub fn new(pacing: &Pacing) -> Limits {
        Limits {
            burst: f64::from(pacing.hop_burst),
            per_s: pacing.hop_rate,
            routers: HashMap::new(),
            positions: HashMap::new(),
            observed: HashMap::new(),
        }
    }

    /// Whether a router is known to answer without limit.
    pub fn unlimited(&self, r: u32) -> bool {
        self.observed.get(&r).is_some_and(|o| o.unlimited)
    }

    /// Records an ICMP error from `r`; `charged` when its probe already took a token.
    pub fn answered(&mut self, r: u32, charged: bool, now: u64) {
        let (burst, per_s) = (self.burst, self.per_s);
        if !charged {
            let b = self
                .routers
                .entry(r)
                .or_insert_with(|| Bucket::full(burst, now));
            b.refill(now, per_s, burst);
            b.tokens = (b.tokens - 1.0).max(-burst);
        }
        let o = self.observed.entry(r).or_insert(Observed {
            window_ns: now,
            answers: 0,
            tests: 0,
            unlimited: false,
        });
        if now.saturating_sub(o.window_ns) > 1_000_000_000 {
            o.window_ns = now;
            o.answers = 0;
        }
        o.answers = o.answers.saturating_add(1);
        // A limited router answers its burst and about one more a second; clearly more than
        // that means no limit (or a far larger one).
        if f64::from(o.answers) > burst + per_s + 2.0 {
            o.unlimited = true;
        }
    }

    /// Lets a probe expected to be answered by router `r` go now, or says when it may.
    pub fn admit_router(&mut self, r: u32, now: u64) -> Result<(), u64> {
        if self.unlimited(r) {
            return Ok(());
        }
        let (burst, per_s) = (self.burst, self.per_s);
        let b = self
            .routers
            .entry(r)
            .or_insert_with(|| Bucket::full(burst, now));
        b.refill(now, per_s, burst);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let ready = b.ready_at(per_s);
        // Until the model is confirmed, let a burst's worth more through: a router that
        // answers them all has no such limit.
        let o = self.observed.entry(r).or_insert(Observed {
            window_ns: now,
            answers: 0,
            tests: 0,
            unlimited: false,
        });
        if f64::from(o.tests) < burst {
            o.tests += 1;
            return Ok(());
        }
        Err(ready)
    }

    /// Lets a probe through a load-balanced position go now (its branches `alts` share the
    /// load, so their budgets add up), or says when it may. Four or more distinct next hops
    /// are where paths fan out, not a balancer: no pacing there.
    pub fn admit_position(
        &mut self,
        ttl: u8,
        prev: u32,
        alts: &[u32],
        now: u64,
    ) -> Result<(), u64> {
        if alts.len() >= 4 || alts.iter().all(|&r| self.unlimited(r)) {
            return Ok(());
        }
        let n = alts.len().max(1) as f64;
        let (burst, per_s) = (self.burst * n, self.per_s * n);
        let (b, tests) = self
            .positions
            .entry((ttl, prev))
            .or_insert_with(|| (Bucket::full(burst, now), 0));
        b.refill(now, per_s, burst);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        // As for single routers: a burst's worth more, to find out whether the limit is real.
        if f64::from(*tests) < burst {
            *tests += 1;
            return Ok(());
        }
        Err(b.ready_at(per_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::new(&Pacing {
            hop_burst: 6,
            hop_rate: 1.0,
            ..Pacing::default()
        })
    }

    #[test]
    fn a_burst_then_tests_then_one_a_second() {
        let mut l = limits();
        for _ in 0..12 {
            assert!(l.admit_router(7, 0).is_ok());
        }
        assert_eq!(l.admit_router(7, 0), Err(1_000_000_000));
        assert!(l.admit_router(7, 1_000_000_000).is_ok());
    }

    #[test]
    fn a_router_answering_everything_is_not_limited() {
        let mut l = limits();
        for i in 0..10 {
            l.answered(7, true, i * 1000);
        }
        assert!(l.unlimited(7));
        for _ in 0..100 {
            assert!(l.admit_router(7, 20_000).is_ok());
        }
        assert!(l.admit_position(2, 1, &[7], 0).is_ok());
    }

    #[test]
    fn branches_of_a_balancer_add_up() {
        let mut l = limits();
        for _ in 0..24 {
            assert!(l.admit_position(2, 1, &[7, 8], 0).is_ok());
        }
        assert!(l.admit_position(2, 1, &[7, 8], 0).is_err());
        assert!(
            l.admit_position(3, 1, &[1, 2, 3, 4], 0).is_ok(),
            "a fan-out is not paced"
        );
    }
}
