//! The privacy pass as a campaign runs it: the pipeline built once for the campaign, the
//! phone behind each router, the result store; [`PrivacyPass::run`] per fetched capture.

use super::policy::campaign_policy;
use super::{analyse_capture, store, CaptureOf, MeasurementPrivacy, PrivacyError};
use crate::spec::{AppSpec, Inventory};
use matador_pipeline::{Pipeline, Policy, PolicyError};
use matador_probe::flows::PayloadConfig;
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

/// The campaign's pipeline and where its findings go.
pub struct PrivacyPass {
    pipeline: Pipeline,
    /// Router name → the serial of the phone it serves (the device id in the policy).
    phones: HashMap<String, String>,
    db: Mutex<Connection>,
    payload: PayloadConfig,
}

impl std::fmt::Debug for PrivacyPass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivacyPass")
            .field("pipeline", &self.pipeline)
            .field("phones", &self.phones)
            .finish()
    }
}

/// Why the pass could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The policy does not build.
    #[error("privacy policy {0}")]
    Policy(#[from] PolicyError),
    /// The result store failed.
    #[error("result store: {0}")]
    Store(#[from] rusqlite::Error),
}

impl PrivacyPass {
    /// The pass of a campaign: its `policy` file (if any) completed from the inventory and
    /// apps, records kept in the store at `db`.
    pub fn new(
        db: &Path,
        policy: Option<Policy>,
        inventory: &Inventory,
        apps: &[AppSpec],
    ) -> Result<PrivacyPass, SetupError> {
        let pipeline = Pipeline::new(campaign_policy(policy, inventory, apps))?;
        let phones = inventory
            .phones
            .iter()
            .map(|p| (p.router.clone(), p.serial.clone()))
            .collect();
        Ok(PrivacyPass {
            pipeline,
            phones,
            db: Mutex::new(store::open(db)?),
            payload: PayloadConfig::default(),
        })
    }

    /// The pipeline it runs.
    #[cfg(test)]
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The device id (the inventory serial) of the phone behind router `router`; a router
    /// without a phone in the inventory cannot be in a pair, but is named anyway.
    fn device_of<'a>(&'a self, router: &'a str) -> &'a str {
        self.phones.get(router).map_or(router, String::as_str)
    }

    /// Whether the policy has router `router` decrypt its phone's TLS (`tls_interception:
    /// true`, which the policy allows for lab devices only).
    pub fn intercepts(&self, router: &str) -> bool {
        self.pipeline
            .policy()
            .device(self.device_of(router))
            .is_some_and(|d| d.tls_interception)
    }

    /// What router `router` must block while its phone runs `app`: `None` when the policy
    /// runs the blocking plugin nowhere (the routers' blocklists are left alone), else the
    /// domains (empty: this phone and app block nothing), as the router should keep them.
    pub fn blocklist(&self, router: &str, app: &str) -> Result<Option<Vec<String>>, PolicyError> {
        if !self.pipeline.policy().plugin_names().contains(&"blocking") {
            return Ok(None);
        }
        Ok(Some(
            self.pipeline
                .blocked_domains(self.device_of(router), Some(app))?
                .unwrap_or_default(),
        ))
    }

    /// Runs the capture router `router` took for side `side` of `measurement` of `app`,
    /// with the router's interception records (`decrypted`, JSON lines) when it intercepted
    /// TLS; keeps the record in the store and as `privacy-SIDE.json` in `dir`.
    #[allow(clippy::too_many_arguments)] // who, what and where: one call site, all named
    pub fn run(
        &self,
        measurement: &str,
        side: &str,
        router: &str,
        app: &str,
        capture: &[u8],
        decrypted: Option<&[u8]>,
        dir: &Path,
    ) -> Result<MeasurementPrivacy, PrivacyError> {
        let device = self.device_of(router);
        let of = CaptureOf {
            measurement,
            side,
            device,
            app,
        };
        let record = analyse_capture(capture, decrypted, of, &self.pipeline, &self.payload)?;
        if let Some(i) = &record.capture.interception {
            if i.skipped_lines > 0 || i.matched < i.records {
                tracing::warn!(
                    measurement,
                    side,
                    records = i.records,
                    matched = i.matched,
                    skipped_lines = i.skipped_lines,
                    "interception records that fit no flow of the capture"
                );
            }
        }
        store::write_file(dir, &record)?;
        let db = self
            .db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        store::save(&db, &record)?;
        Ok(record)
    }
}
