//! Encryption at rest, the analysis host's half: the researcher's age key pair (`keys new`),
//! decryption of the `.age` files field routers write results into (`decrypt`), and of
//! results fetched encrypted over the API ([`open_fetched`]). Routers only hold the public
//! key, so only this host can read what they captured.

pub mod cli;

#[cfg(test)]
mod tests;

use age::secrecy::ExposeSecret as _;
use anyhow::{bail, Context, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read as _, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// An identity (secret key) results are decrypted with, from [`load_identities`].
pub type Identity = Box<dyn age::Identity + Send + Sync>;

/// A new identity as `keys new` wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The recipient (`age1…`) routers encrypt to.
    pub public_key: String,
    /// The identity file, absolute.
    pub identity: PathBuf,
}

/// Makes a new X25519 identity and writes it to `out` as `age-keygen` does (created time,
/// public key, `AGE-SECRET-KEY-1…`), mode 0600, atomically. An existing `out` is replaced only
/// with `force`, because files encrypted to the old key become unreadable without it.
pub fn new_identity(out: &Path, force: bool) -> Result<NewKey> {
    let identity_path = std::path::absolute(out).with_context(|| out.display().to_string())?;
    if !force && fs::symlink_metadata(&identity_path).is_ok() {
        bail!(
            "{} exists; --force replaces it, and files encrypted to its key can then no \
             longer be decrypted",
            out.display()
        );
    }
    let identity = age::x25519::Identity::generate();
    let public_key = identity.to_public().to_string();
    let secret = identity.to_string();
    let text = format!(
        "# created: {}\n# public key: {public_key}\n{}\n",
        rfc3339_now(),
        secret.expose_secret()
    );
    write_atomic(&identity_path, force, |f| {
        f.write_all(text.as_bytes())?;
        Ok(text.len() as u64)
    })
    .with_context(|| format!("writing identity {}", out.display()))?;
    Ok(NewKey {
        public_key,
        identity: identity_path,
    })
}

/// Decrypts the age file `src` with the identities in the file `identity` into `dst`,
/// atomically (a temporary file in `dst`'s directory, mode 0600, synced, then renamed: a
/// tampered or truncated `src` leaves no partial `dst`). Returns the plaintext's length.
pub fn decrypt_to(identity: &Path, src: &Path, dst: &Path) -> Result<u64> {
    let identities = load_identities(identity)?;
    let input = File::open(src).with_context(|| format!("opening {}", src.display()))?;
    let decryptor = age::Decryptor::new_buffered(BufReader::new(input))
        .with_context(|| format!("{} is not an age file", src.display()))?;
    let mut reader = match decryptor.decrypt(identities.iter().map(|i| i.as_ref() as _)) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => bail!(
            "{} was not encrypted to the identity in {} (public key {}): it needs another \
             researcher key",
            src.display(),
            identity.display(),
            public_keys(identity).unwrap_or_else(|_| "unknown".into())
        ),
        Err(e) => bail!("decrypting {}: {e}", src.display()),
    };
    write_atomic(dst, true, |f| io::copy(&mut reader, f))
        .with_context(|| format!("decrypting {} to {}", src.display(), dst.display()))
}

/// `X` for `X.age`: where `decrypt` writes a file (in `out_dir` if given, else next to it).
pub fn decrypted_path(src: &Path, out_dir: Option<&Path>) -> Result<PathBuf> {
    let name = src
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".age"))
        .filter(|n| !n.is_empty())
        .with_context(|| {
            format!(
                "{}: not an `.age` file name (decrypt writes X from X.age)",
                src.display()
            )
        })?;
    Ok(match out_dir {
        Some(dir) => dir.join(name),
        None => src.with_file_name(name),
    })
}

/// The plaintext of result `id` fetched from a router: `bytes` unchanged when the router
/// stored it plain, decrypted with `identities` when `encrypted` (the router's
/// `x-matador-encrypted: age` header, `FetchedResult::encrypted`). Without identities an
/// encrypted result is an error that says to pass `--identity FILE`. Acknowledge with the
/// fetched bytes' SHA-256 (`FetchedResult::sha256`): the router hashes what it stores.
pub fn open_fetched(
    id: &str,
    bytes: Vec<u8>,
    encrypted: bool,
    identities: &[Identity],
) -> Result<Vec<u8>> {
    if !encrypted {
        return Ok(bytes);
    }
    if identities.is_empty() {
        bail!(
            "result {id} is encrypted to the researcher's key; pass --identity FILE (the \
             identity `matador-host keys new` wrote)"
        );
    }
    let decryptor = age::Decryptor::new_buffered(&bytes[..])
        .with_context(|| format!("result {id} is marked encrypted but is not an age file"))?;
    let mut reader = match decryptor.decrypt(identities.iter().map(|i| i.as_ref() as _)) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => bail!(
            "result {id} is encrypted to another researcher key than the given identity's; \
             pass the --identity FILE whose public key the router's at_rest.recipient is"
        ),
        Err(e) => bail!("decrypting result {id}: {e}"),
    };
    let mut plain = Vec::with_capacity(bytes.len());
    reader
        .read_to_end(&mut plain)
        .with_context(|| format!("decrypting result {id}: damaged or truncated"))?;
    Ok(plain)
}

/// The identities of an identity file (`keys new --out`, or `age-keygen`'s); an error names
/// the file. Load them once and pass them to [`open_fetched`] for every result.
pub fn load_identities(identity: &Path) -> Result<Vec<Identity>> {
    let shown = identity.display().to_string();
    let file = age::IdentityFile::from_file(shown.clone())
        .with_context(|| format!("reading identity {shown}"))?;
    let identities = file
        .into_identities()
        .with_context(|| format!("reading identity {shown}"))?;
    if identities.is_empty() {
        bail!("identity file {shown} holds no AGE-SECRET-KEY-1… line");
    }
    Ok(identities)
}

/// The public keys of an identity file, comma-separated (for error messages).
fn public_keys(identity: &Path) -> Result<String> {
    let file = age::IdentityFile::from_file(identity.display().to_string())?;
    let mut out = Vec::new();
    file.write_recipients_file(&mut out)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(String::from_utf8_lossy(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(", "))
}

/// Writes `dst` through a hidden temporary file next to it (mode 0600), fsyncs it, moves it to
/// `dst` and fsyncs the directory; the temporary file is removed on failure. `fill` writes the
/// content and returns its length. Without `replace`, an existing `dst` is an error: the
/// move is then a hard link, which, unlike rename, refuses an existing name atomically.
fn write_atomic(
    dst: &Path,
    replace: bool,
    fill: impl FnOnce(&mut File) -> io::Result<u64>,
) -> Result<u64> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = dst.file_name().context("the path has no file name")?;
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
    let tmp = dst.with_file_name(tmp_name);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    let result = fill(&mut f)
        .and_then(|n| f.sync_all().map(|()| n))
        .and_then(|n| {
            if replace {
                fs::rename(&tmp, dst)
            } else {
                fs::hard_link(&tmp, dst).and_then(|()| fs::remove_file(&tmp))
            }
            .map(|()| n)
        });
    match result {
        Ok(n) => {
            // Makes the rename durable; best effort, some file systems refuse it.
            if let Some(dir) = dst.parent().filter(|p| !p.as_os_str().is_empty()) {
                let _ = File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(n)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e.into())
        }
    }
}

/// Now in UTC as RFC 3339 (`2026-05-01T12:00:00Z`), age-keygen's `# created:` comment.
fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, t) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = matador_lab::civil::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}
