//! After the capture: flows and endpoints, the traces through the AP's tunnel, and every
//! result into the store. Each step that fails is noted and the next still runs, so a
//! measurement keeps what it could get.

use super::targets::{self, PathKind};
use crate::store::{Store, StoreError};
use matador_api::{ResultKind, StartMeasurement, StopMeasurement};
use matador_probe::flows::{self, Endpoint, Extraction, Rules, Timers};
use matador_probe::trace::{self, AtlasTrace, Binding, TraceConfig};
use serde::Serialize;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The rules when the host gives none: DNS to the resolver is how names are learnt, not a
/// service of the app.
pub const DEFAULT_RULES: &str = "deny:\n  - { port: 53, reason: DNS (the resolver) }\n";

/// The rules of a request (its YAML, or [`DEFAULT_RULES`]).
pub fn rules_of(request: &StartMeasurement) -> Result<Rules, String> {
    let text = request.rules.as_deref().unwrap_or(DEFAULT_RULES);
    Rules::from_yaml(text, "rules").map_err(|e| e.to_string())
}

/// The phase timers of a stop request (none without a launch time).
pub fn timers_of(request: &StartMeasurement, stop: &StopMeasurement) -> Option<Timers> {
    stop.launched.map(|launched| Timers {
        launched,
        messages: stop.messages.clone(),
        window_before: request.windows.before_s,
        window_after: request.windows.after_s,
    })
}

/// The `flows` result.
#[derive(Serialize)]
pub struct FlowsResult<'a, C: Serialize> {
    /// The measurement.
    pub measurement: &'a str,
    /// Its AP.
    pub ap: &'a str,
    /// The app under test.
    pub app: &'a str,
    /// The phase timers used, if any.
    pub timers: Option<&'a Timers>,
    /// How the capture went.
    pub capture: &'a C,
    /// Extraction counters.
    pub stats: &'a flows::Stats,
    /// Every flow.
    pub flows: &'a [flows::Flow],
    /// Every endpoint with the rules' verdict and its phase.
    pub endpoints: &'a [Endpoint],
}

/// The `traces` result: RIPE Atlas traceroute results, by path.
#[derive(Serialize)]
pub struct TracesResult {
    /// The measurement.
    pub measurement: String,
    /// The tunnel the probes left through.
    pub interface: String,
    /// To the app's service endpoints.
    pub application: Vec<AtlasTrace>,
    /// To the other vantage node.
    pub network: Vec<AtlasTrace>,
}

/// A log of what the processing did, stored as the `log` result.
#[derive(Default)]
pub struct Notes {
    /// Lines, oldest first.
    pub lines: Vec<String>,
    /// Lines that are failures.
    pub failures: Vec<String>,
}

impl Notes {
    /// Notes a step that went well.
    pub fn info(&mut self, line: impl Into<String>) {
        let line = line.into();
        tracing::info!(note = %line, "measurement");
        self.lines.push(format!(
            "{} {line}",
            crate::dataplane::wireguard::unix_now()
        ));
    }

    /// Notes a step that failed (the measurement ends `failed`).
    pub fn fail(&mut self, line: impl Into<String>) {
        let line = line.into();
        tracing::warn!(problem = %line, "measurement");
        self.lines.push(format!(
            "{} error: {line}",
            crate::dataplane::wireguard::unix_now()
        ));
        self.failures.push(line);
    }
}

/// Stores `bytes` as result `kind` of `id`, noting the outcome; returns the result id.
pub fn put(
    store: &Arc<Store>,
    id: &str,
    kind: ResultKind,
    bytes: &[u8],
    notes: &mut Notes,
) -> Option<String> {
    match store.put(id, kind, bytes) {
        Ok(s) => {
            notes.info(format!("stored {} ({} bytes)", s.id, s.size));
            Some(s.id)
        }
        Err(StoreError::Exists(rid)) => Some(rid),
        Err(e) => {
            notes.fail(format!("storing the {} result: {e}", kind.as_str()));
            None
        }
    }
}

/// Stores the capture files, in order, as one pcapng result (each file is a whole pcapng
/// section, so their concatenation is one valid file).
pub fn put_capture(
    store: &Arc<Store>,
    id: &str,
    files: &[PathBuf],
    notes: &mut Notes,
) -> Option<String> {
    put_files(
        store,
        id,
        ResultKind::Capture,
        files,
        "capture file(s)",
        notes,
    )
}

/// Stores `files`, in order, as one result of kind `kind`, streamed (the store encrypts at
/// rest when configured); `what` names the files in the note.
pub fn put_files(
    store: &Arc<Store>,
    id: &str,
    kind: ResultKind,
    files: &[PathBuf],
    what: &str,
    notes: &mut Notes,
) -> Option<String> {
    let result = (|| -> Result<String, String> {
        let mut writer = match store.create(id, kind) {
            Err(StoreError::Exists(rid)) => return Ok(rid),
            other => other.map_err(|e| e.to_string())?,
        };
        let mut buf = vec![0u8; 64 * 1024];
        for path in files {
            let mut f =
                std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            loop {
                let n = f
                    .read(&mut buf)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                if n == 0 {
                    break;
                }
                writer.append(&buf[..n]).map_err(|e| e.to_string())?;
            }
        }
        let s = writer.commit().map_err(|e| e.to_string())?;
        Ok(s.id)
    })();
    match result {
        Ok(rid) => {
            notes.info(format!("stored {rid} from {} {what}", files.len()));
            Some(rid)
        }
        Err(e) => {
            notes.fail(format!("storing the {} result: {e}", kind.as_str()));
            None
        }
    }
}

/// Flows and endpoints of capture files on disk (a measurement interrupted by a restart).
pub fn extract_files(files: &[PathBuf]) -> Result<Extraction, String> {
    let mut chain: Box<dyn Read> = Box::new(std::io::empty());
    for path in files {
        let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        chain = Box::new(chain.chain(std::io::BufReader::new(f)));
    }
    if files.is_empty() {
        return Err("no capture files".into());
    }
    flows::extract(chain, &extract_config()).map_err(|e| e.to_string())
}

/// Traces the kept endpoints and the peer through `interface`; failures are noted.
pub fn traces(
    request: &StartMeasurement,
    endpoints: &[Endpoint],
    interface: &str,
    notes: &mut Notes,
) -> TracesResult {
    let port = targets::random_high_port();
    let (groups, skipped) = targets::plan(endpoints, request.trace_peer, port);
    for s in skipped {
        notes.info(s);
    }
    let mut out = TracesResult {
        measurement: request.id.clone(),
        interface: interface.to_string(),
        application: Vec::new(),
        network: Vec::new(),
    };
    for group in groups {
        let config = TraceConfig {
            proto: group.proto,
            port: group.port,
            binding: Binding {
                interface: Some(interface.to_string()),
                fwmark: None,
            },
            ..TraceConfig::default()
        };
        match trace::trace(&config, &group.targets) {
            Ok(run) => {
                notes.info(format!(
                    "traced {} target(s) {:?} port {:?}: {} probes",
                    group.targets.len(),
                    group.proto,
                    group.port,
                    run.stats.schedule.sent
                ));
                match group.kind {
                    PathKind::Application => out.application.extend(run.results),
                    PathKind::Network => out.network.extend(run.results),
                }
            }
            Err(e) => notes.fail(format!(
                "tracing {:?} port {:?} through {interface}: {e}",
                group.proto, group.port
            )),
        }
    }
    out
}

/// Capture files of a measurement, in order (`capture-0001.pcapng`, …).
pub fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcapng"))
        .collect();
    files.sort();
    files
}

/// The flow extractor's bounds on the router: 16 384 flows per measurement (one app on one
/// phone for minutes uses hundreds). `cargo xtask budget` found the probe's default of
/// 65 536 over the 32 MiB budget twice: while capturing (36 MiB) and while the flows
/// document is written (86 MiB); a quarter keeps both inside it.
pub(super) fn extract_config() -> flows::ExtractConfig {
    flows::ExtractConfig {
        max_flows: 1 << 14,
        ..flows::ExtractConfig::default()
    }
}
