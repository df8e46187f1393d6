//! Service names a host may OPEN, and the task that serves each.

use std::sync::Arc;

use super::shell::{parse_shell, serve_exec, serve_shell, ShellRequest};
use super::stream::StreamIo;
use super::sync::serve_sync;
use super::Device;

/// A service this device offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    /// `shell:`, `shell,v2,raw:ls`, …
    Shell(ShellRequest),
    /// `exec:CMD`: raw stdout, binary safe.
    Exec(String),
    /// `sync:`: file transfer.
    Sync,
    /// `reboot:` or `reboot:TARGET`.
    Reboot(String),
}

/// The service named in an OPEN payload; `None` for anything this device does not offer.
pub fn parse_service(name: &[u8]) -> Option<Service> {
    // Hosts NUL-terminate the name; older adbd required it.
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    let name = std::str::from_utf8(name.get(..end)?).ok()?;
    if let Some(rest) = name.strip_prefix("shell") {
        return parse_shell(rest).map(Service::Shell);
    }
    if let Some(command) = name.strip_prefix("exec:") {
        return (!command.is_empty()).then(|| Service::Exec(command.to_string()));
    }
    if let Some(target) = name.strip_prefix("reboot:") {
        return Some(Service::Reboot(target.to_string()));
    }
    (name == "sync:").then_some(Service::Sync)
}

/// Serves one opened stream to the end.
pub async fn run_service(service: Service, io: StreamIo, device: Arc<dyn Device>) {
    match service {
        Service::Shell(request) => serve_shell(request, io, device).await,
        Service::Exec(command) => serve_exec(command, io, device).await,
        Service::Sync => {
            let root = device.files_root();
            serve_sync(io, root).await;
        }
        Service::Reboot(target) => {
            let hook = Arc::clone(&device);
            let _ = tokio::task::spawn_blocking(move || hook.reboot(&target)).await;
            // A rebooting phone drops the connection; hosts expect nothing else.
            io.disconnect().await;
        }
    }
}
