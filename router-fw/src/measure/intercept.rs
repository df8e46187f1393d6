//! A measurement's TLS interception (`intercept_tls`): at start the CA, the AP's proxy and the
//! DNAT of the phone's TCP 443 to it; at stop the DNAT removed first, then the proxy stopped,
//! and its key log and flow records stored as the `keylog` and `decrypted` results, with a
//! note of how many connections were intercepted, pinned, refused.

use super::process::{self, Notes};
use crate::api::ControlError;
use crate::dataplane::config::ApConfig;
use crate::dataplane::firewall_intercept::Redirect;
use crate::intercept::{count_outcomes, kill_stale, InterceptError, Proxy, ProxyRun, Settings};
use crate::store::Store;
use matador_api::ResultKind;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The key log's name in the measurement's capture directory.
pub const KEYLOG_FILE: &str = "keylog.txt";
/// The flow records' name in the measurement's capture directory.
pub const FLOWS_FILE: &str = "decrypted.jsonl";

/// Sets AP `i`'s redirect in the firewall (`None`: removes it); the data plane does it. Call
/// it from a blocking thread only (it waits for the plane).
pub type SetRedirect = Arc<dyn Fn(usize, Option<Redirect>) -> Result<(), String> + Send + Sync>;

/// The pid file of AP `ap`'s proxy: the daemon kills what a crashed run left there.
pub fn pid_file(run_dir: &Path, ap: &str) -> PathBuf {
    run_dir.join("pids").join(format!("matador-mitm-{ap}.pid"))
}

/// Kills AP `ap`'s proxy a crashed run left, if its pid file is still there.
pub fn kill_stale_proxy(run_dir: &Path, ap: &str) {
    kill_stale(&pid_file(run_dir, ap));
}

/// Interception in force for a running measurement.
pub struct Active {
    index: usize,
    proxy: Proxy,
}

/// Where interception starts.
pub struct Place<'a> {
    /// The AP's index.
    pub index: usize,
    /// The AP.
    pub ap: &'a ApConfig,
    /// The phone's traffic: a device's address, or the AP's subnet.
    pub from: ipnet::Ipv4Net,
    /// The measurement's capture directory (key log and flow records go there).
    pub dir: &'a Path,
    /// The daemon's run directory (the pid file).
    pub run_dir: &'a Path,
}

fn refused(e: InterceptError) -> ControlError {
    match e {
        InterceptError::Missing { .. } => ControlError::Unsupported(e.to_string()),
        other => ControlError::Internal(other.to_string()),
    }
}

/// Whether interception can start: the proxy and the upstream bundle are there, and the
/// data plane can redirect (`can_redirect`).
pub fn check(settings: &Settings, can_redirect: bool) -> Result<(), ControlError> {
    settings.require_proxy().map_err(refused)?;
    settings.require_upstream_ca().map_err(refused)?;
    if can_redirect {
        Ok(())
    } else {
        Err(ControlError::Unavailable(
            "the data plane cannot redirect TLS yet; retry".into(),
        ))
    }
}

/// Starts interception at `at`: the CA (made on first use), the proxy, then the redirect.
/// Anything that fails undoes what was started (the proxy is killed when dropped).
pub fn start(
    settings: &Settings,
    redirect: Option<&SetRedirect>,
    at: &Place<'_>,
    notes: &mut Notes,
) -> Result<Active, ControlError> {
    let proxy_bin = settings.require_proxy().map_err(refused)?;
    let upstream_ca = settings
        .require_upstream_ca()
        .map_err(refused)?
        .to_path_buf();
    let set = redirect.ok_or_else(|| {
        ControlError::Unavailable("the data plane cannot redirect TLS yet; retry".into())
    })?;
    let (ca_cert, ca_key) = settings.ensure_ca().map_err(refused)?;
    std::fs::create_dir_all(at.dir)
        .map_err(|e| ControlError::Internal(format!("{}: {e}", at.dir.display())))?;
    let listen = SocketAddrV4::new(at.ap.gateway(), settings.port_of(at.index));
    let run = ProxyRun {
        listen,
        ca_cert,
        ca_key,
        upstream_ca,
        keylog: at.dir.join(KEYLOG_FILE),
        flows: at.dir.join(FLOWS_FILE),
        upstream_device: at.ap.tunnel_interface(),
    };
    let pid_file = pid_file(at.run_dir, &at.ap.name);
    kill_stale(&pid_file);
    let proxy = Proxy::spawn(proxy_bin, &run, pid_file).map_err(refused)?;
    if !proxy
        .wait_listening(listen, settings.ready_timeout)
        .map_err(refused)?
    {
        notes.info(format!(
            "the interception proxy (pid {}) is not listening on {listen} after {} s; going on",
            proxy.pid(),
            settings.ready_timeout.as_secs_f64()
        ));
    }
    let to = Redirect {
        from: at.from,
        to: listen,
    };
    set(at.index, Some(to)).map_err(|e| {
        ControlError::Internal(format!("redirecting TLS to the interception proxy: {e}"))
    })?;
    notes.info(format!(
        "intercepting TLS (tcp 443) from {} on {} through the proxy on {listen} (pid {}); \
         its connections to servers leave through {}",
        at.from,
        at.ap.interface,
        proxy.pid(),
        run.upstream_device
    ));
    Ok(Active {
        index: at.index,
        proxy,
    })
}

impl Active {
    /// Ends interception: the redirect removed first (the phone's new connections go
    /// straight out again), then the proxy stopped (it records the connections it cuts).
    pub fn stop(self, settings: &Settings, redirect: Option<&SetRedirect>, notes: &mut Notes) {
        match redirect.map(|set| set(self.index, None)) {
            Some(Ok(())) => notes.info("TLS redirect removed"),
            Some(Err(e)) => notes.fail(format!("removing the TLS redirect: {e}")),
            None => notes.fail("removing the TLS redirect: the data plane is gone"),
        }
        if let Some(status) = self.proxy.exited() {
            notes.fail(format!(
                "the interception proxy ended during the measurement ({status}): the phone's \
                 TLS was refused from then on"
            ));
        }
        let how = self.proxy.stop(settings.stop_grace);
        notes.info(format!("interception proxy {how}"));
    }

    /// The daemon stops: the proxy is stopped; the firewall goes with the daemon's table and
    /// the files are stored when the measurement is recovered at the next start.
    pub fn shutdown(self, settings: &Settings) {
        let pid = self.proxy.pid();
        let how = self.proxy.stop(settings.stop_grace);
        tracing::info!(pid, ended = %how, "interception proxy stopped with the daemon");
    }
}

/// Stores the key log and the flow records in `dir` as the `keylog` and `decrypted` results
/// of `id` (an empty or missing file: nothing stored, a note), and notes the outcomes.
pub fn collect(store: &Arc<Store>, id: &str, dir: &Path, notes: &mut Notes) -> Vec<String> {
    let mut results = Vec::new();
    for (file, kind) in [
        (KEYLOG_FILE, ResultKind::Keylog),
        (FLOWS_FILE, ResultKind::Decrypted),
    ] {
        let path = dir.join(file);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if len == 0 {
            notes.info(format!(
                "{file} is empty or missing: no {} result (no TLS was intercepted)",
                kind.as_str()
            ));
            continue;
        }
        if kind == ResultKind::Decrypted {
            match count_outcomes(&path) {
                Ok(o) => notes.info(format!(
                    "interception: {o}; {} intercepted, {} pinned",
                    o.count("intercepted"),
                    o.count("pinned") + o.count("passthrough_pinned")
                )),
                Err(e) => notes.info(format!("counting the records of {file}: {e}")),
            }
        }
        let what = format!("file ({file})");
        results.extend(process::put_files(store, id, kind, &[path], &what, notes));
    }
    results
}
