//! The `sync:` file service (v1 STAT, LIST, RECV, SEND, QUIT) over a host directory standing in for the phone's storage.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::stream::{Closed, StreamIo};

/// Longest remote path accepted, as in adbd.
pub const MAX_PATH: usize = 1024;
/// Largest DATA chunk either side may send.
pub const SYNC_DATA_MAX: usize = 64 * 1024;
/// Directory entries listed at most, to bound memory.
const MAX_ENTRIES: usize = 65_536;

/// Maps a device path ("/sdcard/x") into `root`; `None` if it would leave `root`.
pub fn resolve(root: &Path, remote: &[u8]) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for part in remote.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return None,
            p if p.contains(&0) => return None,
            p => path.push(OsStr::from_bytes(p)),
        }
    }
    Some(path)
}

/// True if `path`, with symlinks followed as far as it exists, stays inside `root`.
fn confined(root: &Path, path: &Path) -> bool {
    let Ok(root) = root.canonicalize() else {
        return false;
    };
    let mut probe = Some(path);
    while let Some(p) = probe {
        if let Ok(real) = p.canonicalize() {
            return real.starts_with(&root);
        }
        probe = p.parent();
    }
    false
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

fn le(word: u32) -> [u8; 4] {
    word.to_le_bytes()
}

fn clamp_u32<T: TryInto<u32>>(value: T) -> u32 {
    value.try_into().unwrap_or(u32::MAX)
}

/// mode, size, mtime as the v1 STAT and DENT records carry them.
fn stat_words(meta: &std::fs::Metadata) -> [u32; 3] {
    [
        meta.mode(),
        clamp_u32(meta.size()),
        clamp_u32(meta.mtime().max(0)),
    ]
}

/// One sync connection: buffered requests in, framed replies out.
struct Sync {
    io: StreamIo,
    root: PathBuf,
    buf: Vec<u8>,
}

/// Why a request ended the session.
enum Stop {
    /// It could not be served; the message goes to the host in FAIL.
    Fail(String),
    /// The stream closed under it.
    Gone,
}

impl From<Closed> for Stop {
    fn from(_: Closed) -> Stop {
        Stop::Gone
    }
}

fn fail(message: impl std::fmt::Display) -> Stop {
    Stop::Fail(message.to_string())
}

impl Sync {
    /// The next `n` bytes of the request stream, `None` at end of stream.
    async fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            let data = self.io.read().await?;
            self.buf.extend_from_slice(&data);
        }
        Some(self.buf.drain(..n).collect())
    }

    /// The next 8-byte request or chunk header: id and length.
    async fn header(&mut self) -> Option<([u8; 4], u32)> {
        let head = self.take(8).await?;
        let mut id = [0u8; 4];
        let mut len = [0u8; 4];
        id.copy_from_slice(head.get(..4)?);
        len.copy_from_slice(head.get(4..8)?);
        Some((id, u32::from_le_bytes(len)))
    }

    /// Reads the path following a request header, bounded.
    async fn path(&mut self, len: u32) -> Result<Vec<u8>, Stop> {
        match usize::try_from(len) {
            Ok(n) if n <= MAX_PATH => self.take(n).await.ok_or(Stop::Gone),
            _ => Err(fail("path too long")),
        }
    }

    fn local(&self, remote: &[u8], follow: bool) -> Result<PathBuf, Stop> {
        let path =
            resolve(&self.root, remote).ok_or_else(|| fail("path escapes the device root"))?;
        // lstat-like requests may name a symlink that points outside; its parent must not.
        let check = match path.parent() {
            Some(parent) if !follow && path != self.root => parent,
            _ => path.as_path(),
        };
        if !confined(&self.root, check) {
            return Err(fail("path escapes the device root"));
        }
        Ok(path)
    }

    async fn reply(&mut self, id: &[u8; 4], words: &[u32], tail: &[u8]) -> Result<(), Stop> {
        let mut out = id.to_vec();
        words.iter().for_each(|w| out.extend_from_slice(&le(*w)));
        out.extend_from_slice(tail);
        // One reply per WRTE: adb_client parses replies per message, not as a stream.
        Ok(self.io.write_packet(out).await?)
    }

    async fn fail(&mut self, message: String) {
        let bytes = message.into_bytes();
        let _ = self.reply(b"FAIL", &[clamp_u32(bytes.len())], &bytes).await;
    }

    async fn stat(&mut self, remote: &[u8]) -> Result<(), Stop> {
        let path = self.local(remote, false)?;
        let words = blocking(move || std::fs::symlink_metadata(path))
            .await
            .map_or([0; 3], |m| stat_words(&m));
        self.reply(b"STAT", &words, &[]).await
    }

    async fn list(&mut self, remote: &[u8]) -> Result<(), Stop> {
        let dir = self.local(remote, true)?;
        let entries = blocking(move || {
            let mut entries = Vec::new();
            for entry in std::fs::read_dir(&dir)?.flatten().take(MAX_ENTRIES) {
                if let Ok(meta) = entry.path().symlink_metadata() {
                    entries.push((entry.file_name().as_bytes().to_vec(), stat_words(&meta)));
                }
            }
            Ok(entries)
        })
        .await
        .unwrap_or_default();
        let room = self.io.max_payload();
        let mut out = Vec::new();
        for (name, [mode, size, mtime]) in entries {
            let mut dent = b"DENT".to_vec();
            for w in [mode, size, mtime, clamp_u32(name.len())] {
                dent.extend_from_slice(&le(w));
            }
            dent.extend_from_slice(&name);
            if out.len() + dent.len() > room {
                let full = std::mem::take(&mut out);
                self.io.write_packet(full).await?;
            }
            out.extend_from_slice(&dent);
        }
        if !out.is_empty() {
            self.io.write_packet(out).await?;
        }
        self.reply(b"DONE", &[0; 4], &[]).await
    }

    async fn recv(&mut self, remote: &[u8]) -> Result<(), Stop> {
        let path = self.local(remote, true)?;
        let mut file = blocking(move || std::fs::File::open(path))
            .await
            .map_err(|e| fail(format!("open failed: {e}")))?;
        let chunk = SYNC_DATA_MAX
            .min(self.io.max_payload().saturating_sub(8))
            .max(1);
        loop {
            let (returned, data) = blocking(move || {
                let mut data = vec![0u8; chunk];
                let n = file.read(&mut data)?;
                data.truncate(n);
                Ok((file, data))
            })
            .await
            .map_err(|e| fail(format!("read failed: {e}")))?;
            file = returned;
            if data.is_empty() {
                break;
            }
            self.reply(b"DATA", &[clamp_u32(data.len())], &data).await?;
        }
        self.reply(b"DONE", &[0], &[]).await
    }

    async fn send(&mut self, spec: &[u8]) -> Result<(), Stop> {
        // "path,mode": the mode is decimal and ignored; files get the default permissions.
        let remote = match spec.iter().rposition(|&b| b == b',') {
            Some(comma) => spec.get(..comma).unwrap_or_default(),
            None => spec,
        };
        let target = self.local(remote, true);
        let created = match target {
            Ok(path) => blocking(move || {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                Ok((std::fs::File::create(&path)?, path))
            })
            .await
            .map_err(|e| fail(format!("couldn't create file: {e}"))),
            Err(e) => Err(e),
        };
        let (mut file, path) = match created {
            Ok(created) => created,
            Err(e) => return Err(self.discard_then(e).await),
        };
        loop {
            let Some((id, len)) = self.header().await else {
                let _ = std::fs::remove_file(&path);
                return Err(Stop::Gone);
            };
            match (&id, usize::try_from(len)) {
                (b"DATA", Ok(n)) if n <= SYNC_DATA_MAX => {
                    let data = self.take(n).await.ok_or(Stop::Gone)?;
                    let written = blocking(move || file.write_all(&data).map(|()| file)).await;
                    match written {
                        Ok(f) => file = f,
                        Err(e) => {
                            let _ = std::fs::remove_file(&path);
                            return Err(self
                                .discard_then(fail(format!("write failed: {e}")))
                                .await);
                        }
                    }
                }
                (b"DONE", _) => {
                    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(len.into());
                    let done = blocking(move || {
                        if len != 0 {
                            file.set_modified(mtime)?;
                        }
                        file.flush()
                    })
                    .await;
                    done.map_err(fail)?;
                    return self.reply(b"OKAY", &[0], &[]).await;
                }
                _ => {
                    let _ = std::fs::remove_file(&path);
                    return Err(fail("invalid data message"));
                }
            }
        }
    }

    async fn request(&mut self, id: [u8; 4], len: u32) -> Result<(), Stop> {
        if ![b"STAT", b"LIST", b"RECV", b"SEND"].contains(&&id) {
            return Err(fail("unknown command"));
        }
        let path = self.path(len).await?;
        match &id {
            b"STAT" => self.stat(&path).await,
            b"LIST" => self.list(&path).await,
            b"RECV" => self.recv(&path).await,
            _ => self.send(&path).await,
        }
    }

    /// After a failed SEND, swallows the host's remaining DATA up to DONE, as adbd does,
    /// so the FAIL is read rather than lost in a reset.
    async fn discard_then(&mut self, stop: Stop) -> Stop {
        while let Some((id, len)) = self.header().await {
            match (&id, usize::try_from(len)) {
                (b"DATA", Ok(n)) if n <= SYNC_DATA_MAX => {
                    if self.take(n).await.is_none() {
                        break;
                    }
                }
                _ => break,
            }
        }
        stop
    }
}

/// Serves `sync:` requests until QUIT, end of stream or a failure.
pub async fn serve_sync(io: StreamIo, root: PathBuf) {
    let mut sync = Sync {
        io,
        root,
        buf: Vec::new(),
    };
    while let Some((id, len)) = sync.header().await {
        if &id == b"QUIT" {
            break;
        }
        // Like adbd, a failed request ends the sync session.
        match sync.request(id, len).await {
            Ok(()) => {}
            Err(Stop::Fail(message)) => {
                sync.fail(message).await;
                break;
            }
            Err(Stop::Gone) => break,
        }
    }
    sync.io.close().await;
}
