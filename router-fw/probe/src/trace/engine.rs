//! The run loop: asks the scheduler what to send, builds and sends it, hands every received
//! packet to the parser and the matcher, until every trace is done. The network sits behind
//! [`Network`], so the whole engine runs against a simulated network in tests.

use super::matcher::{Match, Traces};
use super::probe::{self, MAX_PROBE};
use super::reply::{self, Reply, ReplyError};
use super::scheduler::{Next, Pacing, ScheduleStats, Scheduler};
use std::io;
use std::net::{IpAddr, Ipv6Addr};

/// A packet handed up by the network, with its kernel receive time.
#[derive(Debug, Clone, Copy)]
pub enum Received<'a> {
    /// A whole IPv4 packet (ICMP or TCP), header included.
    Ipv4 {
        /// The packet.
        packet: &'a [u8],
        /// Receive time, ns since the epoch.
        at_ns: u64,
    },
    /// An ICMPv6 message without its IPv6 header.
    Icmpv6 {
        /// Sender.
        from: Ipv6Addr,
        /// Hop limit on arrival.
        hop_limit: u8,
        /// The message.
        msg: &'a [u8],
        /// Receive time, ns since the epoch.
        at_ns: u64,
    },
    /// A TCP segment received over IPv6, without its IPv6 header.
    Tcpv6 {
        /// Sender.
        from: Ipv6Addr,
        /// Our address it was sent to (IPV6_PKTINFO), to check the TCP checksum.
        to: Option<Ipv6Addr>,
        /// Hop limit on arrival.
        hop_limit: u8,
        /// The segment.
        segment: &'a [u8],
        /// Receive time, ns since the epoch.
        at_ns: u64,
    },
}

impl Received<'_> {
    /// Parses the packet as a reply.
    pub fn parse(&self) -> Result<Reply, ReplyError> {
        match *self {
            Received::Ipv4 { packet, .. } => reply::parse_ipv4(packet),
            Received::Icmpv6 {
                from,
                hop_limit,
                msg,
                ..
            } => reply::parse_icmpv6(from, hop_limit, msg),
            Received::Tcpv6 {
                from,
                to,
                hop_limit,
                segment,
                ..
            } => reply::parse_tcpv6(from, to, hop_limit, segment),
        }
    }

    /// Receive time, ns since the epoch.
    pub fn at_ns(&self) -> u64 {
        match *self {
            Received::Ipv4 { at_ns, .. }
            | Received::Icmpv6 { at_ns, .. }
            | Received::Tcpv6 { at_ns, .. } => at_ns,
        }
    }
}

/// What a send attempt came to.
#[derive(Debug)]
pub enum SendError {
    /// The socket buffer is full: try the same probe again shortly.
    Busy,
    /// The probe cannot leave (no route, refused by a local firewall): it counts as unanswered.
    Dropped(io::Error),
    /// The sockets are broken: stop.
    Fatal(io::Error),
}

/// Where probes go out and replies come in.
pub trait Network {
    /// Sends one probe (a whole IP packet) to `dst`; returns the send time (ns since epoch).
    fn send(&mut self, packet: &[u8], dst: IpAddr) -> Result<u64, SendError>;
    /// Hands every packet received until `until_ns` at the latest to `sink`, returning early
    /// once something arrived; `until_ns` in the past means "only what is already there".
    fn receive(&mut self, until_ns: u64, sink: &mut dyn FnMut(Received<'_>)) -> io::Result<()>;
    /// The current time, ns since the epoch, on the clock the timestamps use.
    fn now_ns(&self) -> u64;
}

/// Counts of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// What the scheduler did.
    pub schedule: ScheduleStats,
    /// Packets received.
    pub received: u64,
    /// Packets that were not replies (other ICMP, malformed, truncated).
    pub unparsed: u64,
    /// What the received replies turned out to be.
    pub matched: u64,
    /// Replies to probes already timed out.
    pub late: u64,
    /// Probes the kernel would not send.
    pub dropped: u64,
    /// (TTL, previous hop) entries in the stop set at the end.
    pub stop_set: usize,
    /// Run start, ns since the epoch.
    pub started_ns: u64,
    /// Run end.
    pub ended_ns: u64,
}

/// Drains the receive queue after this many sends, so replies settle traces promptly.
const DRAIN_EVERY: u32 = 8;

/// Runs every trace in `traces` to the end over `net`.
pub fn run<N: Network>(
    net: &mut N,
    traces: &mut Traces,
    pacing: Pacing,
) -> Result<RunStats, io::Error> {
    let mut stats = RunStats {
        started_ns: net.now_ns(),
        ..RunStats::default()
    };
    let mut sched = Scheduler::new(pacing, traces, stats.started_ns);
    let mut buf = [0u8; MAX_PROBE];
    let mut since_drain = 0u32;
    loop {
        let now = net.now_ns();
        match sched.next(traces, now) {
            Next::Done => break,
            Next::Send { target, slot } => {
                let flow = traces.targets[target as usize].flow;
                let (ttl, _) = traces.shape.ttl_attempt(slot);
                let len = probe::build(&flow, ttl, Traces::tag(slot), &mut buf)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                match net.send(&buf[..len], flow.dst) {
                    Ok(sent_ns) => sched.on_sent(traces, target, slot, sent_ns),
                    Err(SendError::Busy) => {
                        sched.retry(traces, target, slot);
                        let soon = net.now_ns() + 1_000_000;
                        receive(net, traces, &mut sched, &mut stats, soon)?;
                    }
                    Err(SendError::Dropped(_)) => {
                        stats.dropped += 1;
                        // Sent as far as the trace is concerned: it will time out as silent.
                        sched.on_sent(traces, target, slot, net.now_ns());
                    }
                    Err(SendError::Fatal(e)) => return Err(e),
                }
                since_drain += 1;
                if since_drain >= DRAIN_EVERY {
                    since_drain = 0;
                    receive(net, traces, &mut sched, &mut stats, 0)?;
                }
            }
            Next::Wait(until) => {
                since_drain = 0;
                receive(net, traces, &mut sched, &mut stats, until)?;
            }
        }
    }
    stats.schedule = sched.stats;
    stats.stop_set = sched.stop_set().len();
    stats.matched = traces.stats.matched;
    stats.late = traces.stats.late;
    stats.ended_ns = net.now_ns();
    Ok(stats)
}

fn receive<N: Network>(
    net: &mut N,
    traces: &mut Traces,
    sched: &mut Scheduler,
    stats: &mut RunStats,
    until: u64,
) -> io::Result<()> {
    net.receive(until, &mut |rx| {
        stats.received += 1;
        let Ok(reply) = rx.parse() else {
            stats.unparsed += 1;
            return;
        };
        let at = rx.at_ns();
        if let Match::Probe { target, slot } = traces.on_reply(&reply, at) {
            sched.on_reply(traces, target, slot, at);
        }
    })
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
