//! `matador-routerd`: the service that runs on each lab router, one binary with subcommands.
//!
//! `version` and `flows` exist; `run` and `trace` arrive with the router and traceroute issues.

mod flows;

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
