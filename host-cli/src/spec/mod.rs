//! Experiment and campaign specs in YAML: app specs (how to drive an app and what to send),
//! the inventory (routers, phones, vantage nodes) and campaigns (apps × vantage-node pairs ×
//! repetitions, in chunks). Unknown keys and bad values are errors with file:line:col;
//! references across files are checked when a campaign loads. Formats: docs/campaigns.md.

// The campaign orchestrator, which lands with the next part of the host-CLI issue, is the
// caller of most of this; until then only tests and `phone` use it.
#![allow(dead_code, unused_imports)]

mod app;
mod campaign;
mod checks;
mod error;
mod expand;
mod inventory;
mod inventory_checks;
mod inventory_file;
mod lab;
mod load;
mod pii;

pub use app::{
    parse_app, AppSpec, MessageSpec, Step, Timers, UiScript, DEFAULT_SCRIPT, MESSAGE_PLACEHOLDER,
    NUMBER_PLACEHOLDER,
};
pub use campaign::{Campaign, Pairs};
pub use error::SpecError;
pub use expand::{expand, measurement_id, pairs, PlannedMeasurement, RunKind, MAX_PLANNED_ID};
pub use inventory::{
    read_small_file, Fingerprint, Inventory, Passphrase, PeerSource, PhoneEntry, RootVia,
    RouterAccess, RouterEntry, VantageNode, Wifi,
};
pub use inventory_file::parse_inventory;
pub use lab::RouterConnection;
pub use load::{load_app, load_campaign, load_inventory, parse_campaign, LoadedCampaign};

/// Spec tests; their fixtures are shared with the phone module's tests.
#[cfg(test)]
pub(crate) mod tests;
