//! TLS interception for controlled lab experiments (off by default): the configuration's
//! `interception` section, the router's interception CA (made on first use by the proxy
//! binary, `matador-mitm new-ca`, kept in `state_dir/interception/`), the proxy run as a child
//! process for one measurement, and what its flow records say. The daemon never links the
//! proxy's library (rcgen and friends would break its size budget): it runs the binary.
//! The firewall side (the DNAT to the proxy) is `dataplane::firewall_intercept`.

mod proxy;
#[cfg(test)]
pub(crate) mod tests;

pub use proxy::{count_outcomes, kill_stale, listening, Outcomes, Proxy, ProxyRun};

use crate::dataplane::config::RouterConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The CA certificate's file name in the CA directory (what phones install).
pub const CA_CERT_FILE: &str = "mitm-ca.pem";
/// The CA key's file name (mode 0600; never leaves the router).
pub const CA_KEY_FILE: &str = "mitm-ca-key.pem";
/// The proxy's file name, looked for next to the daemon's own executable by default.
pub const PROXY_NAME: &str = "matador-mitm";
/// Largest CA certificate read back (one certificate is about 1 KiB).
const MAX_CA_BYTES: u64 = 64 * 1024;

/// The configuration's optional `interception` section. Without it interception still works
/// with these defaults, if the proxy binary is there.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct InterceptionConfig {
    /// The proxy binary (default: `matador-mitm` next to the daemon's executable).
    pub proxy: Option<PathBuf>,
    /// PEM bundle of the CAs real servers must chain to (in the lab, the lab's CA).
    pub upstream_ca: PathBuf,
    /// AP `i`'s proxy listens on the AP's gateway address, port `port + i`.
    pub port: u16,
    /// Also intercept devices on a WireGuard ingress. Off by default: an ingress serves
    /// phones anywhere, participants' own included, so only a router whose ingress holds
    /// lab phones alone turns it on; Wi-Fi APs serve the lab's test phones.
    pub ingress: bool,
}

impl Default for InterceptionConfig {
    fn default() -> Self {
        Self {
            proxy: None,
            upstream_ca: PathBuf::from("/etc/ssl/certs/ca-certificates.crt"),
            port: 18443,
            ingress: false,
        }
    }
}

/// Checks the section against the router: every AP's port exists and is not the API's.
pub fn check_config(config: &RouterConfig) -> Result<(), String> {
    let Some(i) = &config.interception else {
        return Ok(());
    };
    let last = u32::from(i.port) + config.aps.len().saturating_sub(1) as u32;
    if i.port == 0 || last > u32::from(u16::MAX) {
        return Err(format!(
            "interception.port {}: the APs' ports {}..={last} must be 1-65535",
            i.port, i.port
        ));
    }
    if (u32::from(i.port)..=last).contains(&u32::from(config.api_port)) {
        return Err(format!(
            "interception.port {}: AP i listens on port + i, which reaches the API port {}",
            i.port, config.api_port
        ));
    }
    if i.proxy.as_ref().is_some_and(|p| p.as_os_str().is_empty())
        || i.upstream_ca.as_os_str().is_empty()
    {
        return Err("interception: proxy and upstream_ca must not be empty paths".into());
    }
    Ok(())
}

/// Why interception cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum InterceptError {
    /// A file it needs is not there (the proxy, the upstream CA bundle).
    #[error("TLS interception needs {what} {}: no such file ({fix})", path.display())]
    Missing {
        /// What the file is.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// What to do about it.
        fix: &'static str,
    },
    /// Making or reading the CA failed.
    #[error("interception CA in {}: {reason}", dir.display())]
    Ca {
        /// The CA directory.
        dir: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Starting or watching the proxy failed.
    #[error("interception proxy: {0}")]
    Proxy(String),
}

/// Interception as the daemon runs it: the configuration resolved, and the CA's place.
#[derive(Debug)]
pub struct Settings {
    /// The proxy binary.
    pub proxy: PathBuf,
    /// The upstream CA bundle.
    pub upstream_ca: PathBuf,
    /// The first AP's port.
    pub port: u16,
    /// Whether devices on a WireGuard ingress may be intercepted.
    pub ingress: bool,
    /// Where the CA is kept (`state_dir/interception`).
    pub ca_dir: PathBuf,
    /// The CA's label (the router's name).
    pub label: String,
    /// How long a new proxy has to start listening.
    pub ready_timeout: Duration,
    /// How long a stopped proxy has to finish after SIGTERM before it is killed.
    pub stop_grace: Duration,
    /// One CA made at a time.
    ca_lock: Mutex<()>,
}

/// The proxy's default place: next to the daemon's own executable.
fn default_proxy() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(PROXY_NAME)))
        .unwrap_or_else(|| Path::new("/usr/bin").join(PROXY_NAME))
}

impl Settings {
    /// The router's settings (the section's, or the defaults).
    pub fn from_config(config: &RouterConfig) -> Settings {
        let section = config.interception.clone().unwrap_or_default();
        Settings {
            proxy: section.proxy.unwrap_or_else(default_proxy),
            upstream_ca: section.upstream_ca,
            port: section.port,
            ingress: section.ingress,
            ca_dir: config.state_dir.join("interception"),
            label: config.router.clone(),
            ready_timeout: Duration::from_secs(3),
            stop_grace: Duration::from_secs(5),
            ca_lock: Mutex::new(()),
        }
    }

    /// AP `index`'s proxy port (checked with the configuration to exist).
    pub fn port_of(&self, index: usize) -> u16 {
        u16::try_from(usize::from(self.port) + index).unwrap_or(u16::MAX)
    }

    /// The CA's certificate and key files.
    pub fn ca_files(&self) -> (PathBuf, PathBuf) {
        (
            self.ca_dir.join(CA_CERT_FILE),
            self.ca_dir.join(CA_KEY_FILE),
        )
    }

    /// The proxy, if it is there.
    pub fn require_proxy(&self) -> Result<&Path, InterceptError> {
        if self.proxy.is_file() {
            Ok(&self.proxy)
        } else {
            Err(InterceptError::Missing {
                what: "the proxy",
                path: self.proxy.clone(),
                fix: "install matador-mitm next to matador-routerd, or set interception.proxy",
            })
        }
    }

    /// The upstream CA bundle, if it is there (without it the proxy trusts no server).
    pub fn require_upstream_ca(&self) -> Result<&Path, InterceptError> {
        if self.upstream_ca.is_file() {
            Ok(&self.upstream_ca)
        } else {
            Err(InterceptError::Missing {
                what: "the upstream CA bundle",
                path: self.upstream_ca.clone(),
                fix: "set interception.upstream_ca to the PEM bundle servers chain to",
            })
        }
    }

    /// The CA, made now by `<proxy> new-ca` if it is not there yet; returns its files.
    pub fn ensure_ca(&self) -> Result<(PathBuf, PathBuf), InterceptError> {
        let _one = self.ca_lock.lock().unwrap_or_else(|p| p.into_inner());
        let (cert, key) = self.ca_files();
        let bad = |reason: String| InterceptError::Ca {
            dir: self.ca_dir.clone(),
            reason,
        };
        match (cert.is_file(), key.is_file()) {
            (true, true) => return Ok((cert, key)),
            (false, false) => {}
            _ => {
                return Err(bad(format!(
                    "only one of {CA_CERT_FILE} and {CA_KEY_FILE} is there; restore the other, \
                     or remove it to make a new CA (phones must then install the new one)"
                )))
            }
        }
        let proxy = self.require_proxy()?;
        make_private_dir(&self.ca_dir).map_err(|e| bad(e.to_string()))?;
        let out = std::process::Command::new(proxy)
            .arg("new-ca")
            .arg("--out")
            .arg(&self.ca_dir)
            .arg("--label")
            .arg(&self.label)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| bad(format!("running {} new-ca: {e}", proxy.display())))?;
        if !out.status.success() || !cert.is_file() || !key.is_file() {
            let why = String::from_utf8_lossy(&out.stderr);
            return Err(bad(format!(
                "{} new-ca failed ({}): {}",
                proxy.display(),
                out.status,
                why.trim()
            )));
        }
        tracing::info!(dir = %self.ca_dir.display(), label = %self.label, "interception CA made (install mitm-ca.pem on the lab's test phones)");
        Ok((cert, key))
    }

    /// The CA certificate (PEM), made on first use.
    pub fn ca_pem(&self) -> Result<String, InterceptError> {
        let (cert, _) = self.ensure_ca()?;
        let bad = |reason: String| InterceptError::Ca {
            dir: self.ca_dir.clone(),
            reason,
        };
        let len = std::fs::metadata(&cert)
            .map_err(|e| bad(format!("{CA_CERT_FILE}: {e}")))?
            .len();
        if len > MAX_CA_BYTES {
            return Err(bad(format!(
                "{CA_CERT_FILE}: {len} bytes, not one certificate"
            )));
        }
        let pem =
            std::fs::read_to_string(&cert).map_err(|e| bad(format!("{CA_CERT_FILE}: {e}")))?;
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(bad(format!("{CA_CERT_FILE} holds no PEM certificate")));
        }
        Ok(pem)
    }
}

/// A directory only the daemon reads (0700), with its parents.
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}
