//! A field router nobody watches must say what is wrong rather than fail quietly: a crash
//! loop (procd restarting a daemon that keeps dying), a full disk, a clock that was never set
//! (no NTP yet: every result's time would be wrong), uploads that keep failing. The checks
//! are plain functions over plain data; `status` reads the system and assembles the report.

use matador_api::{RouterHealth, UploadHealth};
use std::path::{Path, PathBuf};

/// Starts within this much uptime count toward a crash loop.
pub const CRASH_WINDOW_S: u64 = 600;
/// This many starts within the window is a crash loop.
pub const CRASH_LOOP_STARTS: u32 = 5;
/// Starts remembered.
const STARTS_KEPT: usize = 20;
/// No clock this early is right: 2026-01-01, before this daemon was written. A router
/// without a battery-backed clock boots in 1970 (or at its image's build time) until NTP.
pub const CLOCK_FLOOR_UNIX: u64 = 1_767_225_600;
/// Failed upload attempts in a row before it is a warning (single cuts are normal).
pub const UPLOAD_FAILURES_WARN: u32 = 3;

/// The file of recent starts in the state directory (`<boot id> <uptime s>` per line).
fn starts_file(state_dir: &Path) -> PathBuf {
    state_dir.join("starts")
}

/// The file the panic hook writes the panic message to, read back by the next start.
pub fn crash_file(state_dir: &Path) -> PathBuf {
    state_dir.join("last-crash")
}

/// How this start relates to the ones before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Starts {
    /// Starts (this one included) within [`CRASH_WINDOW_S`] of uptime in this boot.
    pub recent: u32,
    /// The previous run's panic message, if it crashed.
    pub last_crash: Option<String>,
}

/// Counts the starts of boot `boot_id` within the window before `uptime_s` (uptime, not the
/// wall clock, which may be wrong before NTP).
pub fn recent_starts(record: &str, boot_id: &str, uptime_s: u64) -> u32 {
    let n = record
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(boot, _)| *boot == boot_id)
        .filter_map(|(_, up)| up.trim().parse::<u64>().ok())
        .filter(|&up| up <= uptime_s && uptime_s - up <= CRASH_WINDOW_S)
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The record with this start appended, the oldest dropped beyond [`STARTS_KEPT`].
pub fn append_start(record: &str, boot_id: &str, uptime_s: u64) -> String {
    let mut lines: Vec<&str> = record.lines().filter(|l| !l.trim().is_empty()).collect();
    let this = format!("{boot_id} {uptime_s}");
    lines.push(&this);
    let skip = lines.len().saturating_sub(STARTS_KEPT);
    let mut out = lines[skip..].join("\n");
    out.push('\n');
    out
}

/// Records this start in the state directory and reads what the previous run left.
/// Problems reading or writing are logged, never fatal: a full disk must not stop the
/// daemon from reporting that the disk is full.
pub fn record_start(state_dir: &Path) -> Starts {
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|b| b.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let uptime = uptime_s();
    let path = starts_file(state_dir);
    let record = std::fs::read_to_string(&path).unwrap_or_default();
    let updated = append_start(&record, &boot_id, uptime);
    let written = std::fs::create_dir_all(state_dir)
        .and_then(|()| crate::store::atomic::write_file(state_dir, "starts", updated.as_bytes()));
    if let Err(e) = written {
        tracing::warn!(file = %path.display(), error = %e, "cannot record this start");
    }
    let crash = crash_file(state_dir);
    let last_crash = std::fs::read_to_string(&crash)
        .ok()
        .map(|t| t.trim().chars().take(500).collect::<String>());
    let _ = std::fs::remove_file(&crash);
    Starts {
        recent: recent_starts(&updated, &boot_id, uptime),
        last_crash,
    }
}

/// Seconds since boot (0 if /proc says otherwise).
fn uptime_s() -> u64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| {
            t.split('.')
                .next()
                .and_then(|s| s.trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
}

/// Whether the kernel considers the clock synchronised (NTP has disciplined it):
/// `adjtimex` answers `TIME_ERROR` while it is not.
pub fn clock_synchronized() -> bool {
    // SAFETY: a zeroed timex with modes 0 only reads the kernel's state.
    let mut t: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut t) };
    state >= 0 && state != libc::TIME_ERROR
}

/// What the report is made of, read from the system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readings {
    /// This start and the previous run.
    pub starts: Starts,
    /// Free bytes where results and captures go.
    pub disk_free_bytes: u64,
    /// Below this the disk counts as full (the capture limit's `min_free`).
    pub disk_min_free_bytes: u64,
    /// The kernel's synchronised flag.
    pub clock_synchronized: bool,
    /// The clock now, Unix seconds.
    pub clock_unix: u64,
    /// Results in the store and their bytes.
    pub spooled: (u64, u64),
    /// The store's cap.
    pub spool_capacity: u64,
    /// The uploader, if configured.
    pub upload: Option<UploadHealth>,
}

/// The health report, with a warning per problem.
pub fn report(r: &Readings) -> RouterHealth {
    let mut warnings = Vec::new();
    if r.starts.recent >= CRASH_LOOP_STARTS {
        warnings.push(format!(
            "crash loop: {} starts in the last {} minutes",
            r.starts.recent,
            CRASH_WINDOW_S / 60
        ));
    }
    if let Some(c) = &r.starts.last_crash {
        warnings.push(format!("the previous run crashed: {c}"));
    }
    if r.disk_free_bytes < r.disk_min_free_bytes {
        warnings.push(format!(
            "disk full: {} MiB free, below the {} MiB captures need",
            r.disk_free_bytes >> 20,
            r.disk_min_free_bytes >> 20
        ));
    }
    let plausible = r.clock_unix >= CLOCK_FLOOR_UNIX;
    if !plausible {
        warnings.push(format!(
            "wrong clock: {} is before 2026; results' times are wrong until NTP sets it",
            r.clock_unix
        ));
    } else if !r.clock_synchronized {
        warnings.push("clock not synchronised by NTP yet".into());
    }
    if r.spool_capacity > 0 && r.spooled.1 >= r.spool_capacity / 10 * 8 {
        warnings.push(format!(
            "result spool {} % full ({} results): fetch or upload them",
            r.spooled.1.saturating_mul(100) / r.spool_capacity,
            r.spooled.0
        ));
    }
    if let Some(u) = r
        .upload
        .as_ref()
        .filter(|u| u.failures >= UPLOAD_FAILURES_WARN)
    {
        warnings.push(format!(
            "uploads failing ({} attempts): {}",
            u.failures,
            u.last_error.as_deref().unwrap_or("unknown error")
        ));
    }
    RouterHealth {
        warnings,
        recent_starts: r.starts.recent,
        last_crash: r.starts.last_crash.clone(),
        disk_free_bytes: r.disk_free_bytes,
        clock_synchronized: r.clock_synchronized,
        clock_plausible: plausible,
        clock_unix: r.clock_unix,
        spooled_results: r.spooled.0,
        spooled_bytes: r.spooled.1,
        upload: r.upload.clone(),
    }
}

/// What encryption at rest leaves open, as warnings: an ingress (phones anywhere,
/// participants' own) whose results are stored in plain; or, with encryption, running
/// measurements spooling their plaintext capture on a disk (`capture_in_ram`: whether the
/// capture directory's file system is tmpfs or ramfs, if known).
pub fn at_rest_warnings(
    config: &crate::dataplane::config::RouterConfig,
    capture_in_ram: Option<bool>,
) -> Vec<String> {
    let mut out = Vec::new();
    let ingress: Vec<&str> = config
        .aps
        .iter()
        .filter(|a| a.is_ingress())
        .map(|a| a.name.as_str())
        .collect();
    if config.at_rest.is_none() && !ingress.is_empty() {
        out.push(format!(
            "results of phones on the ingress ({}) are stored unencrypted: set at_rest.recipient \
             (UCI at_rest_recipient) to the researcher's age key",
            ingress.join(", ")
        ));
    }
    if config.at_rest.is_some() && capture_in_ram == Some(false) {
        out.push(format!(
            "results are encrypted at rest, but running measurements spool their capture in \
             plain on a disk ({}): put capture.dir on tmpfs",
            config.capture_dir().display()
        ));
    }
    out
}

#[cfg(test)]
mod tests;
