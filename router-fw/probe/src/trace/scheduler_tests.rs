//! The scheduler on its own: the global rate, the window, the horizon, and timeouts feeding
//! the gap limit.

use super::*;
use crate::trace::probe::tests::flow;
use crate::trace::probe::Protocol;
use crate::trace::state::Shape;

fn setup(pacing: Pacing) -> (Traces, Scheduler) {
    let shape = Shape {
        first_ttl: 1,
        max_ttl: 30,
        probes: 3,
        gap_limit: 2,
    };
    let t = Traces::new(shape, vec![(flow(Protocol::Udp, false), "t".into())]).unwrap();
    let s = Scheduler::new(pacing, &t, 0);
    (t, s)
}

fn pacing() -> Pacing {
    Pacing {
        rate_pps: 1_000_000,
        window: 100,
        wait_ns: 1_000_000_000,
        hop_burst: 0,
        hop_rate: 1.0,
        min_sharers: 0,
        lookahead: 0,
    }
}

/// Sends everything the scheduler allows at `now`; returns the slots.
fn drain(t: &mut Traces, s: &mut Scheduler, now: u64) -> (Vec<usize>, Next) {
    let mut sent = Vec::new();
    loop {
        match s.next(t, now) {
            Next::Send { target, slot } => {
                s.on_sent(t, target, slot, now);
                sent.push(slot);
            }
            other => return (sent, other),
        }
    }
}

#[test]
fn the_global_rate_spaces_probes() {
    let (mut t, mut s) = setup(Pacing {
        rate_pps: 10,
        ..pacing()
    });
    let (sent, next) = drain(&mut t, &mut s, 0);
    assert_eq!(sent, vec![0], "a burst of one at 10 pps");
    assert_eq!(next, Next::Wait(100_000_000));
    let (sent, _) = drain(&mut t, &mut s, 100_000_000);
    assert_eq!(sent, vec![1]);
}

#[test]
fn the_window_bounds_probes_in_flight() {
    let (mut t, mut s) = setup(Pacing {
        window: 4,
        ..pacing()
    });
    let (sent, next) = drain(&mut t, &mut s, 0);
    assert_eq!(
        sent,
        vec![0, 1, 2, 3],
        "TTL order, the attempts of a hop together"
    );
    assert_eq!(next, Next::Wait(1_000_000_000), "until the first timeout");
}

#[test]
fn the_horizon_holds_ttls_until_lower_ones_resolve() {
    let (mut t, mut s) = setup(Pacing {
        lookahead: 2,
        ..pacing()
    });
    let (sent, _) = drain(&mut t, &mut s, 0);
    assert_eq!(sent.len(), 6, "TTLs 1 and 2, three probes each");
    // Everything times out: TTLs 1-2 are silent, which is the gap limit (2): the trace ends.
    let (sent, next) = drain(&mut t, &mut s, 1_000_000_000);
    assert!(sent.is_empty());
    assert_eq!(next, Next::Done);
    assert_eq!((t.targets[0].gap_end, t.targets[0].limit), (Some(2), 2));
    assert_eq!(s.stats.timeouts, 6);
}

#[test]
fn all_ttls_go_at_once_without_a_horizon() {
    let (mut t, mut s) = setup(pacing());
    let (sent, _) = drain(&mut t, &mut s, 0);
    assert_eq!(sent.len(), 90);
}
