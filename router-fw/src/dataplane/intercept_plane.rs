//! TLS interception as the data plane carries it out: each AP's redirect as it stands (kept
//! so a rebuild of the whole table keeps it), set by the supervision loop when a measurement
//! starts or stops intercepting, and the hook measurements call to ask for it.

use super::config::RouterConfig;
use super::control::PlaneCommand;
use super::firewall::{self, FirewallError};
use super::firewall_intercept::{self, Redirect};
use crate::measure::SetRedirect;
use anyhow::{Context, Result};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Sets AP `ap`'s redirect (`None`: removes it) in the running table, and remembers it for
/// later rebuilds; on failure the previous one stays.
pub(super) async fn set(
    config: &RouterConfig,
    redirects: &mut [Option<Redirect>],
    ap: usize,
    redirect: Option<Redirect>,
) -> Result<()> {
    let a = config.aps.get(ap).context("no such AP")?.clone();
    let slot = redirects.get_mut(ap).context("no such AP")?;
    let shown = redirect
        .as_ref()
        .map(|r| firewall_intercept::rules_text(ap, &a, r));
    let ap_name = a.name.clone();
    tokio::task::spawn_blocking(move || {
        firewall_intercept::batch(ap, &a, redirect.as_ref()).and_then(|b| firewall::send(&b))
    })
    .await
    .context("firewall task")?
    .map_err(|e: FirewallError| anyhow::anyhow!(e))
    .context("setting the TLS interception rules in table inet matador")?;
    *slot = redirect;
    match shown {
        Some([_, dnat, accept]) => {
            tracing::info!(ap = %ap_name, %dnat, %accept, "TLS interception redirect set")
        }
        None => tracing::info!(ap = %ap_name, "TLS interception redirect removed"),
    }
    Ok(())
}

/// The hook measurements use to set redirects: a request to the supervision loop, waited
/// for (measurements call it from blocking threads).
pub(super) fn redirector(commands: mpsc::Sender<PlaneCommand>) -> SetRedirect {
    Arc::new(move |ap, redirect| {
        let stopping = || "the daemon is stopping".to_string();
        let (reply, answer) = oneshot::channel();
        commands
            .blocking_send(PlaneCommand::SetInterception {
                ap,
                redirect,
                reply,
            })
            .map_err(|_| stopping())?;
        answer.blocking_recv().map_err(|_| stopping())?
    })
}
