//! Reading a running lab: `status` (what a router needs to point at a vantage node),
//! `exec` (a command inside a node), `add-peer` (a wg-quick config for a new client).

use super::state::{alive, LabLock, LabState};
use super::up::is_running;
use super::vantage;
use super::LabError;
use crate::netns::Netns;
use crate::topology::{NodeRole, ServiceKind};
use serde::Serialize;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// The running lab, as `lab status --json` prints it.
#[derive(Debug, Serialize)]
pub struct LabStatus {
    /// Whether every namespace and process of the lab is there.
    pub up: bool,
    /// Topology name.
    pub topology: String,
    /// Geolocation database of the lab's address plan.
    pub mmdb: PathBuf,
    /// The lab CA's certificate (PEM).
    pub ca_pem: PathBuf,
    /// Seconds bring-up took.
    pub up_seconds: f64,
    /// Vantage nodes: what a `wg-quick` peer config needs.
    pub vantage_nodes: Vec<VantageStatus>,
    /// Services and their addresses.
    pub services: Vec<ServiceStatus>,
    /// Transit routers.
    pub routers: Vec<RouterStatus>,
    /// Lab routers and their access points.
    pub lab_routers: Vec<LabRouterStatus>,
    /// Emulated phones and where their ADB endpoints are published.
    pub phones: Vec<PhoneStatus>,
    /// Processes the lab started, and whether each is alive.
    pub processes: Vec<ProcessStatus>,
}

/// One vantage node.
#[derive(Debug, Serialize)]
pub struct VantageStatus {
    /// Node name.
    pub name: String,
    /// Country (ISO code).
    pub country: String,
    /// City.
    pub city: String,
    /// Namespace.
    pub namespace: String,
    /// WireGuard public key.
    pub public_key: String,
    /// WireGuard endpoint (`address:port`).
    pub endpoint: String,
    /// Resolver address, reachable through the tunnel.
    pub resolver: Ipv4Addr,
    /// Tunnel subnet.
    pub tunnel_net: String,
    /// Public IPv6 address, if any.
    pub address6: Option<Ipv6Addr>,
}

/// One service.
#[derive(Debug, Serialize)]
pub struct ServiceStatus {
    /// Node name.
    pub name: String,
    /// What it serves.
    pub kind: ServiceKind,
    /// App it belongs to.
    pub app: Option<String>,
    /// Country (ISO code).
    pub country: String,
    /// DNS names.
    pub names: Vec<String>,
    /// GeoDNS regions (empty: default answer).
    pub regions: Vec<String>,
    /// Public IPv4 address.
    pub address: Option<Ipv4Addr>,
    /// Public IPv6 address.
    pub address6: Option<Ipv6Addr>,
}

/// One transit router.
#[derive(Debug, Serialize)]
pub struct RouterStatus {
    /// Node name.
    pub name: String,
    /// Country it is in.
    pub country: String,
    /// Country the lab's geolocation database claims.
    pub geo_country: String,
    /// Silent to probes.
    pub silent: bool,
    /// Its interface addresses.
    pub addresses: Vec<String>,
}

/// One lab router.
#[derive(Debug, Serialize)]
pub struct LabRouterStatus {
    /// Node name.
    pub name: String,
    /// Country it stands in.
    pub country: String,
    /// Namespace.
    pub namespace: String,
    /// Public address of its uplink.
    pub address: Option<Ipv4Addr>,
    /// SSID of its access point.
    pub ssid: String,
    /// WPA2 passphrase of its access point (a lab secret, shown so scripts can join).
    pub passphrase: String,
    /// Access point subnet.
    pub subnet: String,
    /// Its address on that subnet.
    pub gateway: Ipv4Addr,
    /// The generated hostapd configuration.
    pub hostapd_conf: PathBuf,
    /// Phone behind it.
    pub phone: Option<String>,
    /// Vantage node its access point tunnels to.
    pub vantage: Option<String>,
    /// Its address in the controller's management tunnel, where its API listens (none
    /// without a controller: then the API is on the uplink address).
    #[serde(default)]
    pub management: Option<Ipv4Addr>,
    /// Its API, published on this host: `https://127.0.0.1:<port>/v1/…`.
    pub api: String,
    /// File with the API token.
    pub api_token_file: PathBuf,
    /// File with the SHA-256 fingerprint of the API's certificate (to pin).
    pub api_fingerprint_file: PathBuf,
    /// Its WireGuard ingress, if it has one: the AP's name in the router API, and the
    /// endpoint phones dial (`<uplink address>:<port>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressStatus>,
}

/// A lab router's WireGuard ingress.
#[derive(Debug, Serialize)]
pub struct IngressStatus {
    /// The ingress AP's name in the router API.
    pub ap: String,
    /// Its subnet.
    pub subnet: String,
    /// Where phones send their WireGuard packets.
    pub endpoint: String,
}

/// One emulated phone.
#[derive(Debug, Serialize)]
pub struct PhoneStatus {
    /// Node name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Lab router in front of it.
    pub router: String,
    /// `ro.product.model`.
    pub model: String,
    /// Port on 127.0.0.1 of this host where its ADB endpoint is published.
    pub adb_port: u16,
    /// What `adb connect` takes.
    pub adb: String,
    /// Installed apps (package names).
    pub packages: Vec<String>,
    /// IMEI (`dumpsys iphonesubinfo`), what a privacy analysis looks for in its traffic.
    pub imei: String,
    /// `wifi` (on its router's access point) or `cellular` (public address, router's ingress).
    pub network: &'static str,
}

/// A process of the lab.
#[derive(Debug, Serialize)]
pub struct ProcessStatus {
    /// Process id.
    pub pid: i32,
    /// What it is.
    pub what: String,
    /// Whether it runs.
    pub alive: bool,
}

/// The running lab's status, or `NotUp`.
pub fn status(dir: &Path) -> Result<LabStatus, LabError> {
    let state = LabState::load(dir).ok_or(LabError::NotUp)?;
    let plan = &state.plan;
    let mut s = LabStatus {
        up: state.complete && is_running(&state),
        topology: plan.name.clone(),
        mmdb: state.mmdb.clone(),
        ca_pem: state.ca_pem.clone(),
        up_seconds: state.up_seconds,
        vantage_nodes: Vec::new(),
        services: Vec::new(),
        routers: Vec::new(),
        lab_routers: Vec::new(),
        phones: Vec::new(),
        processes: state
            .processes
            .iter()
            .map(|p| ProcessStatus {
                pid: p.pid,
                what: p.what.clone(),
                alive: alive(p.pid),
            })
            .collect(),
    };
    for (i, n) in plan.nodes.iter().enumerate() {
        match &n.role {
            NodeRole::Vantage => {
                let Some(v) = &n.vantage else { continue };
                let key = state
                    .vantage
                    .iter()
                    .find(|r| r.node == n.name)
                    .map(|r| r.public_key.clone());
                s.vantage_nodes.push(VantageStatus {
                    name: n.name.clone(),
                    country: n.country.clone(),
                    city: n.city.name.clone(),
                    namespace: n.namespace.clone(),
                    public_key: key.unwrap_or_default(),
                    endpoint: format!("{}:{}", v.public_addr, v.listen_port),
                    resolver: v.tunnel_addr,
                    tunnel_net: v.tunnel_net.to_string(),
                    address6: plan.public_addr6(i),
                });
            }
            NodeRole::Service {
                kind,
                app,
                names,
                regions,
            } => s.services.push(ServiceStatus {
                name: n.name.clone(),
                kind: *kind,
                app: app.clone(),
                country: n.country.clone(),
                names: names.clone(),
                regions: regions.clone(),
                address: plan.public_addr(i),
                address6: plan.public_addr6(i),
            }),
            NodeRole::Router { silent } => s.routers.push(RouterStatus {
                name: n.name.clone(),
                country: n.country.clone(),
                geo_country: n.geo_country.clone(),
                silent: *silent,
                addresses: plan.addresses_of(i).iter().map(|a| a.to_string()).collect(),
            }),
            NodeRole::LabRouter { ap, .. } => {
                let gateway = n.lab_router.as_ref().map(|r| r.gateway);
                s.lab_routers.push(LabRouterStatus {
                    name: n.name.clone(),
                    country: n.country.clone(),
                    namespace: n.namespace.clone(),
                    address: plan.public_addr(i),
                    ssid: ap.ssid.clone(),
                    passphrase: ap.passphrase.clone(),
                    subnet: ap.subnet.to_string(),
                    gateway: gateway.unwrap_or(Ipv4Addr::UNSPECIFIED),
                    hostapd_conf: super::lab_router::hostapd_conf_path(dir, &n.name),
                    phone: n.lab_router.as_ref().and_then(|r| r.phone.clone()),
                    vantage: n.lab_router.as_ref().and_then(|r| r.vantage.clone()),
                    management: n.lab_router.as_ref().and_then(|r| r.management_addr),
                    api: format!(
                        "127.0.0.1:{}",
                        n.lab_router.as_ref().map_or(0, |r| r.api_port)
                    ),
                    api_token_file: super::lab_router::router_dir(dir, &n.name).join("token"),
                    api_fingerprint_file: super::lab_router::router_dir(dir, &n.name)
                        .join("state")
                        .join("api-fingerprint"),
                    ingress: ap
                        .ingress
                        .zip(plan.public_addr(i))
                        .map(|(net, addr)| IngressStatus {
                            ap: super::lab_router::ingress_ap(&n.name),
                            subnet: net.to_string(),
                            endpoint: format!("{addr}:{}", super::lab_router::INGRESS_PORT),
                        }),
                })
            }
            NodeRole::Phone(p) => s.phones.push(PhoneStatus {
                name: n.name.clone(),
                namespace: n.namespace.clone(),
                router: p.router.clone(),
                model: p.model.clone(),
                adb_port: p.adb_port,
                adb: format!("127.0.0.1:{}", p.adb_port),
                imei: p.imei.clone(),
                network: if p.is_cellular() { "cellular" } else { "wifi" },
                packages: p
                    .apps
                    .iter()
                    .filter_map(|a| plan.app(a))
                    .map(|a| a.package.clone())
                    .collect(),
            }),
        }
    }
    Ok(s)
}

/// Runs a command inside a node's namespace with this terminal; returns its exit code.
pub fn exec(dir: &Path, node: &str, argv: &[String]) -> Result<i32, LabError> {
    let state = LabState::load(dir).ok_or(LabError::NotUp)?;
    let n = state
        .plan
        .node(node)
        .ok_or_else(|| LabError::NoSuchNode(node.to_string()))?;
    let Some((program, args)) = argv.split_first() else {
        return Err(LabError::Daemon("exec needs a command".into()));
    };
    let ns = Netns::open(&n.namespace)?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    ns.command(&mut cmd, false)?;
    let status = cmd.status().map_err(|e| LabError::Io {
        what: "cannot run the command in the node",
        source: e,
    })?;
    Ok(status.code().unwrap_or(128 + 9))
}

/// A client configuration for a vantage node, in `wg-quick` format.
#[derive(Debug, Serialize)]
pub struct PeerConfig {
    /// Vantage node.
    pub vantage: String,
    /// The client's tunnel address.
    pub address: Ipv4Addr,
    /// The client's public key.
    pub public_key: String,
    /// The whole `wg-quick` file (with the private key when the lab made the key pair).
    pub wg_quick: String,
}

/// Registers a client with a vantage node (a new key pair unless `public_key` is given).
pub fn add_peer(dir: &Path, node: &str, public_key: Option<&str>) -> Result<PeerConfig, LabError> {
    let _lock = LabLock::take(dir).map_err(|e| LabError::Io {
        what: "lab lock",
        source: e,
    })?;
    let mut state = LabState::load(dir).ok_or(LabError::NotUp)?;
    let config = register_peer(&mut state, node, public_key)?;
    state.save(dir).map_err(|e| LabError::Io {
        what: "state file",
        source: e,
    })?;
    Ok(config)
}

/// Adds a client to a vantage node of the lab in `state` (the caller saves the state).
pub fn register_peer(
    state: &mut LabState,
    node: &str,
    public_key: Option<&str>,
) -> Result<PeerConfig, LabError> {
    let n = state
        .plan
        .node(node)
        .cloned()
        .ok_or_else(|| LabError::NoSuchNode(node.to_string()))?;
    let v = n
        .vantage
        .clone()
        .ok_or_else(|| LabError::NoSuchNode(format!("{node} (not a vantage node)")))?;
    let (private, public) = match public_key {
        Some(k) => (None, k.to_string()),
        None => {
            let (private, public) = vantage::keypair()?;
            (Some(private), public)
        }
    };
    let record = state
        .vantage
        .iter_mut()
        .find(|r| r.node == node)
        .ok_or(LabError::NotUp)?;
    let peer = vantage::add_peer(&n, &v, &public, &record.peers)?;
    record.peers.push(peer.clone());
    let server_key = record.public_key.clone();
    let wg_quick = format!(
        "# MATAdOR lab client of vantage node {node} ({})\n[Interface]\nPrivateKey = {}\nAddress = {}/32\nDNS = {}\n\n\
         [Peer]\nPublicKey = {server_key}\nEndpoint = {}:{}\nAllowedIPs = 0.0.0.0/0\nPersistentKeepalive = 25\n",
        n.country,
        private.as_deref().unwrap_or("<the client's private key>"),
        peer.address,
        v.tunnel_addr,
        v.public_addr,
        v.listen_port,
    );
    Ok(PeerConfig {
        vantage: node.to_string(),
        address: peer.address,
        public_key: public,
        wg_quick,
    })
}
