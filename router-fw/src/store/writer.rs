//! Writing one result: bytes go to a temp file (through an age writer when the result is
//! encrypted at rest) while what reaches the disk is hashed and counted against the cap;
//! commit makes them durable and visible in one step.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use matador_api::{ResultKind, ResultSummary};

use super::{atomic, io_err, now, Store, StoreError, DATA, SIDECAR};
use crate::at_rest::{sealed_len, AgeWriter, AtRestError, Recipient};

/// Bytes reserved against the cap at a time, so that every small write does not lock.
const RESERVE_STEP: u64 = 1024 * 1024;

/// What a result is, fixed when its writer starts.
pub(super) struct Meta {
    /// `<measurement>.<kind>`.
    pub id: String,
    /// The measurement it belongs to.
    pub measurement: String,
    /// What it holds.
    pub kind: ResultKind,
    /// The device whose traffic it holds, if any.
    pub device: Option<String>,
}

/// The temp file, hashing and counting exactly the bytes that reach it: the summary's
/// `sha256` and `size` are of what is stored, encrypted or not.
struct Stored {
    file: File,
    hash: ring::digest::Context,
    len: u64,
}

impl Write for Stored {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Where appended bytes go: straight to the file, or encrypted to it.
#[allow(clippy::large_enum_variant)] // one per result being written: not worth a box
enum Out {
    Plain(Stored),
    Age(AgeWriter<Stored>),
}

impl Out {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Out::Plain(s) => s.write_all(bytes),
            Out::Age(a) => a.write_all(bytes),
        }
    }

    /// The file, complete (an age file's last chunk sealed).
    fn finish(self) -> io::Result<Stored> {
        match self {
            Out::Plain(s) => Ok(s),
            Out::Age(a) => a.finish(),
        }
    }
}

/// A result being written. [`io::Write`] appends (a write past the cap fails with
/// [`io::ErrorKind::StorageFull`]); [`ResultWriter::commit`] stores it; dropping it
/// unfinished removes the temp file.
pub struct ResultWriter {
    store: Arc<Store>,
    meta: Meta,
    temp: PathBuf,
    out: Option<Out>,
    /// Bytes appended (the plaintext, when encrypted).
    appended: u64,
    /// Bytes of the age header and nonce; the stored size is them plus the sealed chunks.
    header: u64,
    encrypted: bool,
    reserved: u64,
    committed: bool,
}

impl std::fmt::Debug for ResultWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultWriter")
            .field("id", &self.meta.id)
            .field("appended", &self.appended)
            .field("encrypted", &self.encrypted)
            .finish_non_exhaustive()
    }
}

impl ResultWriter {
    /// Starts the temp file; with `to`, writes the age header to it and reserves its room.
    pub(super) fn new(
        store: Arc<Store>,
        meta: Meta,
        to: Option<&Recipient>,
    ) -> Result<Self, StoreError> {
        let temp = atomic::temp_path(&store.dir, &format!("{}{DATA}", meta.id));
        let file = match atomic::create_private(&temp) {
            Ok(file) => file,
            Err(e) => {
                store.finish(&meta.id, 0, None);
                return Err(io_err(format!("creating {}", temp.display()))(e));
            }
        };
        let stored = Stored {
            file,
            hash: ring::digest::Context::new(&ring::digest::SHA256),
            len: 0,
        };
        let mut writer = Self {
            store,
            meta,
            temp,
            out: None,
            appended: 0,
            header: 0,
            encrypted: to.is_some(),
            reserved: 0,
            committed: false,
        };
        // From here on, an error drops `writer`, which removes the temp file.
        let out = match to {
            None => Out::Plain(stored),
            Some(to) => {
                let age = AgeWriter::new(stored, to).map_err(|e| writer.age_error(e))?;
                writer.header = age.get_ref().len;
                Out::Age(age)
            }
        };
        writer.out = Some(out);
        writer.reserve_for(0)?;
        Ok(writer)
    }

    /// Appends `bytes`, or refuses them all if they do not fit under the cap.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let appended = self.appended + bytes.len() as u64;
        self.reserve_for(appended)?;
        let out = self.out.as_mut().ok_or_else(|| StoreError::Io {
            context: format!("writing {}", self.temp.display()),
            source: io::Error::other("writer already finished"),
        })?;
        out.write_all(bytes)
            .map_err(io_err(format!("writing {}", self.temp.display())))?;
        self.appended = appended;
        Ok(())
    }

    /// Makes the result durable and lists it: fsync, rename into place, sidecar, directory
    /// fsync. Returns what `GET /v1/results` will show.
    pub fn commit(mut self) -> Result<ResultSummary, StoreError> {
        let dir = self.store.dir.clone();
        let id = self.meta.id.clone();
        let stored = self
            .out
            .take()
            .ok_or_else(|| StoreError::Io {
                context: format!("committing {id}"),
                source: io::Error::other("writer already finished"),
            })?
            .finish()
            .map_err(io_err(format!("writing {}", self.temp.display())))?;
        stored
            .file
            .sync_all()
            .map_err(io_err(format!("syncing {}", self.temp.display())))?;
        drop(stored.file);
        let data = dir.join(format!("{id}{DATA}"));
        fs::rename(&self.temp, &data).map_err(io_err(format!("renaming to {}", data.display())))?;
        // The data file must be durable under its name before the sidecar commits it.
        let synced = atomic::sync_dir(&dir);
        let summary = ResultSummary {
            id: id.clone(),
            measurement: self.meta.measurement.clone(),
            kind: self.meta.kind,
            size: stored.len,
            created: now(),
            sha256: hex(stored.hash.finish().as_ref()),
            device: self.meta.device.clone(),
            encrypted: self.encrypted,
        };
        let committed = synced.and_then(|()| {
            let json = serde_json::to_vec_pretty(&summary).map_err(io::Error::other)?;
            atomic::write_file(&dir, &format!("{id}{SIDECAR}"), &json)
        });
        if let Err(e) = committed {
            // Not committed (or not durably): both files go, so that a retry starts clean.
            let _ = fs::remove_file(dir.join(format!("{id}{SIDECAR}")));
            let _ = fs::remove_file(&data);
            return Err(io_err(format!("committing {id}"))(e));
        }
        self.store.finish(&id, self.reserved, Some(summary.clone()));
        self.committed = true;
        Ok(summary)
    }

    /// Bytes on disk once `appended` bytes are committed: exact, so that the reservation
    /// covers the stored result and `used` never passes the cap.
    fn stored_len(&self, appended: u64) -> u64 {
        if self.encrypted {
            self.header + sealed_len(appended)
        } else {
            appended
        }
    }

    /// Reserves what `appended` bytes will take on disk, or refuses if the cap is passed.
    fn reserve_for(&mut self, appended: u64) -> Result<(), StoreError> {
        let short = self.stored_len(appended).saturating_sub(self.reserved);
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
        Ok(())
    }

    fn age_error(&self, e: AtRestError) -> StoreError {
        let context = format!("encrypting {}", self.temp.display());
        match e {
            AtRestError::Io { source, .. } => StoreError::Io { context, source },
            other => StoreError::Io {
                context,
                source: io::Error::other(other),
            },
        }
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
            drop(self.out.take());
            let _ = fs::remove_file(&self.temp);
            self.store.finish(&self.meta.id, self.reserved, None);
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
