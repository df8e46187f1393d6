//! `matador-routerd`: the service that runs on each lab router, one binary with subcommands.
//!
//! Subcommands: `version`, `flows`, `trace` (Paris traceroute), `run` (the daemon) and
//! `config` (check a configuration, print its UCI form).

use matador_router::dataplane;
mod flows;
mod trace;

use clap::{Parser, Subcommand};
use std::io::ErrorKind;

/// MATAdOR lab-router daemon.
#[derive(Parser)]
#[command(name = "matador-routerd", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the daemon and API versions.
    Version,
    /// Extract flows and service endpoints from a pcap or pcapng capture.
    Flows(flows::FlowsArgs),
    /// Paris traceroute (TCP, UDP or ICMP) to many targets at once, through an interface or fwmark.
    Trace(trace::TraceArgs),
    /// Run the router: access points, DHCP, tunnels to vantage nodes, nftables (foreground).
    Run {
        /// Configuration: UCI when under /etc/config/ or starting with `config `/`package `, else YAML.
        #[arg(long, default_value = "/etc/matador/routerd.yaml")]
        config: std::path::PathBuf,
        /// More log lines (-v: debug, -vv: trace).
        #[arg(short, long, action = clap::ArgAction::Count)]
        verbose: u8,
    },
    /// Check a configuration (YAML or UCI) and print it as /etc/config/matador.
    Config {
        /// The configuration to convert.
        #[arg(long = "to-uci", value_name = "FILE")]
        to_uci: std::path::PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Version => {
            println!(
                "matador-routerd {} (api {})",
                env!("CARGO_PKG_VERSION"),
                matador_api::API_VERSION
            );
            Ok(())
        }
        Command::Flows(args) => flows::run(&args),
        Command::Trace(args) => trace::run(&args),
        Command::Run { config, verbose } => run_daemon(&config, verbose),
        Command::Config { to_uci } => print_uci(&to_uci),
    };
    if let Err(e) = result {
        // The reader of our output went away (`… | head`): end quietly, as Unix tools do.
        let closed_pipe = e
            .chain()
            .filter_map(|c| c.downcast_ref::<std::io::Error>())
            .any(|io| io.kind() == ErrorKind::BrokenPipe);
        if closed_pipe {
            std::process::exit(0);
        }
        eprintln!("matador-routerd: error: {e:#}");
        std::process::exit(1);
    }
}

/// `config --to-uci`: the configuration, checked, as /etc/config/matador on stdout (a
/// write error, not a panic, when the reader goes away).
fn print_uci(path: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    let config = dataplane::config::RouterConfig::load(path)?;
    std::io::stdout().write_all(dataplane::uci::to_uci(&config).as_bytes())?;
    Ok(())
}

/// `run`: logs for logread (stderr, no colours, no timestamps: procd adds them), a panic
/// hook that exits so procd restarts us, then the data plane until SIGTERM.
fn run_daemon(config: &std::path::Path, verbose: u8) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let level = ["info", "debug", "trace"][usize::from(verbose.min(2))];
    let (filter, bad_rust_log) = log_filter(std::env::var("RUST_LOG").ok().as_deref(), level);
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .finish()
        .with(filter)
        .init();
    if let Some(e) = bad_rust_log {
        tracing::warn!(error = %e, "RUST_LOG ignored: expected target=level,... (e.g. matador_router=debug)");
    }
    let config = dataplane::config::RouterConfig::load(config)?;
    // The next start reads the crash file and reports it (a crash loop is not silent).
    let crash_file = matador_router::health::crash_file(&config.state_dir);
    std::panic::set_hook(Box::new(move |info| {
        eprintln!("matador-routerd: panic: {info}");
        let _ = std::fs::write(&crash_file, format!("{info}"));
        std::process::exit(70);
    }));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?
        .block_on(dataplane::run(config))
}

/// The daemon's log filter: `RUST_LOG` (`level` or `target=level,...`) when set and valid,
/// else the `-v` level; a bad `RUST_LOG` is returned to be logged, not fatal.
fn log_filter(
    rust_log: Option<&str>,
    level: &str,
) -> (
    tracing_subscriber::filter::Targets,
    Option<tracing_subscriber::filter::ParseError>,
) {
    let fallback = || level.parse().unwrap_or_default();
    match rust_log.map(str::parse::<tracing_subscriber::filter::Targets>) {
        Some(Ok(targets)) => (targets, None),
        Some(Err(e)) => (fallback(), Some(e)),
        None => (fallback(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::log_filter;
    use tracing::Level;

    #[test]
    fn rust_log_lists_override_the_verbosity_and_bad_ones_fall_back_with_an_error() {
        let (f, bad) = log_filter(Some("matador_router::capture=trace,warn"), "info");
        assert!(bad.is_none());
        assert!(f.would_enable("matador_router::capture", &Level::TRACE));
        assert!(!f.would_enable("matador_router::api", &Level::INFO));
        assert!(f.would_enable("matador_router::api", &Level::WARN));

        let (f, bad) = log_filter(Some("matador_router=loud"), "debug");
        assert!(bad.is_some());
        assert!(f.would_enable("matador_router::api", &Level::DEBUG));
        assert!(!f.would_enable("matador_router::api", &Level::TRACE));

        let (f, bad) = log_filter(None, "info");
        assert!(bad.is_none());
        assert!(!f.would_enable("anything", &Level::DEBUG));
    }
}
