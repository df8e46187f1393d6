//! The capture files of one measurement: `capture-0001.pcapng`, `capture-0002.pcapng`, … in one
//! directory, each a complete pcapng section (so their concatenation in order is one capture),
//! rotated at a size limit, stopped at a total cap or when the filesystem runs low on space.

use super::CaptureError;
use matador_probe::flows::capture::{PcapngWriter, MAX_PACKET_LEN};
use matador_probe::flows::LinkType;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// Free space is read again after this many bytes written into one file.
pub const FREE_SPACE_CHECK_BYTES: u64 = 4 << 20;
/// Smallest snapshot length accepted: an Ethernet, IPv6 and TCP header.
pub const MIN_SNAPLEN: u32 = 96;
const WRITE_BUFFER: usize = 64 << 10;

/// Where the files go and how large they may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// The measurement's capture directory (created when missing, must hold no captures yet).
    pub dir: PathBuf,
    /// Bytes kept of each packet (the pcapng snaplen).
    pub snaplen: u32,
    /// A file is closed and the next one started before it would grow past this.
    pub file_limit_bytes: u64,
    /// Writing stops before all files together would grow past this.
    pub total_limit_bytes: u64,
    /// Writing stops before the free space of `dir`'s filesystem would drop below this.
    pub min_free_bytes: u64,
    /// What the frames start with: Ethernet, or bare IP on a WireGuard interface.
    pub link: LinkType,
}

impl SpoolConfig {
    /// Defaults sized for a router with a little storage: 256 KiB snaplen, 32 MiB files,
    /// 512 MiB in all, 16 MiB left free.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SpoolConfig {
            dir: dir.into(),
            snaplen: 256 << 10,
            file_limit_bytes: 32 << 20,
            total_limit_bytes: 512 << 20,
            min_free_bytes: 16 << 20,
            link: LinkType::ETHERNET,
        }
    }
}

/// Why the spool stopped writing (the capture itself goes on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StopReason {
    /// The files reached the measurement's total cap.
    #[error("total cap of {limit} bytes reached")]
    TotalCap {
        /// The cap, in bytes.
        limit: u64,
    },
    /// The filesystem is running out of space.
    #[error("free space below {min_free} bytes on {}", dir.display())]
    LowSpace {
        /// The free space to keep, in bytes.
        min_free: u64,
        /// The capture directory.
        dir: PathBuf,
    },
    /// A file could not be created, written, synced or the free space not read.
    #[error("cannot write {}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        error: String,
    },
}

/// Reads the free space (bytes) of the filesystem holding a directory.
pub type FreeSpace = Box<dyn FnMut(&Path) -> io::Result<u64> + Send>;

/// What a spool wrote, once closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolSummary {
    /// The files, in order.
    pub files: Vec<PathBuf>,
    /// Packets written.
    pub packets_written: u64,
    /// Packets offered after writing stopped.
    pub packets_not_written: u64,
    /// Bytes in all files, headers included.
    pub bytes_written: u64,
    /// Why writing stopped early, if it did.
    pub stopped: Option<StopReason>,
}

/// Writes packets into rotating pcapng files under size and free-space limits.
pub struct Spool {
    config: SpoolConfig,
    if_name: String,
    header_len: u64,
    free_space: FreeSpace,
    current: Option<PcapngWriter<BufWriter<File>>>,
    files: Vec<PathBuf>,
    closed_bytes: u64,
    packets_written: u64,
    packets_not_written: u64,
    since_check: u64,
    stopped: Option<StopReason>,
}

impl Spool {
    /// Checks the settings and the directory and starts the first file, reading free space with
    /// statvfs.
    pub fn open(config: SpoolConfig, if_name: &str) -> Result<Spool, CaptureError> {
        Spool::with_free_space(config, if_name, Box::new(statvfs_free_bytes))
    }

    /// As `open`, with the free space read by `free_space` (tests simulate a full disk).
    pub fn with_free_space(
        config: SpoolConfig,
        if_name: &str,
        free_space: FreeSpace,
    ) -> Result<Spool, CaptureError> {
        let header_len = PcapngWriter::<io::Sink>::header_len(if_name);
        check(&config, header_len)?;
        let dir_error = |source| CaptureError::Directory {
            dir: config.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&config.dir).map_err(dir_error)?;
        for entry in std::fs::read_dir(&config.dir).map_err(dir_error)? {
            let name = entry.map_err(dir_error)?.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("capture-") && name.ends_with(".pcapng") {
                return Err(CaptureError::DirectoryNotEmpty {
                    dir: config.dir.clone(),
                });
            }
        }
        let mut spool = Spool {
            config,
            if_name: if_name.to_owned(),
            header_len,
            free_space,
            current: None,
            files: Vec::new(),
            closed_bytes: 0,
            packets_written: 0,
            packets_not_written: 0,
            since_check: 0,
            stopped: None,
        };
        // The first file at once, so a directory we cannot write to fails the start.
        spool.start_file(0);
        match spool.stopped.take() {
            Some(StopReason::Io { error, .. }) => Err(CaptureError::Directory {
                dir: spool.config.dir.clone(),
                source: io::Error::other(error),
            }),
            other => {
                spool.stopped = other;
                Ok(spool)
            }
        }
    }

    /// Writes one packet (cut to the snaplen) unless writing has stopped; true when written.
    pub fn write(&mut self, timestamp_ns: u64, frame: &[u8], wire_len: u32) -> bool {
        if self.stopped.is_some() {
            self.packets_not_written += 1;
            return false;
        }
        let block = self.block_len(frame.len());
        let rotate = match &self.current {
            Some(w) => w.bytes_written() + block > self.config.file_limit_bytes,
            None => true,
        };
        let needed = block + if rotate { self.header_len } else { 0 };
        if self.bytes_written() + needed > self.config.total_limit_bytes {
            self.stop(StopReason::TotalCap {
                limit: self.config.total_limit_bytes,
            });
            self.packets_not_written += 1;
            return false;
        }
        if rotate {
            self.close_file();
            if self.stopped.is_some() || !self.start_file(block) {
                self.packets_not_written += 1;
                return false;
            }
        } else if self.since_check >= FREE_SPACE_CHECK_BYTES && !self.room_for(block) {
            self.packets_not_written += 1;
            return false;
        }
        let Some(writer) = self.current.as_mut() else {
            self.packets_not_written += 1;
            return false;
        };
        if let Err(e) = writer.write_packet(timestamp_ns, frame, wire_len) {
            let path = self.files.last().cloned().unwrap_or_default();
            self.stop(StopReason::Io {
                path,
                error: e.to_string(),
            });
            self.packets_not_written += 1;
            return false;
        }
        self.since_check += block;
        self.packets_written += 1;
        true
    }

    /// Why writing stopped, if it did.
    pub fn stopped(&self) -> Option<&StopReason> {
        self.stopped.as_ref()
    }

    /// Bytes in all files so far, headers included.
    pub fn bytes_written(&self) -> u64 {
        self.closed_bytes + self.current.as_ref().map_or(0, |w| w.bytes_written())
    }

    /// Closes (and fsyncs) the last file and says what was written.
    pub fn finish(mut self) -> SpoolSummary {
        self.close_file();
        if let Err(e) = File::open(&self.config.dir).and_then(|d| d.sync_all()) {
            self.stop(StopReason::Io {
                path: self.config.dir.clone(),
                error: e.to_string(),
            });
        }
        SpoolSummary {
            files: self.files,
            packets_written: self.packets_written,
            packets_not_written: self.packets_not_written,
            bytes_written: self.closed_bytes,
            stopped: self.stopped,
        }
    }

    /// Bytes the block of a `len`-byte frame takes (32 bytes of framing, padded data).
    fn block_len(&self, len: usize) -> u64 {
        32 + (len.min(self.config.snaplen as usize) as u64).div_ceil(4) * 4
    }

    /// Opens the next file if the caps allow a header and a `block`-byte packet in it.
    fn start_file(&mut self, block: u64) -> bool {
        let needed = self.header_len + block;
        if self.closed_bytes + needed > self.config.total_limit_bytes {
            self.stop(StopReason::TotalCap {
                limit: self.config.total_limit_bytes,
            });
            return false;
        }
        if !self.room_for(needed) {
            return false;
        }
        let path = self
            .config
            .dir
            .join(format!("capture-{:04}.pcapng", self.files.len() + 1));
        // The phone's traffic: readable by the daemon only (mode 0600, whatever the umask).
        let opened = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|f| {
                let out = BufWriter::with_capacity(WRITE_BUFFER, f);
                PcapngWriter::new(out, self.config.link, self.config.snaplen, &self.if_name)
            });
        match opened {
            Ok(writer) => {
                self.files.push(path);
                self.current = Some(writer);
                true
            }
            Err(e) => {
                self.stop(StopReason::Io {
                    path,
                    error: e.to_string(),
                });
                false
            }
        }
    }

    /// Reads free space; false (and stopped) when writing `needed` bytes, and what may follow
    /// before the next reading, would leave less than the minimum.
    fn room_for(&mut self, needed: u64) -> bool {
        self.since_check = 0;
        let ahead = FREE_SPACE_CHECK_BYTES.min(self.config.file_limit_bytes) + needed;
        match (self.free_space)(&self.config.dir) {
            Ok(free) if free >= self.config.min_free_bytes.saturating_add(ahead) => true,
            Ok(_) => {
                self.stop(StopReason::LowSpace {
                    min_free: self.config.min_free_bytes,
                    dir: self.config.dir.clone(),
                });
                false
            }
            Err(e) => {
                self.stop(StopReason::Io {
                    path: self.config.dir.clone(),
                    error: format!("free space unknown: {e}"),
                });
                false
            }
        }
    }

    /// Flushes, fsyncs and closes the current file, if any.
    fn close_file(&mut self) {
        let Some(writer) = self.current.take() else {
            return;
        };
        self.closed_bytes += writer.bytes_written();
        let closed = writer
            .into_inner()
            .and_then(|buffered| buffered.into_inner().map_err(|e| e.into_error()))
            .and_then(|file| file.sync_all());
        if let Err(e) = closed {
            let path = self.files.last().cloned().unwrap_or_default();
            self.stop(StopReason::Io {
                path,
                error: e.to_string(),
            });
        }
    }

    /// Records the first reason to stop writing; later ones are consequences.
    fn stop(&mut self, reason: StopReason) {
        if self.stopped.is_none() {
            tracing::warn!(reason = %reason, "capture stopped writing");
            self.stopped = Some(reason);
        }
    }
}

/// Rejects settings under which a packet could not fit in a fresh file.
fn check(config: &SpoolConfig, header_len: u64) -> Result<(), CaptureError> {
    let max = MAX_PACKET_LEN as u32;
    if !(MIN_SNAPLEN..=max).contains(&config.snaplen) {
        return Err(CaptureError::InvalidConfig(format!(
            "snaplen {} is outside {MIN_SNAPLEN}..={max}",
            config.snaplen
        )));
    }
    let smallest = header_len + 32 + u64::from(config.snaplen).div_ceil(4) * 4;
    if config.file_limit_bytes < smallest {
        return Err(CaptureError::InvalidConfig(format!(
            "file limit of {} bytes cannot hold one {}-byte packet: raise it to at least {smallest}",
            config.file_limit_bytes, config.snaplen
        )));
    }
    Ok(())
}

/// The space unprivileged users may still fill on the filesystem of `dir` (statvfs).
pub fn statvfs_free_bytes(dir: &Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
    // SAFETY: statvfs is plain old data, fully written by a successful call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `stat` is a valid, writable statvfs.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // the field types differ between targets
    Ok((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

/// Whether `dir` is on a file system in RAM (tmpfs or ramfs): gone at power-off.
pub fn in_ram(dir: &Path) -> io::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
    // SAFETY: statfs is plain old data, fully written by a successful call.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `stat` is a valid, writable statfs.
    if unsafe { libc::statfs(path.as_ptr(), &mut stat) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // the field's type differs between targets
    let kind = stat.f_type as i64;
    Ok(kind == TMPFS_MAGIC || kind == RAMFS_MAGIC)
}

#[cfg(test)]
#[path = "spool_tests.rs"]
mod tests;
