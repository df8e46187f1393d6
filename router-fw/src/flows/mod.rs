//! `matador-routerd flows FILE`: runs flow extraction on a capture (a file, or `-` for a
//! stream such as `tcpdump -w -`), applies an app's rules and timers, and prints flows and
//! endpoints as tables or JSON lines.

mod print;

use anyhow::{Context, Result};
use clap::Args;
use matador_probe::flows::{self, ExtractConfig, Extraction, Rules, Timers};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Arguments of `flows`.
#[derive(Args)]
pub struct FlowsArgs {
    /// The capture (pcap or pcapng); `-` reads standard input.
    file: PathBuf,
    /// Print JSON lines (`{"type":"flow",…}`, `{"type":"endpoint",…}`, `{"type":"stats",…}`).
    #[arg(long)]
    json: bool,
    /// The app's endpoint rules (YAML: deny, allow, only_allowed, baseline).
    #[arg(long, value_name = "RULES.yaml")]
    rules: Option<PathBuf>,
    /// The measurement's timers (YAML: launched, messages, window_before, window_after).
    #[arg(long, value_name = "TIMERS.yaml")]
    timers: Option<PathBuf>,
    /// A capture of an empty run (without the app); its endpoints become noise. Repeatable.
    #[arg(long, value_name = "EMPTY.pcap")]
    baseline: Vec<PathBuf>,
    /// Show dropped endpoints too, with the rule that dropped them (tables only; JSON has all).
    #[arg(long)]
    all: bool,
}

/// Runs the subcommand, printing to standard output.
pub fn run(args: &FlowsArgs) -> Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    let cut_short = run_to(args, &mut out)?;
    out.flush().context("writing output")?;
    if cut_short {
        eprintln!(
            "matador-routerd: warning: {} is cut short in its last record; flows up to there are shown",
            args.file.display()
        );
    }
    Ok(())
}

/// Runs the subcommand into `out`; returns whether the capture was cut short.
fn run_to(args: &FlowsArgs, out: &mut impl Write) -> Result<bool> {
    let config = ExtractConfig::default();
    let mut rules = match &args.rules {
        Some(path) => Rules::from_yaml(&read_text(path, "rules")?, &path.display().to_string())?,
        None => Rules::default(),
    };
    let timers: Option<Timers> = match &args.timers {
        Some(path) => Some(
            serde_saphyr::from_str(&read_text(path, "timers")?).map_err(|e| {
                let first = e.to_string().lines().next().unwrap_or_default().to_string();
                anyhow::anyhow!("{}: {first}", path.display())
            })?,
        ),
        None => None,
    };
    for empty in &args.baseline {
        let run = read_capture(empty, &config)?;
        let seen = flows::endpoints(&run.flows, &rules, None);
        let kept: Vec<_> = seen.into_iter().filter(|e| e.is_kept()).collect();
        rules.add_baseline(&kept);
    }
    let extraction = read_capture(&args.file, &config)?;
    let endpoints = flows::endpoints(&extraction.flows, &rules, timers.as_ref());
    if args.json {
        print::json_lines(out, &extraction, &endpoints)?;
    } else {
        print::tables(out, &extraction, &endpoints, args.all)?;
    }
    Ok(extraction.stats.cut_short)
}

fn read_text(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {what} {}", path.display()))
}

/// Extracts the flows of one capture file (or standard input for `-`).
fn read_capture(path: &Path, config: &ExtractConfig) -> Result<Extraction> {
    let input: Box<dyn Read> = if path == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path).with_context(|| format!("opening capture {}", path.display()))?)
    };
    flows::extract(input, config).with_context(|| format!("reading capture {}", path.display()))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
