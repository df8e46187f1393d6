//! How fast to probe: the settings, and the token buckets that enforce the global probe rate
//! and model each router's ICMP rate limit.

/// How fast and how wide to probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    /// Probes per second over all targets.
    pub rate_pps: u32,
    /// Probes per target sent and not yet answered or timed out.
    pub window: u16,
    /// How long to wait for a reply (ns).
    pub wait_ns: u64,
    /// ICMP errors a router is assumed to send back to back (0: no per-hop pacing).
    pub hop_burst: u16,
    /// ICMP errors per second a router is assumed to send after its burst.
    pub hop_rate: f64,
    /// Targets that must agree on a hop before it may be taken from the stop set instead of
    /// waiting on its rate limit (0: never).
    pub min_sharers: u16,
    /// TTLs probed beyond the highest TTL resolved so far (0: all TTLs at once). Keeps the
    /// probes that overshoot the destination, and drain its ICMP budget, few.
    pub lookahead: u8,
}

impl Default for Pacing {
    fn default() -> Self {
        // Linux answers 6 ICMP errors back to back, then one a second, per destination.
        Pacing {
            rate_pps: 1000,
            window: 32,
            wait_ns: 2_000_000_000,
            hop_burst: 6,
            hop_rate: 1.0,
            min_sharers: 3,
            lookahead: 8,
        }
    }
}

/// A token bucket over time in ns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    pub(crate) tokens: f64,
    pub(crate) last_ns: u64,
}

impl Bucket {
    pub(crate) fn full(burst: f64, now: u64) -> Bucket {
        Bucket {
            tokens: burst,
            last_ns: now,
        }
    }

    pub(crate) fn refill(&mut self, now: u64, per_s: f64, burst: f64) {
        let dt = now.saturating_sub(self.last_ns) as f64 / 1e9;
        self.tokens = (self.tokens + dt * per_s).min(burst);
        self.last_ns = now.max(self.last_ns);
    }

    /// When the next whole token is there.
    pub(crate) fn ready_at(&self, per_s: f64) -> u64 {
        if self.tokens >= 1.0 || per_s <= 0.0 {
            return self.last_ns;
        }
        self.last_ns + ((1.0 - self.tokens) / per_s * 1e9).ceil() as u64
    }
}

/// Probes the global bucket lets out back to back: 20 ms worth, at least one.
pub(crate) fn global_burst(rate_pps: u32) -> f64 {
    (f64::from(rate_pps) / 50.0).max(1.0)
}
