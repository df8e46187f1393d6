//! The management tunnel (dial-out control, as RIPE Atlas probes do): the router dials the
//! controller over WireGuard with a keepalive, so it works behind NAT with no port opened,
//! and the API listens on the tunnel's address only. The daemon brings the tunnel up itself
//! when given a wg-quick file; on OpenWrt netifd does (interface `mgmt`).

use super::config::RouterConfig;
use super::control;
use super::helper::{Helper, TunnelOf};
use super::netlink;
use super::tunnel;
use super::wireguard::TunnelPeer;
use anyhow::{bail, Context, Result};
use std::net::IpAddr;

/// Keepalive when the file sets none: the controller must reach a router behind NAT, whose
/// UDP mappings commonly expire after 30 s or more.
pub const DEFAULT_KEEPALIVE_S: u16 = 25;

/// A management tunnel the daemon brings up: its interface and its peer, the controller.
#[derive(Debug, Clone)]
pub struct Management {
    /// The interface.
    pub interface: String,
    /// The router's key and address, the controller's key and endpoint.
    pub peer: TunnelPeer,
}

/// Reads the management tunnel's wg-quick file, if the daemon is to bring the tunnel up,
/// and checks that the API's address is the tunnel's: an API on another address would be
/// reachable from outside the tunnel.
pub fn load(config: &RouterConfig) -> Result<Option<Management>> {
    let Some(m) = &config.management_tunnel else {
        return Ok(None);
    };
    let Some(path) = &m.config else {
        return Ok(None);
    };
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("management tunnel {shown}"))?;
    let parsed = matador_api::parse_management_wg_quick(&text)
        .map_err(|e| anyhow::anyhow!("management tunnel {shown}: {e}"))?;
    let mut peer = control::tunnel_peer(&parsed)
        .map_err(|e| anyhow::anyhow!("management tunnel {shown}: {e}"))?;
    peer.keepalive = Some(peer.keepalive.unwrap_or(DEFAULT_KEEPALIVE_S));
    check_address(config.management, &peer)
        .map_err(|e| anyhow::anyhow!("management tunnel {shown}: {e}"))?;
    Ok(Some(Management {
        interface: m.interface.clone(),
        peer,
    }))
}

/// The API address must be the tunnel's own, and the tunnel must not carry everything (the
/// router's own traffic, and its vantage tunnels' packets, leave by the uplink).
pub fn check_address(management: IpAddr, peer: &TunnelPeer) -> Result<()> {
    if management != IpAddr::V4(peer.address.addr()) {
        bail!(
            "its Address {} is not the API's `management` address {management}",
            peer.address.addr()
        );
    }
    if peer.allowed_ips.iter().any(|n| n.prefix_len() == 0) {
        bail!("AllowedIPs must be the controller's subnet, not a default route");
    }
    if peer.allowed_ips.is_empty() {
        bail!("AllowedIPs names no controller subnet");
    }
    Ok(())
}

/// Brings the tunnel up: interface, keys, address, and a route to each of the controller's
/// subnets in the main table.
pub(super) async fn start(
    h: &rtnetlink::Handle,
    config: &RouterConfig,
    m: &Management,
    helpers: &mut Vec<Helper>,
) -> Result<()> {
    let index = tunnel::open(
        h,
        config,
        &m.interface,
        &m.peer,
        TunnelOf::Management,
        helpers,
    )
    .await?;
    for net in &m.peer.allowed_ips {
        if let ipnet::IpNet::V4(v4) = net {
            netlink::set_net_route(h, v4.trunc(), index).await?;
        }
    }
    tracing::info!(
        tunnel = %m.interface,
        address = %m.peer.address,
        controller = %m.peer.endpoint,
        keepalive_s = m.peer.keepalive,
        "management tunnel up"
    );
    Ok(())
}

/// How long the daemon waits for someone else's management interface (netifd's) to come
/// up at boot before giving up (procd then restarts it).
const FOREIGN_INTERFACE_WAIT_S: u64 = 60;

/// When the management interface is someone else's, waits until it exists: the API cannot
/// bind its address before.
pub(super) async fn wait_for_interface(h: &rtnetlink::Handle, config: &RouterConfig) -> Result<()> {
    let Some(m) = &config.management_tunnel else {
        return Ok(());
    };
    for waited in 0..FOREIGN_INTERFACE_WAIT_S {
        if netlink::link_index(h, &m.interface).await?.is_some() {
            return Ok(());
        }
        if waited == 0 {
            tracing::info!(tunnel = %m.interface, "waiting for the management interface");
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    bail!(
        "management interface {} did not appear in {FOREIGN_INTERFACE_WAIT_S} s (is the `mgmt` \
         network up? `ifstatus mgmt`)",
        m.interface
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(address: &str, allowed: &[&str]) -> TunnelPeer {
        TunnelPeer {
            private_key: [1; 32],
            address: address.parse().expect("net"),
            dns: None,
            public_key: [2; 32],
            preshared_key: None,
            endpoint: "192.0.2.50:51820".parse().expect("endpoint"),
            allowed_ips: allowed.iter().map(|a| a.parse().expect("net")).collect(),
            keepalive: None,
        }
    }

    #[test]
    fn the_api_address_must_be_the_tunnels_and_the_tunnel_not_a_default_route() {
        let api: IpAddr = "100.127.0.10".parse().expect("ip");
        check_address(api, &peer("100.127.0.10/32", &["100.127.0.0/24"])).expect("good");
        let e = check_address(api, &peer("100.127.0.11/32", &["100.127.0.0/24"]))
            .expect_err("other address");
        assert!(e.to_string().contains("not the API's"), "{e}");
        let e = check_address(api, &peer("100.127.0.10/32", &["0.0.0.0/0"]))
            .expect_err("default route");
        assert!(e.to_string().contains("not a default route"), "{e}");
        let e = check_address(api, &peer("100.127.0.10/32", &[])).expect_err("nothing");
        assert!(e.to_string().contains("no controller subnet"), "{e}");
    }

    #[test]
    fn a_file_is_loaded_with_a_keepalive_and_checked_against_the_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        let file = dir.path().join("mgmt.conf");
        std::fs::write(
            &file,
            format!(
                "[Interface]\nPrivateKey = {key}\nAddress = 100.127.0.10/32\n\n[Peer]\n\
                 PublicKey = {key}\nEndpoint = 192.0.2.50:51820\nAllowedIPs = 100.127.0.0/24\n"
            ),
        )
        .expect("write");
        let yaml = format!(
            "router: r\nmanagement: 100.127.0.10\ntoken_file: /t\nstate_dir: /s\nrun_dir: /r\n\
             uplink: eth0\nmanagement_tunnel: {{ interface: wm-r, config: {} }}\naps:\n  - {{ name: ap0, ssid: s, \
             passphrase: pass-phrase, interface: wlan0, subnet: 10.77.1.0/24 }}\n",
            file.display()
        );
        let config = RouterConfig::parse(&yaml, "t.yaml").expect("config");
        let m = load(&config).expect("loads").expect("tunnel");
        assert_eq!(m.interface, "wm-r");
        assert_eq!(m.peer.keepalive, Some(DEFAULT_KEEPALIVE_S));
        let other = RouterConfig::parse(
            &yaml.replace("management: 100.127.0.10", "management: 100.127.0.11"),
            "t.yaml",
        )
        .expect("config");
        let e = load(&other).expect_err("address mismatch");
        assert!(format!("{e:#}").contains("mgmt.conf"), "{e:#}");
    }
}
