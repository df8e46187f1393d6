//! TCP MSS clamping for the tunnels (`tcp flags syn tcp option maxseg size set rt mtu`):
//! a phone announces the MSS of its 1500-byte Wi-Fi link, but its packets cross a WireGuard
//! tunnel with a smaller MTU, and without clamping full-size segments depend on PMTU
//! discovery, which middleboxes often break. nftnl 0.9 has no `rt`, `byteorder` or `exthdr`
//! expression, so the three are written here over `nftnl_sys`, emitting the same bytecode
//! as `nft` for that rule.

use nftnl::expr::{Expression, InterfaceName};
use nftnl::nftnl_sys as sys;
use nftnl::{nft_expr, Chain, Rule};
use std::ffi::CStr;
use std::ptr::NonNull;

// Kernel constants from <linux/netfilter/nf_tables.h> and <net/tcp.h> that the libc crate
// does not carry.
/// `enum nft_rt_keys`: the TCP MSS of the packet's route.
const NFT_RT_TCPMSS: u32 = 3;
/// `enum nft_byteorder_ops`: host to network order.
const NFT_BYTEORDER_HTON: u32 = 1;
/// `enum nft_exthdr_op`: the extension header is a TCP option.
const NFT_EXTHDR_OP_TCPOPT: u32 = 1;
/// TCP option kind 2, maximum segment size.
const TCPOPT_MAXSEG: u8 = 2;
/// The one register these rules use (`NFT_REG_1`).
const REG: u32 = sys::libc::NFT_REG_1 as u32;
/// Offset of the flags byte in the TCP header, and the SYN bit in it.
const TCP_FLAGS_OFFSET: u32 = 13;
const TCP_SYN: u8 = 0x02;

/// Allocates an expression of kind `name` and sets its u32 attributes; `set_u8` sets one u8
/// attribute (libnftnl checks attribute sizes, so a u8 must not be set as a u32).
fn alloc(name: &CStr, u32s: &[(u32, u32)], set_u8: Option<(u32, u8)>) -> NonNull<sys::nftnl_expr> {
    // SAFETY: `name` is NUL-terminated; libnftnl returns null only when out of memory.
    let Some(expr) = NonNull::new(unsafe { sys::nftnl_expr_alloc(name.as_ptr()) }) else {
        // What nftnl's own expressions do: there is no error path in `to_expr`.
        std::process::abort();
    };
    // SAFETY: `expr` is a live expression we own until the rule takes it; libnftnl copies
    // each value, and every attribute is set with its own width (see the callers).
    unsafe {
        for &(attr, value) in u32s {
            sys::nftnl_expr_set_u32(expr.as_ptr(), attr as u16, value);
        }
        if let Some((attr, value)) = set_u8 {
            sys::nftnl_expr_set_u8(expr.as_ptr(), attr as u16, value);
        }
    }
    expr
}

/// `rt load tcpmss => reg 1`: the MSS of the smaller of the packet's route and the route
/// back to its source (host byte order, two bytes).
pub struct RtTcpMss;

impl Expression for RtTcpMss {
    fn to_expr(&self, _rule: &Rule) -> NonNull<sys::nftnl_expr> {
        let attrs = [
            (sys::NFTNL_EXPR_RT_KEY, NFT_RT_TCPMSS),
            (sys::NFTNL_EXPR_RT_DREG, REG),
        ];
        alloc(c"rt", &attrs, None)
    }
}

/// `byteorder reg 1 = hton(reg 1, 2, 2)`: `rt` yields host order, the TCP option is big-endian.
pub struct Hton16;

impl Expression for Hton16 {
    fn to_expr(&self, _rule: &Rule) -> NonNull<sys::nftnl_expr> {
        let attrs = [
            (sys::NFTNL_EXPR_BYTEORDER_SREG, REG),
            (sys::NFTNL_EXPR_BYTEORDER_DREG, REG),
            (sys::NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON),
            (sys::NFTNL_EXPR_BYTEORDER_LEN, 2),
            (sys::NFTNL_EXPR_BYTEORDER_SIZE, 2),
        ];
        alloc(c"byteorder", &attrs, None)
    }
}

/// `exthdr write tcpopt reg 1 => 2b @ 2 + 2`: the size field of the maxseg option. The
/// kernel only ever lowers the MSS with it, and fixes the TCP checksum.
pub struct SetMaxseg;

impl Expression for SetMaxseg {
    fn to_expr(&self, _rule: &Rule) -> NonNull<sys::nftnl_expr> {
        let attrs = [
            (sys::NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT),
            (sys::NFTNL_EXPR_EXTHDR_OFFSET, 2),
            (sys::NFTNL_EXPR_EXTHDR_LEN, 2),
            (sys::NFTNL_EXPR_EXTHDR_SREG, REG),
        ];
        alloc(
            c"exthdr",
            &attrs,
            Some((sys::NFTNL_EXPR_EXTHDR_TYPE, TCPOPT_MAXSEG)),
        )
    }
}

/// The MTU of the tunnel interfaces: wireguard-go's and the kernel's default, which the
/// daemon leaves as it is.
pub const TUNNEL_MTU: u16 = 1420;

/// IPv4 and TCP headers without options: MSS = MTU - 40.
const IPV4_TCP_HEADERS: u16 = 40;

/// Matches TCP SYNs (SYN-ACKs too) whose `iifname`/`oifname` (`meta`) is `tunnel`.
fn syn_through(rule: &mut Rule, meta: nftnl::expr::Meta, tunnel: &InterfaceName, ipv4: bool) {
    rule.add_expr(&meta);
    rule.add_expr(&nft_expr!(cmp == tunnel));
    if ipv4 {
        rule.add_expr(&nft_expr!(meta nfproto));
        rule.add_expr(&nft_expr!(cmp == libc::NFPROTO_IPV4 as u8));
    }
    rule.add_expr(&nft_expr!(meta l4proto));
    rule.add_expr(&nft_expr!(cmp == libc::IPPROTO_TCP as u8));
    // nftnl calls these fields `*_bits`, but passes them on as bytes, as the kernel wants.
    rule.add_expr(&nft_expr!(payload_raw th TCP_FLAGS_OFFSET, 1));
    rule.add_expr(&nft_expr!(bitwise mask TCP_SYN, xor 0u8));
    rule.add_expr(&nft_expr!(cmp != 0u8));
}

/// `oifname <tunnel> tcp flags syn tcp option maxseg size set rt mtu`: a phone's SYN leaves
/// by the tunnel's route, so `rt mtu` is the tunnel's MTU, whatever it is.
pub fn clamp_out<'a>(chain: &'a Chain, tunnel: &InterfaceName) -> Rule<'a> {
    let mut rule = Rule::new(chain);
    syn_through(&mut rule, nftnl::expr::Meta::OifName, tunnel, false);
    rule.add_expr(&RtTcpMss);
    rule.add_expr(&Hton16);
    rule.add_expr(&SetMaxseg);
    rule
}

/// `iifname <tunnel> meta nfproto ipv4 tcp flags syn tcp option maxseg size set <mtu - 40>`.
/// `rt mtu` cannot serve here: it looks at the route to the phone and the route back to the
/// server without the AP's source rule, i.e. the 1500-byte radio and uplink, so the server's
/// SYN-ACK would keep its MSS (the namespace test shows it). The tunnels carry IPv4 only.
pub fn clamp_in<'a>(chain: &'a Chain, tunnel: &InterfaceName, tunnel_mtu: u16) -> Rule<'a> {
    let mut rule = Rule::new(chain);
    syn_through(&mut rule, nftnl::expr::Meta::IifName, tunnel, true);
    let mss = tunnel_mtu.saturating_sub(IPV4_TCP_HEADERS);
    // The option field is big-endian; the register takes the bytes as they are.
    rule.add_expr(&nft_expr!(immediate data mss.to_be()));
    rule.add_expr(&SetMaxseg);
    rule
}
