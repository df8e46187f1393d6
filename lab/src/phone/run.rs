//! The phone process (`matador-host lab phone`): loads its entry from the plan, prepares its
//! files, starts its background traffic, and serves ADB on its namespace's loopback until
//! SIGTERM. The lab daemon publishes that endpoint on the host's loopback.

use super::adb::{self, AuthPolicy, Device, DeviceProperties, ShellOutput};
use super::device::Phone;
use super::{background, lifecycle, shell, vpn, ADB_PORT};
use crate::control::{phone_dir, PHONE_READY_FILE};
use crate::plan::Plan;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a phone could not start.
#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    /// The plan is missing, unreadable, or has no such phone.
    #[error("plan {path}: {detail}")]
    Plan {
        /// Plan file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A file or socket of the phone could not be made.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The phone as adbd sees it.
struct AdbPhone(Arc<Phone>);

impl Device for AdbPhone {
    fn properties(&self) -> DeviceProperties {
        DeviceProperties {
            product_name: "matador_lab".into(),
            model: self.0.role.model.replace(' ', "_"),
            device: "emu64".into(),
        }
    }

    fn run(&self, command: &str) -> ShellOutput {
        let out = shell::run_line(&self.0, command);
        tracing::debug!(command, code = out.code, "shell");
        ShellOutput {
            stdout: out.stdout,
            stderr: out.stderr,
            exit_code: out.code,
        }
    }

    fn files_root(&self) -> PathBuf {
        self.0.files_root()
    }

    fn reboot(&self, _target: &str) {
        lifecycle::reboot(&self.0);
    }

    fn authorised_keys(&self) -> PathBuf {
        self.0.files_root().join("data/misc/adb/adb_keys")
    }

    fn auth_policy(&self) -> AuthPolicy {
        // A lab phone whose owner tapped "Always allow" for every computer.
        AuthPolicy::AcceptNew
    }
}

/// Runs the phone `name` of the plan at `plan_path` until SIGTERM or SIGINT.
pub fn run(plan_path: &Path, name: &str, lab_dir: &Path) -> Result<(), PhoneError> {
    let plan_err = |detail: String| PhoneError::Plan {
        path: plan_path.display().to_string(),
        detail,
    };
    let text = std::fs::read_to_string(plan_path).map_err(|e| plan_err(e.to_string()))?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| plan_err(e.to_string()))?;
    let dir = phone_dir(lab_dir, name);
    let phone = Phone::from_plan(&plan, name, dir.clone(), lab_dir.to_path_buf())
        .map(Arc::new)
        .ok_or_else(|| plan_err(format!("no phone `{name}`")))?;
    lifecycle::prepare_files(&phone).map_err(|source| PhoneError::Io {
        what: "phone files",
        source,
    })?;
    vpn::clean_leftovers(&phone);
    background::start(&phone);
    // The tunnel's wireguard-go dies with the phone.
    let owner = phone.clone();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| PhoneError::Io {
            what: "runtime",
            source,
        })?;
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, ADB_PORT))
            .await
            .map_err(|source| PhoneError::Io {
                what: "ADB listener",
                source,
            })?;
        std::fs::write(dir.join(PHONE_READY_FILE), b"").map_err(|source| PhoneError::Io {
            what: "ready file",
            source,
        })?;
        tracing::info!(phone = %phone.name, port = ADB_PORT, "adbd listening");
        let device: Arc<dyn Device> = Arc::new(AdbPhone(phone));
        tokio::select! {
            _ = adb::serve(listener, device) => {}
            _ = crate::daemon::wait_for_stop() => {}
        }
        Ok(())
    });
    vpn::down(&owner);
    served
}
