//! Bringing the data plane up, keeping it up, and taking it down: the firewall first (so
//! nothing leaks while the rest starts), then per AP the radio address, hostapd, the tunnel
//! with its policy route, and dnsmasq. Helper processes are supervised and restarted; their
//! pid files let a restart after kill -9 clean what the crashed run left.

use super::ap_up::{bring_up, start_dnsmasq, start_tunnel};
use super::blocklist::{self, Blocklists};
use super::config::RouterConfig;
use super::control::{self, PlaneCommand, RouterControl};
use super::firewall_intercept::Redirect;
use super::helper::{kill_leftovers, Helper, TunnelOf};
use super::stations::Associated;
use super::teardown::take_down;
use super::wireguard::{self, TunnelPeer};
use super::{ingress, intercept_plane, management, netlink};
use crate::api::{ApiConfig, ApiServer};
use crate::store::Store;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Room for results on the router before the host must fetch and acknowledge some.
const RESULTS_CAP: u64 = 256 * 1024 * 1024;
/// How often tunnels and helpers are checked.
const WATCH_PERIOD: Duration = Duration::from_secs(5);

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
    let blocklists = blocklist::load_all(&config)?;
    blocklist::install_firewall(&config, &blocklists, &[]).await?;
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
    let ingress_peers = match ingress::load_all(&config) {
        Ok(p) => p,
        Err(e) => {
            take_down(&h, &config, &mut helpers).await;
            return Err(e);
        }
    };
    let up = bring_up(
        &h,
        &config,
        &mut helpers,
        &associated,
        &ingress_peers,
        &blocklists,
    );
    let named = match up.await {
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
            // Before the measurements open: recovering one stores results.
            store.set_recipient(at_rest_recipient(&config)?);
            let m = crate::measure::Measurements::open(
                &config,
                Arc::clone(&store),
                ingress_peers.clone(),
            )
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
    measurements.set_redirector(intercept_plane::redirector(commands.clone()));
    let control = RouterControl {
        store: Arc::clone(&store),
        starts,
        upload,
        config: config.clone(),
        started: std::time::Instant::now(),
        vantage: std::sync::Mutex::new(named),
        commands,
        associated,
        ingress: ingress_peers.clone(),
        blocklists: Arc::clone(&blocklists),
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
    let mut plane = Watched {
        mgmt: mgmt.as_ref(),
        peers: &mut peers,
        ingress: &ingress_peers,
        blocklists: &blocklists,
        redirects: vec![None; config.aps.len()],
        helpers: &mut helpers,
    };
    watch(&h, &config, &mut plane, &mut orders).await;
    // Measurements asking for a redirect from now on are told the daemon is stopping.
    drop(orders);
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

/// The key devices' results are encrypted to, if configured; a router with an ingress (real
/// participants' phones) and none is warned about, since their results are then plain.
fn at_rest_recipient(config: &RouterConfig) -> Result<Option<crate::at_rest::Recipient>> {
    let Some(a) = &config.at_rest else {
        if config.aps.iter().any(|ap| ap.is_ingress()) {
            tracing::warn!(
                "no at_rest.recipient: results of enrolled phones are stored unencrypted"
            );
        }
        return Ok(None);
    };
    let to = a.recipient().context("at_rest.recipient")?;
    tracing::info!(recipient = %to, "results of enrolled phones are stored encrypted");
    Ok(Some(to))
}

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

/// What the watch loop keeps alive.
struct Watched<'a> {
    mgmt: Option<&'a management::Management>,
    peers: &'a mut [Option<TunnelPeer>],
    ingress: &'a [ingress::Peers],
    blocklists: &'a Blocklists,
    /// Each AP's TLS interception redirect, kept across rebuilds of the table.
    redirects: Vec<Option<Redirect>>,
    helpers: &'a mut Vec<Helper>,
}

async fn watch(
    h: &rtnetlink::Handle,
    config: &RouterConfig,
    plane: &mut Watched<'_>,
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
            _ = tick.tick() => check(h, config, plane).await,
            Some(order) = orders.recv() => match order {
                PlaneCommand::SetBlocklist { ap, domains, reply } => {
                    let dns = plane.peers.get(ap).and_then(|p| p.as_ref()).and_then(|p| p.dns);
                    let change = blocklist::Change { ap, domains, dns };
                    let lists = (plane.blocklists, plane.redirects.as_slice());
                    let done = blocklist::apply(config, lists, change, plane.helpers).await;
                    let _ = reply.send(done.map_err(|e| format!("{e:#}")));
                }
                PlaneCommand::SetInterception { ap, redirect, reply } => {
                    let done = intercept_plane::set(config, &mut plane.redirects, ap, redirect).await;
                    let _ = reply.send(done.map_err(|e| format!("{e:#}")));
                }
                PlaneCommand::SetVantage { ap, peer, reply } => {
                    let blocked = blocklist::lock(plane.blocklists).get(ap).cloned().unwrap_or_default();
                    let done = set_vantage(h, config, (ap, &blocked), peer.clone(), plane.helpers).await;
                    if done.is_ok() {
                        if let Some(slot) = plane.peers.get_mut(ap) {
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
    (i, blocked): (usize, &[String]),
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
    helpers.push(start_dnsmasq(config, i, ap, peer.dns, blocked)?);
    tracing::info!(ap = %ap.name, endpoint = %peer.endpoint, "vantage node changed");
    Ok(())
}

/// One round of supervision: helpers restarted, dead tunnels rebuilt, health logged.
async fn check(h: &rtnetlink::Handle, config: &RouterConfig, plane: &mut Watched<'_>) {
    let (mgmt, peers, helpers) = (plane.mgmt, &*plane.peers, &mut *plane.helpers);
    let mut dead_tunnels = Vec::new();
    let mut dead_ingress = Vec::new();
    let mut mgmt_dead = None;
    for helper in helpers.iter_mut() {
        match helper.tunnel_of {
            Some(TunnelOf::Ap(i)) => {
                if let Some(why) = helper.exited() {
                    dead_tunnels.push((i, why));
                }
            }
            Some(TunnelOf::Ingress(i)) => {
                if let Some(why) = helper.exited() {
                    dead_ingress.push((i, why));
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
    for (i, why) in dead_ingress {
        helpers.retain(|x| x.tunnel_of != Some(TunnelOf::Ingress(i)));
        let (Some(ap), Some(list)) = (config.aps.get(i), plane.ingress.get(i)) else {
            continue;
        };
        tracing::warn!(ap = %ap.name, status = %why, "ingress process gone; rebuilding the ingress");
        let list = ingress::lock(list).clone();
        if let Err(e) = ingress::open(h, config, i, ap, &list, helpers).await {
            tracing::error!(ap = %ap.name, error = %format!("{e:#}"), "ingress rebuild failed; retrying");
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
