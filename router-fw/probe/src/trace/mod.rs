//! The traceroute engine: Paris traceroute over TCP SYN, UDP or ICMP echo, IPv4 and IPv6, for
//! any number of targets at once from one set of raw sockets, bound to an interface or a
//! fwmark so probes leave through a given tunnel. Results come out in the RIPE Atlas
//! traceroute schema and as a table.
//!
//! The core is pure and tested without sockets: [`probe`] builds probes, [`reply`] parses
//! replies, [`matcher`] and [`state`] match them to probes and decide where a trace stops,
//! [`scheduler`] paces probes (global rate, per-target window, per-router rate limits, stop
//! set), [`engine`] runs the loop over a [`Network`]. [`socket`] is the raw-socket edge.
//!
//! ```no_run
//! use matador_probe::trace::{trace, Target, TraceConfig, Protocol};
//! let config = TraceConfig { proto: Protocol::Tcp, port: Some(443), ..TraceConfig::default() };
//! let targets = vec![Target::new("192.0.2.7".parse().unwrap(), "192.0.2.7")];
//! let run = trace(&config, &targets).unwrap();
//! println!("{}", serde_json::to_string(&run.results[0]).unwrap());
//! ```

pub mod checksum;
pub mod engine;
pub mod ext;
pub mod matcher;
pub mod output;
pub mod pacing;
pub mod probe;
pub mod ratelimit;
pub mod reply;
pub mod scheduler;
#[cfg(test)]
pub(crate) mod sim;
pub mod socket;
pub mod state;
pub mod stopset;

pub use engine::{Network, Received, RunStats, SendError};
pub use matcher::{Match, MatchError, Traces};
pub use output::{AtlasHop, AtlasReply, AtlasTrace};
pub use probe::{FlowSpec, ProbeError, Protocol};
pub use reply::{Reply, ReplyError, ReplyKind};
pub use scheduler::Pacing;
pub use socket::{Binding, RawNetwork};
pub use state::Shape;

use std::net::IpAddr;
use std::time::Duration;

/// Settings of a run (the CLI's flags).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceConfig {
    /// Transport of the probes.
    pub proto: Protocol,
    /// Destination port (TCP default 80, UDP default 33434); ignored for ICMP.
    pub port: Option<u16>,
    /// Source port (ICMP: echo identifier) of the first target; the next targets count up.
    /// Default: chosen from the process id.
    pub src_port: Option<u16>,
    /// Paris variation: sets the constant ICMP checksum.
    pub paris_id: u16,
    /// First TTL probed.
    pub first_ttl: u8,
    /// Last TTL probed.
    pub max_ttl: u8,
    /// Probes per hop.
    pub probes: u8,
    /// Consecutive silent hops after which a trace stops (0: never).
    pub gap_limit: u8,
    /// How long to wait for each reply.
    pub wait: Duration,
    /// Probes per second over all targets.
    pub rate_pps: u32,
    /// Unresolved probes per target at most.
    pub window: u16,
    /// Routers' assumed ICMP burst (0: no per-router pacing).
    pub hop_burst: u16,
    /// Routers' assumed ICMP replies per second after the burst.
    pub hop_rate: f64,
    /// Targets that must agree on a hop before the stop set may stand in for it (0: never).
    pub min_sharers: u16,
    /// TTLs probed beyond the highest one resolved so far (0: all TTLs at once).
    pub lookahead: u8,
    /// Total IP length of UDP and ICMP probes (0: 60 for IPv4, 80 for IPv6).
    pub size: u16,
    /// Interface or fwmark the probes leave through.
    pub binding: Binding,
}

impl Default for TraceConfig {
    fn default() -> Self {
        let p = Pacing::default();
        TraceConfig {
            proto: Protocol::Icmp,
            port: None,
            src_port: None,
            paris_id: 1,
            first_ttl: 1,
            max_ttl: 30,
            probes: 3,
            gap_limit: 5,
            wait: Duration::from_nanos(p.wait_ns),
            rate_pps: p.rate_pps,
            window: p.window,
            hop_burst: p.hop_burst,
            hop_rate: p.hop_rate,
            min_sharers: p.min_sharers,
            lookahead: p.lookahead,
            size: 0,
            binding: Binding::default(),
        }
    }
}

/// A target: an address and the name it was given as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Address probed.
    pub addr: IpAddr,
    /// Name as given (the address in text when given as an address).
    pub name: String,
}

impl Target {
    /// A target from an address and its name.
    pub fn new(addr: IpAddr, name: impl Into<String>) -> Target {
        Target {
            addr,
            name: name.into(),
        }
    }
}

/// Why a run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    Config(String),
    /// Probes cannot be built for a target.
    #[error("target {target}: {source}")]
    Probe {
        /// The target.
        target: IpAddr,
        /// Why.
        source: ProbeError,
    },
    /// Targets cannot be traced together.
    #[error(transparent)]
    Match(#[from] MatchError),
    /// No source address toward a target through the chosen interface or mark.
    #[error("no route to {target} through {binding}: {source}")]
    NoRoute {
        /// The target.
        target: IpAddr,
        /// Interface or mark.
        binding: Binding,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// The raw sockets failed.
    #[error("raw sockets: {0}")]
    Socket(#[source] std::io::Error),
}

/// The outcome of a run.
#[derive(Debug)]
pub struct TraceRun {
    /// One result per target, in the order given.
    pub results: Vec<AtlasTrace>,
    /// Counters of the run.
    pub stats: RunStats,
}

impl TraceConfig {
    /// Checks ranges that would otherwise surface as odd behaviour.
    pub fn validate(&self) -> Result<(), TraceError> {
        let bad = |m: &str| Err(TraceError::Config(m.to_string()));
        if self.max_ttl == 0 || self.first_ttl == 0 || self.first_ttl > self.max_ttl {
            return bad("need 1 <= first TTL <= max TTL");
        }
        if !(1..=10).contains(&self.probes) {
            return bad("probes per hop must be 1..=10");
        }
        if self.rate_pps == 0 || self.window == 0 {
            return bad("rate and window must be at least 1");
        }
        if self.hop_burst > 0 && !(self.hop_rate > 0.0 && self.hop_rate.is_finite()) {
            return bad("the per-router rate must be positive when pacing per router");
        }
        if self.wait.is_zero() || self.wait > Duration::from_secs(60) {
            return bad("wait must be between 1 ms and 60 s");
        }
        Ok(())
    }

    /// The trace shape.
    pub fn shape(&self) -> Shape {
        Shape {
            first_ttl: self.first_ttl,
            max_ttl: self.max_ttl,
            probes: self.probes,
            gap_limit: self.gap_limit,
        }
    }

    /// The pacing.
    pub fn pacing(&self) -> Pacing {
        Pacing {
            rate_pps: self.rate_pps,
            window: self.window,
            wait_ns: self.wait.as_nanos().min(u128::from(u64::MAX)) as u64,
            hop_burst: self.hop_burst,
            hop_rate: self.hop_rate,
            min_sharers: self.min_sharers,
            lookahead: self.lookahead,
        }
    }

    /// The Paris flow of the `index`th target, probed from `src`; `nonce` varies per run.
    pub fn flow(&self, index: usize, target: IpAddr, src: IpAddr, nonce: u32) -> FlowSpec {
        let base = self.src_port.unwrap_or(33000 + (nonce % 16384) as u16);
        let v6 = target.is_ipv6();
        let size = match self.size {
            0 if v6 => 80,
            0 => 60,
            s => s,
        };
        FlowSpec {
            proto: self.proto,
            src,
            dst: target,
            src_port: base.wrapping_add(index as u16),
            dst_port: match self.proto {
                Protocol::Icmp => 0,
                Protocol::Udp => self.port.unwrap_or(33434),
                Protocol::Tcp => self.port.unwrap_or(80),
            },
            // Never 0 or 0xffff, which a checksum cannot carry unambiguously.
            icmp_checksum: 0x1000u16.wrapping_add(self.paris_id).clamp(1, 0xfffe),
            // Zero, as the kernel and scamper send: Linux hashes the flow label into its
            // IPv6 multipath choice, and a constant label is all Paris needs.
            flow_label: 0,
            seq_base: nonce & 0xffff_0000,
            size,
        }
    }
}

/// Traces `targets` over raw sockets.
pub fn trace(config: &TraceConfig, targets: &[Target]) -> Result<TraceRun, TraceError> {
    config.validate()?;
    let mut net = RawNetwork::open(
        &config.binding,
        targets.iter().any(|t| t.addr.is_ipv4()),
        targets.iter().any(|t| t.addr.is_ipv6()),
        config.proto,
    )
    .map_err(TraceError::Socket)?;
    let nonce = run_nonce();
    let mut flows = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        let src =
            socket::source_for(t.addr, &config.binding).map_err(|source| TraceError::NoRoute {
                target: t.addr,
                binding: config.binding.clone(),
                source,
            })?;
        flows.push((config.flow(i, t.addr, src, nonce), t.name.clone()));
    }
    trace_over(&mut net, config, flows)
}

/// Traces prepared flows over any [`Network`] (raw sockets, or a simulation in tests).
pub fn trace_over<N: Network>(
    net: &mut N,
    config: &TraceConfig,
    flows: Vec<(FlowSpec, String)>,
) -> Result<TraceRun, TraceError> {
    config.validate()?;
    for (f, _) in &flows {
        f.validate().map_err(|source| TraceError::Probe {
            target: f.dst,
            source,
        })?;
    }
    let mut traces = Traces::new(config.shape(), flows)?;
    let stats = engine::run(net, &mut traces, config.pacing()).map_err(TraceError::Socket)?;
    let results = output::atlas(&traces, config.paris_id);
    Ok(TraceRun { results, stats })
}

/// A number that differs between runs (source ports, TCP sequence base).
fn run_nonce() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    std::process::id().wrapping_mul(2_654_435_761) ^ t.subsec_nanos() ^ (t.as_secs() as u32)
}
