//! Versioned wire types of the router API and of every result record; the host depends on this
//! crate, never on the daemon. The types themselves arrive with the router-daemon issue.

/// Version prefix of the router HTTP API (`/v1/...`).
pub const API_VERSION: &str = "v1";
