//! MATAdOR's TLS interception proxy, for controlled experiments only: the router redirects
//! the TCP 443 traffic of devices that a policy names to it; it answers with certificates of
//! a per-lab CA, relays the plaintext to the real server (verified against a configured CA),
//! logs the TLS secrets for Wireshark, writes one decrypted record per connection, and lets
//! apps that pin their certificates through untouched after their first refusal.
//!
//! The router daemon runs the `matador-mitm` binary as a helper; the host CLI makes the CA
//! with [`ca::generate`]. See `README.md` for flags, record format and the safety rule.
//!
//! ```
//! use matador_mitm::{ca, InterceptionCa};
//!
//! let made = ca::generate("lab-berlin").expect("a new CA");
//! assert_eq!(made.name, "MATAdOR interception CA lab-berlin");
//! // What phones install is `made.cert_pem`; the proxy loads both parts.
//! let loaded = InterceptionCa::from_pem(&made.cert_pem, &made.key_pem).expect("loads");
//! assert!(!loaded.cert_der().is_empty());
//! ```

mod append;
pub mod ca;
mod clock;
mod der;
pub mod keylog;
pub mod leaf;
pub mod original_dst;
pub mod pinning;
pub mod proxy;
pub mod record;
mod relay;
pub mod upstream;

pub use ca::InterceptionCa;
pub use original_dst::{FixedOriginalDst, OriginalDst, SoOriginalDst};
pub use proxy::{Limits, Proxy, ProxyConfig};
pub use record::{FlowRecord, Outcome};

use std::path::PathBuf;

/// Everything that can go wrong while setting the proxy up (connections fail alone, as
/// records and log lines, never as an `Error`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read, written or created.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why (in the message, not a `source`, so error chains do not say it twice).
        error: std::io::Error,
    },
    /// A socket could not be bound or used.
    #[error("{what}: {error}")]
    Socket {
        /// What we were doing.
        what: String,
        /// Why.
        error: std::io::Error,
    },
    /// A certificate or key could not be made (rcgen's reason).
    #[error("cannot make a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// A certificate or key file is not what it should be.
    #[error("{0}")]
    BadCa(String),
    /// A file's contents are not what they should be (no certificate in a PEM file, a
    /// flows line that is not a record).
    #[error("{}: {reason}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The system's random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// rustls refused a configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }
}

/// The crypto provider of every TLS configuration here: ring, as in the rest of MATAdOR
/// (no aws-lc C toolchain on routers).
pub(crate) fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
