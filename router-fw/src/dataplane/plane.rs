//! Bringing the data plane up, keeping it up, and taking it down: the firewall first (so
//! nothing leaks while the rest starts), then per AP the radio address, hostapd, the tunnel
//! with its policy route, and dnsmasq. Helper processes are supervised and restarted; their
//! pid files let a restart after kill -9 clean what the crashed run left.

use super::ap::{dnsmasq_conf, hostapd_conf, uci_wifi_iface};
use super::config::{ApConfig, Radio, RouterConfig, WireguardBackend};
use super::wireguard::{self, TunnelPeer};
use super::{firewall, netlink};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::{Child, Command};

/// First routing table and rule priority of the APs (AP `i` uses `BASE + i`).
const TABLE_BASE: u32 = 1000;
/// How often tunnels and helpers are checked.
const WATCH_PERIOD: Duration = Duration::from_secs(5);
/// A tunnel whose last handshake is older than this is reported down.
const HANDSHAKE_STALE_S: u64 = 180;

/// A supervised helper process.
struct Helper {
    what: String,
    program: String,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    child: Option<Child>,
}

impl Helper {
    fn new(what: &str, program: &str, args: &[String]) -> Helper {
        Helper {
            what: what.into(),
            program: program.into(),
            args: args.to_vec(),
            envs: Vec::new(),
            child: None,
        }
    }

    fn start(&mut self, run_dir: &Path) -> Result<()> {
        let child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} ({})", self.what, self.program))?;
        if let Some(pid) = child.id() {
            let _ = std::fs::write(pid_file(run_dir, &self.what), pid.to_string());
        }
        tracing::info!(helper = %self.what, pid = child.id(), "started");
        self.child = Some(child);
        Ok(())
    }

    /// Restarts the helper if it has exited.
    fn keep_alive(&mut self, run_dir: &Path) {
        let exited = match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(status))) => Some(status.to_string()),
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        };
        if let Some(why) = exited {
            tracing::warn!(helper = %self.what, status = %why, "exited; restarting");
            if let Err(e) = self.start(run_dir) {
                tracing::error!(helper = %self.what, error = %e, "restart failed");
            }
        }
    }

    async fn stop(&mut self, run_dir: &Path) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
        let _ = std::fs::remove_file(pid_file(run_dir, &self.what));
    }
}

fn pid_file(run_dir: &Path, what: &str) -> PathBuf {
    run_dir
        .join("pids")
        .join(format!("{}.pid", what.replace(' ', "-")))
}

/// Kills helpers a crashed run left (their pid files), so ports and sockets are free.
fn kill_leftovers(run_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(run_dir.join("pids")) else {
        return;
    };
    for e in entries.flatten() {
        if let Some(pid) = std::fs::read_to_string(e.path())
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        {
            // SAFETY: kill with a valid signal; a pid that is gone gives ESRCH, ignored.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            tracing::info!(pid, file = %e.path().display(), "killed a helper left by an earlier run");
        }
        let _ = std::fs::remove_file(e.path());
    }
}

async fn wait_for(path: &Path) -> Result<()> {
    for _ in 0..500 {
        if path.exists() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("{} did not appear", path.display())
}

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
    match config.wireguard {
        WireguardBackend::Userspace => {
            netlink::del_link(h, &ifname).await?;
            let _ = std::fs::remove_file(wireguard::socket_path(&ifname));
            let mut wg = Helper::new(&format!("wireguard-go {ifname}"), "wireguard-go", &["-f".into(), ifname.clone()]);
            wg.envs.push(("WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD".into(), "1".into()));
            wg.start(&config.run_dir)?;
            helpers.push(wg);
            wait_for(&wireguard::socket_path(&ifname)).await?;
            wireguard::exchange(&wireguard::socket_path(&ifname), &wireguard::set_request(peer)).await?;
        }
        WireguardBackend::Kernel => bail!(
            "the kernel WireGuard backend is not built yet (no module on the test machine to check it against); set `wireguard: userspace`"
        ),
    }
    let index = netlink::link_index(h, &ifname)
        .await?
        .with_context(|| format!("{ifname} missing"))?;
    netlink::add_address(h, index, peer.address).await?;
    netlink::set_up(h, &ifname).await?;
    let table = TABLE_BASE + i as u32;
    netlink::set_default_route(h, table, index).await?;
    netlink::set_source_rule(h, ap.subnet, table, table).await?;
    tracing::info!(ap = %ap.name, tunnel = %ifname, endpoint = %peer.endpoint, table, "tunnel up");
    Ok(())
}

/// Runs the data plane until SIGTERM or SIGINT, then removes everything it made.
pub async fn run(config: RouterConfig) -> Result<()> {
    std::fs::create_dir_all(config.run_dir.join("pids")).context("run directory")?;
    kill_leftovers(&config.run_dir);
    let h = netlink::connect().context("rtnetlink")?;
    let aps = config.aps.clone();
    tokio::task::spawn_blocking(move || firewall::batch(&aps).and_then(|b| firewall::send(&b)))
        .await
        .context("firewall task")?
        .context("installing the nftables table inet matador")?;
    let mut helpers: Vec<Helper> = Vec::new();
    let result = bring_up(&h, &config, &mut helpers).await;
    if let Err(e) = result {
        take_down(&h, &config, &mut helpers).await;
        return Err(e);
    }
    tracing::info!(router = %config.router, aps = config.aps.len(), "router up");
    // Supervisors (and the lab) wait for this file before sending phones our way.
    let _ = std::fs::write(config.run_dir.join("ready"), b"");
    watch(&config, &mut helpers).await;
    let _ = std::fs::remove_file(config.run_dir.join("ready"));
    take_down(&h, &config, &mut helpers).await;
    tracing::info!("router stopped; everything it made is removed");
    Ok(())
}

async fn bring_up(
    h: &rtnetlink::Handle,
    config: &RouterConfig,
    helpers: &mut Vec<Helper>,
) -> Result<()> {
    for (i, ap) in config.aps.iter().enumerate() {
        let dir = config.run_dir.join(&ap.name);
        std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
        let index = netlink::link_index(h, &ap.interface)
            .await?
            .with_context(|| {
                format!("AP {}: interface {} does not exist", ap.name, ap.interface)
            })?;
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
            }
            Radio::Uci => std::fs::write(dir.join("wireless.uci"), uci_wifi_iface(ap, "radio0"))?,
            Radio::Simulated => {}
        }
        let peer = match &ap.vantage {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("AP {}: {}", ap.name, path.display()))?;
                Some(
                    wireguard::parse_wg_quick(&text)
                        .map_err(|e| anyhow::anyhow!("AP {}: {}: {e}", ap.name, path.display()))?,
                )
            }
            None => None,
        };
        if let Some(peer) = &peer {
            start_tunnel(h, config, i, ap, peer, helpers).await?;
        }
        let dconf = dir.join("dnsmasq.conf");
        std::fs::write(
            &dconf,
            dnsmasq_conf(
                ap,
                peer.as_ref().and_then(|p| p.dns),
                &dir.join("leases"),
                &dir.join("dnsmasq.log"),
            ),
        )?;
        let mut dnsmasq = Helper::new(
            &format!("dnsmasq {}", ap.name),
            "dnsmasq",
            &[
                "--keep-in-foreground".into(),
                format!("--conf-file={}", dconf.display()),
            ],
        );
        dnsmasq.start(&config.run_dir)?;
        helpers.push(dnsmasq);
    }
    Ok(())
}

async fn watch(config: &RouterConfig, helpers: &mut [Helper]) {
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
            _ = tick.tick() => {
                for helper in helpers.iter_mut() {
                    helper.keep_alive(&config.run_dir);
                }
                for ap in config.aps.iter().filter(|a| a.vantage.is_some()) {
                    let ifname = ap.tunnel_interface();
                    match wireguard::exchange(&wireguard::socket_path(&ifname), "get=1\n\n").await {
                        Ok(answer) => {
                            let health = wireguard::parse_get(&answer);
                            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                            let up = health.last_handshake > 0 && now.saturating_sub(health.last_handshake) < HANDSHAKE_STALE_S;
                            tracing::debug!(ap = %ap.name, tunnel = %ifname, up, rx = health.rx_bytes, tx = health.tx_bytes, "tunnel health");
                        }
                        Err(e) => tracing::warn!(ap = %ap.name, error = %e, "tunnel health unknown"),
                    }
                }
            }
        }
    }
}

async fn take_down(h: &rtnetlink::Handle, config: &RouterConfig, helpers: &mut Vec<Helper>) {
    for helper in helpers.iter_mut() {
        helper.stop(&config.run_dir).await;
    }
    helpers.clear();
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
    if let Err(e) = tokio::task::spawn_blocking(|| firewall::send(&firewall::delete_batch())).await
    {
        tracing::warn!(error = %e, "cleanup of the nftables table");
    }
}
