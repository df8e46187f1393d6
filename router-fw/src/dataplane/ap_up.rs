//! Bringing each AP up: its radio (or WireGuard ingress), its tunnel to the vantage node
//! with the policy route into it, and its dnsmasq.

use super::ap::{dnsmasq_conf, dnsmasq_ingress_conf, hostapd_conf, uci_wifi_iface};
use super::blocklist::{self, Blocklists};
use super::config::{ApConfig, Radio, RouterConfig};
use super::control;
use super::helper::{wait_for, Helper, TunnelOf};
use super::stations::{self, Associated};
use super::wireguard::TunnelPeer;
use super::{ingress, netlink, tunnel, wireless};
use anyhow::{Context, Result};
use std::sync::Arc;

/// First routing table and rule priority of the APs (AP `i` uses `BASE + i`).
pub(super) const TABLE_BASE: u32 = 1000;

/// Brings a tunnel up: interface, peer, address, and the AP's policy route into it.
pub(super) async fn start_tunnel(
    h: &rtnetlink::Handle,
    config: &RouterConfig,
    i: usize,
    ap: &ApConfig,
    peer: &TunnelPeer,
    helpers: &mut Vec<Helper>,
) -> Result<()> {
    let ifname = ap.tunnel_interface();
    let index = tunnel::open(h, config, &ifname, peer, TunnelOf::Ap(i), helpers).await?;
    let table = TABLE_BASE + i as u32;
    netlink::set_default_route(h, table, index).await?;
    // The router's own packets from its gateway address (the TLS interception proxy's
    // answers to the phone) match the AP's source rule: in the AP's table the subnet is on
    // the radio, as an ingress's is on the ingress (`ingress::open`).
    if !ap.is_ingress() {
        if let Some(radio) = netlink::link_index(h, &ap.interface).await? {
            netlink::set_table_net_route(h, table, ap.subnet, radio).await?;
        }
    }
    netlink::set_source_rule(h, ap.subnet, table, table).await?;
    tracing::info!(ap = %ap.name, tunnel = %ifname, endpoint = %peer.endpoint, table, "tunnel up");
    Ok(())
}

pub(super) async fn bring_up(
    h: &rtnetlink::Handle,
    config: &RouterConfig,
    helpers: &mut Vec<Helper>,
    associated: &[Arc<Associated>],
    ingress_peers: &[ingress::Peers],
    blocklists: &Blocklists,
) -> Result<Vec<Option<(String, TunnelPeer)>>> {
    let mut peers = Vec::new();
    if config.radio == Radio::Uci {
        let batch = wireless::add_batch(&config.aps, wireless::UCI_RADIO);
        tokio::task::spawn_blocking(move || wireless::Tools::default().apply(&batch))
            .await
            .context("uci task")?
            .context("applying the access points' wifi-iface sections")?;
    }
    for (i, ap) in config.aps.iter().enumerate() {
        let dir = config.run_dir.join(&ap.name);
        std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
        match ingress_peers.get(i).filter(|_| ap.is_ingress()) {
            Some(peers) => {
                let peers = ingress::lock(peers).clone();
                ingress::open(h, config, i, ap, &peers, helpers).await?;
            }
            None => start_radio(h, config, i, ap, helpers, associated).await?,
        }
        let named = load_vantage(config, ap)?;
        let peer = named.as_ref().map(|(_, p)| p.clone());
        if let Some(peer) = &peer {
            start_tunnel(h, config, i, ap, peer, helpers).await?;
        }
        let blocked = blocklist::lock(blocklists)
            .get(i)
            .cloned()
            .unwrap_or_default();
        helpers.push(start_dnsmasq(
            config,
            i,
            ap,
            peer.as_ref().and_then(|p| p.dns),
            &blocked,
        )?);
        peers.push(named);
    }
    Ok(peers)
}

/// Brings up AP `i`'s radio: its address, and hostapd (or the UCI section, or nothing in
/// the lab's simulation).
async fn start_radio(
    h: &rtnetlink::Handle,
    config: &RouterConfig,
    i: usize,
    ap: &ApConfig,
    helpers: &mut Vec<Helper>,
    associated: &[Arc<Associated>],
) -> Result<()> {
    let dir = config.run_dir.join(&ap.name);
    let index = wireless::ap_interface(h, config.radio, ap).await?;
    netlink::set_up(h, &ap.interface).await?;
    netlink::add_address(
        h,
        index,
        ipnet::Ipv4Net::new(ap.gateway(), ap.subnet.prefix_len())?,
    )
    .await?;
    let conf = dir.join("hostapd.conf");
    std::fs::write(&conf, hostapd_conf(ap, &dir.join("hostapd")))?;
    match config.radio {
        Radio::Hostapd => {
            let mut hostapd = Helper::new(
                &format!("hostapd {}", ap.name),
                "hostapd",
                &[conf.display().to_string()],
            );
            hostapd.start(&config.run_dir)?;
            helpers.push(hostapd);
            let socket = stations::control_socket(&dir.join("hostapd"), &ap.interface);
            if wait_for(&socket).await.is_ok() {
                let associated = associated.get(i).cloned().unwrap_or_default();
                // One follower per AP for the daemon's whole life: keep its request
                // client open (dropping it could end the socket task), log on close.
                std::mem::forget(stations::follow(&ap.name, &socket, associated));
            } else {
                tracing::warn!(ap = %ap.name, "hostapd made no control socket; stations come from DHCP leases");
            }
        }
        // Applied above; kept beside the other generated files for inspection.
        Radio::Uci => std::fs::write(
            dir.join("wireless.uci"),
            uci_wifi_iface(ap, wireless::UCI_RADIO),
        )?,
        Radio::Simulated => {}
    }
    Ok(())
}

/// Writes AP `i`'s dnsmasq configuration (with its blocked domains) and starts it.
pub(super) fn start_dnsmasq(
    config: &RouterConfig,
    i: usize,
    ap: &ApConfig,
    resolver: Option<std::net::Ipv4Addr>,
    blocked: &[String],
) -> Result<Helper> {
    let dir = config.run_dir.join(&ap.name);
    let conf = dir.join("dnsmasq.conf");
    let log = dir.join("dnsmasq.log");
    let nftset = blocklist::nftset_lines(i, blocked);
    std::fs::write(
        &conf,
        if ap.is_ingress() {
            dnsmasq_ingress_conf(ap, resolver, &log, &nftset)
        } else {
            dnsmasq_conf(ap, resolver, &dir.join("leases"), &log, &nftset)
        },
    )?;
    let mut dnsmasq = Helper::new(
        &format!("dnsmasq {}", ap.name),
        "dnsmasq",
        &[
            "--keep-in-foreground".into(),
            format!("--conf-file={}", conf.display()),
        ],
    );
    dnsmasq.start(&config.run_dir)?;
    Ok(dnsmasq)
}

/// The AP's vantage node: the one set over the API (kept in the state directory) wins over
/// the configuration file's.
pub(super) fn load_vantage(
    config: &RouterConfig,
    ap: &ApConfig,
) -> Result<Option<(String, TunnelPeer)>> {
    let saved = config.state_dir.join(format!("vantage-{}.conf", ap.name));
    let path = if saved.exists() {
        Some(saved)
    } else {
        ap.vantage.clone()
    };
    let Some(path) = path else { return Ok(None) };
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("AP {}: {}", ap.name, path.display()))?;
    let peer = matador_api::parse_wg_quick(&name, &text)
        .map_err(|e| anyhow::anyhow!("AP {}: {}: {e}", ap.name, path.display()))?;
    let tunnel = control::tunnel_peer(&peer)
        .map_err(|e| anyhow::anyhow!("AP {}: {}: {e}", ap.name, path.display()))?;
    Ok(Some((peer.name, tunnel)))
}
