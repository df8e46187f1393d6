//! Running a campaign: the plan's chunks go to the inventory's router pairs, one worker
//! thread per pair taking the next chunk when it has finished one, so the pairs measure in
//! parallel. Every step's state goes to SQLite as it happens; a measurement that fails is
//! retried on the same pair up to the campaign's `retries`, then recorded as failed.

use super::one;
use super::state::{self, State};
use crate::analysis::regions::Regions;
use crate::phone::{AdbServerAddr, Phone};
use crate::privacy::PrivacyPass;
use crate::spec::{self, AppSpec, Inventory, LoadedCampaign, PeerSource, PlannedMeasurement};
use crate::spec::{Campaign, VantageNode};
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use matador_api::client::RouterClient;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How a campaign run is carried out (the command line's options).
#[derive(Clone)]
pub struct RunOptions {
    /// Screenshots go to `out/<measurement>/attempt-N/`.
    pub out: PathBuf,
    /// The adb server.
    pub adb: AdbServerAddr,
    /// Stop after this many measurements.
    pub limit: Option<usize>,
    /// Longest wait for a router to process a measurement.
    pub processing_limit: Duration,
    /// Longest wait for a phone that dropped off ADB to come back.
    pub phone_wait: Duration,
    /// Identities that decrypt results encrypted at rest.
    pub identities: std::sync::Arc<Vec<crate::at_rest::Identity>>,
}

/// What the router pairs' workers share.
struct Shared<'a> {
    campaign: &'a Campaign,
    inventory: &'a Inventory,
    apps: &'a [AppSpec],
    opts: &'a RunOptions,
    runtime: &'a tokio::runtime::Runtime,
    state: Mutex<State>,
    records: Mutex<Store>,
    privacy: &'a PrivacyPass,
    chunks: Mutex<VecDeque<Vec<PlannedMeasurement>>>,
    /// `wg-quick` configs the lab issued, by (router, vantage node), kept for the run.
    peers: Mutex<HashMap<(String, String), String>>,
    /// Measurements begun, against `--limit`.
    begun: AtomicUsize,
    /// Configured timer seconds of the measurements run, in milliseconds.
    configured_ms: AtomicUsize,
    bars: MultiProgress,
    total: ProgressBar,
}

/// Runs what is left of the campaign in `spec_path`; returns the exit code.
pub fn execute(db: &Path, spec_path: &Path, opts: &RunOptions) -> Result<i32> {
    let regions = Regions::builtin().context("M49 regions")?;
    let region_of = |c: &str| regions.region(c).map(str::to_string);
    let LoadedCampaign {
        campaign,
        inventory,
        apps,
        policy,
    } = spec::load_campaign(spec_path, None, &region_of).map_err(|e| anyhow!("{e}"))?;
    let plan = spec::expand(&campaign, &inventory, &apps);
    let spec_abs = std::fs::canonicalize(spec_path).unwrap_or_else(|_| spec_path.to_path_buf());
    let mut state = State::open(db).with_context(|| format!("opening {}", db.display()))?;
    state.register(&campaign.name, &spec_abs, &plan)?;
    let records = Store::open(db).map_err(|e| anyhow!("{e}"))?;
    let privacy = PrivacyPass::new(db, policy, &inventory, &apps)
        .with_context(|| format!("campaign {}: the privacy pass", campaign.name))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let lab = lab_status();
    // Every pair's routers and phones are checked before anything runs, so a wrong token
    // file or a missing phone stops the campaign at once rather than half-way.
    let pairs = inventory
        .router_pairs
        .iter()
        .map(|(ra, rb)| {
            let side = |name: &str| side_of(&inventory, lab.as_deref(), &opts.adb, name);
            Ok((side(ra)?, side(rb)?))
        })
        .collect::<Result<Vec<_>>>()?;
    if pairs.is_empty() {
        bail!("the inventory has no router pair");
    }
    let todo = chunks_left(&state, &campaign.name, &plan)?;
    let count: usize = todo.iter().map(Vec::len).sum();
    let bars = MultiProgress::new();
    let total = bars.add(ProgressBar::new(count as u64));
    total.set_style(style(
        "{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
    ));
    total.set_prefix(campaign.name.clone());
    let shared = Shared {
        campaign: &campaign,
        inventory: &inventory,
        apps: &apps,
        opts,
        runtime: &runtime,
        state: Mutex::new(state),
        records: Mutex::new(records),
        privacy: &privacy,
        chunks: Mutex::new(todo),
        peers: Mutex::new(HashMap::new()),
        begun: AtomicUsize::new(0),
        configured_ms: AtomicUsize::new(0),
        bars,
        total,
    };
    let wall = Instant::now();
    std::thread::scope(|scope| {
        for pair in &pairs {
            let shared = &shared;
            scope.spawn(move || shared.work(pair));
        }
    });
    shared.total.finish_and_clear();
    let wall_s = wall.elapsed().as_secs_f64();
    let configured_s = shared.configured_ms.load(Ordering::Relaxed) as f64 / 1000.0;
    if configured_s > 0.0 {
        // What the orchestration costs beyond the apps' own timers; with several router
        // pairs the wall time can be below the sum of the timers.
        println!(
            "overhead: {wall_s:.1} s wall for {configured_s:.1} s of configured timers over {} router pairs ({:.2}x, {:.0} % overhead)",
            pairs.len(),
            wall_s / configured_s,
            (wall_s / configured_s - 1.0) * 100.0
        );
    }
    let state = lock(&shared.state)?;
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

impl Shared<'_> {
    /// One router pair's worker: takes chunks until none is left (or `--limit` is reached).
    fn work(&self, (a, b): &(one::Side, one::Side)) {
        let label = format!("{}+{}", a.router.name, b.router.name);
        let bar = self.bars.add(ProgressBar::new(0));
        bar.set_style(style(
            "{prefix} [{bar:20}] {pos}/{len} eta {eta} {wide_msg}",
        ));
        loop {
            let next = lock(&self.chunks).ok().and_then(|mut c| c.pop_front());
            let Some(chunk) = next else { break };
            bar.set_prefix(format!("{label} chunk {}", chunk[0].chunk));
            bar.set_length(chunk.len() as u64);
            bar.set_position(0);
            bar.reset_eta();
            for p in chunk {
                if self.begun.fetch_add(1, Ordering::SeqCst)
                    >= self.opts.limit.unwrap_or(usize::MAX)
                {
                    bar.finish_and_clear();
                    return;
                }
                if let Err(e) = self.measure(&p, (a, b), &label, &bar) {
                    // Only the store itself failing ends up here: stop this pair, loudly.
                    self.say(format!("error   {label}: {e:#}; this router pair stops"));
                    bar.finish_and_clear();
                    return;
                }
                bar.inc(1);
                self.total.inc(1);
            }
        }
        bar.finish_and_clear();
    }

    /// One planned measurement on one router pair, with its retries.
    fn measure(
        &self,
        p: &PlannedMeasurement,
        sides: (&one::Side, &one::Side),
        pair: &str,
        bar: &ProgressBar,
    ) -> Result<()> {
        let name = &self.campaign.name;
        let Some(app) = self.apps.iter().find(|x| x.name == p.app) else {
            lock(&self.state)?.failed(&p.id, "app spec missing", 0)?;
            return Ok(());
        };
        let max_attempts = i64::from(self.campaign.retries) + 1;
        loop {
            let (attempt, dir) = lock(&self.state)?
                .start(&p.id, pair, |n| one::screenshot_dir(&self.opts.out, p, n))?;
            bar.set_message(format!("{} (attempt {attempt})", p.id));
            let configured = app.messaging_s() + 2.0 * app.timers.capture_margin_s;
            self.configured_ms
                .fetch_add((configured * 1000.0) as usize, Ordering::Relaxed);
            let nodes = |n: &str| self.inventory.vantage_node(n).cloned();
            let peer = |r: &str, n: &VantageNode| self.peer_config(r, n);
            let ctx = one::Ctx {
                campaign: name,
                sides,
                nodes: &nodes,
                peer: &peer,
                dir,
                processing_limit: self.opts.processing_limit,
                phone_wait: self.opts.phone_wait,
                privacy: self.privacy,
                identities: &self.opts.identities,
            };
            match self
                .runtime
                .block_on(one::run(&ctx, &self.state, app, p, attempt))
            {
                Ok(record) => {
                    let row = record.to_row()?;
                    lock(&self.records)?
                        .upsert(&[row])
                        .map_err(|e| anyhow!("{e}"))?;
                    lock(&self.state)?.done(&p.id)?;
                    self.say(format!("done    {} ({:?})", p.id, record.status));
                    return Ok(());
                }
                Err(e) => {
                    let text = format!("{e:#}");
                    lock(&self.state)?.failed(&p.id, &text, max_attempts)?;
                    self.say(format!("failed  {} attempt {attempt}: {text}", p.id));
                    if attempt >= max_attempts {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// A `wg-quick` config for a router to reach a vantage node: the inventory's, or one the
    /// lab issues (once per router and node, remembered for the run).
    fn peer_config(&self, router: &str, node: &VantageNode) -> Result<String> {
        // Held across `lab add-peer`, so two pairs never register the same peer twice.
        let mut peers = lock(&self.peers)?;
        let key = (router.to_string(), node.name.clone());
        if let Some(t) = peers.get(&key) {
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
        peers.insert(key, text.clone());
        Ok(text)
    }

    /// A line above the progress bars, or on standard error when there are none (not a
    /// terminal: indicatif then drops printed lines).
    fn say(&self, line: String) {
        if self.bars.is_hidden() || self.bars.println(&line).is_err() {
            eprintln!("{line}");
        }
    }
}

/// The measurements still to run, in the plan's order, grouped by chunk.
fn chunks_left(
    state: &State,
    campaign: &str,
    plan: &[PlannedMeasurement],
) -> Result<VecDeque<Vec<PlannedMeasurement>>> {
    let runs: HashMap<String, state::Run> = state
        .runs(campaign)?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    let mut chunks: VecDeque<Vec<PlannedMeasurement>> = VecDeque::new();
    for p in plan.iter().filter(|p| {
        runs.get(&p.id)
            .is_some_and(|r| r.state != "done" && r.state != "failed")
    }) {
        match chunks.back_mut() {
            Some(c) if c[0].chunk == p.chunk => c.push(p.clone()),
            _ => chunks.push_back(vec![p.clone()]),
        }
    }
    Ok(chunks)
}

/// One router of a pair, with its phone, from the inventory.
fn side_of(
    inventory: &Inventory,
    lab: Option<&str>,
    server: &AdbServerAddr,
    name: &str,
) -> Result<one::Side> {
    let entry = inventory
        .router(name)
        .ok_or_else(|| anyhow!("no router {name}"))?;
    let router = entry.connection(lab).map_err(|e| anyhow!("{e}"))?;
    let token = std::fs::read_to_string(&router.token_file)
        .with_context(|| format!("token of {name}: {}", router.token_file.display()))?;
    let fingerprint = router.fingerprint.resolve().map_err(|e| anyhow!("{e}"))?;
    let client = RouterClient::new(&router.api, token, fingerprint)?;
    let phone = inventory
        .phone_of(name)
        .ok_or_else(|| anyhow!("router {name} has no phone"))?;
    Ok(one::Side {
        client,
        phone: Phone::new(one::adb_target(server, &phone.serial, phone.connect)),
        model: phone.model.clone(),
        root: phone.root,
        ingress: phone.ingress.clone(),
        router,
    })
}

/// `lab status --json` of the running lab, when the inventory asks for the lab. A degraded
/// lab (exit code 3) still describes its routers; the campaign goes on and says so.
pub(crate) fn lab_status() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe)
        .args(["lab", "status", "--json"])
        .output()
        .ok()?;
    match out.status.code() {
        Some(0) => {}
        Some(3) => tracing::warn!("the lab is degraded (`matador-host lab status`)"),
        _ => return None,
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The lock, or an error when another worker panicked holding it.
pub(super) fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| anyhow!("a router pair's worker failed while holding the run state"))
}
