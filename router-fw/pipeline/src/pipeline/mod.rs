//! The pipeline: builds the plugins a policy names (once) and each device's registered
//! values (once), then runs each flow through its ordered plugins, collecting findings and
//! rewrites, and stopping at the first block.

use crate::blocking::BlockingPlugin;
use crate::flow::FlowRecord;
use crate::pii::RegisteredPii;
use crate::plugin::registry::{PluginError, Registry};
use crate::plugin::{DeviceContext, Edit, Finding, Plugin, Verdict};
use crate::policy::{Policy, PolicyError};
use serde::Serialize;
use std::collections::HashMap;

/// A rewrite a plugin asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RewriteRequest {
    /// The plugin that asked.
    pub plugin: String,
    /// What is replaced and why.
    pub description: String,
    /// The replacements.
    pub edits: Vec<Edit>,
}

/// What the pipeline made of one flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipelineResult {
    /// The flow's device.
    pub device: String,
    /// The flow's app, if known.
    pub app: Option<String>,
    /// Where the flow went.
    pub destination: String,
    /// The plugins that ran, in order.
    pub ran: Vec<String>,
    /// The plugins that did not run because an earlier one blocked the flow.
    pub skipped: Vec<String>,
    /// Every finding, in plugin order.
    pub findings: Vec<Finding>,
    /// The flow's fate: the first block, else pass (rewrites are listed apart).
    pub verdict: Verdict,
    /// The plugin that blocked the flow.
    pub blocked_by: Option<String>,
    /// Rewrites asked for by plugins that ran.
    pub rewrites: Vec<RewriteRequest>,
}

impl PipelineResult {
    /// Whether the flow is to be stopped.
    pub fn is_blocked(&self) -> bool {
        matches!(self.verdict, Verdict::Block { .. })
    }
}

/// The state a device's flows share.
#[derive(Debug, Default)]
struct DeviceState {
    lab: bool,
    tls_interception: bool,
    registered: RegisteredPii,
}

/// A policy made ready to run flows through.
pub struct Pipeline {
    policy: Policy,
    plugins: HashMap<String, Box<dyn Plugin>>,
    devices: HashMap<String, DeviceState>,
    unknown_device: DeviceState,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut plugins: Vec<&str> = self.plugins.keys().map(String::as_str).collect();
        plugins.sort_unstable();
        f.debug_struct("Pipeline")
            .field("plugins", &plugins)
            .field("devices", &self.devices.len())
            .finish()
    }
}

impl Pipeline {
    /// The pipeline of `policy` with the built-in plugins.
    pub fn new(policy: Policy) -> Result<Pipeline, PolicyError> {
        Pipeline::with_registry(policy, &Registry::builtin())
    }

    /// Parses policy text and builds its pipeline; every error names file, line and column.
    pub fn from_yaml(text: &str, file: &str) -> Result<Pipeline, PolicyError> {
        Pipeline::new(Policy::parse(text, file)?)
    }

    /// The pipeline of `policy`, its plugins made by `registry`.
    pub fn with_registry(policy: Policy, registry: &Registry) -> Result<Pipeline, PolicyError> {
        let error = |position, message| PolicyError {
            file: policy.file.clone(),
            position,
            message,
        };
        let mut plugins = HashMap::new();
        for name in policy.plugin_names() {
            let plugin = registry.build(name, &policy.options).map_err(|e| match e {
                PluginError::Options { message, position } => {
                    error(position, format!("plugin `{name}`: {message}"))
                }
                other => error(None, other.to_string()),
            })?;
            plugins.insert(name.to_string(), plugin);
        }
        let mut devices = HashMap::new();
        for d in &policy.devices {
            let registered = RegisteredPii::new(d.registered.clone())
                .map_err(|e| error(None, format!("device `{}`: {e}", d.id)))?;
            devices.insert(
                d.id.clone(),
                DeviceState {
                    lab: d.lab,
                    tls_interception: d.tls_interception,
                    registered,
                },
            );
        }
        Ok(Pipeline {
            policy,
            plugins,
            devices,
            unknown_device: DeviceState::default(),
        })
    }

    /// The policy it runs.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The domains the router should block by name for `device` running `app`: `None` when
    /// the policy does not run the blocking plugin for them, else the built-in blocking
    /// plugin's [`BlockingPlugin::blocked_domains`] with the app's first-party domains.
    pub fn blocked_domains(
        &self,
        device: &str,
        app: Option<&str>,
    ) -> Result<Option<Vec<String>>, PolicyError> {
        if !self
            .policy
            .plugins_for(device, app)
            .iter()
            .any(|p| p == "blocking")
        {
            return Ok(None);
        }
        let plugin =
            BlockingPlugin::new(&self.policy.options.blocking, &self.policy.options.tracker)
                .map_err(|e| PolicyError {
                    file: self.policy.file.clone(),
                    position: None,
                    message: format!("plugin `blocking`: {e}"),
                })?;
        Ok(Some(plugin.blocked_domains(self.policy.first_party(app))))
    }

    /// Runs `flow` through its device's and app's plugins in order; stops at the first block.
    pub fn run(&self, flow: &FlowRecord) -> PipelineResult {
        let app = flow.app.as_deref();
        let state = self
            .devices
            .get(&flow.device)
            .unwrap_or(&self.unknown_device);
        let ctx = DeviceContext {
            device: &flow.device,
            lab: state.lab,
            tls_interception: state.tls_interception,
            registered: &state.registered,
            first_party: self.policy.first_party(app),
        };
        let order = self.policy.plugins_for(&flow.device, app);
        let mut result = PipelineResult {
            device: flow.device.clone(),
            app: flow.app.clone(),
            destination: flow.destination(),
            ran: Vec::new(),
            skipped: Vec::new(),
            findings: Vec::new(),
            verdict: Verdict::Pass,
            blocked_by: None,
            rewrites: Vec::new(),
        };
        for name in order {
            if result.is_blocked() {
                result.skipped.push(name.clone());
                continue;
            }
            // Every name in the policy was built in `with_registry`.
            let Some(plugin) = self.plugins.get(name) else {
                continue;
            };
            let output = plugin.inspect(flow, &ctx);
            result.ran.push(name.clone());
            result.findings.extend(output.findings);
            match output.verdict {
                Verdict::Pass => {}
                Verdict::Block { reason } => {
                    result.verdict = Verdict::Block { reason };
                    result.blocked_by = Some(name.clone());
                }
                Verdict::Rewrite { description, edits } => result.rewrites.push(RewriteRequest {
                    plugin: name.clone(),
                    description,
                    edits,
                }),
            }
        }
        result
    }
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
