//! The phone as the (tokio) orchestrator holds it: every operation runs on a blocking
//! thread with its own connection, since `adb_client` is synchronous.

use super::adb::{AdbShell, AdbTarget};
use super::error::PhoneError;
use super::prepare::{self, PhonePlan, Prepared, Timing};
use super::script::{self, Conversation, ScriptRun};
use super::shell::{Shell, SystemClock};
use std::path::PathBuf;
use std::sync::Arc;

/// Opens a connection to a phone (ADB, or a fake in tests).
pub trait Connector: Send + Sync + 'static {
    /// A fresh connection to the phone's shell.
    fn open(&self) -> Result<Box<dyn Shell + Send>, PhoneError>;
}

impl Connector for AdbTarget {
    fn open(&self) -> Result<Box<dyn Shell + Send>, PhoneError> {
        Ok(Box::new(AdbShell::open(self)?))
    }
}

/// One phone, cheap to clone; every method runs on a blocking thread.
#[derive(Clone)]
pub struct Phone {
    connector: Arc<dyn Connector>,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Phone")
    }
}

impl Phone {
    /// A phone reached through `connector`.
    pub fn new(connector: impl Connector) -> Phone {
        Phone {
            connector: Arc::new(connector),
        }
    }

    /// Runs `f` with a fresh connection on a blocking thread.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Shell) -> Result<T, PhoneError> + Send + 'static,
    ) -> Result<T, PhoneError> {
        let connector = Arc::clone(&self.connector);
        tokio::task::spawn_blocking(move || {
            let mut shell = connector.open()?;
            f(shell.as_mut())
        })
        .await
        .map_err(|e| PhoneError::Task(e.to_string()))?
    }

    /// Runs a shell command; its standard output.
    pub async fn shell(&self, command: &str) -> Result<String, PhoneError> {
        let command = command.to_string();
        self.with(move |s| s.shell(&command)).await
    }

    /// A PNG of the screen.
    pub async fn screenshot(&self) -> Result<Vec<u8>, PhoneError> {
        self.with(|s| s.screencap()).await
    }

    /// [`prepare::prepare`]: firewall, radios, network, location, each verified.
    pub async fn prepare(&self, plan: &PhonePlan) -> Result<Prepared, PhoneError> {
        let plan = plan.clone();
        self.with(move |s| prepare::prepare(s, &SystemClock, &plan))
            .await
    }

    /// [`prepare::launch`]: the app started clean and in front; the launch time.
    pub async fn launch(&self, prepared: &Prepared, timing: Timing) -> Result<f64, PhoneError> {
        let prepared = prepared.clone();
        self.with(move |s| prepare::launch(s, &SystemClock, &prepared, &timing))
            .await
    }

    /// [`prepare::still_in_front`]: the app launched is still in front.
    pub async fn still_in_front(&self, prepared: &Prepared) -> Result<(), PhoneError> {
        let prepared = prepared.clone();
        self.with(move |s| prepare::still_in_front(s, &prepared))
            .await
    }

    /// [`script::run_messages`]: the messages sent, screenshots into `dir`.
    pub async fn run_messages(
        &self,
        conversation: &Conversation,
        dir: PathBuf,
    ) -> Result<ScriptRun, PhoneError> {
        let conversation = conversation.clone();
        self.with(move |s| script::run_messages(s, &SystemClock, &conversation, &dir))
            .await
    }

    /// [`prepare::cleanup`]: firewall and test location removed, app stopped.
    pub async fn cleanup(&self, prepared: &Prepared) -> Result<(), PhoneError> {
        let prepared = prepared.clone();
        self.with(move |s| prepare::cleanup(s, &prepared)).await
    }
}
