//! Device side of the Android Debug Bridge: the emulated phone's adbd, serving adb hosts over TCP.
//!
//! The phone implements [`Device`]; [`serve`] accepts hosts (the `adb` server after
//! `adb connect`, or a library such as adb_client) and gives each connection its own task.

mod auth;
mod handshake;
mod message;
mod service;
mod session;
mod shell;
mod stream;
mod sync;

#[cfg(test)]
mod tests_adb_cli;
#[cfg(test)]
mod tests_adb_client;
#[cfg(test)]
mod tests_auth;
#[cfg(test)]
mod tests_message;
#[cfg(test)]
mod tests_protocol;
#[cfg(test)]
mod tests_support;
#[cfg(test)]
mod tests_sync;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

pub use handshake::FEATURES;
pub use message::fuzz_decode;

/// What the host sees of the phone: the `ro.product.*` properties in the banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceProperties {
    /// `ro.product.name`, e.g. "sdk_gphone64_x86_64".
    pub product_name: String,
    /// `ro.product.model`, e.g. "sdk_gphone64_x86_64".
    pub model: String,
    /// `ro.product.device`, e.g. "emu64xa"; also names the shell prompt.
    pub device: String,
}

/// The result of one shell command on the phone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellOutput {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// Exit status.
    pub exit_code: u8,
}

/// What the phone does with a host whose key it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthPolicy {
    /// As if the user tapped "Always allow": store the key in adb_keys and connect.
    AcceptNew,
    /// As if the user never answered: only hosts with a stored key get in.
    KnownOnly,
    /// `ro.adb.secure=0`: no authentication at all.
    Disabled,
}

/// The phone, as adbd needs it.
pub trait Device: Send + Sync + 'static {
    /// Properties announced to hosts.
    fn properties(&self) -> DeviceProperties;
    /// Runs a shell command line to completion (blocking; called on a blocking thread).
    fn run(&self, command: &str) -> ShellOutput;
    /// Host directory holding the phone's file system for `sync:` ("/sdcard/x" is `root/sdcard/x`).
    fn files_root(&self) -> PathBuf;
    /// Reboots the phone; `target` is "" or e.g. "bootloader", "recovery" (blocking).
    fn reboot(&self, target: &str);
    /// The authorised-keys file, like /data/misc/adb/adb_keys.
    fn authorised_keys(&self) -> PathBuf;
    /// How unknown host keys are treated.
    fn auth_policy(&self) -> AuthPolicy;
}

/// Host connections served at once; more are closed on arrival.
const MAX_CONNECTIONS: usize = 128;

/// Accepts hosts on `listener` forever, one task per connection.
pub async fn serve(listener: TcpListener, device: Arc<dyn Device>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    tracing::warn!(%peer, "too many adb connections; closing this one");
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let device = Arc::clone(&device);
                tokio::spawn(async move {
                    serve_connection(stream, peer, device).await;
                    drop(slot);
                });
            }
            Err(e) => {
                // Typically out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %e, "adb accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves one host connection (any byte stream) until either side closes it.
pub async fn serve_connection<S>(stream: S, peer: SocketAddr, device: Arc<dyn Device>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    session::run(stream, peer, device, session::HANDSHAKE_TIMEOUT).await;
}
