//! A measurement the daemon was running when it died (a crash, kill -9, power loss): at the
//! next start its capture files are stored (and their flows), a stale interception proxy is
//! killed and its key log and flow records stored, and the measurement is marked failed.

use super::process::{self, rules_of, Notes};
use super::{intercept, Measurements, Record};
use crate::dataplane::wireguard::unix_now;
use matador_api::{MeasurementState, ResultKind};
use matador_probe::flows;

impl Measurements {
    /// A measurement the daemon was running when it died: store what was captured (and the
    /// flows in it), then mark it failed.
    pub(super) fn recover(&self, r: &mut Record) {
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
        if r.request.intercept_tls {
            // Normally gone already: the daemon kills what its pid files name at start.
            intercept::kill_stale_proxy(&self.config.run_dir, &r.status.ap);
            notes.info("interception was on; the firewall's redirect went with the old table");
            let stored = intercept::collect(&self.store, &id, &dir, &mut notes);
            r.status.results.extend(stored);
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
}
