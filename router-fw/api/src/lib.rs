//! Versioned wire types of the router API and of every result record; the host depends on this
//! crate, never on the daemon. Plain data with serde and pure checks: no I/O, except in
//! `client` (feature `client`), the host's HTTPS client of the router API. Feature `identity`
//! makes the API's TLS certificate (the router on first boot, the host when it enrolls one).
//! Feature `logread` sets up the router programs' logging (`logread`).
//!
//! Request bodies (`SetVantage`, `StartMeasurement`) reject unknown fields, so a typo is an
//! error rather than a silently ignored setting; responses accept unknown fields, so an older
//! host can read a newer router.

mod blocking;
mod check;
#[cfg(feature = "client")]
pub mod client;
#[cfg(any(feature = "client", feature = "identity"))]
mod digest;
#[cfg(feature = "identity")]
pub mod identity;
mod ingress;
#[cfg(feature = "logread")]
pub mod logread;
mod measurement;
mod results;
mod status;
mod vantage;
mod wg_quick;

pub use blocking::{check_domain, Blocklist, MAX_BLOCKED_DOMAINS, MAX_DOMAIN_LEN};
pub use check::{check_id, check_result_id, Invalid, MAX_ID_LEN, MAX_RESULT_ID_LEN};
pub use ingress::{check_device_name, AddPeer, DeviceData, Ingress, IngressPeer, MAX_DEVICE_LEN};
pub use measurement::{
    MeasurementState, MeasurementStatus, StartMeasurement, StopMeasurement, Windows,
    MAX_DURATION_S, MAX_MESSAGES,
};
pub use results::{ApiError, ResultKind, ResultList, ResultSummary};
pub use status::{
    ApCounters, ApStatus, RouterHealth, RouterStatus, Station, TunnelHealth, UploadHealth,
    VantageSummary,
};
pub use vantage::{check_endpoint, check_key, SetVantage, WgPeer};
pub use wg_quick::{parse_management_wg_quick, parse_wg_quick, render_wg_quick, WgQuickError};

/// Version prefix of the router HTTP API (`/v1/...`).
pub const API_VERSION: &str = "v1";

/// Response header of `GET /v1/results/{id}`: the SHA-256 of the body, lowercase hex.
pub const SHA256_HEADER: &str = "x-matador-sha256";

/// Response header of `GET /v1/results/{id}` when the body is encrypted at rest: `age` (an
/// age v1 file to the researcher's key). Absent: the body is the result itself.
pub const ENCRYPTED_HEADER: &str = "x-matador-encrypted";

/// The value of [`ENCRYPTED_HEADER`] for an age v1 file.
pub const ENCRYPTED_AGE: &str = "age";
