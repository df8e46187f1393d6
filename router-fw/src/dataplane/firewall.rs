//! The daemon's own nftables table, `inet matador`, built with nftnl in one atomic batch:
//! each AP's subnet may leave only through its tunnel (fail closed: with the tunnel down,
//! nothing reaches the uplink), phones cannot reach the router itself beyond DHCP, every AP
//! has counters, a prerouting hook marks AP traffic for capture and plugins, TCP SYNs
//! through a tunnel have their MSS clamped to the route's MTU (see `mss`), and each AP's
//! blocked trackers are rejected (see `firewall_block`), and a measured phone's TLS can be
//! sent to the interception proxy (see `firewall_intercept`).

use super::config::ApConfig;
use super::firewall_block::{add_dns_steer, add_reject, add_set};
use super::firewall_intercept::{add_to_table, Redirect};
use super::mss::{clamp_in, clamp_out, TUNNEL_MTU};
use nftnl::expr::InterfaceName;
use nftnl::{
    nft_expr, Batch, Chain, FinalizedBatch, Hook, MsgType, Policy, ProtoFamily, Rule, Table,
};
use std::ffi::{CStr, CString};

/// Name of the daemon's table (family inet).
pub const TABLE: &CStr = c"matador";

/// Firewall mark of packets from AP `index` (the interception hook sets it).
pub fn ap_mark(index: usize) -> u32 {
    0x4d00 + index as u32
}

/// The firewall could not be programmed.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// A name that cannot be an interface name (interior NUL).
    #[error("interface name {0:?} cannot be used in a rule")]
    Name(String),
    /// The kernel refused the batch.
    #[error("nftables: {0}")]
    Netlink(std::io::Error),
}

fn iface(name: &str) -> Result<InterfaceName, FirewallError> {
    CString::new(name)
        .map(InterfaceName::Exact)
        .map_err(|_| FirewallError::Name(name.to_string()))
}

/// Where the API may be reached: its port on the management interface only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFence {
    /// The management tunnel's interface.
    pub interface: String,
    /// The API's TCP port.
    pub port: u16,
}

/// The whole table for these APs (and, with a management tunnel, the fence that keeps the
/// API port closed on every other interface but loopback). The batch first adds the table (a no-op if a crashed run
/// left it), deletes it, and builds it anew: the kernel applies the batch atomically, so
/// there is never a moment without the rules, and never two copies of them. `blocking[i]`:
/// AP `i` has a blocklist, so its DNS goes through its own dnsmasq (which fills the AP's set
/// of blocked addresses); the rebuilt sets start empty and refill as phones resolve names.
pub fn batch(
    aps: &[ApConfig],
    api: Option<&ApiFence>,
    blocking: &[bool],
) -> Result<FinalizedBatch, FirewallError> {
    batch_with(aps, api, blocking, &[])
}

/// As [`batch`], with `redirects[i]`: AP `i`'s TLS interception in force (a measurement
/// intercepting), so a rebuild keeps it (see `firewall_intercept`).
pub fn batch_with(
    aps: &[ApConfig],
    api: Option<&ApiFence>,
    blocking: &[bool],
    redirects: &[Option<Redirect>],
) -> Result<FinalizedBatch, FirewallError> {
    let mut batch = Batch::new();
    let table = Table::new(TABLE, ProtoFamily::Inet);
    batch.add(&table, MsgType::Add);
    batch.add(&table, MsgType::Del);
    batch.add(&table, MsgType::Add);

    let mut forward = Chain::new(c"forward", &table);
    forward.set_hook(Hook::Forward, 0);
    forward.set_policy(Policy::Accept);
    batch.add(&forward, MsgType::Add);
    let mut input = Chain::new(c"input", &table);
    input.set_hook(Hook::In, 0);
    input.set_policy(Policy::Accept);
    batch.add(&input, MsgType::Add);
    let mut mark = Chain::new(c"intercept", &table);
    // Mangle priority: before routing, so later work can steer marked packets.
    mark.set_hook(Hook::PreRouting, -150);
    mark.set_policy(Policy::Accept);
    batch.add(&mark, MsgType::Add);
    let mut mss = Chain::new(c"mss", &table);
    // Mangle priority, before `forward`: the clamp is a rewrite, not a verdict.
    mss.set_hook(Hook::Forward, -150);
    mss.set_policy(Policy::Accept);
    batch.add(&mss, MsgType::Add);
    let mut nat = Chain::new(c"postrouting", &table);
    nat.set_hook(Hook::PostRouting, 100);
    nat.set_type(nftnl::ChainType::Nat);
    nat.set_policy(Policy::Accept);
    batch.add(&nat, MsgType::Add);
    let mut steer = Chain::new(c"steer", &table);
    // Destination NAT priority: the DNS of blocking APs to their own dnsmasq.
    steer.set_hook(Hook::PreRouting, -100);
    steer.set_type(nftnl::ChainType::Nat);
    steer.set_policy(Policy::Accept);
    batch.add(&steer, MsgType::Add);

    if let Some(api) = api {
        // The uplink sees the Internet: the API must not answer there, whatever address
        // it is bound to (Linux accepts a local address on any interface).
        let mgmt = iface(&api.interface)?;
        let lo = iface("lo")?;
        let mut fence = Rule::new(&input);
        fence.add_expr(&nft_expr!(meta l4proto));
        fence.add_expr(&nft_expr!(cmp == libc::IPPROTO_TCP as u8));
        fence.add_expr(&nft_expr!(payload tcp dport));
        fence.add_expr(&nft_expr!(cmp == api.port.to_be()));
        fence.add_expr(&nft_expr!(meta iifname));
        fence.add_expr(&nft_expr!(cmp != &mgmt));
        fence.add_expr(&nft_expr!(meta iifname));
        fence.add_expr(&nft_expr!(cmp != &lo));
        fence.add_expr(&nft_expr!(counter));
        fence.add_expr(&nft_expr!(verdict drop));
        batch.add(&fence, MsgType::Add);
    }
    for (i, ap) in aps.iter().enumerate() {
        let radio = iface(&ap.interface)?;
        let tunnel = iface(&ap.tunnel_interface())?;
        let blocks = blocking.get(i).copied().unwrap_or(false);

        // Blocked trackers first: rejected before anything may take the tunnel.
        let set = add_set(&mut batch, &table, i);
        add_reject(&mut batch, &forward, &radio, &set);
        if blocks && !ap.is_ingress() {
            add_dns_steer(&mut batch, &steer, &radio, ap.gateway());
        }

        // Forwarded from the AP: into its own tunnel only, counted; everything else dropped.
        let mut out = Rule::new(&forward);
        out.add_expr(&nft_expr!(meta iifname));
        out.add_expr(&nft_expr!(cmp == &radio));
        out.add_expr(&nft_expr!(meta oifname));
        out.add_expr(&nft_expr!(cmp == &tunnel));
        out.add_expr(&nft_expr!(counter));
        out.add_expr(&nft_expr!(verdict accept));
        batch.add(&out, MsgType::Add);
        let mut closed = Rule::new(&forward);
        closed.add_expr(&nft_expr!(meta iifname));
        closed.add_expr(&nft_expr!(cmp == &radio));
        closed.add_expr(&nft_expr!(counter));
        closed.add_expr(&nft_expr!(verdict drop));
        batch.add(&closed, MsgType::Add);

        // TLS interception: empty chains unless a measurement intercepts; the input jump
        // comes before the AP's fence.
        let redirect = redirects.get(i).and_then(Option::as_ref);
        add_to_table(&mut batch, &table, (&input, &steer), i, ap, redirect)?;

        // To the router itself: DHCP only (an ingress: its DNS forwarder only, as its
        // phones get no DHCP; a blocking AP: DHCP and the steered DNS); the management side
        // is out of reach.
        let dns = [(libc::IPPROTO_UDP as u8, 53), (libc::IPPROTO_TCP as u8, 53)];
        let dhcp = [(libc::IPPROTO_UDP as u8, 67)];
        let services: Vec<(u8, u16)> = match (ap.is_ingress(), blocks) {
            (true, _) => dns.to_vec(),
            (false, false) => dhcp.to_vec(),
            (false, true) => dhcp.iter().chain(&dns).copied().collect(),
        };
        for (proto, port) in services {
            let mut allow = Rule::new(&input);
            allow.add_expr(&nft_expr!(meta iifname));
            allow.add_expr(&nft_expr!(cmp == &radio));
            allow.add_expr(&nft_expr!(meta l4proto));
            allow.add_expr(&nft_expr!(cmp == proto));
            if proto == libc::IPPROTO_TCP as u8 {
                allow.add_expr(&nft_expr!(payload tcp dport));
            } else {
                allow.add_expr(&nft_expr!(payload udp dport));
            }
            allow.add_expr(&nft_expr!(cmp == port.to_be()));
            allow.add_expr(&nft_expr!(verdict accept));
            batch.add(&allow, MsgType::Add);
        }
        let mut fence = Rule::new(&input);
        fence.add_expr(&nft_expr!(meta iifname));
        fence.add_expr(&nft_expr!(cmp == &radio));
        fence.add_expr(&nft_expr!(counter));
        fence.add_expr(&nft_expr!(verdict drop));
        batch.add(&fence, MsgType::Add);

        // Interception hook: mark the AP's packets (capture and plugins match the mark).
        let mut hook = Rule::new(&mark);
        hook.add_expr(&nft_expr!(meta iifname));
        hook.add_expr(&nft_expr!(cmp == &radio));
        hook.add_expr(&nft_expr!(immediate data ap_mark(i)));
        hook.add_expr(&nft_expr!(meta mark set));
        batch.add(&hook, MsgType::Add);

        // Both ways through the tunnel (as OpenWrt's fw4 does for `mtu_fix` zones): the
        // server learns what the tunnel carries, and so does the phone.
        batch.add(&clamp_out(&mss, &tunnel), MsgType::Add);
        batch.add(&clamp_in(&mss, &tunnel, TUNNEL_MTU), MsgType::Add);

        // The vantage node knows the router's tunnel address only: NAT the phones onto it.
        let mut masq = Rule::new(&nat);
        masq.add_expr(&nft_expr!(meta oifname));
        masq.add_expr(&nft_expr!(cmp == &tunnel));
        masq.add_expr(&nft_expr!(masquerade));
        batch.add(&masq, MsgType::Add);
    }
    Ok(batch.finalize())
}

/// A batch that deletes the table (on stop), whether or not it is there.
pub fn delete_batch() -> FinalizedBatch {
    let mut batch = Batch::new();
    let table = Table::new(TABLE, ProtoFamily::Inet);
    batch.add(&table, MsgType::Add);
    batch.add(&table, MsgType::Del);
    batch.finalize()
}

/// Sends a batch and waits for every acknowledgement.
pub fn send(batch: &FinalizedBatch) -> Result<(), FirewallError> {
    let run = || -> std::io::Result<()> {
        let socket = mnl::Socket::new(mnl::Bus::Netfilter)?;
        let portid = socket.portid();
        socket.send_all(batch)?;
        let mut buffer = vec![0; nftnl::nft_nlmsg_maxsize() as usize];
        let expected = batch.sequence_numbers();
        for seq in expected {
            let mut got_any = false;
            for message in socket.recv(&mut buffer[..])? {
                got_any = true;
                mnl::cb_run(message?, seq, portid)?;
            }
            if !got_any {
                break;
            }
        }
        Ok(())
    };
    run().map_err(FirewallError::Netlink)
}
