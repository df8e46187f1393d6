//! Measurements in the daemon: `start` captures the phone's traffic on its AP (parsed into
//! flows as it arrives), `stop` ends the capture and processes it in the background (flows
//! and endpoints, then traces through the AP's tunnel), every output goes to the result
//! store. Each measurement's record is on disk, so a daemon killed mid-measurement finds it
//! on restart, keeps what was captured and marks it failed: nothing half-written is listed.
//! With `intercept_tls`, the phone's TLS also goes through the interception proxy for the
//! measurement (`intercept`): its key log and flow records become results too.

mod finish;
mod intercept;
mod phone;
mod process;
mod record;
mod recover;
mod targets;

pub use intercept::{SetRedirect, FLOWS_FILE, KEYLOG_FILE};
pub use process::{rules_of, timers_of, DEFAULT_RULES};
pub use record::Record;
pub use targets::{plan, PathKind, TraceGroup};

use crate::api::ControlError;
use crate::capture::{Capture, CaptureConfig};
use crate::dataplane::config::{ApConfig, RouterConfig};
use crate::dataplane::wireguard::unix_now;
use crate::store::Store;
use matador_api::{MeasurementState, MeasurementStatus, StartMeasurement, StopMeasurement};
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
    /// TLS interception in force (`intercept_tls`).
    intercept: Option<intercept::Active>,
}

/// The daemon's measurements, running and finished.
pub struct Measurements {
    records_dir: PathBuf,
    capture_dir: PathBuf,
    config: RouterConfig,
    store: Arc<Store>,
    /// Each AP's ingress peers: a device's tunnel address is what its capture keeps.
    ingress: Vec<crate::dataplane::ingress::Peers>,
    /// TLS interception: the proxy, its CA, its ports.
    interception: crate::intercept::Settings,
    /// How interception's redirects reach the firewall (set once the data plane runs).
    redirect: Mutex<Option<SetRedirect>>,
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
        let interception = crate::intercept::Settings::from_config(config);
        Self::open_with(config, store, ingress, interception)
    }

    /// As [`Measurements::open`], with interception settings of the caller's (tests shorten
    /// its waits).
    pub fn open_with(
        config: &RouterConfig,
        store: Arc<Store>,
        ingress: Vec<crate::dataplane::ingress::Peers>,
        interception: crate::intercept::Settings,
    ) -> std::io::Result<Arc<Measurements>> {
        let records_dir = config.state_dir.join("measurements");
        let capture_dir = config.capture_dir();
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
            interception,
            redirect: Mutex::new(None),
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

    /// How interception's redirects reach the firewall: the data plane's, once it runs.
    pub fn set_redirector(&self, redirect: SetRedirect) {
        *self.redirect.lock().unwrap_or_else(|p| p.into_inner()) = Some(redirect);
    }

    fn redirector(&self) -> Option<SetRedirect> {
        self.redirect
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The router's interception CA certificate (PEM), made on first use.
    pub fn interception_ca(&self) -> Result<String, ControlError> {
        self.interception.ca_pem().map_err(|e| match e {
            crate::intercept::InterceptError::Missing { .. } => {
                ControlError::Unsupported(e.to_string())
            }
            other => ControlError::Internal(other.to_string()),
        })
    }

    fn ap(&self, name: &str) -> Result<&ApConfig, ControlError> {
        self.config
            .aps
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| ControlError::UnknownAp(name.to_string()))
    }

    /// Starts a measurement (see [`crate::api::Control::start_measurement`]).
    pub fn start(
        self: &Arc<Self>,
        request: StartMeasurement,
    ) -> Result<MeasurementStatus, ControlError> {
        let ap = self.ap(&request.ap)?.clone();
        if request.intercept_tls && ap.is_ingress() && !self.interception.ingress {
            return Err(ControlError::Invalid(format!(
                "AP {:?} is a WireGuard ingress, whose phones may be anyone's: this router \
                 intercepts TLS on its Wi-Fi APs only (`interception: {{ ingress: true }}` \
                 allows it where the ingress serves lab phones alone)",
                ap.name
            )));
        }
        let rules = rules_of(&request).map_err(|e| ControlError::Invalid(format!("rules: {e}")))?;
        let (filter, device) = self.phone_filter(&ap, request.device.as_deref())?;
        // Whose TLS is intercepted: an ingress device's address, or the Wi-Fi AP's subnet.
        let tls_from = match (ap.is_ingress(), filter.addresses.first()) {
            (true, Some(std::net::IpAddr::V4(a))) => ipnet::Ipv4Net::from(*a),
            _ => ap.subnet,
        };
        if request.intercept_tls {
            // Before anything starts: the proxy, the bundle, the firewall's hook.
            intercept::check(&self.interception, self.redirector().is_some())?;
        }
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
        let intercept = if request.intercept_tls {
            match self.start_interception(&ap, &tls_from, &request.id, &mut notes) {
                Ok(active) => Some(active),
                Err(e) => {
                    if let Some(c) = capture {
                        let _ = c.stop();
                    }
                    let _ = std::fs::remove_dir_all(self.capture_dir.join(&request.id));
                    record::remove(&self.records_dir, &request.id);
                    return Err(e);
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
            intercept,
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
            if let Some(active) = running.as_mut().and_then(|r| r.intercept.take()) {
                active.shutdown(&self.interception);
            }
            if let Some(c) = running.as_mut().and_then(|r| r.capture.take()) {
                if let Err(e) = c.stop() {
                    tracing::warn!(measurement = %id, error = %e, "closing the capture");
                }
            }
        }
    }
}

#[cfg(test)]
mod intercept_tests;
#[cfg(test)]
mod tests;
