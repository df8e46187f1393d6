//! Vantage nodes at run time: wireguard-go with keys from `wg`, NAT for tunnel clients
//! (nftables), and a dnsmasq resolver with the node's GeoDNS answers.

use super::spawn::{spawn_in, wait_for_path};
use super::state::{PeerRecord, ProcessRecord};
use crate::netns::{self, Netns, NetnsError};
use crate::plan::{DnsAnswer, NodePlan, Plan, VantagePlan};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Where userspace WireGuard puts its UAPI sockets (shared by all namespaces).
pub const WG_SOCKET_DIR: &str = "/var/run/wireguard";

/// A new WireGuard key pair, made by `wg genkey` / `wg pubkey`.
pub fn keypair() -> Result<(String, String), NetnsError> {
    let private = netns::run_with_stdin(Command::new("wg").arg("genkey"), "")?;
    let public = netns::run_with_stdin(Command::new("wg").arg("pubkey"), &format!("{private}\n"))?;
    Ok((private, public))
}

/// Starts wireguard-go for a vantage node; returns its process record and UAPI socket.
pub fn start_wireguard(
    node: &NodePlan,
    v: &VantagePlan,
    logs: &Path,
) -> Result<(ProcessRecord, PathBuf), NetnsError> {
    let ns = Netns::open(&node.namespace)?;
    let mut cmd = Command::new("wireguard-go");
    cmd.args(["-f", &v.wg_ifname])
        .env("WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD", "1");
    let pid = spawn_in(
        &ns,
        &mut cmd,
        &logs.join(format!("wireguard-go-{}.log", node.name)),
    )?;
    let sock = PathBuf::from(WG_SOCKET_DIR).join(format!("{}.sock", v.wg_ifname));
    Ok((
        ProcessRecord {
            pid,
            what: format!("wireguard-go {}", node.name),
        },
        sock,
    ))
}

/// Gives a started WireGuard interface its key, port, address, NAT, and starts its resolver.
pub fn configure(
    plan: &Plan,
    node: &NodePlan,
    v: &VantagePlan,
    private_key: &str,
    dir: &Path,
) -> Result<ProcessRecord, NetnsError> {
    let sock = PathBuf::from(WG_SOCKET_DIR).join(format!("{}.sock", v.wg_ifname));
    wait_for_path(&sock, Duration::from_secs(10)).map_err(|e| NetnsError::Command {
        command: format!("wireguard-go {}", v.wg_ifname),
        detail: format!("{e} (see {})", dir.join("logs").display()),
    })?;
    let node_dir = dir.join("vantage").join(&node.name);
    std::fs::create_dir_all(&node_dir).map_err(io(&node.name))?;
    let key_path = node_dir.join("private.key");
    write_private(&key_path, private_key).map_err(io(&node.name))?;

    let ns = Netns::open(&node.namespace)?;
    let mut wg = Command::new("wg");
    wg.arg("set")
        .arg(&v.wg_ifname)
        .arg("private-key")
        .arg(&key_path);
    wg.args(["listen-port", &v.listen_port.to_string()]);
    ns.command(&mut wg, false)?;
    netns::run_with_stdin(&mut wg, "")?;
    netns::run_batch(
        Some(&node.namespace),
        &format!(
            "addr add {}/{} dev {}\nlink set {} up\n",
            v.tunnel_addr,
            v.tunnel_net.prefix_len(),
            v.wg_ifname,
            v.wg_ifname
        ),
    )?;

    let uplink = plan
        .links
        .iter()
        .find(|l| plan.nodes[l.b.node].name == node.name)
        .map(|l| l.b.ifname.clone());
    let Some(uplink) = uplink else {
        return Err(NetnsError::Command {
            command: "vantage".into(),
            detail: format!("{} has no uplink", node.name),
        });
    };
    let nat = format!(
        "table ip matador-lab {{\n  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n    ip saddr {} oifname \"{}\" masquerade\n  }}\n}}\n",
        v.tunnel_net, uplink
    );
    nft(&ns, &nat)?;

    let conf = dnsmasq_conf(
        v,
        &dir.join("logs").join(format!("dnsmasq-{}.log", node.name)),
    );
    let conf_path = node_dir.join("dnsmasq.conf");
    std::fs::write(&conf_path, conf).map_err(io(&node.name))?;
    let mut cmd = Command::new("dnsmasq");
    cmd.arg("--keep-in-foreground")
        .arg(format!("--conf-file={}", conf_path.display()));
    let pid = spawn_in(
        &ns,
        &mut cmd,
        &dir.join("logs").join(format!("dnsmasq-{}.out", node.name)),
    )?;
    Ok(ProcessRecord {
        pid,
        what: format!("dnsmasq {}", node.name),
    })
}

/// dnsmasq configuration: authoritative for the lab's names only, never forwarding.
pub fn dnsmasq_conf(v: &VantagePlan, log: &Path) -> String {
    resolver_conf(
        "a MATAdOR lab vantage node",
        &[v.tunnel_addr, Ipv4Addr::LOCALHOST],
        &v.dns,
        log,
    )
}

/// A dnsmasq resolver listening on `listen`, answering `answers` (GeoDNS already applied)
/// and nothing else: the lab must never ask a real resolver.
pub fn resolver_conf(what: &str, listen: &[Ipv4Addr], answers: &[DnsAnswer], log: &Path) -> String {
    let mut c = String::new();
    let _ = writeln!(
        c,
        "# dnsmasq resolver of {what} (generated; GeoDNS answers applied)"
    );
    for line in [
        "no-resolv",
        "no-hosts",
        "no-poll",
        "bind-interfaces",
        "user=root",
        "pid-file=",
        "log-queries",
    ] {
        let _ = writeln!(c, "{line}");
    }
    let _ = writeln!(c, "log-facility={}", log.display());
    for a in listen {
        let _ = writeln!(c, "listen-address={a}");
    }
    for a in answers {
        let _ = writeln!(c, "address=/{}/{}", a.name, a.addr4);
        if let Some(a6) = a.addr6 {
            let _ = writeln!(c, "address=/{}/{}", a.name, a6);
        }
    }
    c
}

/// Loads an nftables ruleset into a namespace (`nft -f -`).
pub fn nft(ns: &Netns, ruleset: &str) -> Result<(), NetnsError> {
    let mut cmd = Command::new("nft");
    cmd.args(["-f", "-"]);
    ns.command(&mut cmd, false)?;
    netns::run_with_stdin(&mut cmd, ruleset).map(drop)
}

fn io(node: &str) -> impl FnOnce(std::io::Error) -> NetnsError + '_ {
    move |source| NetnsError::Sys {
        name: node.to_string(),
        what: "vantage files",
        source,
    }
}

/// Writes a secret (a key, a token) readable by its owner only.
pub(super) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// Adds a WireGuard client to a vantage node and returns its record.
pub fn add_peer(
    node: &NodePlan,
    v: &VantagePlan,
    public_key: &str,
    taken: &[PeerRecord],
) -> Result<PeerRecord, NetnsError> {
    let base = u32::from(v.tunnel_net.network());
    let address = (2..u32::from(u8::MAX))
        .map(|k| Ipv4Addr::from(base + k))
        .find(|a| !taken.iter().any(|p| p.address == *a) && *a != v.tunnel_addr)
        .ok_or_else(|| NetnsError::Command {
            command: "add-peer".into(),
            detail: "tunnel subnet is full".into(),
        })?;
    add_peer_at(node, v, public_key, address)
}

/// Registers a client at a given tunnel address (a lab router's planned management address).
pub fn add_peer_at(
    node: &NodePlan,
    v: &VantagePlan,
    public_key: &str,
    address: Ipv4Addr,
) -> Result<PeerRecord, NetnsError> {
    let ns = Netns::open(&node.namespace)?;
    let mut wg = Command::new("wg");
    wg.args([
        "set",
        &v.wg_ifname,
        "peer",
        public_key,
        "allowed-ips",
        &format!("{address}/32"),
    ]);
    ns.command(&mut wg, false)?;
    netns::run_with_stdin(&mut wg, "")?;
    Ok(PeerRecord {
        public_key: public_key.to_string(),
        address,
    })
}
