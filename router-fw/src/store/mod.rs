//! The router's result store: a directory of results waiting for the host, each written
//! atomically, kept within a size cap, deleted only when the host acknowledges it.
//!
//! Layout: `<id>.data` holds a result's bytes, `<id>.json` its [`ResultSummary`]. The sidecar
//! is renamed into place last, so it is the commit point: a result is listed only once both
//! are durable. Acknowledging removes the sidecar first. After a crash, [`Store::open`] removes
//! temp files and any `<id>.data` without a sidecar (a commit or an acknowledgement that did
//! not finish), so a half-written result is never listed and a listed one is never lost.
//!
//! Encryption at rest: with a recipient ([`Store::set_recipient`]), the results of a
//! measurement that has a device ([`Store::set_device`]: an enrolled phone) are streamed
//! through an age writer, so `<id>.data` is an age file and their plaintext never reaches the
//! disk; the sidecar says `"encrypted": true`, and `size` and `sha256` are the age file's.

pub mod atomic;
mod writer;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use matador_api::{check_id, check_result_id, Invalid, ResultKind, ResultSummary};

use crate::at_rest::Recipient;

pub(crate) use writer::hex;
pub use writer::ResultWriter;

/// Largest sidecar read back on open (a real one is a few hundred bytes).
const MAX_SIDECAR: u64 = 64 * 1024;
const DATA: &str = ".data";
const SIDECAR: &str = ".json";

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("result store: {context}: {source}")]
    Io {
        /// What the store was doing.
        context: String,
        /// The error from the system.
        #[source]
        source: io::Error,
    },
    /// The cap would be exceeded; nothing is deleted to make room.
    #[error(
        "result store full: {needed} more bytes do not fit ({used} of {capacity} used or \
         reserved); the host must fetch and acknowledge results first"
    )]
    Full {
        /// Bytes asked for.
        needed: u64,
        /// Bytes stored or reserved by writers.
        used: u64,
        /// The cap.
        capacity: u64,
    },
    /// No such result (never stored, or already acknowledged).
    #[error("no result {0:?}")]
    NotFound(String),
    /// A result with this id is stored or being written.
    #[error("result {0:?} already exists")]
    Exists(String),
    /// The host acknowledged bytes other than the stored ones.
    #[error("result {id:?} has SHA-256 {actual}, not {expected}: not acknowledged")]
    Sha256Mismatch {
        /// The result.
        id: String,
        /// What the host said it received.
        expected: String,
        /// What is stored.
        actual: String,
    },
    /// A bad id or measurement name.
    #[error("{0}")]
    Invalid(#[from] Invalid),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

/// The result store. Share it as `Arc<Store>`: writers ([`Store::create`]) keep a handle.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    capacity: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Committed results by id.
    results: BTreeMap<String, ResultSummary>,
    /// Ids being written.
    pending: HashSet<String>,
    /// Bytes of committed results, plus those of unreadable sidecars' data (kept, not listed).
    used: u64,
    /// Bytes reserved by writers in progress.
    reserved: u64,
    /// The device each measurement's results belong to (ingress devices), by measurement.
    devices: HashMap<String, String>,
    /// The researcher's key devices' results are encrypted to; none: they are stored plain.
    recipient: Option<Recipient>,
}

impl Store {
    /// Opens (creating if needed) the store in `dir` with a cap of `capacity` bytes of result
    /// data, and cleans up what a crash left: temp files and uncommitted data files.
    pub fn open(dir: impl Into<PathBuf>, capacity: u64) -> Result<Arc<Self>, StoreError> {
        let dir = dir.into();
        let shown = dir.display().to_string();
        fs::create_dir_all(&dir).map_err(io_err(format!("creating {shown}")))?;
        let temps = atomic::remove_temp_files(&dir)
            .map_err(io_err(format!("removing temp files in {shown}")))?;
        if temps > 0 {
            tracing::warn!(dir = %shown, count = temps, "removed results a crash left half-written");
        }
        let state = recover(&dir)?;
        Ok(Arc::new(Self {
            dir,
            capacity,
            state: Mutex::new(state),
        }))
    }

    /// The cap, in bytes of result data.
    pub fn capacity_bytes(&self) -> u64 {
        self.capacity
    }

    /// Bytes of stored results.
    pub fn used_bytes(&self) -> u64 {
        self.lock().used
    }

    /// Results of `measurement` created from now on carry `device` (none: no device), and
    /// are encrypted if a recipient is set. Call it before the measurement's first result.
    pub fn set_device(&self, measurement: &str, device: Option<String>) {
        let mut state = self.lock();
        match device {
            Some(d) => state.devices.insert(measurement.to_owned(), d),
            None => state.devices.remove(measurement),
        };
    }

    /// Results of devices created from now on are encrypted to `to` (none: stored plain).
    /// Results without a device (an AP's lab phone) are always plain.
    pub fn set_recipient(&self, to: Option<Recipient>) {
        self.lock().recipient = to;
    }

    /// Stored results, oldest first.
    pub fn list(&self) -> Vec<ResultSummary> {
        let mut all: Vec<_> = self.lock().results.values().cloned().collect();
        all.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        all
    }

    /// One stored result's summary.
    pub fn get(&self, id: &str) -> Option<ResultSummary> {
        self.lock().results.get(id).cloned()
    }

    /// Opens a stored result for reading. The file stays readable even if the result is
    /// acknowledged meanwhile.
    pub fn open_result(&self, id: &str) -> Result<(ResultSummary, File), StoreError> {
        let summary = self
            .get(id)
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        let path = self.data_path(id);
        let file = File::open(&path).map_err(io_err(format!("opening {}", path.display())))?;
        Ok((summary, file))
    }

    /// Starts writing the result of kind `kind` of measurement `measurement`; its id is
    /// `<measurement>.<kind>`. Write the bytes, then [`ResultWriter::commit`]; a writer dropped
    /// without committing leaves nothing behind.
    pub fn create(
        self: &Arc<Self>,
        measurement: &str,
        kind: ResultKind,
    ) -> Result<ResultWriter, StoreError> {
        check_id("measurement", measurement)?;
        let id = format!("{measurement}.{}", kind.as_str());
        check_result_id("id", &id)?;
        // Decided once, at the start: the bytes go to disk encrypted from the first one.
        let (device, to) = {
            let mut state = self.lock();
            if state.results.contains_key(&id) || state.pending.contains(&id) {
                return Err(StoreError::Exists(id));
            }
            if state.used + state.reserved >= self.capacity {
                return Err(StoreError::Full {
                    needed: 1,
                    used: state.used + state.reserved,
                    capacity: self.capacity,
                });
            }
            state.pending.insert(id.clone());
            let device = state.devices.get(measurement).cloned();
            let to = device.as_ref().and(state.recipient.clone());
            (device, to)
        };
        ResultWriter::new(
            Arc::clone(self),
            writer::Meta {
                id,
                measurement: measurement.to_owned(),
                kind,
                device,
            },
            to.as_ref(),
        )
    }

    /// Stores `bytes` as one result (see [`Store::create`]).
    pub fn put(
        self: &Arc<Self>,
        measurement: &str,
        kind: ResultKind,
        bytes: &[u8],
    ) -> Result<ResultSummary, StoreError> {
        let mut writer = self.create(measurement, kind)?;
        writer.append(bytes)?;
        writer.commit()
    }

    /// The host has the result: delete it. With `sha256`, only if that is the stored hash, so
    /// the host acknowledges exactly what it checked.
    pub fn acknowledge(&self, id: &str, sha256: Option<&str>) -> Result<(), StoreError> {
        let mut state = self.lock();
        let summary = state
            .results
            .get(id)
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        if let Some(expected) = sha256 {
            if !expected.eq_ignore_ascii_case(&summary.sha256) {
                return Err(StoreError::Sha256Mismatch {
                    id: id.to_owned(),
                    expected: expected.to_owned(),
                    actual: summary.sha256.clone(),
                });
            }
        }
        // The sidecar goes first: from then on the result is uncommitted, and a crash before
        // the data file is removed leaves an orphan that the next open removes.
        let sidecar = self.sidecar_path(id);
        fs::remove_file(&sidecar).map_err(io_err(format!("removing {}", sidecar.display())))?;
        atomic::sync_dir(&self.dir).map_err(io_err("syncing the store directory"))?;
        let size = summary.size;
        state.results.remove(id);
        state.used = state.used.saturating_sub(size);
        drop(state);
        let data = self.data_path(id);
        match fs::remove_file(&data) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(format!("removing {}", data.display()))(e)),
        }
        atomic::sync_dir(&self.dir).map_err(io_err("syncing the store directory"))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent counters (every update is a few
        // plain assignments), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn data_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}{DATA}"))
    }

    fn sidecar_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}{SIDECAR}"))
    }

    /// Reserves `n` more bytes for a writer, or refuses if the cap would be passed.
    fn reserve(&self, n: u64) -> Result<(), StoreError> {
        let mut state = self.lock();
        let taken = state.used + state.reserved;
        if taken.saturating_add(n) > self.capacity {
            return Err(StoreError::Full {
                needed: n,
                used: taken,
                capacity: self.capacity,
            });
        }
        state.reserved += n;
        Ok(())
    }

    /// A writer ends: its reservation is released; if it committed, the result is counted.
    fn finish(&self, id: &str, reserved: u64, committed: Option<ResultSummary>) {
        let mut state = self.lock();
        state.reserved = state.reserved.saturating_sub(reserved);
        state.pending.remove(id);
        if let Some(summary) = committed {
            state.used += summary.size;
            state.results.insert(summary.id.clone(), summary);
        }
    }
}

/// Unix seconds now (0 if the clock is before 1970).
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads the committed results of `dir` and removes uncommitted data files.
fn recover(dir: &Path) -> Result<State, StoreError> {
    let shown = dir.display().to_string();
    let mut state = State::default();
    let mut data_files = Vec::new();
    let mut sidecars = HashSet::new();
    for entry in fs::read_dir(dir).map_err(io_err(format!("reading {shown}")))? {
        let entry = entry.map_err(io_err(format!("reading {shown}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(SIDECAR) {
            sidecars.insert(id.to_owned());
            match read_sidecar(&entry.path(), id) {
                Ok(summary) => {
                    state.used += summary.size;
                    state.results.insert(id.to_owned(), summary);
                }
                Err(why) => {
                    // Never written by us as such (sidecars are fsynced before they are
                    // renamed): keep the files for a person to look at, list nothing.
                    tracing::error!(file = %entry.path().display(), %why, "unreadable result, kept and not listed");
                    let data = dir.join(format!("{id}{DATA}"));
                    state.used += fs::metadata(data).map_or(0, |m| m.len());
                }
            }
        } else if let Some(id) = name.strip_suffix(DATA) {
            data_files.push(id.to_owned());
        } else {
            tracing::warn!(dir = %shown, file = %name, "unexpected file in the result store, ignored");
        }
    }
    let mut removed = 0;
    for id in data_files.iter().filter(|id| !sidecars.contains(*id)) {
        let path = dir.join(format!("{id}{DATA}"));
        fs::remove_file(&path).map_err(io_err(format!("removing {}", path.display())))?;
        removed += 1;
    }
    if removed > 0 {
        atomic::sync_dir(dir).map_err(io_err(format!("syncing {shown}")))?;
        tracing::warn!(dir = %shown, count = removed, "removed uncommitted results a crash left");
    }
    Ok(state)
}

/// A sidecar that agrees with its file name and its data file.
fn read_sidecar(path: &Path, id: &str) -> Result<ResultSummary, String> {
    let mut text = String::new();
    File::open(path)
        .and_then(|f| f.take(MAX_SIDECAR).read_to_string(&mut text))
        .map_err(|e| e.to_string())?;
    let summary: ResultSummary = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if summary.id != id {
        return Err(format!("the sidecar names result {:?}", summary.id));
    }
    check_result_id("id", id).map_err(|e| e.to_string())?;
    let data = path.with_file_name(format!("{id}{DATA}"));
    let len = fs::metadata(&data)
        .map_err(|e| format!("{}: {e}", data.display()))?
        .len();
    if len != summary.size {
        return Err(format!(
            "{} has {len} bytes, the sidecar says {}",
            data.display(),
            summary.size
        ));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_at_rest;
