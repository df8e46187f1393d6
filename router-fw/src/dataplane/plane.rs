//! Bringing the data plane up, keeping it up, and taking it down: the firewall first (so
//! nothing leaks while the rest starts), then per AP the radio address, hostapd, the tunnel
//! with its policy route, and dnsmasq. Helper processes are supervised and restarted; their
//! pid files let a restart after kill -9 clean what the crashed run left.

use super::ap::{dnsmasq_conf, hostapd_conf, uci_wifi_iface};
use super::config::{ApConfig, Radio, RouterConfig};
use super::control::{self, PlaneCommand, RouterControl};
use super::helper::{kill_leftovers, wait_for, Helper, TunnelOf};
use super::stations::{self, Associated};
use super::wireguard::{self, TunnelPeer};
use super::{firewall, management, netlink, tunnel, wireless};
use crate::api::{ApiConfig, ApiServer};
use crate::store::Store;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// First routing table and rule priority of the APs (AP `i` uses `BASE + i`).
const TABLE_BASE: u32 = 1000;
/// Room for results on the router before the host must fetch and acknowledge some.
const RESULTS_CAP: u64 = 256 * 1024 * 1024;
/// How often tunnels and helpers are checked.
const WATCH_PERIOD: Duration = Duration::from_secs(5);

/// Brings a tunnel up: interface, peer, address, and the AP's policy route into it.
async fn start_tunnel(
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
    netlink::set_source_rule(h, ap.subnet, table, table).await?;
    tracing::info!(ap = %ap.name, tunnel = %ifname, endpoint = %peer.endpoint, table, "tunnel up");
    Ok(())
}

/// Runs the data plane until SIGTERM or SIGINT, then removes everything it made.
pub async fn run(config: RouterConfig) -> Result<()> {
    // First of all: a daemon that keeps failing while it comes up is the crash loop to count.
    let starts = crate::health::record_start(&config.state_dir);
    std::fs::create_dir_all(config.run_dir.join("pids")).context("run directory")?;
    kill_leftovers(&config.run_dir);
    let token = std::fs::read_to_string(&config.token_file)
        .with_context(|| format!("API token file {}", config.token_file.display()))?
        .trim()
        .to_string();
    let h = netlink::connect().context("rtnetlink")?;
    let aps = config.aps.clone();
    let fence = config
        .management_tunnel
        .as_ref()
        .map(|m| firewall::ApiFence {
            interface: m.interface.clone(),
            port: config.api_port,
        });
    tokio::task::spawn_blocking(move || {
        firewall::batch(&aps, fence.as_ref()).and_then(|b| firewall::send(&b))
    })
    .await
    .context("firewall task")?
    .context("installing the nftables table inet matador")?;
    let mut helpers: Vec<Helper> = Vec::new();
    let mgmt = management::load(&config)?;
    let mgmt_up = match &mgmt {
        Some(m) => management::start(&h, &config, m, &mut helpers).await,
        None => management::wait_for_interface(&h, &config).await,
    };
    if let Err(e) = mgmt_up {
        take_down(&h, &config, &mut helpers).await;
        return Err(e);
    }
    let associated: Vec<Arc<Associated>> = config.aps.iter().map(|_| Arc::default()).collect();
    let named = match bring_up(&h, &config, &mut helpers, &associated).await {
        Ok(peers) => peers,
        Err(e) => {
            take_down(&h, &config, &mut helpers).await;
            return Err(e);
        }
    };
    let mut peers: Vec<Option<TunnelPeer>> = named
        .iter()
        .map(|n| n.as_ref().map(|(_, p)| p.clone()))
        .collect();
    let opened = Store::open(config.state_dir.join("results"), RESULTS_CAP)
        .context("result store")
        .and_then(|store| {
            let m = crate::measure::Measurements::open(&config, Arc::clone(&store))
                .context("measurement records")?;
            Ok((store, m))
        });
    let (store, measurements) = match opened {
        Ok(x) => x,
        Err(e) => {
            take_down(&h, &config, &mut helpers).await;
            return Err(e);
        }
    };
    let (stop_upload, upload) = start_upload(&config, &store, &token);
    let (commands, mut orders) = mpsc::channel(4);
    let control = RouterControl {
        store: Arc::clone(&store),
        starts,
        upload,
        config: config.clone(),
        started: std::time::Instant::now(),
        vantage: std::sync::Mutex::new(named),
        commands,
        associated,
        measurements: Arc::clone(&measurements),
    };
    for warning in control.health().warnings {
        tracing::warn!(%warning, "health");
    }
    let (stop_api, api_stopped) = oneshot::channel::<()>();
    let api = match start_api(&config, control, store, token, api_stopped).await {
        Ok(api) => api,
        Err(e) => {
            take_down(&h, &config, &mut helpers).await;
            return Err(e);
        }
    };
    tracing::info!(router = %config.router, aps = config.aps.len(), "router up");
    // Supervisors (and the lab) wait for this file before sending phones our way.
    let _ = std::fs::write(config.run_dir.join("ready"), b"");
    watch(
        &h,
        &config,
        mgmt.as_ref(),
        &mut peers,
        &mut helpers,
        &mut orders,
    )
    .await;
    let _ = std::fs::remove_file(config.run_dir.join("ready"));
    let _ = stop_api.send(());
    let _ = api.await;
    if let Some((stop, task)) = stop_upload {
        let _ = stop.send(());
        let _ = task.await;
    }
    tokio::task::spawn_blocking(move || measurements.shutdown())
        .await
        .ok();
    take_down(&h, &config, &mut helpers).await;
    tracing::info!("router stopped; everything it made is removed");
    Ok(())
}

/// The uploader's task (and how to stop it), when the configuration asks for uploads.
type UploadTask = (oneshot::Sender<()>, tokio::task::JoinHandle<()>);

/// Starts store-and-forward to the collector, if configured.
fn start_upload(
    config: &RouterConfig,
    store: &Arc<Store>,
    token: &str,
) -> (
    Option<UploadTask>,
    Option<Arc<std::sync::Mutex<matador_api::UploadHealth>>>,
) {
    use crate::upload::{Backoff, Collector, Uploader};
    let Some(u) = &config.upload else {
        return (None, None);
    };
    // Checked when the configuration was loaded.
    let Ok(collector) = Collector::parse(&u.url) else {
        return (None, None);
    };
    let state = Arc::default();
    let uploader = Uploader {
        store: Arc::clone(store),
        collector,
        router: config.router.clone(),
        token: token.to_string(),
        backoff: Backoff::new(
            Duration::from_secs(u.retry_min_s),
            Duration::from_secs(u.retry_max_s),
        ),
        state: Arc::clone(&state),
    };
    let (stop, stopped) = oneshot::channel();
    tracing::info!(collector = %collector.addr, "uploading results (store-and-forward)");
    let task = tokio::spawn(uploader.run(stopped));
    (Some((stop, task)), Some(state))
}

/// Starts the HTTPS API on the management address, over the result store.
async fn start_api(
    config: &RouterConfig,
    control: RouterControl,
    store: Arc<Store>,
    token: String,
    stop: oneshot::Receiver<()>,
) -> Result<tokio::task::JoinHandle<()>> {
    let listen = std::net::SocketAddr::new(config.management, config.api_port);
    let server = ApiServer::bind(
        ApiConfig::new(listen, token, &config.state_dir),
        control::shared(control),
        store,
    )
    .await
    .context("starting the API")?;
    tracing::info!(%listen, fingerprint = server.fingerprint(), "API certificate (pin this)");
    let _ = std::fs::write(
        config.state_dir.join("api-fingerprint"),
        server.fingerprint(),
    );
    Ok(tokio::spawn(async move {
        if let Err(e) = server
            .run(async {
                let _ = stop.await;
            })
            .await
        {
            tracing::error!(error = %e, "API stopped");
        }
    }))
}

async fn bring_up(
    h: &rtnetlink::Handle,
    config: &RouterConfig,
    helpers: &mut Vec<Helper>,
    associated: &[Arc<Associated>],
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
        let named = load_vantage(config, ap)?;
        let peer = named.as_ref().map(|(_, p)| p.clone());
        if let Some(peer) = &peer {
            start_tunnel(h, config, i, ap, peer, helpers).await?;
        }
        helpers.push(start_dnsmasq(
            config,
            ap,
            peer.as_ref().and_then(|p| p.dns),
        )?);
        peers.push(named);
    }
    Ok(peers)
}

/// Writes the AP's dnsmasq configuration and starts it.
fn start_dnsmasq(
    config: &RouterConfig,
    ap: &ApConfig,
    resolver: Option<std::net::Ipv4Addr>,
) -> Result<Helper> {
    let dir = config.run_dir.join(&ap.name);
    let conf = dir.join("dnsmasq.conf");
    std::fs::write(
        &conf,
        dnsmasq_conf(ap, resolver, &dir.join("leases"), &dir.join("dnsmasq.log")),
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
fn load_vantage(config: &RouterConfig, ap: &ApConfig) -> Result<Option<(String, TunnelPeer)>> {
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

async fn watch(
    h: &rtnetlink::Handle,
    config: &RouterConfig,
    mgmt: Option<&management::Management>,
    peers: &mut [Option<TunnelPeer>],
    helpers: &mut Vec<Helper>,
    orders: &mut mpsc::Receiver<PlaneCommand>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for signals; stopping");
        return;
    };
    let mut tick = tokio::time::interval(WATCH_PERIOD);
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = tick.tick() => check(h, config, mgmt, peers, helpers).await,
            Some(order) = orders.recv() => match order {
                PlaneCommand::SetVantage { ap, peer, reply } => {
                    let done = set_vantage(h, config, ap, peer.clone(), helpers).await;
                    if done.is_ok() {
                        if let Some(slot) = peers.get_mut(ap) {
                            *slot = Some(peer);
                        }
                    }
                    let _ = reply.send(done.map_err(|e| format!("{e:#}")));
                }
            },
        }
    }
}

/// Moves AP `i` to a new vantage node: a new tunnel, and dnsmasq handing out its resolver.
async fn set_vantage(
    h: &rtnetlink::Handle,
    config: &RouterConfig,
    i: usize,
    peer: TunnelPeer,
    helpers: &mut Vec<Helper>,
) -> Result<()> {
    let ap = config.aps.get(i).context("no such AP")?;
    let dnsmasq = format!("dnsmasq {}", ap.name);
    for helper in helpers
        .iter_mut()
        .filter(|x| x.tunnel_of == Some(TunnelOf::Ap(i)) || x.what == dnsmasq)
    {
        helper.stop(&config.run_dir).await;
    }
    helpers.retain(|x| x.tunnel_of != Some(TunnelOf::Ap(i)) && x.what != dnsmasq);
    start_tunnel(h, config, i, ap, &peer, helpers).await?;
    helpers.push(start_dnsmasq(config, ap, peer.dns)?);
    tracing::info!(ap = %ap.name, endpoint = %peer.endpoint, "vantage node changed");
    Ok(())
}

/// One round of supervision: helpers restarted, dead tunnels rebuilt, health logged.
async fn check(
    h: &rtnetlink::Handle,
    config: &RouterConfig,
    mgmt: Option<&management::Management>,
    peers: &[Option<TunnelPeer>],
    helpers: &mut Vec<Helper>,
) {
    let mut dead_tunnels = Vec::new();
    let mut mgmt_dead = None;
    for helper in helpers.iter_mut() {
        match helper.tunnel_of {
            Some(TunnelOf::Ap(i)) => {
                if let Some(why) = helper.exited() {
                    dead_tunnels.push((i, why));
                }
            }
            Some(TunnelOf::Management) => mgmt_dead = mgmt_dead.or(helper.exited()),
            None => helper.keep_alive(&config.run_dir),
        }
    }
    if let (Some(why), Some(m)) = (mgmt_dead, mgmt) {
        helpers.retain(|x| x.tunnel_of != Some(TunnelOf::Management));
        tracing::warn!(tunnel = %m.interface, status = %why, "management tunnel process gone; rebuilding it");
        if let Err(e) = management::start(h, config, m, helpers).await {
            tracing::error!(tunnel = %m.interface, error = %format!("{e:#}"), "management tunnel rebuild failed; retrying");
        }
    }
    for (i, why) in dead_tunnels {
        helpers.retain(|x| x.tunnel_of != Some(TunnelOf::Ap(i)));
        let (Some(ap), Some(Some(peer))) = (config.aps.get(i), peers.get(i)) else {
            continue;
        };
        // Until the tunnel is back, the AP's traffic falls to the main table and the
        // firewall drops it: fail closed.
        tracing::warn!(ap = %ap.name, status = %why, "tunnel process gone; rebuilding the tunnel");
        if let Err(e) = start_tunnel(h, config, i, ap, peer, helpers).await {
            tracing::error!(ap = %ap.name, error = %e, "tunnel rebuild failed; retrying");
        }
    }
    for ap in config.aps.iter().filter(|a| a.vantage.is_some()) {
        let ifname = ap.tunnel_interface();
        match config.wireguard.health(&ifname).await {
            Ok(health) => {
                let up = health.is_up(wireguard::unix_now());
                tracing::debug!(ap = %ap.name, tunnel = %ifname, up, rx = health.rx_bytes, tx = health.tx_bytes, "tunnel health");
            }
            Err(e) => tracing::warn!(ap = %ap.name, error = %e, "tunnel health unknown"),
        }
    }
}

async fn take_down(h: &rtnetlink::Handle, config: &RouterConfig, helpers: &mut Vec<Helper>) {
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
        if let Ok(Some(index)) = netlink::link_index(h, &ap.interface).await {
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
