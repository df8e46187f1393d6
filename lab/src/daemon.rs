//! The lab daemon: one long-running process that owns both TUN ends of every link and pumps
//! them through their delay queues, and hosts every service's sockets inside the services'
//! namespaces. `lab up` starts it and waits for its `ready` line; `lab down` stops it.

use crate::link::{create_tun, forward_into, pump_link, LinkStats};
use crate::netns::{sysctl, Netns};
use crate::plan::{NodePlan, Plan};
use crate::services::{self, ChatHub, LabCa};
use crate::topology::{NodeRole, ServiceKind};
use std::collections::HashMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Line the daemon prints on stdout once every link and service is in place.
pub const READY_LINE: &str = "ready";

/// Errors that stop the daemon from starting.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The plan file is missing or not a plan.
    #[error("cannot read the plan {path}: {detail}")]
    Plan {
        /// Plan file.
        path: String,
        /// Why.
        detail: String,
    },
    /// Entering a namespace failed.
    #[error(transparent)]
    Netns(#[from] crate::netns::NetnsError),
    /// Creating a device or socket in a namespace failed.
    #[error("node {node}: {what}: {source}")]
    Setup {
        /// Node name.
        node: String,
        /// What was being created.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The lab's certificate authority could not be made.
    #[error("lab CA: {0}")]
    Ca(#[from] services::ServiceError),
    /// The async runtime could not start.
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
}

/// Sysctls every node gets before its interfaces exist: no duplicate address detection
/// (addresses are usable at once), no reverse-path filter (ECMP returns asymmetric).
const COMMON_SYSCTLS: &[(&str, &str)] = &[
    ("net/ipv6/conf/all/accept_dad", "0"),
    ("net/ipv6/conf/default/accept_dad", "0"),
    ("net/ipv4/conf/all/rp_filter", "0"),
    ("net/ipv4/conf/default/rp_filter", "0"),
];

/// Sysctls of forwarding nodes. ICMP rate limits stay at the kernel's defaults on purpose:
/// traceroute has to cope with them as on the real Internet.
const ROUTER_SYSCTLS: &[(&str, &str)] = &[
    ("net/ipv4/ip_forward", "1"),
    ("net/ipv6/conf/all/forwarding", "1"),
    ("net/ipv4/fib_multipath_hash_policy", "1"),
    ("net/ipv6/fib_multipath_hash_policy", "1"),
    ("net/ipv4/icmp_errors_use_inbound_ifaddr", "1"),
];

/// What one namespace contributes: its TUN ends, and the listening sockets of its service.
struct NodeSetup {
    tuns: Vec<(usize, bool, OwnedFd)>,
    sockets: Vec<ServiceSocket>,
}

enum ServiceSocket {
    Tcp(&'static str, std::net::TcpListener),
    Udp(std::net::UdpSocket),
}

/// Runs the daemon: reads the plan, builds links and services, prints `ready`, then serves
/// until SIGTERM or SIGINT.
pub fn run(plan_path: &Path, lab_dir: &Path) -> Result<(), DaemonError> {
    let text = std::fs::read_to_string(plan_path).map_err(|e| DaemonError::Plan {
        path: plan_path.display().to_string(),
        detail: e.to_string(),
    })?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| DaemonError::Plan {
        path: plan_path.display().to_string(),
        detail: e.to_string(),
    })?;

    let mut tuns: HashMap<(usize, bool), OwnedFd> = HashMap::new();
    let mut sockets: Vec<(usize, Vec<ServiceSocket>)> = Vec::new();
    for (i, node) in plan.nodes.iter().enumerate() {
        let setup = setup_node(&plan, i, node)?;
        for (link, is_a, fd) in setup.tuns {
            tuns.insert((link, is_a), fd);
        }
        sockets.push((i, setup.sockets));
    }

    // Phones' ADB endpoints, published on the host's loopback (bound now, so a taken port
    // stops `lab up` with a clear error).
    let mut forwards = Vec::new();
    for node in &plan.nodes {
        let (port, target, what) = match (&node.role, &node.lab_router) {
            (NodeRole::Phone(phone), _) => (
                phone.adb_port,
                SocketAddr::from((Ipv4Addr::LOCALHOST, crate::phone::ADB_PORT)),
                "ADB",
            ),
            // Dial-out control: the API is reached from the controller, through the
            // router's management tunnel; without a controller, on the uplink.
            (_, Some(r)) => match r.management_addr.or(r.uplink_addr) {
                Some(addr) => (
                    r.api_port,
                    SocketAddr::from((addr, crate::plan::ROUTER_API_PORT)),
                    "router API",
                ),
                None => continue,
            },
            _ => continue,
        };
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| setup_err(&node.name, &format!("{what} port 127.0.0.1:{port}"), e))?;
        let from = match (&node.lab_router, &plan.controller) {
            (Some(r), Some(c)) if r.management_addr.is_some() => plan
                .node(c)
                .map(|n| n.namespace.clone())
                .unwrap_or_else(|| node.namespace.clone()),
            _ => node.namespace.clone(),
        };
        let ns = Arc::new(Netns::open(&from)?);
        forwards.push((listener, ns, node.name.clone(), target));
    }

    let ca = LabCa::generate()?;
    crate::atomic::write_atomically(&lab_dir.join("ca.pem"), ca.ca_pem().as_bytes())
        .map_err(|e| setup_err("lab", "ca.pem", e))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    runtime.block_on(async move {
        for (li, link) in plan.links.iter().enumerate() {
            let (Some(a), Some(b)) = (tuns.remove(&(li, true)), tuns.remove(&(li, false))) else {
                continue;
            };
            let delay = Duration::from_secs_f64(link.delay_ms.max(0.0) / 1000.0);
            let name = format!(
                "{}<->{}",
                plan.nodes[link.a.node].name, plan.nodes[link.b.node].name
            );
            tokio::spawn(async move {
                if let Err(e) = pump_link(a, b, delay, Arc::new(LinkStats::default())).await {
                    tracing::error!(link = %name, error = %e, "link pump stopped");
                }
            });
        }
        for (listener, ns, name, target) in forwards {
            let listener = tokio::net::TcpListener::from_std(listener)
                .map_err(|e| setup_err(&name, "port forward", e))?;
            tokio::spawn(async move {
                if let Err(e) = forward_into(listener, ns, target).await {
                    tracing::error!(node = %name, error = %e, "port forward stopped");
                }
            });
        }
        start_services(&plan, &ca, sockets)?;
        println!("{READY_LINE}");
        let _ = std::io::stdout().flush();
        wait_for_stop().await;
        tracing::info!("lab daemon stopping");
        Ok(())
    })
}

fn setup_err(node: &str, what: &str, source: std::io::Error) -> DaemonError {
    DaemonError::Setup {
        node: node.to_string(),
        what: what.to_string(),
        source,
    }
}

/// Inside a node's namespace: sysctls, its TUN ends, and its service's sockets.
fn setup_node(plan: &Plan, index: usize, node: &NodePlan) -> Result<NodeSetup, DaemonError> {
    let ends: Vec<(usize, bool, String)> = plan
        .links
        .iter()
        .enumerate()
        .filter(|(_, l)| l.is_delayed())
        .flat_map(|(li, l)| [(li, true, &l.a), (li, false, &l.b)])
        .filter(|(_, _, e)| e.node == index)
        .map(|(li, is_a, e)| (li, is_a, e.ifname.clone()))
        .collect();
    let forwards = matches!(
        node.role,
        NodeRole::Router { .. } | NodeRole::Vantage | NodeRole::LabRouter { .. }
    );
    let kind = match &node.role {
        NodeRole::Service { kind, .. } => Some(*kind),
        _ => None,
    };
    let name = node.name.clone();
    let ns = Netns::open(&node.namespace)?;
    ns.run(move || -> Result<NodeSetup, DaemonError> {
        let mut sysctls: Vec<(&str, &str)> = COMMON_SYSCTLS.to_vec();
        if forwards {
            sysctls.extend_from_slice(ROUTER_SYSCTLS);
        }
        for (key, value) in sysctls {
            sysctl(key, value).map_err(|e| setup_err(&name, key, e))?;
        }
        let mut tuns = Vec::new();
        for (li, is_a, ifname) in ends {
            let fd =
                create_tun(&ifname).map_err(|e| setup_err(&name, &format!("TUN {ifname}"), e))?;
            tuns.push((li, is_a, fd));
        }
        let sockets = match kind {
            Some(kind) => bind_service(kind).map_err(|e| setup_err(&name, "service socket", e))?,
            None => Vec::new(),
        };
        Ok(NodeSetup { tuns, sockets })
    })?
}

/// Binds a service's well-known ports on every address of its namespace.
fn bind_service(kind: ServiceKind) -> std::io::Result<Vec<ServiceSocket>> {
    let tcp = |port: u16| std::net::TcpListener::bind(("::", port));
    Ok(match kind {
        ServiceKind::Chat => vec![
            ServiceSocket::Tcp("chat", tcp(5222)?),
            ServiceSocket::Tcp("chat-tls", tcp(443)?),
        ],
        ServiceKind::Ntp => vec![ServiceSocket::Udp(std::net::UdpSocket::bind(("::", 123))?)],
        ServiceKind::Analytics => vec![
            ServiceSocket::Tcp("analytics", tcp(80)?),
            ServiceSocket::Tcp("analytics-tls", tcp(443)?),
        ],
        ServiceKind::Whoami => vec![ServiceSocket::Tcp("whoami", tcp(80)?)],
        ServiceKind::Httpdns => vec![ServiceSocket::Tcp("httpdns", tcp(80)?)],
    })
}

fn start_services(
    plan: &Plan,
    ca: &LabCa,
    sockets: Vec<(usize, Vec<ServiceSocket>)>,
) -> Result<(), DaemonError> {
    let mut hubs: HashMap<String, Arc<ChatHub>> = HashMap::new();
    for (i, socks) in sockets {
        let node = &plan.nodes[i];
        let NodeRole::Service { app, names, .. } = &node.role else {
            continue;
        };
        let hub = hubs
            .entry(app.clone().unwrap_or_else(|| node.name.clone()))
            .or_insert_with_key(|app| ChatHub::new(app))
            .clone();
        for sock in socks {
            let service = node.name.clone();
            let io = |e| setup_err(&node.name, "socket", e);
            match sock {
                ServiceSocket::Tcp(what, listener) => {
                    listener.set_nonblocking(true).map_err(io)?;
                    let listener = tokio::net::TcpListener::from_std(listener).map_err(io)?;
                    let result = match what {
                        "chat" => tokio::spawn(services::serve_chat(listener, hub.clone())),
                        "chat-tls" => {
                            let tls = ca.server_config(names)?;
                            tokio::spawn(services::serve_chat_tls(listener, hub.clone(), tls))
                        }
                        "analytics" => tokio::spawn(services::serve_analytics(listener)),
                        "analytics-tls" => {
                            let tls = ca.server_config(names)?;
                            tokio::spawn(services::serve_analytics_tls(listener, tls))
                        }
                        "httpdns" => {
                            tokio::spawn(services::serve_httpdns(listener, httpdns_lookup(plan)))
                        }
                        _ => tokio::spawn(services::serve_whoami(listener)),
                    };
                    tokio::spawn(log_end(service, what, result));
                }
                ServiceSocket::Udp(socket) => {
                    socket.set_nonblocking(true).map_err(io)?;
                    let socket = tokio::net::UdpSocket::from_std(socket).map_err(io)?;
                    tokio::spawn(log_end(
                        service,
                        "ntp",
                        tokio::spawn(services::serve_ntp(socket)),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// HTTP-DNS answers by the region of the node that owns the caller's address (after NAT:
/// the lab router or vantage node the phone's traffic leaves from).
fn httpdns_lookup(plan: &Plan) -> services::HttpDnsLookup {
    let plan = Arc::new(plan.clone());
    Arc::new(move |peer, name| {
        let region = &plan.nodes[plan.owner(peer)?].region;
        plan.dns_for_region(region)
            .iter()
            .find(|a| a.name == name)
            .map(|a| std::net::IpAddr::V4(a.addr4))
    })
}

async fn log_end(
    service: String,
    what: &'static str,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
) {
    match task.await {
        Ok(Ok(())) => tracing::warn!(%service, what, "service stopped"),
        Ok(Err(e)) => tracing::error!(%service, what, error = %e, "service failed"),
        Err(e) => tracing::error!(%service, what, error = %e, "service panicked"),
    }
}

/// Returns on SIGTERM or SIGINT (never, if the signals cannot be watched).
pub async fn wait_for_stop() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        }
        _ => std::future::pending::<()>().await,
    }
}
