//! Writing one result: bytes go to a temp file while they are hashed and counted against the
//! cap; commit makes them durable and visible in one step.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use matador_api::{ResultKind, ResultSummary};

use super::{atomic, io_err, now, Store, StoreError, DATA, SIDECAR};

/// Bytes reserved against the cap at a time, so that every small write does not lock.
const RESERVE_STEP: u64 = 1024 * 1024;

/// A result being written. [`io::Write`] appends (a write past the cap fails with
/// [`io::ErrorKind::StorageFull`]); [`ResultWriter::commit`] stores it; dropping it
/// unfinished removes the temp file.
pub struct ResultWriter {
    store: Arc<Store>,
    id: String,
    measurement: String,
    kind: ResultKind,
    temp: PathBuf,
    file: Option<File>,
    hash: ring::digest::Context,
    written: u64,
    reserved: u64,
    committed: bool,
}

impl std::fmt::Debug for ResultWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultWriter")
            .field("id", &self.id)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl ResultWriter {
    pub(super) fn new(
        store: Arc<Store>,
        id: String,
        measurement: String,
        kind: ResultKind,
    ) -> Result<Self, StoreError> {
        let temp = atomic::temp_path(&store.dir, &format!("{id}{DATA}"));
        let file = match atomic::create_private(&temp) {
            Ok(file) => file,
            Err(e) => {
                store.finish(&id, 0, None);
                return Err(io_err(format!("creating {}", temp.display()))(e));
            }
        };
        Ok(Self {
            store,
            id,
            measurement,
            kind,
            temp,
            file: Some(file),
            hash: ring::digest::Context::new(&ring::digest::SHA256),
            written: 0,
            reserved: 0,
            committed: false,
        })
    }

    /// Appends `bytes`, or refuses them all if they do not fit under the cap.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let len = bytes.len() as u64;
        let short = (self.written + len).saturating_sub(self.reserved);
        if short > 0 {
            // A step ahead if it fits, else exactly what is missing.
            let step = short.max(RESERVE_STEP);
            if self.store.reserve(step).is_ok() {
                self.reserved += step;
            } else {
                self.store.reserve(short)?;
                self.reserved += short;
            }
        }
        let file = self.file.as_mut().ok_or_else(|| StoreError::Io {
            context: format!("writing {}", self.temp.display()),
            source: io::Error::other("writer already finished"),
        })?;
        file.write_all(bytes)
            .map_err(io_err(format!("writing {}", self.temp.display())))?;
        self.hash.update(bytes);
        self.written += len;
        Ok(())
    }

    /// Makes the result durable and lists it: fsync, rename into place, sidecar, directory
    /// fsync. Returns what `GET /v1/results` will show.
    pub fn commit(mut self) -> Result<ResultSummary, StoreError> {
        let dir = self.store.dir.clone();
        let file = self.file.take().ok_or_else(|| StoreError::Io {
            context: format!("committing {}", self.id),
            source: io::Error::other("writer already finished"),
        })?;
        file.sync_all()
            .map_err(io_err(format!("syncing {}", self.temp.display())))?;
        drop(file);
        let data = dir.join(format!("{}{DATA}", self.id));
        fs::rename(&self.temp, &data).map_err(io_err(format!("renaming to {}", data.display())))?;
        // The data file must be durable under its name before the sidecar commits it.
        let synced = atomic::sync_dir(&dir);
        let summary = ResultSummary {
            id: self.id.clone(),
            measurement: self.measurement.clone(),
            kind: self.kind,
            size: self.written,
            created: now(),
            sha256: hex(self.hash.clone().finish().as_ref()),
            device: self.store.device_of(&self.measurement),
        };
        let committed = synced.and_then(|()| {
            let json = serde_json::to_vec_pretty(&summary).map_err(io::Error::other)?;
            atomic::write_file(&dir, &format!("{}{SIDECAR}", self.id), &json)
        });
        if let Err(e) = committed {
            // Not committed (or not durably): both files go, so that a retry starts clean.
            let _ = fs::remove_file(dir.join(format!("{}{SIDECAR}", self.id)));
            let _ = fs::remove_file(&data);
            return Err(io_err(format!("committing {}", self.id))(e));
        }
        self.store
            .finish(&self.id, self.reserved, Some(summary.clone()));
        self.committed = true;
        Ok(summary)
    }
}

impl Write for ResultWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.append(buf) {
            Ok(()) => Ok(buf.len()),
            Err(StoreError::Io { source, .. }) => Err(source),
            Err(e @ StoreError::Full { .. }) => Err(io::Error::new(io::ErrorKind::StorageFull, e)),
            Err(e) => Err(io::Error::other(e)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ResultWriter {
    fn drop(&mut self) {
        if !self.committed {
            drop(self.file.take());
            let _ = fs::remove_file(&self.temp);
            self.store.finish(&self.id, self.reserved, None);
        }
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
