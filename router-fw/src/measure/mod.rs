//! Measurements in the daemon: `start` captures the phone's traffic on its AP (parsed into
//! flows as it arrives), `stop` ends the capture and processes it in the background (flows
//! and endpoints, then traces through the AP's tunnel), every output goes to the result
//! store. Each measurement's record is on disk, so a daemon killed mid-measurement finds it
//! on restart, keeps what was captured and marks it failed: nothing half-written is listed.

mod process;
mod record;
mod targets;

pub use process::{rules_of, timers_of, DEFAULT_RULES};
pub use record::Record;
pub use targets::{plan, PathKind, TraceGroup};

use crate::api::ControlError;
use crate::capture::{Capture, CaptureConfig, CaptureReport, PhoneFilter};
use crate::dataplane::config::{ApConfig, RouterConfig};
use crate::dataplane::wireguard::unix_now;
use crate::store::Store;
use matador_api::{
    MeasurementState, MeasurementStatus, ResultKind, StartMeasurement, StopMeasurement,
};
use matador_probe::flows::{self, Extractor, Rules};
use process::Notes;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

const MIB: u64 = 1024 * 1024;

/// A measurement whose capture is running.
struct Running {
    capture: Option<Capture>,
    extractor: Arc<Mutex<Option<Extractor>>>,
    rules: Rules,
    interface: String,
    notes: Notes,
}

/// The daemon's measurements, running and finished.
pub struct Measurements {
    records_dir: PathBuf,
    capture_dir: PathBuf,
    config: RouterConfig,
    store: Arc<Store>,
    /// Each AP's ingress peers: a device's tunnel address is what its capture keeps.
    ingress: Vec<crate::dataplane::ingress::Peers>,
    state: Mutex<HashMap<String, (Record, Option<Running>)>>,
}

fn internal(e: impl std::fmt::Display) -> ControlError {
    ControlError::Internal(e.to_string())
}

impl Measurements {
    /// Loads the records; measurements a crashed or stopped run left active are closed as
    /// failed, keeping the capture they had (and its flows).
    pub fn open(
        config: &RouterConfig,
        store: Arc<Store>,
        ingress: Vec<crate::dataplane::ingress::Peers>,
    ) -> std::io::Result<Arc<Measurements>> {
        let records_dir = config.state_dir.join("measurements");
        let capture_dir = config
            .capture
            .dir
            .clone()
            .unwrap_or_else(|| config.state_dir.join("captures"));
        std::fs::create_dir_all(&records_dir)?;
        std::fs::create_dir_all(&capture_dir)?;
        crate::store::atomic::remove_temp_files(&records_dir)?;
        let (records, problems) = record::load_all(&records_dir);
        for p in problems {
            tracing::warn!(problem = %p, "unreadable measurement record (left in place)");
        }
        let me = Measurements {
            records_dir,
            capture_dir,
            config: config.clone(),
            store,
            ingress,
            state: Mutex::new(HashMap::new()),
        };
        let now = unix_now();
        let mut state = HashMap::new();
        for mut r in records {
            if r.is_active() {
                me.recover(&mut r);
            } else if r
                .status
                .ended
                .is_some_and(|e| e + record::KEEP_FINISHED_S < now)
            {
                record::remove(&me.records_dir, &r.status.id);
                continue;
            }
            state.insert(r.status.id.clone(), (r, None));
        }
        // Capture folders no record owns are left from a crash before the first save.
        for entry in std::fs::read_dir(&me.capture_dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !state.contains_key(&name) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        *me.lock() = state;
        Ok(Arc::new(me))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, (Record, Option<Running>)>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A measurement the daemon was running when it died: store what was captured (and the
    /// flows in it), then mark it failed.
    fn recover(&self, r: &mut Record) {
        let id = r.status.id.clone();
        self.store.set_device(&id, r.request.device.clone());
        let was = r.status.state;
        let mut notes = Notes::default();
        notes.fail(format!(
            "the daemon stopped while the measurement was {}; recovered at restart",
            if was == MeasurementState::Running {
                "running"
            } else {
                "processing"
            }
        ));
        let dir = self.capture_dir.join(&id);
        let files = process::capture_files(&dir);
        if !files.is_empty() {
            r.status
                .results
                .extend(process::put_capture(&self.store, &id, &files, &mut notes));
            match process::extract_files(&files) {
                Ok(x) => {
                    let rules = rules_of(&r.request).unwrap_or_default();
                    let endpoints = flows::endpoints(&x.flows, &rules, None);
                    let doc = process::FlowsResult {
                        measurement: &id,
                        ap: &r.status.ap,
                        app: &r.status.app,
                        timers: None,
                        capture: &serde_json::json!({"recovered_files": files.len()}),
                        stats: &x.stats,
                        flows: &x.flows,
                        endpoints: &endpoints,
                    };
                    match serde_json::to_vec(&doc) {
                        Ok(b) => r.status.results.extend(process::put(
                            &self.store,
                            &id,
                            ResultKind::Flows,
                            &b,
                            &mut notes,
                        )),
                        Err(e) => notes.fail(format!("flows JSON: {e}")),
                    }
                }
                Err(e) => notes.fail(format!("reading the recovered capture: {e}")),
            }
        }
        let log = notes.lines.join("\n") + "\n";
        r.status.results.extend(process::put(
            &self.store,
            &id,
            ResultKind::Log,
            log.as_bytes(),
            &mut notes,
        ));
        r.status.results.dedup();
        r.status.state = MeasurementState::Failed;
        r.status.ended = Some(unix_now());
        r.status.detail = Some(notes.failures.join("; "));
        if let Err(e) = r.save(&self.records_dir) {
            tracing::error!(measurement = %id, error = %e, "saving the recovered record");
        }
        let _ = std::fs::remove_dir_all(&dir);
        tracing::warn!(measurement = %id, results = ?r.status.results, "recovered a measurement interrupted by a restart");
    }

    fn ap(&self, name: &str) -> Result<&ApConfig, ControlError> {
        self.config
            .aps
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| ControlError::UnknownAp(name.to_string()))
    }

    /// What to capture on an AP, and whose traffic it is. An ingress: the device's tunnel
    /// address (the one asked for, else its only peer); Wi-Fi: the phone from the DHCP
    /// leases (several stations, or none yet: the AP's whole traffic).
    fn phone_filter(
        &self,
        ap: &ApConfig,
        device: Option<&str>,
    ) -> Result<(PhoneFilter, Option<String>), ControlError> {
        let mut filter = PhoneFilter::default();
        if ap.is_ingress() {
            let i = self.config.aps.iter().position(|a| a.name == ap.name);
            let peers = i
                .and_then(|i| self.ingress.get(i))
                .map(|p| crate::dataplane::ingress::lock(p).clone())
                .unwrap_or_default();
            let peer = match device {
                Some(d) => peers.iter().find(|p| p.device == d),
                None if peers.len() == 1 => peers.first(),
                None => None,
            };
            let Some(peer) = peer else {
                let known: Vec<&str> = peers.iter().map(|p| p.device.as_str()).collect();
                return Err(ControlError::Invalid(format!(
                    "ingress {:?} serves several devices or none: name one of [{}] as `device`",
                    ap.name,
                    known.join(", ")
                )));
            };
            filter.addresses.push(peer.address.into());
            return Ok((filter, Some(peer.device.clone())));
        }
        let leases = std::fs::read_to_string(self.config.run_dir.join(&ap.name).join("leases"))
            .unwrap_or_default();
        let stations = crate::dataplane::control::stations(&leases);
        if let [only] = stations.as_slice() {
            filter.mac = parse_mac(&only.mac);
            filter.addresses.extend(only.ip);
        }
        Ok((filter, device.map(str::to_string)))
    }

    /// Starts a measurement (see [`crate::api::Control::start_measurement`]).
    pub fn start(
        self: &Arc<Self>,
        request: StartMeasurement,
    ) -> Result<MeasurementStatus, ControlError> {
        let ap = self.ap(&request.ap)?.clone();
        let rules = rules_of(&request).map_err(|e| ControlError::Invalid(format!("rules: {e}")))?;
        let (filter, device) = self.phone_filter(&ap, request.device.as_deref())?;
        let mut state = self.lock();
        if state.contains_key(&request.id) {
            return Err(ControlError::Conflict(format!(
                "measurement {:?} exists already; choose a new id",
                request.id
            )));
        }
        if let Some((r, _)) = state
            .values()
            .find(|(r, _)| r.is_active() && r.status.ap == request.ap)
        {
            return Err(ControlError::Conflict(format!(
                "measurement {:?} is still {} on AP {:?}",
                r.status.id,
                if r.status.state == MeasurementState::Running {
                    "running"
                } else {
                    "processing"
                },
                request.ap
            )));
        }
        // The device as worked out (an ingress's only peer when the host named none), so a
        // measurement recovered after a crash is attributed, and encrypted, the same way.
        let request = StartMeasurement {
            device: device.clone(),
            ..request
        };
        let record = Record::new(request.clone(), unix_now());
        record.save(&self.records_dir).map_err(internal)?;
        let mut notes = Notes::default();
        let extractor = Arc::new(Mutex::new(Some(Extractor::new(&process::extract_config()))));
        if let Some(d) = &device {
            notes.info(format!("device {d}"));
        }
        self.store.set_device(&request.id, device);
        let capture = if request.capture {
            let dir = self.capture_dir.join(&request.id);
            notes.info(format!("capturing on {} for {filter:?}", ap.interface));
            let sink = Arc::clone(&extractor);
            let mut config = CaptureConfig::new(ap.interface.clone(), dir);
            config.filter = filter;
            // A WireGuard interface carries bare IP packets, no Ethernet header.
            if ap.is_ingress() {
                config.spool.link = flows::LinkType::RAW;
            }
            config.spool.file_limit_bytes = self.config.capture.file_mib * MIB;
            config.spool.total_limit_bytes = self.config.capture.total_mib * MIB;
            config.spool.min_free_bytes = self.config.capture.min_free_mib * MIB;
            let started = Capture::start(
                config,
                Box::new(move |p: &flows::Packet<'_>| {
                    if let Some(x) = sink.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                        x.packet(p);
                    }
                }),
            );
            match started {
                Ok(c) => Some(c),
                Err(e) => {
                    record::remove(&self.records_dir, &request.id);
                    return Err(ControlError::Internal(format!(
                        "capture on {}: {e}",
                        ap.interface
                    )));
                }
            }
        } else {
            None
        };
        let running = Running {
            capture,
            extractor,
            rules,
            interface: ap.tunnel_interface(),
            notes,
        };
        let status = record.status.clone();
        state.insert(request.id.clone(), (record, Some(running)));
        drop(state);
        tracing::info!(measurement = %request.id, ap = %request.ap, app = %request.app, duration_s = request.duration_s, "measurement started");
        let me = Arc::clone(self);
        let id = request.id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(u64::from(
                request.duration_s,
            )))
            .await;
            if me.stop(id.clone(), StopMeasurement::default()).is_ok() {
                tracing::warn!(measurement = %id, "duration limit reached: capture stopped without a stop request");
            }
        });
        Ok(status)
    }

    /// Ends a measurement's capture; processing goes on in the background.
    pub fn stop(
        self: &Arc<Self>,
        id: String,
        stop: StopMeasurement,
    ) -> Result<MeasurementStatus, ControlError> {
        let mut state = self.lock();
        let (record, running) = state
            .get_mut(&id)
            .ok_or_else(|| ControlError::UnknownMeasurement(id.clone()))?;
        let Some(running) = running
            .take()
            .filter(|_| record.status.state == MeasurementState::Running)
        else {
            return Err(ControlError::Conflict(format!(
                "measurement {id:?} is not running (it is {:?})",
                record.status.state
            )));
        };
        record.status.state = MeasurementState::Processing;
        record.save(&self.records_dir).map_err(internal)?;
        let status = record.status.clone();
        let request = record.request.clone();
        drop(state);
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let id2 = id.clone();
            let me2 = Arc::clone(&me);
            let outcome =
                tokio::task::spawn_blocking(move || me2.process(&request, running, &stop)).await;
            let (results, failures) =
                outcome.unwrap_or_else(|e| (Vec::new(), vec![format!("processing panicked: {e}")]));
            me.finish(&id2, results, failures);
        });
        Ok(status)
    }

    /// Capture stopped: flows, endpoints, traces and the log into the store.
    fn process(
        &self,
        request: &StartMeasurement,
        mut running: Running,
        stop: &StopMeasurement,
    ) -> (Vec<String>, Vec<String>) {
        let id = request.id.as_str();
        let notes = &mut running.notes;
        let mut results = Vec::new();
        let mut endpoints = Vec::new();
        let report: Option<CaptureReport> = running.capture.take().and_then(|c| match c.stop() {
            Ok(r) => Some(r),
            Err(e) => {
                notes.fail(format!("capture: {e}"));
                None
            }
        });
        if let Some(report) = &report {
            notes.info(format!(
                "capture stopped: {} packets kept of {} seen, {} bytes in {} file(s)",
                report.packets_kept,
                report.packets_seen,
                report.bytes_written,
                report.files.len()
            ));
            if let Some(why) = &report.stopped_writing {
                notes.info(format!("capture file writing stopped early: {why}"));
            }
            results.extend(process::put_capture(&self.store, id, &report.files, notes));
            let extraction = running
                .extractor
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .map(Extractor::finish);
            if let Some(x) = extraction {
                let timers = timers_of(request, stop);
                endpoints = flows::endpoints(&x.flows, &running.rules, timers.as_ref());
                let doc = process::FlowsResult {
                    measurement: id,
                    ap: &request.ap,
                    app: &request.app,
                    timers: timers.as_ref(),
                    capture: report,
                    stats: &x.stats,
                    flows: &x.flows,
                    endpoints: &endpoints,
                };
                notes.info(format!(
                    "{} flows, {} endpoints, {} kept",
                    x.flows.len(),
                    endpoints.len(),
                    endpoints.iter().filter(|e| e.is_kept()).count()
                ));
                match serde_json::to_vec(&doc) {
                    Ok(b) => {
                        results.extend(process::put(&self.store, id, ResultKind::Flows, &b, notes))
                    }
                    Err(e) => notes.fail(format!("flows JSON: {e}")),
                }
            }
            let _ = std::fs::remove_dir_all(self.capture_dir.join(id));
        }
        if request.traces {
            let doc = process::traces(request, &endpoints, &running.interface, notes);
            match serde_json::to_vec(&doc) {
                Ok(b) => {
                    results.extend(process::put(&self.store, id, ResultKind::Traces, &b, notes))
                }
                Err(e) => notes.fail(format!("traces JSON: {e}")),
            }
        }
        notes.info("processing done");
        let log = notes.lines.join("\n") + "\n";
        results.extend(process::put(
            &self.store,
            id,
            ResultKind::Log,
            log.as_bytes(),
            notes,
        ));
        (results, std::mem::take(&mut notes.failures))
    }

    fn finish(&self, id: &str, results: Vec<String>, failures: Vec<String>) {
        let mut state = self.lock();
        let Some((record, _)) = state.get_mut(id) else {
            return;
        };
        record.status.results = results;
        record.status.ended = Some(unix_now());
        record.status.state = if failures.is_empty() {
            MeasurementState::Done
        } else {
            MeasurementState::Failed
        };
        record.status.detail = (!failures.is_empty()).then(|| failures.join("; "));
        if let Err(e) = record.save(&self.records_dir) {
            tracing::error!(measurement = %id, error = %e, "saving the measurement record");
        }
        tracing::info!(measurement = %id, state = ?record.status.state, results = ?record.status.results, "measurement ended");
    }

    /// One measurement's status.
    pub fn get(&self, id: &str) -> Result<MeasurementStatus, ControlError> {
        self.lock()
            .get(id)
            .map(|(r, _)| r.status.clone())
            .ok_or_else(|| ControlError::UnknownMeasurement(id.to_string()))
    }

    /// The measurement running or being processed now, if any (the most recent).
    pub fn current(&self) -> Option<MeasurementStatus> {
        self.lock()
            .values()
            .filter(|(r, _)| r.is_active())
            .map(|(r, _)| r.status.clone())
            .max_by_key(|s| s.started)
    }

    /// The daemon is stopping: close running captures so their files are whole. Their
    /// records stay active and are recovered at the next start.
    pub fn shutdown(&self) {
        let mut state = self.lock();
        for (id, (_, running)) in state.iter_mut() {
            if let Some(c) = running.as_mut().and_then(|r| r.capture.take()) {
                if let Err(e) = c.stop() {
                    tracing::warn!(measurement = %id, error = %e, "closing the capture");
                }
            }
        }
    }
}

/// `aa:bb:cc:dd:ee:ff` as bytes.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests;
