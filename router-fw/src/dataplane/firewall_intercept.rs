//! TLS interception in the daemon's table: per AP two regular chains, `tls_dnat<i>` (jumped
//! to from the `steer` NAT chain) and `tls_in<i>` (jumped to from `input`, before the AP's
//! fence), empty unless a measurement intercepts. Then `tls_dnat<i>` sends the measured
//! phone's TCP 443 to the AP's interception proxy on the router's gateway address, and
//! `tls_in<i>` lets exactly those redirected connections reach it. The chains are refilled on
//! their own (flush and add, one atomic batch), so the rest of the table, the blocklists' sets
//! of addresses included, is never rebuilt for a measurement.

use super::config::ApConfig;
use super::firewall::{FirewallError, TABLE};
use nftnl::expr::{Bitwise, Immediate, InterfaceName, Nat, NatType, Register};
use nftnl::{nft_expr, Batch, Chain, FinalizedBatch, MsgType, ProtoFamily, Rule, Table};
use std::ffi::CString;
use std::net::SocketAddrV4;

/// The TCP port the phones' TLS goes to.
pub const TLS_PORT: u16 = 443;
/// `ct status dnat`: the conntrack status bit of a destination-NATed connection.
const CT_STATUS_DNAT: u32 = 0x20;

/// Where AP `i`'s phone's TLS goes while a measurement intercepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redirect {
    /// The traffic redirected, by source: an ingress device's tunnel address (a /32), or a
    /// Wi-Fi AP's whole subnet (its only phone).
    pub from: ipnet::Ipv4Net,
    /// The proxy: the AP's gateway address and the AP's proxy port.
    pub to: SocketAddrV4,
}

/// Names of AP `index`'s chains: (`tls_in<i>` for input, `tls_dnat<i>` for NAT).
pub fn chain_names(index: usize) -> (String, String) {
    (format!("tls_in{index}"), format!("tls_dnat{index}"))
}

fn cname(name: String) -> CString {
    // Letters, digits and '_': never an interior NUL.
    CString::new(name).unwrap_or_default()
}

/// The selector both rules share, as nft lists it: `ip saddr A` for one address, `ip saddr
/// N/P` for a subnet.
fn source_text(from: &ipnet::Ipv4Net) -> String {
    if from.prefix_len() == 32 {
        format!("ip saddr {}", from.addr())
    } else {
        format!("ip saddr {}", from.trunc())
    }
}

/// The rules of AP `index` (`ap`) for `redirect`, as `nft list table inet matador` shows them:
/// blocked addresses passed over, then the DNAT (chain `tls_dnat<i>`), then the input accept
/// (chain `tls_in<i>`). Pure: what the batch holds, for tests and logs.
pub fn rules_text(index: usize, ap: &ApConfig, redirect: &Redirect) -> [String; 3] {
    let iif = &ap.interface;
    let from = source_text(&redirect.from);
    let (to, port) = (redirect.to.ip(), redirect.to.port());
    [
        format!(
            "iifname \"{iif}\" {from} tcp dport {TLS_PORT} ip daddr @{} return",
            super::firewall_block::set_name(index)
        ),
        format!("iifname \"{iif}\" {from} tcp dport {TLS_PORT} dnat ip to {to}:{port}"),
        format!("iifname \"{iif}\" {from} tcp dport {port} ct status dnat accept"),
    ]
}

/// Adds the matches both rules start with: the AP's interface, the source, TCP to `port`.
fn add_selector(rule: &mut Rule<'_>, iif: &InterfaceName, from: &ipnet::Ipv4Net, port: u16) {
    rule.add_expr(&nft_expr!(meta iifname));
    rule.add_expr(&nft_expr!(cmp == iif));
    rule.add_expr(&nft_expr!(meta nfproto));
    rule.add_expr(&nft_expr!(cmp == libc::NFPROTO_IPV4 as u8));
    rule.add_expr(&nft_expr!(payload ipv4 saddr));
    if from.prefix_len() < 32 {
        rule.add_expr(&Bitwise::new(
            from.netmask(),
            std::net::Ipv4Addr::UNSPECIFIED,
        ));
    }
    rule.add_expr(&nft_expr!(cmp == from.network()));
    rule.add_expr(&nft_expr!(meta l4proto));
    rule.add_expr(&nft_expr!(cmp == libc::IPPROTO_TCP as u8));
    rule.add_expr(&nft_expr!(payload tcp dport));
    rule.add_expr(&nft_expr!(cmp == port.to_be()));
}

/// Adds AP `index`'s two (regular) chains to `batch`, filled for `redirect`; `flush` empties
/// them first (they exist: a refill). Returns them for the jumps.
fn add_chains<'a>(
    batch: &mut Batch,
    table: &'a Table,
    index: usize,
    ap: &ApConfig,
    redirect: Option<&Redirect>,
    flush: bool,
) -> Result<(Chain<'a>, Chain<'a>), FirewallError> {
    let (in_name, nat_name) = chain_names(index);
    let input = Chain::new(cname(in_name), table);
    let nat = Chain::new(cname(nat_name), table);
    // Adding a chain that is there already is no change.
    batch.add(&input, MsgType::Add);
    batch.add(&nat, MsgType::Add);
    if flush {
        // A rule without a handle, deleted: every rule of the chain (what `nft flush chain` sends).
        batch.add(&Rule::new(&input), MsgType::Del);
        batch.add(&Rule::new(&nat), MsgType::Del);
    }
    if let Some(r) = redirect {
        let iif = CString::new(ap.interface.as_str())
            .map(InterfaceName::Exact)
            .map_err(|_| FirewallError::Name(ap.interface.clone()))?;
        // A blocked tracker is not redirected: the forward chain refuses it as for any other
        // phone. (The proxy's own upstream connection would not pass the forward chain.)
        let blocked = super::firewall_block::existing_set(table, index);
        let mut skip = Rule::new(&nat);
        add_selector(&mut skip, &iif, &r.from, TLS_PORT);
        skip.add_expr(&nft_expr!(payload ipv4 daddr));
        skip.add_expr(&nftnl::expr::Lookup::new(&blocked));
        skip.add_expr(&nft_expr!(verdict return));
        batch.add(&skip, MsgType::Add);
        let mut dnat = Rule::new(&nat);
        add_selector(&mut dnat, &iif, &r.from, TLS_PORT);
        dnat.add_expr(&Immediate::new(*r.to.ip(), Register::Reg1));
        dnat.add_expr(&Immediate::new(r.to.port().to_be(), Register::Reg2));
        dnat.add_expr(&Nat {
            nat_type: NatType::DNat,
            family: ProtoFamily::Ipv4,
            ip_register: Register::Reg1,
            port_register: Some(Register::Reg2),
        });
        batch.add(&dnat, MsgType::Add);
        // Only connections the DNAT sent: nobody reaches the proxy's port directly.
        let mut accept = Rule::new(&input);
        add_selector(&mut accept, &iif, &r.from, r.to.port());
        accept.add_expr(&nft_expr!(ct status));
        accept.add_expr(&Bitwise::new(CT_STATUS_DNAT, 0u32));
        accept.add_expr(&nft_expr!(cmp != 0u32));
        accept.add_expr(&nft_expr!(verdict accept));
        batch.add(&accept, MsgType::Add);
    }
    Ok((input, nat))
}

/// The whole table's part for AP `index`: its chains (filled for `redirect`), and the jumps
/// into them from `input` (before the AP's fence: call this before adding it) and `steer`.
pub(super) fn add_to_table(
    batch: &mut Batch,
    table: &Table,
    chains: (&Chain<'_>, &Chain<'_>),
    index: usize,
    ap: &ApConfig,
    redirect: Option<&Redirect>,
) -> Result<(), FirewallError> {
    let (input, steer) = chains;
    let (tls_in, tls_nat) = add_chains(batch, table, index, ap, redirect, false)?;
    let iif = CString::new(ap.interface.as_str())
        .map(InterfaceName::Exact)
        .map_err(|_| FirewallError::Name(ap.interface.clone()))?;
    for (from, to) in [(input, &tls_in), (steer, &tls_nat)] {
        let mut jump = Rule::new(from);
        jump.add_expr(&nft_expr!(meta iifname));
        jump.add_expr(&nft_expr!(cmp == &iif));
        jump.add_expr(&nft_expr!(verdict jump to.get_name().to_owned()));
        batch.add(&jump, MsgType::Add);
    }
    Ok(())
}

/// The batch that sets AP `index`'s interception to `redirect` (`None`: none) in the running
/// table, touching nothing else; the kernel applies it atomically.
pub fn batch(
    index: usize,
    ap: &ApConfig,
    redirect: Option<&Redirect>,
) -> Result<FinalizedBatch, FirewallError> {
    let mut batch = Batch::new();
    let table = Table::new(TABLE, ProtoFamily::Inet);
    add_chains(&mut batch, &table, index, ap, redirect, true)?;
    Ok(batch.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ap(interface: &str, subnet: &str) -> ApConfig {
        ApConfig {
            name: "ap0".into(),
            ssid: "matador-a".into(),
            passphrase: "lab-passphrase-a".into(),
            interface: interface.into(),
            subnet: subnet.parse().expect("subnet"),
            country: "CH".into(),
            vantage: None,
            ingress: None,
        }
    }

    #[test]
    fn a_wifi_ap_redirects_its_whole_subnet_to_the_proxy() {
        let a = ap("wlan0", "10.77.1.0/24");
        let r = Redirect {
            from: a.subnet,
            to: SocketAddrV4::new(a.gateway(), 18443),
        };
        assert_eq!(
            rules_text(0, &a, &r),
            [
                "iifname \"wlan0\" ip saddr 10.77.1.0/24 tcp dport 443 ip daddr @block0 return",
                "iifname \"wlan0\" ip saddr 10.77.1.0/24 tcp dport 443 dnat ip to 10.77.1.1:18443",
                "iifname \"wlan0\" ip saddr 10.77.1.0/24 tcp dport 18443 ct status dnat accept",
            ]
        );
        assert_eq!(chain_names(0), ("tls_in0".into(), "tls_dnat0".into()));
    }

    #[test]
    fn an_ingress_device_is_redirected_by_its_tunnel_address_alone() {
        let a = ap("wg-in", "10.78.0.0/24");
        let r = Redirect {
            from: "10.78.0.5/32".parse().expect("net"),
            to: SocketAddrV4::new(a.gateway(), 18445),
        };
        let [skip, dnat, accept] = rules_text(2, &a, &r);
        assert_eq!(
            skip,
            "iifname \"wg-in\" ip saddr 10.78.0.5 tcp dport 443 ip daddr @block2 return"
        );
        assert_eq!(
            dnat,
            "iifname \"wg-in\" ip saddr 10.78.0.5 tcp dport 443 dnat ip to 10.78.0.1:18445"
        );
        assert_eq!(
            accept,
            "iifname \"wg-in\" ip saddr 10.78.0.5 tcp dport 18445 ct status dnat accept"
        );
    }

    #[test]
    fn batches_build_without_the_kernel_and_refuse_bad_names() {
        let a = ap("wlan0", "10.77.1.0/24");
        let r = Redirect {
            from: a.subnet,
            to: SocketAddrV4::new(a.gateway(), 18443),
        };
        let on = batch(2, &a, Some(&r)).expect("batch");
        let off = batch(2, &a, None).expect("batch");
        // Two chains and two flushes either way, and the three rules when on.
        assert_eq!(
            on.sequence_numbers().len(),
            off.sequence_numbers().len() + 3
        );
        let bad = ap("wl\0an", "10.77.1.0/24");
        assert!(matches!(
            batch(0, &bad, Some(&r)),
            Err(FirewallError::Name(_))
        ));
    }
}
