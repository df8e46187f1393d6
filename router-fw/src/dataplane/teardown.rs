//! Taking the data plane down (on stop, and when bringing it up fails): helpers stopped,
//! the UCI wifi-iface sections removed, policy rules, routes, tunnels and addresses deleted,
//! and the nftables table removed, so nothing the daemon made is left.

use super::ap_up::TABLE_BASE;
use super::config::{Radio, RouterConfig};
use super::helper::Helper;
use super::{firewall, netlink, wireless};

/// Removes everything the daemon made.
pub(super) async fn take_down(
    h: &rtnetlink::Handle,
    config: &RouterConfig,
    helpers: &mut Vec<Helper>,
) {
    for helper in helpers.iter_mut() {
        helper.stop(&config.run_dir).await;
    }
    helpers.clear();
    if config.radio == Radio::Uci {
        let batch = wireless::remove_batch(&config.aps);
        match tokio::task::spawn_blocking(move || wireless::Tools::default().apply(&batch)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cleanup of the wifi-iface sections"),
            Err(e) => tracing::warn!(error = %e, "cleanup of the wifi-iface sections"),
        }
    }
    for (i, ap) in config.aps.iter().enumerate() {
        if let Err(e) = netlink::del_rules_at(h, TABLE_BASE + i as u32).await {
            tracing::warn!(error = %e, "cleanup");
        }
        // Deleting the tunnel interface removes its address and routes with it.
        if let Err(e) = netlink::del_link(h, &ap.tunnel_interface()).await {
            tracing::warn!(error = %e, "cleanup");
        }
        if ap.is_ingress() {
            if let Err(e) = netlink::del_link(h, &ap.interface).await {
                tracing::warn!(error = %e, "cleanup");
            }
        } else if let Ok(Some(index)) = netlink::link_index(h, &ap.interface).await {
            let table = TABLE_BASE + i as u32;
            if let Err(e) = netlink::del_table_net_route(h, table, ap.subnet, index).await {
                tracing::warn!(error = %e, "cleanup");
            }
            if let Err(e) = netlink::del_address(h, index, ap.gateway()).await {
                tracing::warn!(error = %e, "cleanup");
            }
        }
    }
    // Only a tunnel the daemon made is removed; netifd's stays.
    if let Some(m) = config
        .management_tunnel
        .as_ref()
        .filter(|m| m.config.is_some())
    {
        if let Err(e) = netlink::del_link(h, &m.interface).await {
            tracing::warn!(error = %e, "cleanup");
        }
    }
    if let Err(e) = tokio::task::spawn_blocking(|| firewall::send(&firewall::delete_batch())).await
    {
        tracing::warn!(error = %e, "cleanup of the nftables table");
    }
}
