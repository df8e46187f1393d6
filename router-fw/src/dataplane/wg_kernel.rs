//! The kernel WireGuard backend (kmod-wireguard, OpenWrt's default): the link `wg-<ap>` of
//! kind "wireguard" made over rtnetlink, its keys, peer and allowed IPs set over the generic
//! netlink family "wireguard" (WG_CMD_SET_DEVICE), its health read with WG_CMD_GET_DEVICE.
//! The packet types are `netlink-packet-wireguard`'s; the transport is `netlink-proto`, the
//! same one rtnetlink uses. The family ID is looked up through nlctrl on every request (a
//! few syscalls, every 5 s at most).

use super::netlink;
use super::wireguard::{Health, TunnelPeer, WireguardError};
use futures_util::StreamExt;
use ipnet::IpNet;
use netlink_packet_core::{
    NetlinkDeserializable, NetlinkMessage, NetlinkPayload, NetlinkSerializable, NLM_F_ACK,
    NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::{nlas::GenlCtrlAttrs, GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use netlink_packet_wireguard::{
    WireguardAddressFamily, WireguardAllowedIp, WireguardAllowedIpAttr, WireguardAttribute,
    WireguardCmd, WireguardDeviceFlags, WireguardMessage, WireguardPeer, WireguardPeerAttribute,
    WireguardPeerFlags,
};
use std::fmt::Debug;

/// nlctrl's fixed family ID (GENL_ID_CTRL).
const GENL_ID_CTRL: u16 = 0x10;

/// The WG_CMD_SET_DEVICE request that makes `peer` the only peer of `ifname`: the same
/// settings, with the same replace semantics, as the userspace backend's `set_request`.
pub fn set_device(ifname: &str, peer: &TunnelPeer) -> WireguardMessage {
    let mut p = vec![WireguardPeerAttribute::PublicKey(peer.public_key)];
    if let Some(psk) = peer.preshared_key {
        p.push(WireguardPeerAttribute::PresharedKey(psk));
    }
    p.push(WireguardPeerAttribute::Endpoint(peer.endpoint));
    if let Some(k) = peer.keepalive {
        p.push(WireguardPeerAttribute::PersistentKeepalive(k));
    }
    p.push(WireguardPeerAttribute::Flags(
        WireguardPeerFlags::ReplaceAllowedIps,
    ));
    p.push(WireguardPeerAttribute::AllowedIps(
        peer.allowed_ips.iter().map(allowed_ip).collect(),
    ));
    WireguardMessage {
        cmd: WireguardCmd::SetDevice,
        attributes: vec![
            WireguardAttribute::IfName(ifname.into()),
            WireguardAttribute::PrivateKey(peer.private_key),
            WireguardAttribute::Flags(WireguardDeviceFlags::ReplacePeers),
            WireguardAttribute::Peers(vec![WireguardPeer(p)]),
        ],
    }
}

/// One allowed IP as the kernel wants it: family, network address, prefix length.
fn allowed_ip(net: &IpNet) -> WireguardAllowedIp {
    let family = match net {
        IpNet::V4(_) => WireguardAddressFamily::Ipv4,
        IpNet::V6(_) => WireguardAddressFamily::Ipv6,
    };
    WireguardAllowedIp(vec![
        WireguardAllowedIpAttr::Family(family),
        WireguardAllowedIpAttr::IpAddr(net.network()),
        WireguardAllowedIpAttr::Cidr(net.prefix_len()),
    ])
}

/// The WG_CMD_GET_DEVICE request for `ifname` (sent as a dump).
pub fn get_device(ifname: &str) -> WireguardMessage {
    WireguardMessage {
        cmd: WireguardCmd::GetDevice,
        attributes: vec![WireguardAttribute::IfName(ifname.into())],
    }
}

/// The health of a device out of its GET_DEVICE answers (a dump may split the peers over
/// several messages): the latest handshake, bytes summed over peers, as `parse_get` does.
pub fn parse_device(answers: &[WireguardMessage]) -> Health {
    let mut h = Health::default();
    let peers = answers
        .iter()
        .flat_map(|m| &m.attributes)
        .filter_map(|a| match a {
            WireguardAttribute::Peers(p) => Some(p),
            _ => None,
        })
        .flatten();
    for attr in peers.flat_map(|p| &p.0) {
        match attr {
            WireguardPeerAttribute::LastHandshake(t) => {
                h.last_handshake = h.last_handshake.max(u64::try_from(t.seconds).unwrap_or(0));
            }
            WireguardPeerAttribute::RxBytes(b) => h.rx_bytes = h.rx_bytes.saturating_add(*b),
            WireguardPeerAttribute::TxBytes(b) => h.tx_bytes = h.tx_bytes.saturating_add(*b),
            _ => {}
        }
    }
    h
}

fn failed(what: &str, message: impl std::fmt::Display) -> WireguardError {
    WireguardError::Netlink {
        what: what.into(),
        message: message.to_string(),
    }
}

/// Sends one generic netlink request on a fresh connection and collects the answers;
/// `Err(errno)` (positive) if the kernel refused it.
async fn exchange<T>(
    mut msg: NetlinkMessage<T>,
    what: &str,
) -> Result<Result<Vec<T>, i32>, WireguardError>
where
    T: NetlinkSerializable + NetlinkDeserializable + Debug + Send + Unpin + 'static,
{
    let (conn, handle, _) = netlink_proto::new_connection::<T>(libc::NETLINK_GENERIC as isize)
        .map_err(|e| failed(what, e))?;
    let task = tokio::spawn(conn);
    msg.finalize();
    let mut answers = Vec::new();
    let mut refused = None;
    let talk = async {
        let mut stream = handle
            .request(msg, netlink_proto::sys::SocketAddr::new(0, 0))
            .map_err(|e| failed(what, e))?;
        while let Some(m) = stream.next().await {
            match m.payload {
                NetlinkPayload::InnerMessage(inner) => answers.push(inner),
                NetlinkPayload::Error(e) if e.code.is_some() => refused = Some(-e.raw_code()),
                _ => {}
            }
        }
        Ok::<_, WireguardError>(())
    };
    let done = tokio::time::timeout(std::time::Duration::from_secs(5), talk).await;
    task.abort();
    done.map_err(|_| failed(what, "no answer"))??;
    Ok(refused.map_or(Ok(answers), Err))
}

/// The ID of the "wireguard" generic netlink family; its absence means no kernel support.
async fn family_id() -> Result<u16, WireguardError> {
    let mut ask = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName("wireguard".into())],
    });
    ask.set_resolved_family_id(GENL_ID_CTRL);
    let mut msg = NetlinkMessage::from(ask);
    msg.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    let what = "look up the generic netlink family wireguard";
    match exchange(msg, what).await? {
        Err(libc::ENOENT) => Err(WireguardError::NoKernelSupport),
        Err(errno) => Err(failed(what, std::io::Error::from_raw_os_error(errno))),
        Ok(answers) => answers
            .iter()
            .flat_map(|a| &a.payload.nlas)
            .find_map(|n| match n {
                GenlCtrlAttrs::FamilyId(id) => Some(*id),
                _ => None,
            })
            .ok_or_else(|| failed(what, "no family ID in the answer")),
    }
}

/// One request to the wireguard family.
async fn wireguard(
    request: WireguardMessage,
    flags: u16,
    what: &str,
) -> Result<Vec<WireguardMessage>, WireguardError> {
    let mut genl = GenlMessage::from_payload(request);
    genl.set_resolved_family_id(family_id().await?);
    let mut msg = NetlinkMessage::from(genl);
    msg.header.flags = flags;
    match exchange(msg, what).await? {
        Ok(answers) => Ok(answers.into_iter().map(|a| a.payload).collect()),
        Err(errno) => Err(failed(what, std::io::Error::from_raw_os_error(errno))),
    }
}

/// Makes `ifname` a fresh kernel WireGuard link with `peer` as its only peer (an older link
/// of that name is removed first). Fails closed: a link that could not be configured is
/// deleted again, and a kernel without WireGuard gives `NoKernelSupport`.
pub async fn configure(
    h: &rtnetlink::Handle,
    ifname: &str,
    peer: &TunnelPeer,
) -> Result<(), WireguardError> {
    netlink::del_link(h, ifname)
        .await
        .map_err(|e| failed("remove the old tunnel link", e))?;
    let add = h
        .link()
        .add(rtnetlink::LinkWireguard::new(ifname).build())
        .execute()
        .await;
    match add {
        Ok(()) => {}
        Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code() == -libc::EOPNOTSUPP => {
            return Err(WireguardError::NoKernelSupport)
        }
        Err(e) => return Err(failed(&format!("create link {ifname} (wireguard)"), e)),
    }
    let set = wireguard(
        set_device(ifname, peer),
        NLM_F_REQUEST | NLM_F_ACK,
        &format!("configure {ifname}"),
    )
    .await;
    if set.is_err() {
        if let Err(e) = netlink::del_link(h, ifname).await {
            tracing::warn!(link = ifname, error = %e, "removing a half-made tunnel link");
        }
    }
    set.map(|_| ())
}

/// Reads a kernel tunnel's health.
pub async fn health(ifname: &str) -> Result<Health, WireguardError> {
    wireguard(
        get_device(ifname),
        NLM_F_REQUEST | NLM_F_DUMP,
        &format!("read {ifname}"),
    )
    .await
    .map(|a| parse_device(&a))
}
