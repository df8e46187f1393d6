//! A Doubletree-style stop set, forward variant: for each (TTL, previous hop) the responder
//! that targets saw next, and how many targets agree. A hop that enough targets share, with no
//! target ever seeing another address there (which would mean load balancing), need not be
//! probed again when probing it would only wait on that router's ICMP rate limit.

use std::collections::HashMap;

/// Stands for "the source" as the previous hop of the first TTL.
pub const SOURCE: u32 = u32::MAX;

/// What targets saw at one (TTL, previous hop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shared {
    /// Responder index.
    pub addr: u32,
    /// How many targets saw it there.
    pub sharers: u16,
    /// Some target saw a different responder there.
    pub conflict: bool,
    /// Distinct responders seen there (up to four): the branches of a load balancer.
    pub alts: [u32; 4],
    /// How many of `alts` are used.
    pub n_alts: u8,
    /// A round-trip time measured there (ns), reported for inferred hops.
    pub rtt_ns: u32,
    /// Reply size measured there.
    pub size: u16,
    /// Reply TTL measured there.
    pub reply_ttl: u8,
}

/// The stop set of one run.
#[derive(Debug, Default)]
pub struct StopSet {
    map: HashMap<(u8, u32), Shared>,
    /// The same per TTL alone, for targets whose previous hop is unknown (silent or lost).
    by_ttl: HashMap<u8, Shared>,
}

/// One measured reply, as the stop set records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// TTL of the hop.
    pub ttl: u8,
    /// Responder of the hop before (or [`SOURCE`]).
    pub prev: u32,
    /// Responder of this hop.
    pub addr: u32,
    /// Whether it is this target's first reply at this hop (only those count as sharers).
    pub first: bool,
    /// Measured round-trip time (ns).
    pub rtt_ns: u32,
    /// Reply size.
    pub size: u16,
    /// Reply TTL.
    pub reply_ttl: u8,
}

impl StopSet {
    /// Records a measured reply whose previous hop is known.
    pub fn observe(&mut self, seen: Seen) {
        record(
            self.map
                .entry((seen.ttl, seen.prev))
                .or_insert_with(|| fresh(&seen)),
            &seen,
        );
    }

    /// Records a measured reply by its TTL alone.
    pub fn observe_ttl(&mut self, seen: Seen) {
        record(
            self.by_ttl.entry(seen.ttl).or_insert_with(|| fresh(&seen)),
            &seen,
        );
    }

    /// What was seen at `ttl` after `prev`.
    pub fn entry(&self, ttl: u8, prev: u32) -> Option<&Shared> {
        self.map.get(&(ttl, prev))
    }

    /// The responder expected at `ttl` whatever the previous hop, unless targets disagreed.
    pub fn predict_ttl(&self, ttl: u8) -> Option<u32> {
        self.by_ttl
            .get(&ttl)
            .filter(|e| !e.conflict)
            .map(|e| e.addr)
    }

    /// The hop at `ttl` if at least `min_sharers` targets agree on it, whatever came before.
    pub fn shared_ttl(&self, ttl: u8, min_sharers: u16) -> Option<Shared> {
        let e = self.by_ttl.get(&ttl)?;
        (min_sharers > 0 && !e.conflict && e.sharers >= min_sharers).then_some(*e)
    }

    /// The responder expected at `ttl` after `prev`, unless targets disagreed there.
    pub fn predict(&self, ttl: u8, prev: u32) -> Option<u32> {
        self.map
            .get(&(ttl, prev))
            .filter(|e| !e.conflict)
            .map(|e| e.addr)
    }

    /// The shared hop at `ttl` after `prev` if at least `min_sharers` targets agree on it.
    pub fn shared(&self, ttl: u8, prev: u32, min_sharers: u16) -> Option<Shared> {
        let e = self.map.get(&(ttl, prev))?;
        (min_sharers > 0 && !e.conflict && e.sharers >= min_sharers).then_some(*e)
    }

    /// Number of (TTL, previous hop) entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

fn fresh(seen: &Seen) -> Shared {
    Shared {
        addr: seen.addr,
        sharers: 0,
        conflict: false,
        alts: [seen.addr, 0, 0, 0],
        n_alts: 1,
        rtt_ns: seen.rtt_ns,
        size: seen.size,
        reply_ttl: seen.reply_ttl,
    }
}

fn record(e: &mut Shared, seen: &Seen) {
    if e.addr != seen.addr {
        e.conflict = true;
    } else if seen.first {
        e.sharers = e.sharers.saturating_add(1);
    }
    let n = usize::from(e.n_alts);
    if n < e.alts.len() && !e.alts[..n].contains(&seen.addr) {
        e.alts[n] = seen.addr;
        e.n_alts += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(ttl: u8, prev: u32, addr: u32, first: bool) -> Seen {
        Seen {
            ttl,
            prev,
            addr,
            first,
            rtt_ns: 1000,
            size: 56,
            reply_ttl: 64,
        }
    }

    #[test]
    fn agreement_builds_up_and_a_second_address_poisons_it() {
        let mut s = StopSet::default();
        s.observe(seen(1, SOURCE, 7, true));
        s.observe(seen(1, SOURCE, 7, false));
        assert_eq!(s.shared(1, SOURCE, 2), None, "one target counts once");
        s.observe(seen(1, SOURCE, 7, true));
        assert_eq!(s.shared(1, SOURCE, 2).map(|e| e.addr), Some(7));
        assert_eq!(s.predict(1, SOURCE), Some(7));
        s.observe(seen(1, SOURCE, 8, true));
        assert_eq!(s.shared(1, SOURCE, 2), None);
        assert_eq!(s.predict(1, SOURCE), None);
        assert_eq!(s.shared(2, 7, 0), None);
        assert_eq!(s.entry(1, SOURCE).map(|e| e.n_alts), Some(2));
        s.observe_ttl(seen(3, 0, 9, true));
        assert_eq!(s.predict_ttl(3), Some(9));
        assert_eq!(s.shared_ttl(3, 1).map(|e| e.addr), Some(9));
    }
}
