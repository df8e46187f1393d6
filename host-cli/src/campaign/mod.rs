//! `matador-host campaign`: runs a campaign's measurements (apps × vantage-node pairs ×
//! repetitions) through the routers and phones of the inventory, keeps every step's state in
//! SQLite, and resumes an interrupted campaign without redoing finished measurements.

mod one;
mod record;
mod state;

use crate::analysis::regions::Regions;
use crate::phone::{AdbServerAddr, Phone};
use crate::spec::{self, LoadedCampaign, PeerSource, VantageNode};
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use matador_api::client::RouterClient;
use state::State;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
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
    /// Writes a campaign's measurements as CSV (one row per measurement).
    Export {
        /// The campaign (default: the newest).
        name: Option<String>,
        /// Output format (csv).
        #[arg(long, default_value = "csv")]
        format: String,
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
}

/// Runs `campaign`.
pub fn run(args: CampaignArgs) -> Result<i32> {
    match args.command {
        CampaignCommand::Run(r) => execute(&args.db, &r.spec, &r.run),
        CampaignCommand::Resume { name, run } => {
            let state = State::open(&args.db).context("opening the run state")?;
            let name = newest(&state, name)?;
            let spec = state
                .spec_of(&name)?
                .ok_or_else(|| anyhow!("no campaign {name:?} in {}", args.db.display()))?;
            drop(state);
            execute(&args.db, Path::new(&spec), &run)
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
                        serde_json::json!({"id": r.id, "state": r.state, "attempts": r.attempts, "error": r.error, "results": results})
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
        CampaignCommand::Export { name, format } => {
            if format != "csv" {
                bail!("--format {format}: only csv is written (parquet is not built yet)");
            }
            let state = State::open(&args.db)?;
            let name = newest(&state, name)?;
            println!("id,state,attempts,error");
            for r in state.runs(&name)? {
                let error = r.error.unwrap_or_default().replace('"', "\"\"");
                println!("{},{},{},\"{error}\"", r.id, r.state, r.attempts);
            }
            Ok(0)
        }
    }
}

/// A line above the progress bar, or on standard error when there is no bar (not a
/// terminal: indicatif then drops `println`).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
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

/// `lab status --json` of the running lab, when the inventory asks for the lab.
fn lab_status() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe)
        .args(["lab", "status", "--json"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A `wg-quick` config for a router to reach a vantage node: the inventory's, or one the lab
/// issues (once per router and node, remembered for the run).
fn peer_config(
    cache: &RefCell<HashMap<(String, String), String>>,
    router: &str,
    node: &VantageNode,
) -> Result<String> {
    let key = (router.to_string(), node.name.clone());
    if let Some(t) = cache.borrow().get(&key) {
        return Ok(t.clone());
    }
    let text = match &node.peer {
        PeerSource::Lab => {
            let exe = std::env::current_exe()?;
            let out = Command::new(exe)
                .args(["lab", "add-peer", &node.name])
                .output()?;
            if !out.status.success() {
                bail!(
                    "lab add-peer {}: {}",
                    node.name,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
        other => other
            .wg_quick()
            .map_err(|e| anyhow!("{e}"))?
            .unwrap_or_default(),
    };
    cache.borrow_mut().insert(key, text.clone());
    Ok(text)
}

fn execute(db: &Path, spec_path: &Path, opts: &RunOptions) -> Result<i32> {
    let regions = Regions::builtin().context("M49 regions")?;
    let region_of = |c: &str| regions.region(c).map(str::to_string);
    let LoadedCampaign {
        campaign,
        inventory,
        apps,
    } = spec::load_campaign(spec_path, None, &region_of).map_err(|e| anyhow!("{e}"))?;
    let plan = spec::expand(&campaign, &inventory, &apps);
    let spec_abs = std::fs::canonicalize(spec_path).unwrap_or_else(|_| spec_path.to_path_buf());
    let mut state = State::open(db).with_context(|| format!("opening {}", db.display()))?;
    state.register(&campaign.name, &spec_abs, &plan)?;
    let mut records = Store::open(db).map_err(|e| anyhow!("{e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let lab = lab_status();
    let server = match opts.adb {
        Some(addr) => AdbServerAddr {
            addr,
            adb_bin: opts.adb_bin.clone(),
        },
        None => AdbServerAddr {
            adb_bin: opts.adb_bin.clone(),
            ..AdbServerAddr::local_default()
        },
    };
    let (ra, rb) = inventory
        .router_pairs
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("the inventory has no router pair"))?;
    let side = |name: &str| -> Result<one::Side> {
        let entry = inventory
            .router(name)
            .ok_or_else(|| anyhow!("no router {name}"))?;
        let router = entry
            .connection(lab.as_deref())
            .map_err(|e| anyhow!("{e}"))?;
        let token = std::fs::read_to_string(&router.token_file)
            .with_context(|| format!("token of {name}: {}", router.token_file.display()))?;
        let fingerprint = router.fingerprint.resolve().map_err(|e| anyhow!("{e}"))?;
        let client = RouterClient::new(&router.api, token, fingerprint)?;
        let phone = inventory
            .phone_of(name)
            .ok_or_else(|| anyhow!("router {name} has no phone"))?;
        Ok(one::Side {
            client,
            phone: Phone::new(one::adb_target(&server, &phone.serial, phone.connect)),
            model: phone.model.clone(),
            root: phone.root,
            router,
        })
    };
    let (a, b) = (side(&ra)?, side(&rb)?);
    let peers = RefCell::new(HashMap::new());
    let max_attempts = i64::from(campaign.retries) + 1;
    let todo: Vec<_> = {
        let runs: HashMap<String, state::Run> = state
            .runs(&campaign.name)?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        plan.iter()
            .filter(|p| {
                runs.get(&p.id)
                    .is_some_and(|r| r.state != "done" && r.state != "failed")
            })
            .cloned()
            .collect()
    };
    let bar = ProgressBar::new(todo.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(campaign.name.clone());
    let limit = opts.limit.unwrap_or(usize::MAX);
    let wall = std::time::Instant::now();
    let mut configured_s = 0.0;
    for p in todo.into_iter().take(limit) {
        let Some(app) = apps.iter().find(|x| x.name == p.app) else {
            state.failed(&p.id, "app spec missing", 0)?;
            continue;
        };
        loop {
            let attempt = state
                .runs(&campaign.name)?
                .into_iter()
                .find(|r| r.id == p.id)
                .map_or(0, |r| r.attempts)
                + 1;
            let dir = one::screenshot_dir(&opts.out, &p, attempt);
            bar.set_message(format!("{} (attempt {attempt})", p.id));
            state.start(&p.id, &dir)?;
            configured_s += app.messaging_s() + 2.0 * app.timers.capture_margin_s;
            let nodes = |n: &str| inventory.vantage_node(n).cloned();
            let peer = |r: &str, n: &VantageNode| peer_config(&peers, r, n);
            let ctx = one::Ctx {
                campaign: &campaign.name,
                sides: (&a, &b),
                nodes: &nodes,
                peer: &peer,
                dir,
                processing_limit: Duration::from_secs(opts.processing_limit_s),
            };
            match runtime.block_on(one::run(&ctx, &mut state, app, &p, attempt)) {
                Ok(record) => {
                    let row = record.to_row()?;
                    records.upsert(&[row]).map_err(|e| anyhow!("{e}"))?;
                    state.done(&p.id)?;
                    say(&bar, format!("done    {} ({:?})", p.id, record.status));
                    break;
                }
                Err(e) => {
                    let text = format!("{e:#}");
                    state.failed(&p.id, &text, max_attempts)?;
                    say(&bar, format!("failed  {} attempt {attempt}: {text}", p.id));
                    if attempt >= max_attempts {
                        break;
                    }
                }
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let wall_s = wall.elapsed().as_secs_f64();
    if configured_s > 0.0 {
        // What the orchestration costs beyond the apps' own timers (the issue's < 5 % goal
        // assumes router pairs in parallel).
        println!(
            "overhead: {wall_s:.1} s wall for {configured_s:.1} s of configured timers ({:.2}x, {:.0} % overhead)",
            wall_s / configured_s,
            (wall_s / configured_s - 1.0) * 100.0
        );
    }
    let counts = state.counts(&campaign.name)?;
    println!(
        "campaign {}: {} done, {} failed, {} left",
        campaign.name,
        counts.done,
        counts.failed,
        counts.planned + counts.running
    );
    Ok(if counts.failed > 0 { 2 } else { 0 })
}
