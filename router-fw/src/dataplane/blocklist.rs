//! Each AP's blocklist as it stands: set over the API (`PUT /v1/aps/{ap}/blocklist`), kept in
//! the state directory so a restart keeps blocking, and turned into dnsmasq `nftset=` lines
//! that fill the AP's nftables set of blocked addresses (`firewall_block`).

use super::ap_up::start_dnsmasq;
use super::config::{ApConfig, RouterConfig};
use super::firewall::{self, ApiFence, TABLE};
use super::firewall_block::set_name;
use super::firewall_intercept::Redirect;
use super::helper::Helper;
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Every AP's blocked domains, index for index with `config.aps` (shared by the data plane
/// and the API).
pub type Blocklists = Arc<Mutex<Vec<Vec<String>>>>;

/// The lists, also after a panic elsewhere poisoned the lock.
pub fn lock(lists: &Blocklists) -> MutexGuard<'_, Vec<Vec<String>>> {
    lists.lock().unwrap_or_else(PoisonError::into_inner)
}

fn file(state_dir: &Path, ap: &ApConfig) -> PathBuf {
    state_dir.join(format!("blocklist-{}.json", ap.name))
}

/// Every AP's saved blocklist (none saved: empty). A saved list that no longer passes the
/// checks is an error naming the file, not a silently unblocked AP.
pub fn load_all(config: &RouterConfig) -> Result<Blocklists> {
    let mut lists = Vec::new();
    for ap in &config.aps {
        let path = file(&config.state_dir, ap);
        let list = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<matador_api::Blocklist>(&bytes)
                .map_err(anyhow::Error::from)
                .and_then(|l| l.normalized().map_err(anyhow::Error::from))
                .with_context(|| format!("blocklist in {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        lists.push(list);
    }
    Ok(Arc::new(Mutex::new(lists)))
}

/// Saves AP `ap`'s list atomically (an empty list removes the file).
pub fn save(state_dir: &Path, ap: &ApConfig, domains: &[String]) -> Result<()> {
    let path = file(state_dir, ap);
    if domains.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("removing {}", path.display()))
            }
            _ => Ok(()),
        };
    }
    let list = matador_api::Blocklist {
        domains: domains.to_vec(),
    };
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(&list).context("encoding the blocklist")?;
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

/// (Re)builds the nftables table for the APs as they stand, blocklists and TLS interception
/// redirects included; the kernel swaps it atomically. The sets of blocked addresses start empty and refill from dnsmasq.
pub async fn install_firewall(
    config: &RouterConfig,
    lists: &Blocklists,
    redirects: &[Option<Redirect>],
) -> Result<()> {
    let aps = config.aps.clone();
    let redirects = redirects.to_vec();
    let blocking: Vec<bool> = lock(lists).iter().map(|l| !l.is_empty()).collect();
    let fence = config.management_tunnel.as_ref().map(|m| ApiFence {
        interface: m.interface.clone(),
        port: config.api_port,
    });
    tokio::task::spawn_blocking(move || {
        firewall::batch_with(&aps, fence.as_ref(), &blocking, &redirects)
            .and_then(|b| firewall::send(&b))
    })
    .await
    .context("firewall task")?
    .context("installing the nftables table inet matador")
}

/// A new blocklist for one AP.
pub struct Change {
    /// Index of the AP.
    pub ap: usize,
    /// Its domains, normalised.
    pub domains: Vec<String>,
    /// Its vantage node's resolver, where its dnsmasq forwards.
    pub dns: Option<std::net::Ipv4Addr>,
}

/// Applies a new blocklist: saved first (a restart keeps it), then the firewall rebuilt (DNS
/// steering follows whether the AP blocks at all), then the AP's dnsmasq restarted with the
/// new `nftset=` lines. On failure the previous list stays in force and on disk.
pub(super) async fn apply(
    config: &RouterConfig,
    (lists, redirects): (&Blocklists, &[Option<Redirect>]),
    change: Change,
    helpers: &mut Vec<Helper>,
) -> Result<()> {
    let ap = config.aps.get(change.ap).context("no such AP")?;
    let previous = lock(lists).get(change.ap).cloned().unwrap_or_default();
    save(&config.state_dir, ap, &change.domains)?;
    if let Some(slot) = lock(lists).get_mut(change.ap) {
        slot.clone_from(&change.domains);
    }
    if let Err(e) = install_firewall(config, lists, redirects).await {
        if let Some(slot) = lock(lists).get_mut(change.ap) {
            *slot = previous.clone();
        }
        let _ = save(&config.state_dir, ap, &previous);
        return Err(e);
    }
    let what = format!("dnsmasq {}", ap.name);
    for helper in helpers.iter_mut().filter(|x| x.what == what) {
        helper.stop(&config.run_dir).await;
    }
    helpers.retain(|x| x.what != what);
    helpers.push(start_dnsmasq(
        config,
        change.ap,
        ap,
        change.dns,
        &change.domains,
    )?);
    tracing::info!(ap = %ap.name, domains = change.domains.len(), "blocklist set");
    Ok(())
}

/// dnsmasq lines that put the IPv4 answers for `domains` (and names under them) into AP
/// `index`'s set. The domains passed `check_domain`, so they cannot break the syntax.
pub fn nftset_lines(index: usize, domains: &[String]) -> String {
    let table = TABLE.to_string_lossy();
    let set = set_name(index);
    let mut c = String::new();
    for d in domains {
        let _ = writeln!(c, "nftset=/{d}/4#inet#{table}#{set}");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_domain_feeds_the_aps_own_set() {
        let lines = nftset_lines(2, &["doubleclick.net".into(), "tracker.example".into()]);
        assert_eq!(
            lines,
            "nftset=/doubleclick.net/4#inet#matador#block2\nnftset=/tracker.example/4#inet#matador#block2\n"
        );
        assert_eq!(nftset_lines(0, &[]), "");
    }
}
