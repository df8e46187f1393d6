//! Ending a measurement: the interception stopped, the capture closed, then flows and
//! endpoints, the interception's files, traces and the log into the store (in the
//! background, after `stop`), and the record closed as done or failed.

use super::process::{self, timers_of};
use super::{intercept, Measurements, Running};
use crate::capture::CaptureReport;
use crate::dataplane::wireguard::unix_now;
use matador_api::{MeasurementState, ResultKind, StartMeasurement, StopMeasurement};
use matador_probe::flows::{self, Extractor};

impl Measurements {
    /// Capture stopped: flows, endpoints, traces and the log into the store.
    pub(super) fn process(
        &self,
        request: &StartMeasurement,
        mut running: Running,
        stop: &StopMeasurement,
    ) -> (Vec<String>, Vec<String>) {
        let id = request.id.as_str();
        let notes = &mut running.notes;
        if let Some(active) = running.intercept.take() {
            active.stop(&self.interception, self.redirector().as_ref(), notes);
        }
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
        }
        if request.intercept_tls {
            let dir = self.capture_dir.join(id);
            results.extend(intercept::collect(&self.store, id, &dir, notes));
        }
        // A capture that could not be closed stays on disk for a person to look at.
        if report.is_some() || !request.capture {
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

    pub(super) fn finish(&self, id: &str, results: Vec<String>, failures: Vec<String>) {
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
}
