//! `matador-routerd trace TARGET...`: Paris traceroute to many targets at once through a given
//! interface or fwmark, printed as tables or as RIPE Atlas JSON (one object per line).

mod targets;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use matador_probe::trace::{self, output, Binding, Protocol, TraceConfig};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Transport of the probes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProtoArg {
    /// TCP SYN to --port (default 80).
    Tcp,
    /// UDP to --port (default 33434).
    Udp,
    /// ICMP echo request.
    Icmp,
}

/// Arguments of `trace`.
#[derive(Args, Debug)]
pub struct TraceArgs {
    /// Targets: IP addresses or host names (names are resolved; addresses never are).
    targets: Vec<String>,
    /// A file of targets, one per line (`#` starts a comment). Repeatable.
    #[arg(long, value_name = "FILE")]
    file: Vec<PathBuf>,
    /// Probe with TCP SYN, UDP or ICMP echo.
    #[arg(long, value_enum, default_value = "icmp")]
    proto: ProtoArg,
    /// Destination port for TCP and UDP.
    #[arg(long, value_name = "N")]
    port: Option<u16>,
    /// Source port (ICMP: echo identifier) of the first target; the next ones count up.
    #[arg(long, value_name = "N")]
    src_port: Option<u16>,
    /// Paris variation: picks the constant ICMP checksum.
    #[arg(long, value_name = "N", default_value_t = 1)]
    paris_id: u16,
    /// First TTL to probe.
    #[arg(long, value_name = "N", default_value_t = 1)]
    first_ttl: u8,
    /// Last TTL to probe.
    #[arg(long, value_name = "N", default_value_t = 30)]
    max_ttl: u8,
    /// Probes per hop.
    #[arg(long, value_name = "N", default_value_t = 3)]
    probes: u8,
    /// Stop a trace after this many consecutive silent hops (0: never).
    #[arg(long, value_name = "N", default_value_t = 5)]
    gap_limit: u8,
    /// Milliseconds to wait for each reply.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    wait_ms: u64,
    /// Probes per second over all targets.
    #[arg(long, value_name = "PPS", default_value_t = 1000)]
    rate: u32,
    /// Probes per target in flight at most.
    #[arg(long, value_name = "N", default_value_t = 32)]
    window: u16,
    /// ICMP errors a router is assumed to send back to back before its rate limit (0: do not
    /// pace per router).
    #[arg(long, value_name = "N", default_value_t = 6)]
    hop_burst: u16,
    /// ICMP errors per second a router is assumed to send after its burst.
    #[arg(long, value_name = "PPS", default_value_t = 1.0)]
    hop_rate: f64,
    /// Targets that must agree on a hop before it is taken from the stop set rather than
    /// waiting on its rate limit (0: never).
    #[arg(long, value_name = "N", default_value_t = 3)]
    stop_set: u16,
    /// TTLs probed beyond the highest one answered or timed out so far (0: all at once).
    #[arg(long, value_name = "N", default_value_t = 8)]
    lookahead: u8,
    /// Total IP length of UDP and ICMP probes (default 60 for IPv4, 80 for IPv6).
    #[arg(long, value_name = "BYTES")]
    size: Option<u16>,
    /// Send through this interface (SO_BINDTODEVICE), e.g. a WireGuard tunnel.
    #[arg(long, value_name = "IF", conflicts_with = "fwmark")]
    interface: Option<String>,
    /// Send with this firewall mark (SO_MARK), routed by `ip rule fwmark`; decimal or 0x hex.
    #[arg(long, value_name = "N", value_parser = parse_mark)]
    fwmark: Option<u32>,
    /// Resolve names to IPv4 addresses only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    ipv4: bool,
    /// Resolve names to IPv6 addresses only.
    #[arg(short = '6')]
    ipv6: bool,
    /// Print one RIPE Atlas traceroute result (JSON) per line instead of tables.
    #[arg(long)]
    json: bool,
    /// Print the run's counters (probes sent, replies, timeouts) to standard error.
    #[arg(long)]
    stats: bool,
}

fn parse_mark(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("{s:?} is not a 32-bit mark: {e}"))
}

impl TraceArgs {
    /// The engine settings these flags ask for.
    fn config(&self) -> Result<TraceConfig> {
        if self.wait_ms == 0 {
            bail!("--wait-ms must be at least 1");
        }
        let config = TraceConfig {
            proto: match self.proto {
                ProtoArg::Tcp => Protocol::Tcp,
                ProtoArg::Udp => Protocol::Udp,
                ProtoArg::Icmp => Protocol::Icmp,
            },
            port: self.port,
            src_port: self.src_port,
            paris_id: self.paris_id,
            first_ttl: self.first_ttl,
            max_ttl: self.max_ttl,
            probes: self.probes,
            gap_limit: self.gap_limit,
            wait: Duration::from_millis(self.wait_ms),
            rate_pps: self.rate,
            window: self.window,
            hop_burst: self.hop_burst,
            hop_rate: self.hop_rate,
            min_sharers: self.stop_set,
            lookahead: self.lookahead,
            size: self.size.unwrap_or(0),
            binding: Binding {
                interface: self.interface.clone(),
                fwmark: self.fwmark,
            },
        };
        config.validate()?;
        Ok(config)
    }
}

/// Runs the subcommand, printing to standard output.
pub fn run(args: &TraceArgs) -> Result<()> {
    let config = args.config()?;
    let family = match (args.ipv4, args.ipv6) {
        (true, _) => targets::Family::V4,
        (_, true) => targets::Family::V6,
        _ => targets::Family::Any,
    };
    let list = targets::collect(&args.targets, &args.file, family)?;
    if list.is_empty() {
        bail!("no targets: give addresses, names, or --file");
    }
    let run = trace::trace(&config, &list).context("tracing")?;
    let mut out = BufWriter::new(io::stdout().lock());
    print(&mut out, &run.results, args.json)?;
    out.flush().context("writing output")?;
    if args.stats {
        let s = &run.stats;
        eprintln!(
            "targets {} sent {} received {} unparsed {} matched {} late {} timeouts {} inferred {} held {} dropped {} stop-set {} wall {:.3} s",
            list.len(),
            s.schedule.sent,
            s.received,
            s.unparsed,
            s.matched,
            s.late,
            s.schedule.timeouts,
            s.schedule.inferred,
            s.schedule.held,
            s.dropped,
            s.stop_set,
            s.ended_ns.saturating_sub(s.started_ns) as f64 / 1e9
        );
    }
    Ok(())
}

/// Prints results as JSON lines or as tables separated by blank lines.
fn print(out: &mut impl Write, results: &[output::AtlasTrace], json: bool) -> Result<()> {
    for (i, r) in results.iter().enumerate() {
        if json {
            serde_json::to_writer(&mut *out, r)?;
            writeln!(out)?;
        } else {
            if i > 0 {
                writeln!(out)?;
            }
            output::write_table(out, r)?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
