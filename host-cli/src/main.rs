//! `matador-host`: what a researcher runs on the controller. Today it runs the virtual lab;
//! phones, campaigns, analysis and router control arrive with their issues.

mod analysis;
mod at_rest;
mod campaign;
mod collector;
mod geo;
mod lab;
mod phone;
mod privacy;
mod router;
mod spec;
mod store;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// MATAdOR host CLI: where do a messaging app's messages really go?
#[derive(Parser)]
#[command(name = "matador-host", version, about, long_about = None)]
struct Cli {
    /// More log output (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The virtual lab: an emulated Internet in network namespaces (needs root).
    Lab(lab::LabArgs),
    /// Campaigns: apps × vantage-node pairs × repetitions through routers and phones.
    Campaign(campaign::CampaignArgs),
    /// Tables and reports from the result store: traffic leaving the region, traffic
    /// accessible for interest groups, network path versus each app.
    Analyze(analysis::cli::AnalyzeArgs),
    /// Loads measurement records (JSON lines, docs/schema.md) into the result store.
    Import(analysis::cli::ImportArgs),
    /// Phones over ADB: list them, run a shell command, take a screenshot. Phones over a
    /// router's VPN ingress: enroll one, list or delete its data, stop its monitoring.
    Phone(phone::PhoneArgs),
    /// Field routers: enroll one (keys, token, pinned certificate, image overlay).
    Router(router::RouterArgs),
    /// The controller's end of store-and-forward: receive field routers' uploads.
    Collector(collector::CollectorArgs),
    /// The researcher's age key pair, which field routers encrypt results to at rest.
    Keys(at_rest::cli::KeysArgs),
    /// Decrypts `.age` files (results encrypted at rest on field routers): X.age to X.
    Decrypt(at_rest::cli::DecryptArgs),
}

fn main() {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`matador-host lab status --json | head`) instead of panicking on a broken pipe.
    // SAFETY: setting a signal disposition to its default before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // The lab daemon and phones log to files: colour codes only on a terminal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result: Result<i32> = match cli.command {
        Command::Lab(args) => lab::run(args),
        Command::Campaign(args) => campaign::run(args),
        Command::Analyze(args) => analysis::cli::analyze(args),
        Command::Import(args) => analysis::cli::import(args),
        Command::Phone(args) => phone::run(args),
        Command::Router(args) => router::run(args),
        Command::Collector(args) => collector::run(args),
        Command::Keys(args) => at_rest::cli::keys(args),
        Command::Decrypt(args) => at_rest::cli::decrypt(args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("matador-host: error: {e:#}");
            std::process::exit(1);
        }
    }
}
