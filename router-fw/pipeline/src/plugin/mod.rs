//! The plugin contract: a plugin inspects one flow of one device and returns findings and a
//! verdict (pass, block, rewrite). Built-in plugins are registered at build time in
//! [`registry`].

mod finding;
pub mod registry;

pub use finding::{
    AppProtocol, Classification, Detail, Encoding, Finding, Location, Party, PiiKind, PiiLeak,
    TrackerHit,
};

use crate::flow::FlowRecord;
use crate::pii::RegisteredPii;
use serde::{Deserialize, Serialize};

/// A flow inspector, run by the pipeline in the order the policy gives.
pub trait Plugin: Send + Sync {
    /// The name the policy calls it by.
    fn name(&self) -> &str;

    /// Inspects one flow of the device `ctx` describes. Must not panic on any input.
    fn inspect(&self, flow: &FlowRecord, ctx: &DeviceContext<'_>) -> PluginOutput;
}

/// What the policy says about the flow's device and app, as plugins need it.
#[derive(Debug, Clone, Copy)]
pub struct DeviceContext<'a> {
    /// The device's id.
    pub device: &'a str,
    /// Whether the device is a lab phone in a controlled experiment.
    pub lab: bool,
    /// Whether TLS to and from this device is intercepted (carried, not done, here).
    pub tls_interception: bool,
    /// The device's registered personal values, with their encoded forms ready to search.
    pub registered: &'a RegisteredPii,
    /// The flow's app's own domains (first party); empty when unknown.
    pub first_party: &'a [String],
}

impl<'a> DeviceContext<'a> {
    /// A context for a device with no flags and no first-party domains.
    pub fn new(device: &'a str, registered: &'a RegisteredPii) -> Self {
        DeviceContext {
            device,
            lab: false,
            tls_interception: false,
            registered,
            first_party: &[],
        }
    }
}

/// A direction of a flow's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

/// One replacement a rewrite asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    /// The direction whose bytes are rewritten.
    pub direction: Direction,
    /// The bytes to find.
    pub find: Vec<u8>,
    /// What to put in their place.
    pub replace: Vec<u8>,
}

/// What a plugin wants done with the flow.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Let it through unchanged.
    #[default]
    Pass,
    /// Stop it; later plugins do not run.
    Block {
        /// Why, in words for a report.
        reason: String,
    },
    /// Let it through with its payload changed (done by whoever forwards the flow).
    Rewrite {
        /// What is replaced and why, in words for a report.
        description: String,
        /// The replacements.
        edits: Vec<Edit>,
    },
}

/// A plugin's answer for one flow.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PluginOutput {
    /// What it found.
    pub findings: Vec<Finding>,
    /// What it wants done.
    pub verdict: Verdict,
}

impl PluginOutput {
    /// Findings and a pass.
    pub fn pass(findings: Vec<Finding>) -> Self {
        PluginOutput {
            findings,
            verdict: Verdict::Pass,
        }
    }
}
