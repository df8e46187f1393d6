//! The pipeline policy (YAML): which plugins run in which order for which device and app,
//! each plugin's options, the apps' own (first-party) domains, and per device its registered
//! personal values and whether its TLS is intercepted (lab devices only).
//!
//! Which plugins run for a flow: the device's entry for the flow's app, else the device's
//! list, else the app's list, else `defaults` (classification, pii, tracker when unset).

mod file;
mod options;
mod registered;
mod validate;

pub use file::{LabelledFile, PiiFile};
pub use options::{
    BlockingOptions, ExtraTracker, GenericPii, PiiOptions, PluginOptions, TrackerOptions,
};
pub use registered::{check_registered, RegisteredError};

use crate::pii::RegisteredValue;
use crate::plugin::registry::Registry;
use std::fmt;
use std::path::Path;

/// Plugins that run when the policy names none.
pub const DEFAULT_PLUGINS: [&str; 3] = ["classification", "pii", "tracker"];

/// Shortest registered value accepted: shorter ones would match by chance.
pub const MIN_VALUE_LEN: usize = 4;

/// A policy that cannot be used: the file, the place when known, and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// The file (or a name for text read elsewhere).
    pub file: String,
    /// 1-based line and column, when the problem has a place.
    pub position: Option<(u64, u64)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "{}:{line}:{col}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// An app's policy, on every device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPolicy {
    /// The app's id (Android package or uid label), as flows carry it.
    pub id: String,
    /// The app's own domains: flows to them (and subdomains) are first party.
    pub first_party: Vec<String>,
    /// Plugins for this app, unless its device says otherwise.
    pub plugins: Option<Vec<String>>,
}

/// The plugins for one app on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceApp {
    /// The app's id.
    pub id: String,
    /// The plugins, in order.
    pub plugins: Vec<String>,
}

/// A device's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePolicy {
    /// The device's id, as flows carry it.
    pub id: String,
    /// Whether it is a lab phone in a controlled experiment.
    pub lab: bool,
    /// Whether its TLS is intercepted (only ever true for lab devices).
    pub tls_interception: bool,
    /// Plugins for this device's flows.
    pub plugins: Option<Vec<String>>,
    /// Plugins for single apps on this device.
    pub apps: Vec<DeviceApp>,
    /// Its registered personal values.
    pub registered: Vec<RegisteredValue>,
}

/// A checked policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Where it was read from, for error messages.
    pub file: String,
    /// Plugins when nothing more specific applies.
    pub defaults: Vec<String>,
    /// Plugin options.
    pub options: PluginOptions,
    /// Per-app policies.
    pub apps: Vec<AppPolicy>,
    /// Per-device policies.
    pub devices: Vec<DevicePolicy>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            file: "(default policy)".to_string(),
            defaults: DEFAULT_PLUGINS.iter().map(|p| p.to_string()).collect(),
            options: PluginOptions::default(),
            apps: Vec::new(),
            devices: Vec::new(),
        }
    }
}

impl Policy {
    /// Reads and checks a policy file against the built-in plugins.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            file: file.clone(),
            position: None,
            message: format!("cannot read the policy: {e}"),
        })?;
        Policy::parse(&text, &file)
    }

    /// Parses and checks policy text against the built-in plugins; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Policy, PolicyError> {
        Policy::parse_with(text, file, &Registry::builtin())
    }

    /// Parses and checks policy text against the plugins of `registry`.
    pub fn parse_with(text: &str, file: &str, registry: &Registry) -> Result<Policy, PolicyError> {
        let raw: file::PolicyFile = serde_saphyr::from_str(text).map_err(|e| PolicyError {
            file: file.to_string(),
            position: e.location().map(|l| (l.line(), l.column())),
            message: first_line(&e.to_string()),
        })?;
        validate::check(raw, file, registry)
    }

    /// The policy of device `id`.
    pub fn device(&self, id: &str) -> Option<&DevicePolicy> {
        self.devices.iter().find(|d| d.id == id)
    }

    /// The policy of app `id`.
    pub fn app(&self, id: &str) -> Option<&AppPolicy> {
        self.apps.iter().find(|a| a.id == id)
    }

    /// The plugins, in order, for a flow of `app` on `device`.
    pub fn plugins_for(&self, device: &str, app: Option<&str>) -> &[String] {
        let device = self.device(device);
        let app_policy = app.and_then(|a| self.app(a));
        if let (Some(d), Some(a)) = (device, app) {
            if let Some(entry) = d.apps.iter().find(|e| e.id == a) {
                return &entry.plugins;
            }
        }
        device
            .and_then(|d| d.plugins.as_deref())
            .or_else(|| app_policy.and_then(|a| a.plugins.as_deref()))
            .unwrap_or(&self.defaults)
    }

    /// The first-party domains of `app` (none when unknown).
    pub fn first_party(&self, app: Option<&str>) -> &[String] {
        app.and_then(|a| self.app(a))
            .map(|a| a.first_party.as_slice())
            .unwrap_or(&[])
    }

    /// Every plugin name the policy uses anywhere.
    pub fn plugin_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        let lists = std::iter::once(&self.defaults)
            .chain(self.apps.iter().filter_map(|a| a.plugins.as_ref()))
            .chain(self.devices.iter().filter_map(|d| d.plugins.as_ref()))
            .chain(
                self.devices
                    .iter()
                    .flat_map(|d| d.apps.iter().map(|a| &a.plugins)),
            );
        for name in lists.flatten() {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names
    }
}

/// serde-saphyr's message without its trailing context lines.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or(text).trim().to_string()
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
