//! Firewall tests (root): the daemon's batch applied inside private network namespaces
//! `mtr-<pid>-*`, read back with `nft`, and a TCP handshake across a router namespace whose
//! tunnel has a low MTU, captured with tcpdump on both sides to see the MSS clamped.

use super::config::ApConfig;
use super::firewall;
use crate::test_host::in_netns;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The namespaces of one test; deleted on drop, also when the test fails.
pub(super) struct Namespaces(pub(super) Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Deletes `mtr-<pid>-*` namespaces whose process is gone (a run that was killed).
fn remove_leftovers() {
    let Ok(list) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name.strip_prefix("mtr-").and_then(|r| r.split('-').next()) else {
            continue;
        };
        if pid.is_empty() || !Path::new("/proc").join(pid).exists() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// Makes fresh namespaces `mtr-<pid>-<tag>-<suffix>` (root only).
pub(super) fn namespaces(tag: &str, suffixes: &[&str]) -> Namespaces {
    assert_eq!(
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() },
        0,
        "this test needs root (CAP_NET_ADMIN) for its own network namespaces: run it as root"
    );
    remove_leftovers();
    let pid = std::process::id();
    let ns = Namespaces(
        suffixes
            .iter()
            .map(|s| format!("mtr-{pid}-{tag}-{s}"))
            .collect(),
    );
    for name in &ns.0 {
        run(&["ip", "netns", "add", name]);
    }
    ns
}

pub(super) fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `ip -n NS ARGS…` (arguments split at spaces).
/// Puts `addr` into set `set` of the daemon's table in namespace `ns`, as dnsmasq's `nftset=`
/// does with an answer for a blocked name.
pub(super) fn add_blocked(ns: &str, set: &str, addr: &str) {
    let element = format!("{{ {addr} }}");
    run(&[
        "ip", "netns", "exec", ns, "nft", "add", "element", "inet", "matador", set, &element,
    ]);
}

pub(super) fn ip(ns: &str, args: &str) {
    let mut argv = vec!["ip", "-n", ns];
    argv.extend(args.split(' '));
    run(&argv);
}

pub(super) fn ap0() -> ApConfig {
    ApConfig {
        name: "ap0".into(),
        ssid: "matador-a".into(),
        passphrase: "lab-passphrase-a".into(),
        interface: "ap0".into(),
        subnet: "10.77.1.0/24".parse().expect("subnet"),
        country: "CH".into(),
        vantage: None,
        ingress: None,
    }
}

/// Installs the daemon's table for `aps` in `ns`, as the daemon does in its own namespace.
fn install(ns: &str, aps: Vec<ApConfig>) {
    install_blocking(ns, aps, Vec::new());
}

/// The same, with `blocking[i]` saying whether AP `i` has a blocklist.
fn install_blocking(ns: &str, aps: Vec<ApConfig>, blocking: Vec<bool>) {
    let fence = firewall::ApiFence {
        interface: "wg-mgmt".into(),
        port: 8443,
    };
    in_netns(ns, move || {
        firewall::batch(&aps, Some(&fence), &blocking).and_then(|b| firewall::send(&b))
    })
    .expect("the kernel takes the batch");
}

#[test]
fn the_table_clamps_the_mss_both_ways_through_each_tunnel() {
    let ns = namespaces("fw", &["r"]);
    let r = ns.0[0].clone();
    let mut second = ap0();
    second.name = "ap1".into();
    second.interface = "ap1".into();
    second.subnet = "10.77.2.0/24".parse().expect("subnet");
    install(&r, vec![ap0(), second]);
    // Twice: the batch replaces a table left by a crashed run instead of doubling it.
    install(&r, vec![ap0()]);
    let listing = run(&[
        "ip", "netns", "exec", &r, "nft", "list", "table", "inet", "matador",
    ]);
    for rule in [
        "oifname \"wg-ap0\" tcp flags syn tcp option maxseg size set rt mtu",
        "iifname \"wg-ap0\" meta nfproto ipv4 tcp flags syn tcp option maxseg size set 1380",
        "tcp dport 8443 iifname != \"wg-mgmt\" iifname != \"lo\" counter packets 0 bytes 0 drop",
    ] {
        assert!(listing.contains(rule), "no `{rule}` in\n{listing}");
    }
    assert!(
        !listing.contains("wg-ap1"),
        "a stale AP survived:\n{listing}"
    );
    assert!(
        listing.contains("chain mss") && listing.contains("hook forward priority mangle"),
        "{listing}"
    );
    in_netns(&r, || firewall::send(&firewall::delete_batch())).expect("delete");
    let gone = Command::new("ip")
        .args([
            "netns", "exec", &r, "nft", "list", "table", "inet", "matador",
        ])
        .output()
        .expect("nft");
    assert!(!gone.status.success(), "the table is still there");
}

#[test]
fn a_blocking_ap_rejects_its_set_and_steers_its_dns_to_its_own_dnsmasq() {
    let ns = namespaces("fwb", &["r"]);
    let r = ns.0[0].clone();
    let mut second = ap0();
    second.name = "ap1".into();
    second.interface = "ap1".into();
    second.subnet = "10.77.2.0/24".parse().expect("subnet");
    install_blocking(&r, vec![ap0(), second], vec![true, false]);
    // What dnsmasq's `nftset=` does with an answer.
    add_blocked(&r, "block0", "192.0.2.7");
    let listing = run(&[
        "ip", "netns", "exec", &r, "nft", "list", "table", "inet", "matador",
    ]);
    for rule in [
        "set block0 {",
        "elements = { 192.0.2.7 }",
        "set block1 {",
        "iifname \"ap0\" meta l4proto tcp ip daddr @block0 counter packets 0 bytes 0 reject with tcp reset",
        "iifname \"ap0\" ip daddr @block0 counter packets 0 bytes 0 reject with icmpx admin-prohibited",
        "iifname \"ap0\" meta nfproto ipv4 udp dport 53 dnat ip to 10.77.1.1",
        "iifname \"ap0\" meta nfproto ipv4 tcp dport 53 dnat ip to 10.77.1.1",
        "iifname \"ap0\" udp dport 53 accept",
    ] {
        assert!(listing.contains(rule), "no `{rule}` in\n{listing}");
    }
    // The AP without a blocklist keeps its phones' DNS going straight to their resolver.
    assert!(!listing.contains("dnat ip to 10.77.2.1"), "{listing}");
    assert!(
        !listing.contains("iifname \"ap1\" udp dport 53 accept"),
        "{listing}"
    );
}

/// `tcpdump -c 1` in `ns` on `iface` for packets matching `filter`, started and listening.
fn tcpdump(ns: &str, iface: &str, filter: &str) -> Child {
    let mut child = Command::new("ip")
        .args([
            "netns", "exec", ns, "tcpdump", "-i", iface, "-n", "-l", "-v", "-c", "1",
        ])
        .arg(filter)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump (apt-get install tcpdump)");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening on") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(10)).is_err() {
        let _ = child.kill();
        panic!("tcpdump in {ns} did not start listening");
    }
    child
}

/// The MSS option of the one packet tcpdump printed.
fn captured_mss(mut child: Child) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("tcpdump").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tcpdump saw no packet");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut text = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut text)
        .expect("tcpdump output");
    let mss = text.split("mss ").nth(1).map(|r| {
        r.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
    });
    mss.and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("no MSS option in {text}"))
}

/// Phone `p` — router `r` — server `s` in fresh namespaces, routed as the daemon routes an
/// AP: a source rule sends the AP subnet (10.77.1.0/24 on `ap0`) to table 1000, whose
/// default leads into `wg-ap0` (MTU `tunnel_mtu`, the server behind it holding
/// 198.51.100.10); the main table leads out of an uplink. `ap_route`: table 1000 also has
/// the AP subnet's own route (the daemon adds it for the interception proxy's answers).
pub(super) fn phone_router_server(
    tag: &str,
    tunnel_mtu: u32,
    ap_route: bool,
) -> (Namespaces, String, String, String) {
    let ns = namespaces(tag, &["p", "r", "s"]);
    let (p, r, s) = (ns.0[0].clone(), ns.0[1].clone(), ns.0[2].clone());
    ip(
        &r,
        &format!("link add ap0 type veth peer name phone0 netns {p}"),
    );
    ip(
        &r,
        &format!("link add wg-ap0 mtu {tunnel_mtu} type veth peer name s0 netns {s}"),
    );
    // The uplink: a veth pair inside the router (no dummy module needed).
    ip(&r, "link add up0 type veth peer name up1");
    ip(&r, "addr add 10.77.1.1/24 dev ap0");
    ip(&r, "addr add 172.31.0.1/30 dev wg-ap0");
    ip(&r, "addr add 203.0.113.1/24 dev up0");
    for dev in ["ap0", "wg-ap0", "up0", "up1"] {
        ip(&r, &format!("link set {dev} up"));
    }
    ip(&r, "route add default via 203.0.113.254 dev up0");
    ip(&r, "route add default via 172.31.0.2 dev wg-ap0 table 1000");
    if ap_route {
        ip(&r, "route add 10.77.1.0/24 dev ap0 table 1000");
    }
    ip(&r, "rule add from 10.77.1.0/24 lookup 1000 priority 1000");
    run(&[
        "ip",
        "netns",
        "exec",
        &r,
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
    ]);
    ip(&p, "addr add 10.77.1.2/24 dev phone0");
    ip(&p, "link set phone0 up");
    ip(&p, "route add default via 10.77.1.1");
    ip(&s, "addr add 172.31.0.2/30 dev s0");
    ip(&s, "addr add 198.51.100.10/32 dev s0");
    ip(&s, "link set s0 up");
    (ns, p, r, s)
}

/// Phone `p` — router `r` — server `s`. The router routes the AP subnet into `wg-ap0` by a
/// source rule (as the daemon does), and that link has the WireGuard MTU 1420 while every
/// other link has 1500; its main table leads out of a 1500-byte uplink.
#[test]
fn a_syn_through_the_low_mtu_tunnel_has_its_mss_clamped() {
    let (_ns, p, r, s) = phone_router_server("mss", 1420, false);
    install(&r, vec![ap0()]);

    let server: SocketAddr = "198.51.100.10:8080".parse().expect("address");
    let listener = in_netns(&s, move || TcpListener::bind(server)).expect("listen");
    let syn = tcpdump(&s, "s0", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn");
    let syn_ack = tcpdump(
        &p,
        "phone0",
        "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)",
    );
    let stream = in_netns(&p, move || {
        TcpStream::connect_timeout(&server, Duration::from_secs(5))
    })
    .expect("the phone connects through the router");
    // The phone announced 1460 (1500-byte link); the tunnel carries 1420 - 40.
    assert_eq!(captured_mss(syn), 1380, "the SYN beyond the tunnel");
    // The server announced 1460 too; the phone must not send more than the tunnel carries.
    assert_eq!(captured_mss(syn_ack), 1380, "the SYN-ACK at the phone");
    drop((stream, listener));
}
