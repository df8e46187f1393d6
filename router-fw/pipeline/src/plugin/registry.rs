//! Plugins registered at build time: names mapped to constructors. The built-in set is
//! classification, pii, tracker and blocking; a crate embedding the pipeline may register
//! more before reading a policy.

use super::Plugin;
use crate::blocking::{BlockingError, BlockingPlugin};
use crate::classify::ClassificationPlugin;
use crate::pii::PiiPlugin;
use crate::policy::PluginOptions;
use crate::tracker::TrackerPlugin;

/// Builds a plugin from the policy's plugin options.
pub type Constructor = fn(&PluginOptions) -> Result<Box<dyn Plugin>, PluginError>;

/// The names of the built-in plugins, in their usual order.
pub const BUILTIN_PLUGINS: [&str; 4] = ["classification", "pii", "tracker", "blocking"];

/// Why a plugin could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// No plugin of that name is registered.
    #[error("unknown plugin `{name}` (registered: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The registered names.
        known: String,
    },
    /// A name registered twice.
    #[error("plugin `{0}` is registered twice")]
    Duplicate(String),
    /// The plugin's options are unusable.
    #[error("{message}")]
    Options {
        /// What is wrong.
        message: String,
        /// Where in the policy, if known (1-based line and column).
        position: Option<(u64, u64)>,
    },
}

/// Names mapped to constructors.
#[derive(Debug, Clone)]
pub struct Registry {
    entries: Vec<(&'static str, Constructor)>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::builtin()
    }
}

impl Registry {
    /// The built-in plugins.
    pub fn builtin() -> Registry {
        Registry {
            entries: vec![
                ("classification", classification),
                ("pii", pii),
                ("tracker", tracker),
                ("blocking", blocking),
            ],
        }
    }

    /// Adds a plugin under `name`.
    pub fn register(
        &mut self,
        name: &'static str,
        constructor: Constructor,
    ) -> Result<(), PluginError> {
        if self.contains(name) {
            return Err(PluginError::Duplicate(name.to_string()));
        }
        self.entries.push((name, constructor));
        Ok(())
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|(n, _)| *n == name)
    }

    /// The registered names, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|(n, _)| *n).collect()
    }

    /// Makes the plugin `name` with `options`.
    pub fn build(
        &self,
        name: &str,
        options: &PluginOptions,
    ) -> Result<Box<dyn Plugin>, PluginError> {
        let (_, constructor) = self
            .entries
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| PluginError::Unknown {
                name: name.to_string(),
                known: self.names().join(", "),
            })?;
        constructor(options)
    }
}

/// Makes the built-in plugin `name` with `options`.
pub fn builtin(name: &str, options: &PluginOptions) -> Result<Box<dyn Plugin>, PluginError> {
    Registry::builtin().build(name, options)
}

fn classification(_: &PluginOptions) -> Result<Box<dyn Plugin>, PluginError> {
    Ok(Box::new(ClassificationPlugin))
}

fn pii(options: &PluginOptions) -> Result<Box<dyn Plugin>, PluginError> {
    Ok(Box::new(PiiPlugin::new(&options.pii)))
}

fn tracker(options: &PluginOptions) -> Result<Box<dyn Plugin>, PluginError> {
    let plugin = TrackerPlugin::new(&options.tracker).map_err(|e| PluginError::Options {
        message: e.to_string(),
        position: e.position(),
    })?;
    Ok(Box::new(plugin))
}

fn blocking(options: &PluginOptions) -> Result<Box<dyn Plugin>, PluginError> {
    let plugin = BlockingPlugin::new(&options.blocking, &options.tracker).map_err(|e| {
        let position = match &e {
            BlockingError::UnknownCategory { position, .. } => *position,
            BlockingError::List(list) => list.position(),
        };
        PluginError::Options {
            message: e.to_string(),
            position,
        }
    })?;
    Ok(Box::new(plugin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_builds_under_its_name() {
        for name in BUILTIN_PLUGINS {
            let plugin = builtin(name, &PluginOptions::default()).expect("builds");
            assert_eq!(plugin.name(), name);
        }
        assert_eq!(Registry::builtin().names(), BUILTIN_PLUGINS);
    }

    #[test]
    fn unknown_and_duplicate_names_are_errors() {
        let err = builtin("tls", &PluginOptions::default()).err();
        assert_eq!(
            err.map(|e| e.to_string()),
            Some(
                "unknown plugin `tls` (registered: classification, pii, tracker, blocking)".into()
            )
        );
        let mut registry = Registry::builtin();
        assert_eq!(
            registry.register("pii", pii).err(),
            Some(PluginError::Duplicate("pii".into()))
        );
        registry
            .register("pii-copy", pii)
            .expect("a new name registers");
        assert!(registry.contains("pii-copy"));
    }
}
