//! The router daemon's library: the data plane (`run`), the HTTP API and the result store,
//! composed by the `matador-routerd` binary (and usable from lab tests).

pub mod api;
pub mod at_rest;
pub mod capture;
pub mod dataplane;
pub mod health;
pub mod intercept;
pub mod measure;
pub mod store;
pub mod upload;

/// Namespace and tshark helpers shared with the probe crate's tests.
#[cfg(test)]
#[path = "../probe/tests/support/host.rs"]
pub(crate) mod test_host;
