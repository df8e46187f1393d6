//! One measurement, start to finish: each router's AP to its vantage node, both phones
//! prepared, both routers capturing, the apps launched and the messages sent with the
//! app's timers, the captures stopped, the routers' results (flows and endpoints, the
//! application and network paths) fetched, checked, kept and acknowledged, each capture run
//! through the privacy pass, the phones cleaned. Any failure ends the attempt with an error
//! that says which step; the phones are cleaned either way.

use super::record::{self, SideResults};
use super::runner::lock;
use super::side::{abandon_leftover, reach_of, wait_phone, Reach};
use super::state::State;
use crate::analysis::schema::{Measurement, VantageNode as RecordNode};
use crate::phone::{
    AdbTarget, Clock, Conversation, Phone, PhonePlan, Prepared, SystemClock, Timing, WifiPlan,
};
use crate::privacy::PrivacyPass;
use crate::spec::{AppSpec, PlannedMeasurement, RouterConnection, RunKind, VantageNode};
use anyhow::{anyhow, Context, Result};
use matador_api::client::RouterClient;
use matador_api::{StartMeasurement, StopMeasurement, Windows};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// One side of a router pair: its router, its phone, and how to reach them.
pub struct Side {
    /// The router's connection details.
    pub router: RouterConnection,
    /// Its API client.
    pub client: RouterClient,
    /// Its phone.
    pub phone: Phone,
    /// The phone's model (chooses the UI script).
    pub model: String,
    /// How the phone gets root for its firewall.
    pub root: crate::spec::RootVia,
    /// The device name of a phone on the router's WireGuard ingress (else it is on Wi-Fi).
    pub ingress: Option<String>,
}

/// What a measurement needs besides its plan.
pub struct Ctx<'a> {
    /// The campaign's name.
    pub campaign: &'a str,
    /// Side A (the sender) and side B.
    pub sides: (&'a Side, &'a Side),
    /// Vantage nodes by name.
    pub nodes: &'a dyn Fn(&str) -> Option<VantageNode>,
    /// A `wg-quick` peer config for (router, vantage node).
    pub peer: &'a dyn Fn(&str, &VantageNode) -> Result<String>,
    /// Where this measurement's screenshots go.
    pub dir: PathBuf,
    /// Longest wait for a router to finish processing.
    pub processing_limit: Duration,
    /// Longest wait for a phone that dropped off ADB to come back.
    pub phone_wait: Duration,
    /// The privacy pass, run over each fetched capture.
    pub privacy: &'a PrivacyPass,
    /// Identities that decrypt results encrypted at rest.
    pub identities: &'a [crate::at_rest::Identity],
}

/// Runs one attempt; returns the record for the analysis.
pub async fn run(
    ctx: &Ctx<'_>,
    state: &Mutex<State>,
    app: &AppSpec,
    plan: &PlannedMeasurement,
    attempt: i64,
) -> Result<Measurement> {
    let node =
        |n: &str| (ctx.nodes)(n).ok_or_else(|| anyhow!("no vantage node {n} in the inventory"));
    let (node_a, node_b) = (node(&plan.node_a)?, node(&plan.node_b)?);
    let (a, b) = ctx.sides;
    let reach = (reach_of(a).await?, reach_of(b).await?);
    for (side, r) in [(a, &reach.0), (b, &reach.1)] {
        wait_phone(side, ctx.phone_wait).await?;
        abandon_leftover(side, &r.ap, ctx.processing_limit).await?;
    }
    let mut public = Vec::new();
    for ((side, r), n) in [((a, &reach.0), &node_a), ((b, &reach.1), &node_b)] {
        let text = (ctx.peer)(&side.router.name, n)?;
        let peer = matador_api::parse_wg_quick(&n.name, &text)
            .map_err(|e| anyhow!("peer config of {}: {e}", n.name))?;
        public.push(
            endpoint_address(&peer.endpoint)
                .with_context(|| format!("peer config of {}", n.name))?,
        );
        side.client
            .set_vantage(&r.ap, &peer)
            .await
            .with_context(|| format!("router {}: tunnel to {}", side.router.name, n.name))?;
    }
    let node_a = Located {
        node: node_a,
        address: public[0],
    };
    let node_b = Located {
        node: node_b,
        address: public[1],
    };
    std::fs::create_dir_all(&ctx.dir).with_context(|| format!("{}", ctx.dir.display()))?;
    let mut prepared: Vec<(&Side, Prepared)> = Vec::new();
    let outcome = measure(
        ctx,
        state,
        app,
        plan,
        attempt,
        ((&node_a, &reach.0), (&node_b, &reach.1)),
        &mut prepared,
    )
    .await;
    for (side, p) in &prepared {
        if let Err(e) = side.phone.cleanup(p).await {
            tracing::warn!(router = %side.router.name, error = %e, "cleaning the phone");
        }
    }
    outcome
}

async fn measure<'s>(
    ctx: &Ctx<'s>,
    state: &Mutex<State>,
    app: &AppSpec,
    plan: &PlannedMeasurement,
    attempt: i64,
    ((node_a, reach_a), (node_b, reach_b)): ((&Located, &Reach), (&Located, &Reach)),
    prepared: &mut Vec<(&'s Side, Prepared)>,
) -> Result<Measurement> {
    let (a, b) = ctx.sides;
    for ((side, r), n) in [((a, reach_a), node_a), ((b, reach_b), node_b)] {
        let wifi = WifiPlan::of(&side.router).map_err(|e| anyhow!("{e}"))?;
        let mut phone_plan = PhonePlan::new(app, wifi, &n.node, side.root);
        phone_plan.vpn = r.vpn;
        let p = side
            .phone
            .prepare(&phone_plan)
            .await
            .with_context(|| format!("preparing the phone of {}", side.router.name))?;
        prepared.push((side, p));
    }
    // A router refuses an id it has seen: every attempt has its own.
    let router_id = format!("{}-t{attempt}", plan.id);
    let rules = app
        .rules_yaml()
        .map_err(|e| anyhow!("rules of {}: {e}", app.name))?;
    let windows = Windows::default();
    for (side, r) in [(a, reach_a), (b, reach_b)] {
        set_blocklist(ctx, side, &r.ap, app).await?;
    }
    for ((side, r), other) in [((a, reach_a), node_b), ((b, reach_b), node_a)] {
        let start = StartMeasurement {
            id: router_id.clone(),
            ap: r.ap.clone(),
            app: app.package.clone(),
            capture: true,
            traces: true,
            // The router's own safety stop: the whole conversation plus room for the phones.
            duration_s: (app.messaging_s() + app.timers.capture_margin_s * 2.0 + 600.0) as u32,
            windows,
            trace_peer: Some(other.address),
            rules: Some(rules.clone()),
            // A phone on the ingress shares the AP's tunnel and capture with others: only
            // its own traffic is captured, and its results are attributed to it.
            device: side.ingress.clone(),
            intercept_tls: ctx.privacy.intercepts(&side.router.name),
        };
        side.client
            .start_measurement(&start)
            .await
            .with_context(|| format!("router {}: starting the capture", side.router.name))?;
    }
    let started = SystemClock.now();
    let mut launched = Vec::new();
    for (side, p) in prepared.iter() {
        launched.push(
            side.phone
                .launch(p, Timing::default())
                .await
                .with_context(|| format!("launching the app on {}", side.router.name))?,
        );
    }
    let launch_a = launched.first().copied().unwrap_or(started);
    let sends = match Conversation::new(app, &a.model, launch_a, plan.kind) {
        Some(c) => {
            a.phone
                .run_messages(&c, ctx.dir.clone())
                .await
                .with_context(|| {
                    format!("sending the messages from the phone of {}", a.router.name)
                })?
                .sends
        }
        None if plan.kind == RunKind::Baseline => Vec::new(),
        None => anyhow::bail!("app {} has no UI script for model {}", app.name, a.model),
    };
    tokio::time::sleep(Duration::from_secs_f64(app.timers.after_last_s.max(0.0))).await;
    // A phone that crashed, rebooted or dropped off during the conversation has not run the
    // app throughout: its capture does not measure the app, so the attempt is void.
    for (side, p) in prepared.iter() {
        side.phone.still_in_front(p).await.with_context(|| {
            format!("the phone of {} during the conversation", side.router.name)
        })?;
    }
    let mut results = Vec::new();
    for (i, side) in [a, b].into_iter().enumerate() {
        let stop = StopMeasurement {
            launched: launched.get(i).copied(),
            messages: sends.clone(),
        };
        side.client
            .stop_measurement(&router_id, &stop)
            .await
            .with_context(|| format!("router {}: stopping", side.router.name))?;
    }
    for (side, label) in [(a, "a"), (b, "b")] {
        let m = side
            .client
            .wait_measurement(&router_id, Duration::from_millis(500), ctx.processing_limit)
            .await
            .with_context(|| format!("router {}: processing", side.router.name))?;
        let mut got = SideResults::default();
        let mut capture = None;
        // The interception proxy's decrypted flow records, when the policy has the router
        // decrypt this phone's TLS.
        let mut decrypted = None;
        for id in &m.results {
            let r = side
                .client
                .fetch_result(id)
                .await
                .with_context(|| format!("router {}: fetching {id}", side.router.name))?;
            let kind = id.rsplit('.').next().unwrap_or("result");
            // Decrypted before the acknowledgement: without the identity the result stays
            // on the router, to be fetched again with it.
            let stored_sha256 = r.sha256;
            let bytes = crate::at_rest::open_fetched(id, r.bytes, r.encrypted, ctx.identities)
                .with_context(|| format!("router {}", side.router.name))?;
            let sha256 = hex_sha256(&bytes);
            lock(state)?.save_result(&plan.id, label, kind, &sha256, &bytes)?;
            match kind {
                "flows" => got.flows = serde_json::from_slice(&bytes).ok(),
                "traces" => got.traces = serde_json::from_slice(&bytes).ok(),
                _ => {}
            }
            side.client
                .acknowledge(id, &stored_sha256)
                .await
                .with_context(|| format!("router {}: acknowledging {id}", side.router.name))?;
            match kind {
                "capture" => capture = Some(bytes),
                "decrypted" => decrypted = Some(bytes),
                _ => {}
            }
        }
        if let Some(bytes) = capture {
            privacy_pass(ctx, plan, app, (side, label), &bytes, decrypted.as_deref());
        }
        results.push(got);
    }
    let (ra, rb) = (
        results.first().cloned().unwrap_or_default(),
        results.get(1).cloned().unwrap_or_default(),
    );
    Ok(record::build(
        &plan.id,
        ctx.campaign,
        &app.package,
        started as u64,
        (record_node(node_a), record_node(node_b)),
        (&ra, &rb),
    ))
}

/// The privacy pass over a side's capture (findings beside the screenshots and in the
/// store). Its failure is logged, not the measurement's: the capture itself is kept.
fn privacy_pass(
    ctx: &Ctx<'_>,
    plan: &PlannedMeasurement,
    app: &AppSpec,
    (side, label): (&Side, &str),
    capture: &[u8],
    decrypted: Option<&[u8]>,
) {
    let router = &side.router.name;
    match ctx.privacy.run(
        &plan.id,
        label,
        router,
        &app.package,
        capture,
        decrypted,
        &ctx.dir,
    ) {
        Ok(r) => {
            tracing::info!(measurement = %plan.id, side = label, flows = r.flows.len(), "privacy pass done")
        }
        Err(e) => {
            tracing::warn!(measurement = %plan.id, side = label, error = %e, "privacy pass failed")
        }
    }
}

/// SHA-256 of `bytes`, lowercase hex (what the run state keeps beside a result).
fn hex_sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Gives the router the blocklist the policy sets for its phone and `app` (the blocking
/// plugin, enforced on the router by DNS and nftables). A policy without blocking leaves
/// the routers' lists alone; with it, every measurement sets its own (empty included), so
/// one measurement's blocking never carries into the next.
async fn set_blocklist(ctx: &Ctx<'_>, side: &Side, ap: &str, app: &AppSpec) -> Result<()> {
    let Some(domains) = ctx
        .privacy
        .blocklist(&side.router.name, &app.package)
        .map_err(|e| anyhow!("{e}"))?
    else {
        return Ok(());
    };
    let kept = side
        .client
        .set_blocklist(ap, &domains)
        .await
        .with_context(|| format!("router {}: setting the blocklist", side.router.name))?;
    tracing::info!(router = %side.router.name, domains = kept.len(), "blocklist set");
    Ok(())
}

/// A vantage node and its public address (its peer config's endpoint).
struct Located {
    node: VantageNode,
    address: std::net::IpAddr,
}

/// The address of a WireGuard endpoint `ADDRESS:PORT` (`[v6]:PORT` too).
fn endpoint_address(endpoint: &str) -> Result<std::net::IpAddr> {
    let host = endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| anyhow!("endpoint {endpoint:?} is not ADDRESS:PORT"))
}

fn record_node(n: &Located) -> RecordNode {
    RecordNode {
        name: n.node.name.clone(),
        address: n.address,
        country: n.node.country.clone(),
        city: Some(n.node.city.clone()),
        lat: Some(n.node.lat),
        lon: Some(n.node.lon),
    }
}

/// The screenshot folder of a measurement.
pub fn screenshot_dir(out: &Path, plan: &PlannedMeasurement, attempt: i64) -> PathBuf {
    out.join(&plan.id).join(format!("attempt-{attempt}"))
}

/// An adb target for an inventory phone.
pub fn adb_target(server: &crate::phone::AdbServerAddr, serial: &str, connect: bool) -> AdbTarget {
    AdbTarget::Server {
        server: server.clone(),
        serial: serial.to_string(),
        connect,
    }
}
