//! Tracker blocking in the daemon's table: per AP a named set `block<i>` of IPv4 addresses
//! that dnsmasq fills (`nftset=`) with the answers for the AP's blocked domains, a forward
//! rule that rejects the AP's traffic to them (TCP with a reset, the rest with ICMP
//! "administratively prohibited", so apps fail fast instead of hanging on timeouts), and,
//! for a Wi-Fi AP with a blocklist, a DNAT that steers its phones' DNS (addressed to the
//! vantage node's resolver) to the AP's own dnsmasq, which forwards it through the same
//! tunnel. The phones see the same resolver answering; only the router learns the addresses.

use nftnl::expr::{Immediate, InterfaceName, Lookup, Nat, NatType, Register};
use nftnl::set::Set;
use nftnl::{nft_expr, Batch, Chain, MsgType, ProtoFamily, Rule, Table};
use std::ffi::CString;
use std::net::Ipv4Addr;

/// Name of AP `index`'s set of blocked addresses (what dnsmasq's `nftset=` names).
pub fn set_name(index: usize) -> String {
    format!("block{index}")
}

/// Adds AP `index`'s (empty) set of blocked addresses to the batch.
pub(super) fn add_set<'a>(batch: &mut Batch, table: &'a Table, index: usize) -> Set<'a, Ipv4Addr> {
    let set = existing_set(table, index);
    batch.add(&set, MsgType::Add);
    set
}

/// AP `index`'s set of blocked addresses, to look up by name (the kernel finds a set by its
/// name first, so a rule may refer to the set a table already has, or one added earlier in
/// the same batch).
pub(super) fn existing_set(table: &Table, index: usize) -> Set<'_, Ipv4Addr> {
    // A name of ASCII digits and letters: never an interior NUL.
    let name = CString::new(set_name(index)).unwrap_or_default();
    let id = u32::try_from(index).unwrap_or(u32::MAX - 1) + 1;
    Set::<Ipv4Addr>::new_named(&name, id, table, ProtoFamily::Inet)
}

/// Rejects what the AP's phones send to a blocked address (two rules: TCP, then the rest).
pub(super) fn add_reject(
    batch: &mut Batch,
    forward: &Chain,
    radio: &InterfaceName,
    set: &Set<'_, Ipv4Addr>,
) {
    use nftnl::expr::{IcmpCode, RejectionType, Verdict};
    for tcp in [true, false] {
        let mut rule = Rule::new(forward);
        rule.add_expr(&nft_expr!(meta iifname));
        rule.add_expr(&nft_expr!(cmp == radio));
        rule.add_expr(&nft_expr!(meta nfproto));
        rule.add_expr(&nft_expr!(cmp == libc::NFPROTO_IPV4 as u8));
        if tcp {
            rule.add_expr(&nft_expr!(meta l4proto));
            rule.add_expr(&nft_expr!(cmp == libc::IPPROTO_TCP as u8));
        }
        rule.add_expr(&nft_expr!(payload ipv4 daddr));
        rule.add_expr(&Lookup::new(set));
        rule.add_expr(&nft_expr!(counter));
        let how = if tcp {
            RejectionType::TcpRst
        } else {
            RejectionType::Icmp(IcmpCode::AdminProhibited)
        };
        rule.add_expr(&Verdict::Reject(how));
        batch.add(&rule, MsgType::Add);
    }
}

/// Steers the AP's DNS (UDP and TCP port 53, to any address) to `gateway`, where the AP's
/// dnsmasq answers; conntrack rewrites the answers back, so the phone sees its own resolver.
pub(super) fn add_dns_steer(
    batch: &mut Batch,
    steer: &Chain,
    radio: &InterfaceName,
    gateway: Ipv4Addr,
) {
    for proto in [libc::IPPROTO_UDP as u8, libc::IPPROTO_TCP as u8] {
        let mut rule = Rule::new(steer);
        rule.add_expr(&nft_expr!(meta iifname));
        rule.add_expr(&nft_expr!(cmp == radio));
        rule.add_expr(&nft_expr!(meta nfproto));
        rule.add_expr(&nft_expr!(cmp == libc::NFPROTO_IPV4 as u8));
        rule.add_expr(&nft_expr!(meta l4proto));
        rule.add_expr(&nft_expr!(cmp == proto));
        if proto == libc::IPPROTO_TCP as u8 {
            rule.add_expr(&nft_expr!(payload tcp dport));
        } else {
            rule.add_expr(&nft_expr!(payload udp dport));
        }
        rule.add_expr(&nft_expr!(cmp == 53u16.to_be()));
        rule.add_expr(&Immediate::new(gateway, Register::Reg1));
        rule.add_expr(&Nat {
            nat_type: NatType::DNat,
            family: ProtoFamily::Ipv4,
            ip_register: Register::Reg1,
            port_register: None,
        });
        batch.add(&rule, MsgType::Add);
    }
}
