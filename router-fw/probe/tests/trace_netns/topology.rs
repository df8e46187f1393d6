//! A tiny routed topology in network namespaces named `mtt-*`, built for one test and removed
//! by its guard's `Drop`; leftovers of a crashed run are removed by prefix first.
//!
//! ```text
//!            ┌ mtt-r2a ┐
//! mtt-s ─ mtt-r1       mtt-r3 ─ mtt-r4 (silent) ─ mtt-d  (targets 198.18.64.0/18, 2001:db8:100::/48)
//!            └ mtt-r2b ┘
//! ```
//! r1 balances per flow (L4 hash) over r2a and r2b. Routers keep the kernel's default ICMP
//! rate limits. Targets in 198.18.127.0/24 and 2001:db8:100:ff::/64 are silent destinations.
//! A userspace layer-3 tunnel (two TUN devices joined by a thread, no link-layer header)
//! links mtt-s and mtt-r1 as 198.18.9.2 → 198.18.9.1; fwmark 42 in mtt-s routes into it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::thread::JoinHandle;

pub use super::netns::in_netns;
use super::netns::{bridge, open_tun};

/// Every namespace of ours starts with this.
pub const PREFIX: &str = "mtt-";

/// Namespaces of the topology.
pub const NAMESPACES: [&str; 7] = [
    "mtt-s", "mtt-r1", "mtt-r2a", "mtt-r2b", "mtt-r3", "mtt-r4", "mtt-d",
];

/// The source namespace.
pub const SRC: &str = "mtt-s";

/// Hop addresses as seen from mtt-s (the address of the interface facing the source).
pub const R1: &str = "198.18.1.1";
/// Upper branch of the balancer.
pub const R2A: &str = "198.18.2.2";
/// Lower branch of the balancer.
pub const R2B: &str = "198.18.3.2";
/// Router after the balancer, reached from either branch; it answers from the address of
/// its route back to the source (Linux's default), whichever branch a probe came through.
pub const R3: &str = "198.18.4.2";
/// r1's end of the tunnel.
pub const R1_TUNNEL: &str = "198.18.9.1";
/// Firewall mark that routes into the tunnel in mtt-s.
pub const TUNNEL_MARK: u32 = 42;
/// The tunnel's interface in mtt-s.
pub const TUNNEL_IF: &str = "s-tun";

static LOCK: Mutex<()> = Mutex::new(());
static CLEAN: Once = Once::new();

/// Variations of the topology (the benchmark's scenarios).
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// r4 never answers with time exceeded.
    pub silent_router: bool,
    /// Routers keep the kernel's default ICMP rate limits (off: every probe is answered).
    pub rate_limits: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            silent_router: true,
            rate_limits: true,
        }
    }
}

/// The topology; removed when dropped.
pub struct Topology {
    _serial: MutexGuard<'static, ()>,
    stop: Arc<AtomicBool>,
    bridge: Option<JoinHandle<()>>,
}

/// Runs `ip` (or any tool) and panics with its output when it fails.
pub fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command inside namespace `ns`.
pub fn ns_sh(ns: &str, args: &[&str]) {
    let mut v = vec!["ip", "netns", "exec", ns];
    v.extend_from_slice(args);
    sh(&v);
}

fn nft(ns: &str, rules: &str) {
    let mut c = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("nft");
    c.stdin.take().unwrap().write_all(rules.as_bytes()).unwrap();
    assert!(c.wait().unwrap().success(), "nft in {ns}");
}

/// Removes every `mtt-` namespace (a crashed run's leftovers).
pub fn remove_leftovers() {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        if name.starts_with(PREFIX) {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// Fails with a clear message when not root.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    assert_eq!(
        uid, 0,
        "these tests build network namespaces and open raw sockets: run them as root (CI does)"
    );
}

fn link(a: &str, a_if: &str, b: &str, b_if: &str) {
    sh(&[
        "ip", "link", "add", a_if, "netns", a, "type", "veth", "peer", "name", b_if, "netns", b,
    ]);
    sh(&["ip", "-n", a, "link", "set", a_if, "up"]);
    sh(&["ip", "-n", b, "link", "set", b_if, "up"]);
}

fn addr(ns: &str, dev: &str, v4: &str, v6: &str) {
    sh(&["ip", "-n", ns, "addr", "add", v4, "dev", dev]);
    sh(&["ip", "-n", ns, "-6", "addr", "add", v6, "dev", dev, "nodad"]);
}

fn route(ns: &str, dst: &str, via: &str) {
    let fam = if dst.contains(':') || via.contains(':') {
        "-6"
    } else {
        "-4"
    };
    sh(&["ip", "-n", ns, fam, "route", "add", dst, "via", via]);
}

impl Topology {
    /// Builds the default topology (serialised: one test at a time uses it).
    pub fn up() -> Topology {
        Topology::with(Options::default())
    }

    /// Builds a variation of the topology.
    pub fn with(options: Options) -> Topology {
        require_root();
        let serial = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        CLEAN.call_once(remove_leftovers);
        remove_leftovers();
        let mut t = Topology {
            _serial: serial,
            stop: Arc::new(AtomicBool::new(false)),
            bridge: None,
        };
        for ns in NAMESPACES {
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            // No duplicate address detection: addresses (link-local ones too) work at once.
            ns_sh(
                ns,
                &[
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                ],
            );
            if ns != SRC && ns != "mtt-d" {
                ns_sh(
                    ns,
                    &[
                        "sysctl",
                        "-qw",
                        "net.ipv4.ip_forward=1",
                        "net.ipv6.conf.all.forwarding=1",
                    ],
                );
            }
            if !options.rate_limits {
                ns_sh(
                    ns,
                    &[
                        "sysctl",
                        "-qw",
                        "net.ipv4.icmp_ratelimit=0",
                        "net.ipv6.icmp.ratelimit=0",
                        "net.ipv4.icmp_msgs_per_sec=1000000",
                        "net.ipv4.icmp_msgs_burst=1000000",
                    ],
                );
            }
        }
        link("mtt-s", "s-r1", "mtt-r1", "r1-s");
        link("mtt-r1", "r1-a", "mtt-r2a", "a-r1");
        link("mtt-r1", "r1-b", "mtt-r2b", "b-r1");
        link("mtt-r2a", "a-r3", "mtt-r3", "r3-a");
        link("mtt-r2b", "b-r3", "mtt-r3", "r3-b");
        link("mtt-r3", "r3-r4", "mtt-r4", "r4-r3");
        link("mtt-r4", "r4-d", "mtt-d", "d-r4");
        addr("mtt-s", "s-r1", "198.18.1.2/24", "2001:db8:1::2/64");
        addr("mtt-r1", "r1-s", "198.18.1.1/24", "2001:db8:1::1/64");
        addr("mtt-r1", "r1-a", "198.18.2.1/24", "2001:db8:2::1/64");
        addr("mtt-r1", "r1-b", "198.18.3.1/24", "2001:db8:3::1/64");
        addr("mtt-r2a", "a-r1", "198.18.2.2/24", "2001:db8:2::2/64");
        addr("mtt-r2a", "a-r3", "198.18.4.1/24", "2001:db8:4::1/64");
        addr("mtt-r2b", "b-r1", "198.18.3.2/24", "2001:db8:3::2/64");
        addr("mtt-r2b", "b-r3", "198.18.5.1/24", "2001:db8:5::1/64");
        addr("mtt-r3", "r3-a", "198.18.4.2/24", "2001:db8:4::2/64");
        addr("mtt-r3", "r3-b", "198.18.5.2/24", "2001:db8:5::2/64");
        addr("mtt-r3", "r3-r4", "198.18.6.1/24", "2001:db8:6::1/64");
        addr("mtt-r4", "r4-r3", "198.18.6.2/24", "2001:db8:6::2/64");
        addr("mtt-r4", "r4-d", "198.18.7.1/24", "2001:db8:7::1/64");
        addr("mtt-d", "d-r4", "198.18.7.2/24", "2001:db8:7::2/64");
        route("mtt-s", "default", "198.18.1.1");
        route("mtt-s", "default", "2001:db8:1::1");
        // The balancer: one route, two next hops, hashed on the 5-tuple.
        ns_sh(
            "mtt-r1",
            &[
                "sysctl",
                "-qw",
                "net.ipv4.fib_multipath_hash_policy=1",
                "net.ipv6.fib_multipath_hash_policy=1",
            ],
        );
        sh(&[
            "ip",
            "-n",
            "mtt-r1",
            "route",
            "add",
            "198.18.64.0/18",
            "nexthop",
            "via",
            "198.18.2.2",
            "nexthop",
            "via",
            "198.18.3.2",
        ]);
        sh(&[
            "ip",
            "-n",
            "mtt-r1",
            "-6",
            "route",
            "add",
            "2001:db8:100::/48",
            "nexthop",
            "via",
            "2001:db8:2::2",
            "nexthop",
            "via",
            "2001:db8:3::2",
        ]);
        for (ns, back4, back6, fwd4, fwd6) in [
            (
                "mtt-r2a",
                "198.18.2.1",
                "2001:db8:2::1",
                "198.18.4.2",
                "2001:db8:4::2",
            ),
            (
                "mtt-r2b",
                "198.18.3.1",
                "2001:db8:3::1",
                "198.18.5.2",
                "2001:db8:5::2",
            ),
            (
                "mtt-r3",
                "198.18.4.1",
                "2001:db8:4::1",
                "198.18.6.2",
                "2001:db8:6::2",
            ),
            (
                "mtt-r4",
                "198.18.6.1",
                "2001:db8:6::1",
                "198.18.7.2",
                "2001:db8:7::2",
            ),
        ] {
            route(ns, "default", back4);
            route(ns, "default", back6);
            route(ns, "198.18.64.0/18", fwd4);
            route(ns, "2001:db8:100::/48", fwd6);
        }
        route("mtt-d", "default", "198.18.7.1");
        route("mtt-d", "default", "2001:db8:7::1");
        // Every address of the target ranges is local to mtt-d.
        sh(&[
            "ip",
            "-n",
            "mtt-d",
            "route",
            "add",
            "local",
            "198.18.64.0/18",
            "dev",
            "lo",
        ]);
        sh(&[
            "ip",
            "-n",
            "mtt-d",
            "-6",
            "route",
            "add",
            "local",
            "2001:db8:100::/48",
            "dev",
            "lo",
        ]);
        // IPv6 answers errors from an address only when it is assigned (not from a local
        // route), so the first IPv6 targets get real addresses.
        for i in 1..=16 {
            sh(&[
                "ip",
                "-n",
                "mtt-d",
                "-6",
                "addr",
                "add",
                &format!("2001:db8:100::{i:x}/128"),
                "dev",
                "lo",
                "nodad",
            ]);
        }
        // r4 never says "time exceeded"; some targets never answer at all.
        if options.silent_router {
            nft("mtt-r4", "table inet mtt {\n chain out {\n  type filter hook output priority 0;\n  icmp type time-exceeded drop\n  icmpv6 type time-exceeded drop\n }\n}\n");
        }
        nft("mtt-d", "table inet mtt {\n chain in {\n  type filter hook input priority 0;\n  ip daddr 198.18.127.0/24 drop\n  ip6 daddr 2001:db8:100:ff::/64 drop\n }\n}\n");
        t.tunnel();
        t
    }

    /// The TUN tunnel between mtt-s and mtt-r1, and the fwmark rule into it.
    fn tunnel(&mut self) {
        let a = in_netns("mtt-s", || open_tun(TUNNEL_IF));
        let b = in_netns("mtt-r1", || open_tun("r1-tun"));
        sh(&[
            "ip",
            "-n",
            "mtt-s",
            "addr",
            "add",
            "198.18.9.2/30",
            "dev",
            TUNNEL_IF,
        ]);
        sh(&["ip", "-n", "mtt-s", "link", "set", TUNNEL_IF, "up"]);
        sh(&[
            "ip",
            "-n",
            "mtt-r1",
            "addr",
            "add",
            "198.18.9.1/30",
            "dev",
            "r1-tun",
        ]);
        sh(&["ip", "-n", "mtt-r1", "link", "set", "r1-tun", "up"]);
        sh(&[
            "ip",
            "-n",
            "mtt-s",
            "rule",
            "add",
            "fwmark",
            &TUNNEL_MARK.to_string(),
            "lookup",
            "100",
        ]);
        sh(&[
            "ip", "-n", "mtt-s", "route", "add", "default", "dev", TUNNEL_IF, "table", "100",
        ]);
        let stop = self.stop.clone();
        self.bridge = Some(std::thread::spawn(move || bridge(a, b, &stop)));
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.bridge.take() {
            let _ = h.join();
        }
        for ns in NAMESPACES {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
