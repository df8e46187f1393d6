//! `matador-host campaign`: runs a campaign's measurements (apps × vantage-node pairs ×
//! repetitions) through the routers and phones of the inventory, keeps every step's state in
//! SQLite, and resumes an interrupted campaign without redoing finished measurements.

mod export;
mod files;
mod one;
mod record;
pub(crate) mod runner;
mod side;
mod state;

use crate::phone::AdbServerAddr;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use state::State;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `matador-host campaign`.
#[derive(Args)]
pub struct CampaignArgs {
    #[command(subcommand)]
    command: CampaignCommand,
    /// The result store (SQLite): run state, raw results and the records the analysis reads.
    #[arg(long, global = true, default_value = "results.sqlite")]
    db: PathBuf,
}

#[derive(Subcommand)]
enum CampaignCommand {
    /// Runs a campaign from its spec (docs/campaigns.md); finished measurements are skipped.
    Run(RunArgs),
    /// Runs what is left of a campaign started before (its spec is remembered).
    Resume {
        /// The campaign (default: the newest).
        name: Option<String>,
        #[command(flatten)]
        run: RunOptions,
    },
    /// How far a campaign is.
    Status {
        /// The campaign (default: the newest).
        name: Option<String>,
        /// JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Writes a measurement's raw results (capture as pcapng, TLS key log, flows, traces,
    /// log) into a directory, e.g. to open the capture in Wireshark.
    Results {
        /// The measurement's id (`campaign status --json`).
        measurement: String,
        /// The directory to write (`a.capture.pcapng`, `a.keylog.txt`, …).
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Writes a campaign's measurements, one row each (columns: docs/campaigns.md).
    Export {
        /// The campaign (default: the newest).
        name: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = export::Format::Csv)]
        format: export::Format,
        /// Write to this file (default: standard output; Parquet never goes to a terminal).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

#[derive(Args)]
struct RunArgs {
    /// The campaign spec (YAML).
    spec: PathBuf,
    #[command(flatten)]
    run: RunOptions,
}

#[derive(Args, Clone)]
struct RunOptions {
    /// Screenshots go to DIR/<measurement>/attempt-N/.
    #[arg(long, default_value = "campaign-out")]
    out: PathBuf,
    /// The adb server (HOST:PORT).
    #[arg(long)]
    adb: Option<std::net::SocketAddrV4>,
    /// The `adb` program to start the server with.
    #[arg(long)]
    adb_bin: Option<String>,
    /// Stop after this many measurements (the rest stay planned for `resume`).
    #[arg(long)]
    limit: Option<usize>,
    /// Longest wait for a router to process a measurement, seconds.
    #[arg(long, default_value_t = 300)]
    processing_limit_s: u64,
    /// Longest wait for a phone that dropped off ADB (crash, reboot, cable) to come back
    /// before its attempt fails, seconds.
    #[arg(long, default_value_t = 60)]
    phone_wait_s: u64,
    /// The age identity file (`matador-host keys new`) that decrypts results routers
    /// encrypt at rest (those of enrolled phones); without it such results stay on the router.
    #[arg(long)]
    identity: Option<PathBuf>,
}

impl RunOptions {
    fn resolve(&self) -> Result<runner::RunOptions> {
        let adb = match self.adb {
            Some(addr) => AdbServerAddr {
                addr,
                adb_bin: self.adb_bin.clone(),
            },
            None => AdbServerAddr {
                adb_bin: self.adb_bin.clone(),
                ..AdbServerAddr::local_default()
            },
        };
        let identities = match &self.identity {
            Some(path) => crate::at_rest::load_identities(path)?,
            None => Vec::new(),
        };
        Ok(runner::RunOptions {
            out: self.out.clone(),
            adb,
            limit: self.limit,
            processing_limit: Duration::from_secs(self.processing_limit_s),
            phone_wait: Duration::from_secs(self.phone_wait_s),
            identities: std::sync::Arc::new(identities),
        })
    }
}

/// Runs `campaign`.
pub fn run(args: CampaignArgs) -> Result<i32> {
    match args.command {
        CampaignCommand::Run(r) => runner::execute(&args.db, &r.spec, &r.run.resolve()?),
        CampaignCommand::Resume { name, run } => {
            let state = State::open(&args.db).context("opening the run state")?;
            let name = newest(&state, name)?;
            let spec = state
                .spec_of(&name)?
                .ok_or_else(|| anyhow!("no campaign {name:?} in {}", args.db.display()))?;
            drop(state);
            runner::execute(&args.db, Path::new(&spec), &run.resolve()?)
        }
        CampaignCommand::Results { measurement, out } => {
            let state = State::open(&args.db)?;
            let written = files::write(&state, &measurement, &out)?;
            for path in &written {
                println!("{}", path.display());
            }
            for hint in files::wireshark_hints(&written) {
                eprintln!("decrypted TLS: {hint}");
            }
            Ok(0)
        }
        CampaignCommand::Status { name, json } => {
            let state = State::open(&args.db)?;
            let name = newest(&state, name)?;
            let counts = state.counts(&name)?;
            if json {
                let runs: Vec<_> = state
                    .runs(&name)?
                    .into_iter()
                    .map(|r| {
                        let results: Vec<_> = state
                            .results_of(&r.id)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(side, kind, size)| serde_json::json!({"side": side, "kind": kind, "bytes": size}))
                            .collect();
                        let tries = state.attempts_of(&r.id).unwrap_or_default();
                        serde_json::json!({"id": r.id, "state": r.state, "attempts": r.attempts, "error": r.error, "attempt_log": tries, "results": results})
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"campaign": name, "counts": counts, "measurements": runs})
                );
            } else {
                println!(
                    "campaign {name}: {} done, {} failed, {} planned, {} interrupted",
                    counts.done, counts.failed, counts.planned, counts.running
                );
                for r in state.runs(&name)?.iter().filter(|r| r.state == "failed") {
                    println!(
                        "  failed {} after {} attempts: {}",
                        r.id,
                        r.attempts,
                        r.error.as_deref().unwrap_or("")
                    );
                }
            }
            Ok(0)
        }
        CampaignCommand::Export { name, format, out } => {
            let state = State::open(&args.db)?;
            let name = newest(&state, name)?;
            drop(state);
            let db = rusqlite::Connection::open(&args.db)
                .with_context(|| format!("opening {}", args.db.display()))?;
            let rows = export::rows(&db, &name).context("reading the campaign's runs")?;
            match out {
                Some(path) => {
                    let mut file = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    export::write(format, &rows, &mut file)?;
                }
                None => {
                    use std::io::IsTerminal;
                    if format == export::Format::Parquet && std::io::stdout().is_terminal() {
                        bail!("Parquet is binary: give --out FILE or redirect standard output");
                    }
                    export::write(format, &rows, &mut std::io::stdout().lock())?;
                }
            }
            Ok(0)
        }
    }
}

fn newest(state: &State, name: Option<String>) -> Result<String> {
    match name {
        Some(n) => Ok(n),
        None => state
            .campaigns()?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("no campaign in the store yet")),
    }
}
