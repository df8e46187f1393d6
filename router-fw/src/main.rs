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
    matador_api::logread::init(verbose, "matador_router=debug");
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
