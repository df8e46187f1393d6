//! Encryption at rest: results of enrolled (non-lab) phones are written on the router as age
//! v1 files (https://age-encryption.org/v1) to the researcher's X25519 public key, so a seized
//! or stolen router reveals nothing. The router only encrypts; the analysis host decrypts
//! (`matador-host decrypt`).

mod recipient;
mod writer;

#[cfg(test)]
mod tests;

pub use recipient::Recipient;
pub use writer::{sealed_len, AgeWriter, CHUNK_SIZE};

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The configuration's `at_rest` section: results of devices (enrolled phones) are stored
/// encrypted to `recipient`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AtRestConfig {
    /// The researcher's age X25519 public key, `age1…` (`matador-host keys new` prints it).
    pub recipient: String,
}

impl AtRestConfig {
    /// The recipient, parsed (the configuration's check already did it once).
    pub fn recipient(&self) -> Result<Recipient, AtRestError> {
        Recipient::parse(&self.recipient)
    }
}

/// What can go wrong parsing a recipient or encrypting.
#[derive(Debug, thiserror::Error)]
pub enum AtRestError {
    /// The text is not an age X25519 recipient.
    #[error("`{shown}` is not an age X25519 recipient (age1…): {reason}")]
    Recipient {
        /// The input (its start, if long).
        shown: String,
        /// Why it was refused.
        reason: String,
    },
    /// A cryptographic step failed (the OS random generator, or a low-order recipient key).
    #[error("age encryption failed: {0}")]
    Crypto(&'static str),
    /// Reading the source or writing the encrypted file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

fn io_err(context: impl FnOnce() -> String) -> impl FnOnce(io::Error) -> AtRestError {
    move |source| AtRestError::Io {
        context: context(),
        source,
    }
}

/// Encrypts `src` to `to` into `dst` atomically: a temporary file in `dst`'s directory,
/// fsynced, then renamed over `dst` (and the directory fsynced), so a power cut leaves either
/// no `dst` or a whole one. Returns the bytes written to `dst`. `src` is left alone: the
/// caller decides when the plaintext goes.
pub fn encrypt_file(src: &Path, dst: &Path, to: &Recipient) -> Result<u64, AtRestError> {
    let mut input = File::open(src).map_err(io_err(|| format!("opening {}", src.display())))?;
    let tmp = temp_path(dst)?;
    let result = write_encrypted(&mut input, src, &tmp, to).and_then(|written| {
        fs::rename(&tmp, dst).map_err(io_err(|| {
            format!("renaming {} to {}", tmp.display(), dst.display())
        }))?;
        Ok(written)
    });
    match result {
        Ok(written) => {
            sync_dir(dst);
            Ok(written)
        }
        Err(e) => {
            // Best effort: the temporary file is ours and useless now.
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// `dir/.NAME.PID.N.tmp`: in `dst`'s directory (rename stays on one file system), hidden, and
/// unique among this process's concurrent calls.
fn temp_path(dst: &Path) -> Result<PathBuf, AtRestError> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = dst.file_name().ok_or_else(|| AtRestError::Io {
        context: format!("encrypting to {}", dst.display()),
        source: io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"),
    })?;
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{}.{n}.tmp", std::process::id()));
    Ok(dst.with_file_name(tmp))
}

fn write_encrypted(
    input: &mut File,
    src: &Path,
    tmp: &Path,
    to: &Recipient,
) -> Result<u64, AtRestError> {
    let write_ctx = || format!("writing {}", tmp.display());
    let out = {
        use std::os::unix::fs::OpenOptionsExt as _;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(tmp)
            .map_err(io_err(|| format!("creating {}", tmp.display())))?
    };
    let mut age = AgeWriter::new(out, to)?;
    // io::copy cannot tell read errors from write errors: copy by hand to name the right file.
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = match io::Read::read(input, &mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(|| format!("reading {}", src.display()))(e)),
        };
        age.write_all(&chunk[..n]).map_err(io_err(write_ctx))?;
    }
    let out = age.finish().map_err(io_err(write_ctx))?;
    out.sync_all().map_err(io_err(write_ctx))?;
    let written = out.metadata().map_err(io_err(write_ctx))?.len();
    Ok(written)
}

/// Makes the rename durable. Best effort: the file itself is already synced, and some file
/// systems refuse to fsync a directory.
fn sync_dir(dst: &Path) {
    let dir = match dst.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
