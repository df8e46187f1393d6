//! The WireGuard ingress: an "access point" whose phones are WireGuard peers (Android's and
//! iOS's WireGuard apps with an always-on profile), so a phone anywhere, on cellular too,
//! is measured like one on the lab Wi-Fi. Peers come from the configuration and from
//! `matador-host phone enroll` (over the API, kept in the state directory); a peer's tunnel
//! address names its device, which is how flows and results are attributed.

use super::config::{ApConfig, Ingress, IngressPeerConfig, RouterConfig, WireguardBackend};
use super::helper::{wait_for, Helper, TunnelOf};
use super::netlink;
use super::wireguard::{self, decode_key, hex};
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The peers of one AP's ingress as they stand (shared by the data plane, which rebuilds the
/// interface with them, and the API, which enrols and removes phones); empty for Wi-Fi APs.
pub type Peers = std::sync::Arc<std::sync::Mutex<Vec<IngressPeerConfig>>>;

/// The peer list, also after a panic elsewhere poisoned the lock.
pub fn lock(peers: &Peers) -> std::sync::MutexGuard<'_, Vec<IngressPeerConfig>> {
    peers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every AP's peers (configured and enrolled), index for index with `config.aps`.
pub fn load_all(config: &RouterConfig) -> Result<Vec<Peers>> {
    config
        .aps
        .iter()
        .map(|ap| {
            let peers = if ap.is_ingress() {
                load_peers(&config.state_dir, ap)?
            } else {
                Vec::new()
            };
            Ok(std::sync::Arc::new(std::sync::Mutex::new(peers)))
        })
        .collect()
}

/// Checks an ingress AP (name, interface and subnet are checked with every AP).
pub fn check(ap: &ApConfig, ingress: &Ingress) -> Result<(), String> {
    if !ap.ssid.is_empty() || !ap.passphrase.is_empty() {
        return Err("an ingress has no SSID or passphrase (phones join over WireGuard)".into());
    }
    if ingress.listen_port == 0 {
        return Err("ingress.listen_port must be a UDP port (1-65535)".into());
    }
    let mut seen: Vec<&IngressPeerConfig> = Vec::new();
    for p in &ingress.peers {
        check_peer(ap, p)?;
        if let Some(o) = seen.iter().find(|o| clash(o, p)) {
            return Err(format!(
                "peer `{}` shares its name, key or address with `{}`",
                p.device, o.device
            ));
        }
        seen.push(p);
    }
    Ok(())
}

/// Whether two peers cannot both be on one ingress.
pub fn clash(a: &IngressPeerConfig, b: &IngressPeerConfig) -> bool {
    a.device == b.device || a.public_key.trim() == b.public_key.trim() || a.address == b.address
}

/// Checks one peer against its AP: a usable device name, a key, an address of the subnet
/// that is neither the gateway nor the network or broadcast address.
pub fn check_peer(ap: &ApConfig, p: &IngressPeerConfig) -> Result<(), String> {
    matador_api::check_device_name(&p.device).map_err(|e| format!("peer device: {e}"))?;
    decode_key(&p.public_key, "peer public key")
        .map_err(|_| format!("peer `{}`: public_key is not a WireGuard key", p.device))?;
    let hosts = ap.subnet.hosts().any(|h| h == p.address);
    if !hosts || p.address == ap.gateway() {
        return Err(format!(
            "peer `{}`: address {} is not a free host of {} (the gateway is {})",
            p.device,
            p.address,
            ap.subnet,
            ap.gateway()
        ));
    }
    Ok(())
}

/// Refuses an ingress the backend cannot carry yet.
pub fn check_backend(config: &RouterConfig) -> Result<(), String> {
    match config.aps.iter().find(|a| a.is_ingress()) {
        Some(ap) if config.wireguard == WireguardBackend::Kernel => Err(format!(
            "ingress `{}` needs `wireguard: userspace` (the kernel backend configures one peer per interface so far)",
            ap.name
        )),
        _ => Ok(()),
    }
}

/// Where peers added over the API are kept.
pub fn peers_file(state_dir: &Path, ap: &str) -> PathBuf {
    state_dir.join(format!("ingress-{ap}.json"))
}

/// Every peer of the ingress: the configuration's, then those enrolled over the API.
pub fn load_peers(state_dir: &Path, ap: &ApConfig) -> Result<Vec<IngressPeerConfig>> {
    let mut peers = ap
        .ingress
        .as_ref()
        .map(|i| i.peers.clone())
        .unwrap_or_default();
    let file = peers_file(state_dir, &ap.name);
    match std::fs::read(&file) {
        Ok(bytes) => {
            let saved: Vec<IngressPeerConfig> = serde_json::from_slice(&bytes)
                .with_context(|| format!("enrolled peers in {}", file.display()))?;
            for p in saved {
                if check_peer(ap, &p).is_ok() && !peers.iter().any(|o| clash(o, &p)) {
                    peers.push(p);
                } else {
                    tracing::warn!(ap = %ap.name, device = %p.device, "enrolled peer clashes with the configuration; ignored");
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    }
    Ok(peers)
}

/// Writes the enrolled peers (all but the configuration's) atomically.
pub fn save_enrolled(state_dir: &Path, ap: &ApConfig, peers: &[IngressPeerConfig]) -> Result<()> {
    let configured = ap
        .ingress
        .as_ref()
        .map(|i| i.peers.as_slice())
        .unwrap_or(&[]);
    let enrolled: Vec<&IngressPeerConfig> =
        peers.iter().filter(|p| !configured.contains(p)).collect();
    let file = peers_file(state_dir, &ap.name);
    let tmp = file.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(&enrolled).context("encoding peers")?;
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &file).with_context(|| format!("writing {}", file.display()))
}

/// The device behind a tunnel address, if a peer has it.
pub fn device_of(peers: &[IngressPeerConfig], address: Ipv4Addr) -> Option<&str> {
    peers
        .iter()
        .find(|p| p.address == address)
        .map(|p| p.device.as_str())
}

/// The UAPI request that sets the whole interface: key, port, and exactly these peers.
pub fn set_request(
    private_key: &[u8; 32],
    port: u16,
    peers: &[IngressPeerConfig],
) -> Result<String> {
    let mut r = String::from("set=1\n");
    let _ = writeln!(r, "private_key={}", hex(private_key));
    let _ = writeln!(r, "listen_port={port}");
    r.push_str("replace_peers=true\n");
    for p in peers {
        push_peer(&mut r, p)?;
    }
    r.push('\n');
    Ok(r)
}

/// The UAPI request that adds (or updates) one peer, leaving the others alone.
pub fn add_request(peer: &IngressPeerConfig) -> Result<String> {
    let mut r = String::from("set=1\n");
    push_peer(&mut r, peer)?;
    r.push('\n');
    Ok(r)
}

/// The UAPI request that removes one peer: its phone can no longer send anything through.
pub fn remove_request(public_key: &str) -> Result<String> {
    let key = decode_key(public_key, "peer public key")?;
    Ok(format!("set=1\npublic_key={}\nremove=true\n\n", hex(&key)))
}

fn push_peer(r: &mut String, p: &IngressPeerConfig) -> Result<()> {
    let key = decode_key(&p.public_key, "peer public key")?;
    let _ = writeln!(r, "public_key={}", hex(&key));
    r.push_str("replace_allowed_ips=true\n");
    // Only its own address: a peer cannot speak for another device.
    let _ = writeln!(r, "allowed_ip={}/32", p.address);
    Ok(())
}

/// Makes the ingress interface (wireguard-go, supervised as a helper), gives it the
/// gateway address and its peers, and sets it up.
pub(super) async fn open(
    h: &rtnetlink::Handle,
    config: &RouterConfig,
    i: usize,
    ap: &ApConfig,
    peers: &[IngressPeerConfig],
    helpers: &mut Vec<Helper>,
) -> Result<u32> {
    let ingress = ap.ingress.as_ref().context("not an ingress")?;
    let key_text = std::fs::read_to_string(&ingress.private_key).with_context(|| {
        format!(
            "ingress {}: private key {}",
            ap.name,
            ingress.private_key.display()
        )
    })?;
    let key = decode_key(&key_text, "ingress private key")
        .with_context(|| format!("ingress {}: {}", ap.name, ingress.private_key.display()))?;
    netlink::del_link(h, &ap.interface).await?;
    let _ = std::fs::remove_file(wireguard::socket_path(&ap.interface));
    let mut wg = Helper::new(
        &format!("wireguard-go {}", ap.interface),
        "wireguard-go",
        &["-f".into(), ap.interface.clone()],
    );
    wg.envs.push((
        "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD".into(),
        "1".into(),
    ));
    wg.tunnel_of = Some(TunnelOf::Ingress(i));
    wg.start(&config.run_dir)?;
    helpers.push(wg);
    let socket = wireguard::socket_path(&ap.interface);
    wait_for(&socket).await?;
    wireguard::exchange(&socket, &set_request(&key, ingress.listen_port, peers)?).await?;
    let index = netlink::link_index(h, &ap.interface)
        .await?
        .with_context(|| format!("{} missing", ap.interface))?;
    netlink::add_address(
        h,
        index,
        ipnet::Ipv4Net::new(ap.gateway(), ap.subnet.prefix_len())?,
    )
    .await?;
    netlink::set_up(h, &ap.interface).await?;
    // The AP's source rule would send the router's own answers from the gateway (its DNS
    // forwarder) into the tunnel: in the AP's table, the peers' subnet is out of the ingress.
    let table = super::ap_up::TABLE_BASE + i as u32;
    netlink::set_table_net_route(h, table, ap.subnet, index).await?;
    tracing::info!(ap = %ap.name, interface = %ap.interface, port = ingress.listen_port, peers = peers.len(), "ingress up");
    Ok(index)
}

/// The public key of the ingress (what phones put in their `[Peer]`), from `wg pubkey`
/// (wireguard-tools): the daemon carries no X25519 code of its own for one derivation.
pub fn public_key(ap: &ApConfig) -> Result<String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let ingress = ap.ingress.as_ref().context("not an ingress")?;
    let text = std::fs::read_to_string(&ingress.private_key)
        .with_context(|| format!("{}", ingress.private_key.display()))?;
    decode_key(&text, "ingress private key")?;
    let mut child = Command::new("wg")
        .arg("pubkey")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("running `wg pubkey` (install wireguard-tools)")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.trim().as_bytes())?;
        stdin.write_all(b"\n")?;
    }
    let out = child.wait_with_output().context("`wg pubkey`")?;
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || decode_key(&key, "ingress public key").is_err() {
        anyhow::bail!(
            "`wg pubkey` gave no key for {}",
            ingress.private_key.display()
        );
    }
    Ok(key)
}
