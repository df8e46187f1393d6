//! Capture on the router's AP side: one phone's frames (by MAC and addresses), taken from an
//! AF_PACKET socket for the span of a measurement, written to rotating pcapng files under a
//! total cap and a free-space guard, and handed as they arrive to a sink (the flow extractor),
//! so a capture never has to sit in RAM before it is understood.
//!
//! The pure parts (`PhoneFilter`, `Spool`) are tested without root; `Capture` is the edge that
//! owns the socket and the thread.
//!
//! ```no_run
//! use matador_probe::flows::{ExtractConfig, Extractor};
//! use matador_router::capture::{Capture, CaptureConfig, PhoneFilter};
//! use std::sync::{Arc, Mutex};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = CaptureConfig::new("phy0-ap0", "/tmp/matador/m-0001");
//! config.filter = PhoneFilter { mac: Some([2, 0, 0, 0, 0, 2]), addresses: vec![] };
//! let extractor = Arc::new(Mutex::new(Extractor::new(&ExtractConfig::default())));
//! let feed = extractor.clone();
//! let capture = Capture::start(config, Box::new(move |packet| {
//!     if let Ok(mut extractor) = feed.lock() {
//!         extractor.packet(packet);
//!     }
//! }))?;
//! // ... the measurement runs ...
//! let report = capture.stop()?;
//! # Ok(())
//! # }
//! ```

mod filter;
mod live;
mod spool;

pub use filter::PhoneFilter;
pub use live::{Capture, PacketSink};
pub use spool::{
    in_ram, statvfs_free_bytes, FreeSpace, Spool, SpoolConfig, SpoolSummary, StopReason,
    FREE_SPACE_CHECK_BYTES, MIN_SNAPLEN,
};

use serde::Serialize;
use std::path::PathBuf;

/// What to capture, where to write it, and the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    /// The AP-side interface, in the network namespace of the thread that starts the capture.
    pub interface: String,
    /// Which frames to keep.
    pub filter: PhoneFilter,
    /// Put the interface in promiscuous mode (frames of a bridged phone are not addressed to us).
    pub promiscuous: bool,
    /// The files and their limits.
    pub spool: SpoolConfig,
}

impl CaptureConfig {
    /// Everything on `interface` into `dir`, promiscuous, with the spool's default limits.
    pub fn new(interface: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        CaptureConfig {
            interface: interface.into(),
            filter: PhoneFilter::everything(),
            promiscuous: true,
            spool: SpoolConfig::new(dir),
        }
    }
}

/// What a capture saw and wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptureReport {
    /// The pcapng files, in order; their concatenation is one capture.
    pub files: Vec<PathBuf>,
    /// Frames read from the interface.
    pub packets_seen: u64,
    /// Frames the phone filter kept (all handed to the sink).
    pub packets_kept: u64,
    /// Frames written to the files.
    pub packets_written: u64,
    /// Bytes of all files, headers included.
    pub bytes_written: u64,
    /// Why writing stopped before the end, e.g. "total cap of N bytes reached".
    pub stopped_writing: Option<String>,
    /// Frames the kernel dropped because the socket's queue was full.
    pub kernel_drops: u64,
    /// Reads that failed (interface down or gone, for instance); the capture went on.
    pub receive_errors: u64,
}

/// Why a capture cannot start or end cleanly.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The interface does not exist in this network namespace.
    #[error("no interface named {name:?} in this network namespace: check the AP interface name (`ip link`)")]
    NoSuchInterface {
        /// The name asked for.
        name: String,
    },
    /// Opening an AF_PACKET socket needs privileges.
    #[error("not allowed to capture on {interface}: run the daemon as root or grant it CAP_NET_RAW ({source})")]
    Permission {
        /// The interface.
        interface: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The socket could not be opened or bound for another reason.
    #[error("cannot capture on {interface}: {source}")]
    Socket {
        /// The interface.
        interface: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The capture directory cannot be created, listed or written.
    #[error("cannot use capture directory {}: {source}; make it writable by the daemon", dir.display())]
    Directory {
        /// The directory.
        dir: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The directory already holds capture files of another measurement.
    #[error("capture directory {} already holds capture files: use a fresh directory per measurement", dir.display())]
    DirectoryNotEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// Settings that cannot work.
    #[error("invalid capture settings: {0}")]
    InvalidConfig(String),
    /// The capture thread could not be started.
    #[error("cannot start the capture thread: {0}")]
    Thread(std::io::Error),
    /// The capture thread panicked (in the sink, most likely); its files may be incomplete.
    #[error("the capture thread panicked: {0}")]
    Panicked(String),
}

#[cfg(test)]
mod tests;
