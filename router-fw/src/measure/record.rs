//! A measurement's record on disk (`<state_dir>/measurements/<id>.json`): the request and
//! where it is, written atomically at every change so a restart knows what was going on.

use crate::store::atomic;
use matador_api::{MeasurementState, MeasurementStatus, StartMeasurement};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Largest record read back (a real one is a few KiB; the rules are capped at 256 KiB).
const MAX_RECORD: u64 = 1024 * 1024;
/// Finished records older than this are forgotten at start (their results are long fetched).
pub const KEEP_FINISHED_S: u64 = 30 * 24 * 3600;

/// What the daemon keeps of a measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// What the host asked for.
    pub request: StartMeasurement,
    /// Where it is.
    pub status: MeasurementStatus,
}

impl Record {
    /// A new record of a measurement that starts now.
    pub fn new(request: StartMeasurement, now: u64) -> Record {
        let status = MeasurementStatus {
            id: request.id.clone(),
            ap: request.ap.clone(),
            app: request.app.clone(),
            state: MeasurementState::Running,
            started: now,
            ended: None,
            results: Vec::new(),
            detail: None,
        };
        Record { request, status }
    }

    /// Whether it still holds its AP (capturing or being processed).
    pub fn is_active(&self) -> bool {
        matches!(
            self.status.state,
            MeasurementState::Running | MeasurementState::Processing
        )
    }

    /// Writes the record atomically into `dir`.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        atomic::write_file(dir, &file_name(&self.status.id), &bytes)
    }
}

fn file_name(id: &str) -> String {
    format!("{id}.json")
}

/// Every readable record in `dir`, and a line for each file that could not be read (kept on
/// disk for a person to look at, never deleted).
pub fn load_all(dir: &Path) -> (Vec<Record>, Vec<String>) {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (records, problems);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        match read(&path) {
            Ok(r) if path.file_stem().is_some_and(|s| *s == *r.status.id) => records.push(r),
            Ok(_) => problems.push(format!(
                "{}: its id does not match its name",
                path.display()
            )),
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
    }
    records.sort_by(|a, b| (a.status.started, &a.status.id).cmp(&(b.status.started, &b.status.id)));
    (records, problems)
}

fn read(path: &Path) -> Result<Record, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_RECORD {
        return Err(format!("{len} bytes, more than a record can be"));
    }
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    serde_json::from_slice(&text).map_err(|e| e.to_string())
}

/// Removes the record of `id` (a finished one past [`KEEP_FINISHED_S`]).
pub fn remove(dir: &Path, id: &str) {
    let _ = std::fs::remove_file(dir.join(file_name(id)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use matador_api::Windows;

    fn request(id: &str) -> StartMeasurement {
        StartMeasurement {
            id: id.into(),
            ap: "ap0".into(),
            app: "org.example.chat".into(),
            capture: true,
            traces: false,
            duration_s: 60,
            windows: Windows::default(),
            trace_peer: None,
            rules: None,
            device: None,
            intercept_tls: false,
        }
    }

    #[test]
    fn records_round_trip_and_garbage_is_reported_not_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Record::new(request("m2"), 200);
        b.status.state = MeasurementState::Done;
        b.save(dir.path()).unwrap();
        let a = Record::new(request("m1"), 100);
        a.save(dir.path()).unwrap();
        std::fs::write(dir.path().join("bad.json"), b"{not json").unwrap();
        std::fs::write(dir.path().join("m9.json"), serde_json::to_vec(&a).unwrap()).unwrap();
        let (records, problems) = load_all(dir.path());
        assert_eq!(records, [a.clone(), b]);
        assert!(records[0].is_active() && !records[1].is_active());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(dir.path().join("bad.json").exists());
    }
}
