//! The daemon as the API server sees it: a small trait the daemon implements, and its errors.

use std::future::Future;
use std::pin::Pin;

use matador_api::{
    AddPeer, Ingress, IngressPeer, MeasurementStatus, RouterStatus, StartMeasurement,
    StopMeasurement, WgPeer,
};

/// What a [`Control`] call returns: a boxed future, so the trait stays object-safe
/// (`Arc<dyn Control>`) without a macro crate.
pub type ControlFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ControlError>> + Send + 'a>>;

/// The daemon's side of the API. The server has checked the token and validated every request
/// (`WgPeer::validate`, `StartMeasurement::validate`, `StopMeasurement::validate`) before it
/// calls in. Calls may take a while (netlink, processes): they run on the async runtime, so an
/// implementation must not block a worker thread (use `spawn_blocking` for that).
pub trait Control: Send + Sync + 'static {
    /// The whole router now.
    fn status(&self) -> ControlFuture<'_, RouterStatus>;

    /// Points AP `ap` at a new vantage node (replacing any previous one). Unknown AP:
    /// [`ControlError::UnknownAp`].
    fn set_vantage(&self, ap: String, peer: WgPeer) -> ControlFuture<'_, ()>;

    /// Starts a measurement. Unknown AP: [`ControlError::UnknownAp`]; id already used or a
    /// measurement already running on that AP: [`ControlError::Conflict`].
    fn start_measurement(&self, request: StartMeasurement) -> ControlFuture<'_, MeasurementStatus>;

    /// Stops measurement `id`'s capture; processing goes on in the background.
    fn stop_measurement(
        &self,
        id: String,
        request: StopMeasurement,
    ) -> ControlFuture<'_, MeasurementStatus>;

    /// Measurement `id`, running or finished. Unknown: [`ControlError::UnknownMeasurement`].
    fn measurement(&self, id: String) -> ControlFuture<'_, MeasurementStatus>;

    /// The router's WireGuard ingresses and their peers.
    fn ingress(&self) -> ControlFuture<'_, Vec<Ingress>>;

    /// Enrols a phone on ingress `ap` (the same peer again is no change). Not an ingress:
    /// [`ControlError::UnknownAp`]; name, key or address taken: [`ControlError::Conflict`].
    fn add_ingress_peer(
        &self,
        ap: String,
        device: String,
        peer: AddPeer,
    ) -> ControlFuture<'_, IngressPeer>;

    /// Removes a phone from ingress `ap` at once: monitoring of it stops.
    fn remove_ingress_peer(&self, ap: String, device: String) -> ControlFuture<'_, ()>;

    /// AP `ap`'s blocked domains. Unknown AP: [`ControlError::UnknownAp`].
    fn blocklist(&self, ap: String) -> ControlFuture<'_, Vec<String>>;

    /// Replaces AP `ap`'s blocked domains (checked and normalised by the server; empty:
    /// nothing blocked). Unknown AP: [`ControlError::UnknownAp`].
    fn set_blocklist(&self, ap: String, domains: Vec<String>) -> ControlFuture<'_, ()>;

    /// The router's TLS interception CA certificate (PEM), made on first use. No proxy to
    /// make it with: [`ControlError::Unsupported`].
    fn interception_ca(&self) -> ControlFuture<'_, String>;
}

/// Why the daemon refused or failed a call; each maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// 404: no AP of that name.
    #[error("no access point {0:?}")]
    UnknownAp(String),
    /// 404: no measurement of that id.
    #[error("no measurement {0:?}")]
    UnknownMeasurement(String),
    /// 409: the request contradicts the daemon's state (id reused, already running, …).
    #[error("{0}")]
    Conflict(String),
    /// 400: well-formed but unacceptable to the daemon (e.g. an address clash).
    #[error("{0}")]
    Invalid(String),
    /// 501: this router lacks what the request needs (e.g. the interception proxy binary).
    #[error("{0}")]
    Unsupported(String),
    /// 503: the daemon cannot do it now (starting up, a backend down); retry later.
    #[error("{0}")]
    Unavailable(String),
    /// 500: it failed.
    #[error("{0}")]
    Internal(String),
}
