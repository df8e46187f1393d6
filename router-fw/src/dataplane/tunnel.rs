//! A WireGuard tunnel interface, whichever backend carries it: the AP tunnels to vantage
//! nodes and the management tunnel to the controller are opened the same way.

use super::config::{RouterConfig, WireguardBackend};
use super::helper::{wait_for, Helper, TunnelOf};
use super::netlink;
use super::wireguard::{self, TunnelPeer};
use anyhow::{Context, Result};

/// Opens `ifname` with its peer and address, and sets it up; returns its link index.
/// Userspace: wireguard-go makes the interface and serves its UAPI socket (supervised as a
/// helper of `of`); kernel: the backend's `configure` makes the link itself (and removes it
/// again if that fails).
pub(super) async fn open(
    h: &rtnetlink::Handle,
    config: &RouterConfig,
    ifname: &str,
    peer: &TunnelPeer,
    of: TunnelOf,
    helpers: &mut Vec<Helper>,
) -> Result<u32> {
    if config.wireguard == WireguardBackend::Userspace {
        netlink::del_link(h, ifname).await?;
        let _ = std::fs::remove_file(wireguard::socket_path(ifname));
        let mut wg = Helper::new(
            &format!("wireguard-go {ifname}"),
            "wireguard-go",
            &["-f".into(), ifname.to_string()],
        );
        wg.envs.push((
            "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD".into(),
            "1".into(),
        ));
        wg.tunnel_of = Some(of);
        wg.start(&config.run_dir)?;
        helpers.push(wg);
        wait_for(&wireguard::socket_path(ifname)).await?;
    }
    config.wireguard.configure(h, ifname, peer).await?;
    let index = netlink::link_index(h, ifname)
        .await?
        .with_context(|| format!("{ifname} missing"))?;
    netlink::add_address(h, index, peer.address).await?;
    netlink::set_up(h, ifname).await?;
    Ok(index)
}
