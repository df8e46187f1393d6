//! The lab's build plan: every namespace, interface, address and route, computed from a
//! checked topology by plain functions. The plan is what `lab up` builds and what the state
//! file records, so `lab status` and the tests read the same facts the lab was built from.

mod address;
mod routing;
mod walk;

use crate::topology::{AccessPoint, App, City, NodeRole, Topology, TopologyError};
use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Prefix of every namespace (and of nothing else) the lab creates.
pub const NAMESPACE_PREFIX: &str = "mtd-";
/// UDP port of every vantage node's WireGuard endpoint.
pub const WIREGUARD_PORT: u16 = 51820;

/// Everything `lab up` builds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// Topology name.
    pub name: String,
    /// One entry per namespace.
    pub nodes: Vec<NodePlan>,
    /// One entry per delayed link.
    pub links: Vec<LinkPlan>,
    /// Messenger apps the phones can have.
    #[serde(default)]
    pub apps: Vec<App>,
    /// GeoDNS answers of each region, for services that answer by the caller's region.
    #[serde(default)]
    pub region_dns: Vec<(String, Vec<DnsAnswer>)>,
    /// The vantage node lab routers dial for management, if any.
    #[serde(default)]
    pub controller: Option<String>,
}

/// One node: a namespace with its interfaces' routes and its role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodePlan {
    /// Node name.
    pub name: String,
    /// Namespace name (`mtd-<name>`).
    pub namespace: String,
    /// What the node is.
    #[serde(flatten)]
    pub role: NodeRole,
    /// Country it is really in (ground truth).
    pub country: String,
    /// Region of that country.
    pub region: String,
    /// Where it is.
    pub city: City,
    /// Country the lab's geolocation database gives for its addresses.
    pub geo_country: String,
    /// Routes to install, besides the connected ones.
    pub routes: Vec<Route>,
    /// WireGuard, NAT and resolver settings of a vantage node.
    pub vantage: Option<VantagePlan>,
    /// Access point, DHCP and uplink settings of a lab router.
    #[serde(default)]
    pub lab_router: Option<LabRouterPlan>,
}

/// A lab router's access point side and uplink.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabRouterPlan {
    /// Interface of the simulated radio toward the phone.
    pub radio_ifname: String,
    /// Its address on the access point's subnet (the phones' gateway and resolver).
    pub gateway: Ipv4Addr,
    /// The access point.
    pub ap: AccessPoint,
    /// Uplink interface (the tunnel goes out there).
    pub uplink: String,
    /// Public address of the uplink.
    pub uplink_addr: Option<Ipv4Addr>,
    /// Phone on the access point's Wi-Fi, if any (a cellular phone joining its ingress is not).
    pub phone: Option<String>,
    /// Vantage node the access point tunnels to.
    pub vantage: Option<String>,
    /// Port on the host's 127.0.0.1 where the router's API is published.
    pub api_port: u16,
    /// Its address in the controller's management tunnel (the API listens there only).
    #[serde(default)]
    pub management_addr: Option<Ipv4Addr>,
}

/// Lab router `k`'s management address is the controller's tunnel subnet `.FIRST + k`
/// (the addresses below stay free for `lab add-peer` on the same node).
pub const FIRST_MANAGEMENT_HOST: u32 = 200;

/// Port of the router daemon's API on its management address.
pub const ROUTER_API_PORT: u16 = 8443;
/// First port on the host's 127.0.0.1 where lab routers' APIs are published.
pub const FIRST_API_FORWARD: u16 = 28440;

/// Interface name of the simulated Wi-Fi link, on the router and on the phone alike.
pub const RADIO_IFNAME: &str = "wlan0";

/// A link between two namespaces; delayed ones are pumped through a queue by the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkPlan {
    /// One end.
    pub a: LinkEnd,
    /// The other end.
    pub b: LinkEnd,
    /// One-way delay in milliseconds, both directions.
    pub delay_ms: f64,
}

impl LinkPlan {
    /// Whether the link needs the daemon's delay queue (TUN pair); a link without delay is
    /// a kernel veth pair: Ethernet, as at a real network edge, and no pumping at all.
    pub fn is_delayed(&self) -> bool {
        self.delay_ms > 0.0
    }
}

/// One end of a link: a TUN (delayed link) or veth interface in a node's namespace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkEnd {
    /// Index into `Plan::nodes`.
    pub node: usize,
    /// Interface name (`t-<peer node>`).
    pub ifname: String,
    /// IPv4 address (the link is a /31).
    pub addr4: Ipv4Addr,
    /// IPv6 address (the link is a /64), if the link carries IPv6.
    pub addr6: Option<Ipv6Addr>,
}

/// A route: destination and one or more (ECMP) next hops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination prefix.
    pub dest: IpNet,
    /// Next hops; more than one means equal-cost multipath.
    pub via: Vec<NextHop>,
}

/// A next hop: the neighbour's address on a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextHop {
    /// Outgoing interface.
    pub ifname: String,
    /// Neighbour's address on that link.
    pub gateway: IpAddr,
}

/// A vantage node's tunnel endpoint, NAT and resolver.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VantagePlan {
    /// WireGuard interface name, unique across the lab (UAPI sockets are shared).
    pub wg_ifname: String,
    /// Public address: the WireGuard endpoint and the NAT source.
    pub public_addr: Ipv4Addr,
    /// UDP port of the WireGuard endpoint.
    pub listen_port: u16,
    /// Tunnel subnet handed to clients.
    pub tunnel_net: Ipv4Net,
    /// The node's own tunnel address, which is also its resolver's address.
    pub tunnel_addr: Ipv4Addr,
    /// What this node's resolver answers (GeoDNS already applied).
    pub dns: Vec<DnsAnswer>,
}

/// A DNS name and the addresses a resolver answers for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsAnswer {
    /// Fully qualified name.
    pub name: String,
    /// Service node answering it.
    pub service: String,
    /// A record.
    pub addr4: Ipv4Addr,
    /// AAAA record, if the service has IPv6.
    pub addr6: Option<Ipv6Addr>,
}

impl Plan {
    /// Computes addresses, routes, vantage settings and DNS answers for a topology.
    pub fn build(topo: &Topology) -> Result<Plan, TopologyError> {
        let links = address::assign(topo)?;
        let routes = routing::routes(topo, &links)?;
        let mut nodes = Vec::with_capacity(topo.nodes.len());
        let mut vantage_index = 0u8;
        let mut lab_router_index = 0u16;
        for (i, n) in topo.nodes.iter().enumerate() {
            let vantage = if n.role == NodeRole::Vantage {
                let public_addr = stub_end(&links, i).map(|e| e.addr4).ok_or_else(|| {
                    topo.error(
                        Some(n.position),
                        format!("vantage node `{}` has no uplink", n.name),
                    )
                })?;
                let k = vantage_index;
                vantage_index = vantage_index.checked_add(1).ok_or_else(|| {
                    topo.error(Some(n.position), "more than 255 vantage nodes".to_string())
                })?;
                let tunnel_net = Ipv4Net::new(Ipv4Addr::new(100, 64, k, 0), 24)
                    .map_err(|e| topo.error(None, e.to_string()))?;
                Some(VantagePlan {
                    wg_ifname: format!("wg-{}", n.name),
                    public_addr,
                    listen_port: WIREGUARD_PORT,
                    tunnel_net,
                    tunnel_addr: Ipv4Addr::new(100, 64, k, 1),
                    dns: dns_answers(topo, &links, &n.region),
                })
            } else {
                None
            };
            let lab_router = match &n.role {
                NodeRole::LabRouter { ap, vantage_node } => {
                    let api_port = FIRST_API_FORWARD.saturating_add(lab_router_index);
                    lab_router_index += 1;
                    let uplink =
                        stub_end(&links, i)
                            .map(|e| e.ifname.clone())
                            .ok_or_else(|| {
                                topo.error(
                                    Some(n.position),
                                    format!("lab router `{}` has no uplink", n.name),
                                )
                            })?;
                    let gateway = ap.subnet.hosts().next().ok_or_else(|| {
                        topo.error(
                            Some(n.position),
                            format!("subnet {} has no host address", ap.subnet),
                        )
                    })?;
                    let phone = topo
                        .nodes
                        .iter()
                        .find(|p| {
                            matches!(&p.role, NodeRole::Phone(r) if r.router == n.name && !r.is_cellular())
                        })
                        .map(|p| p.name.clone());
                    Some(LabRouterPlan {
                        radio_ifname: RADIO_IFNAME.to_string(),
                        gateway,
                        ap: ap.clone(),
                        uplink,
                        uplink_addr: stub_end(&links, i).map(|e| e.addr4),
                        phone,
                        vantage: vantage_node.clone(),
                        api_port,
                        management_addr: None,
                    })
                }
                _ => None,
            };
            nodes.push(NodePlan {
                name: n.name.clone(),
                namespace: format!("{NAMESPACE_PREFIX}{}", n.name),
                role: n.role.clone(),
                country: n.country.clone(),
                region: n.region.clone(),
                city: n.city.clone(),
                geo_country: n.geo_claim.clone().unwrap_or_else(|| n.country.clone()),
                routes: routes[i].clone(),
                vantage,
                lab_router,
            });
        }
        let mut regions: Vec<&String> = topo.nodes.iter().map(|n| &n.region).collect();
        regions.sort();
        regions.dedup();
        let region_dns = regions
            .into_iter()
            .map(|r| (r.clone(), dns_answers(topo, &links, r)))
            .collect();
        if let Some(c) = &topo.controller {
            let net = nodes
                .iter()
                .find(|n| &n.name == c)
                .and_then(|n| n.vantage.as_ref())
                .map(|v| v.tunnel_net)
                .ok_or_else(|| topo.error(None, format!("controller `{c}` has no tunnel")))?;
            let base = u32::from(net.network()) + FIRST_MANAGEMENT_HOST;
            for (k, r) in nodes
                .iter_mut()
                .filter_map(|n| n.lab_router.as_mut())
                .enumerate()
            {
                let addr = Ipv4Addr::from(base + k as u32);
                if !net.contains(&addr) || addr == net.broadcast() {
                    return Err(
                        topo.error(None, "more than 54 lab routers for one controller".into())
                    );
                }
                r.management_addr = Some(addr);
            }
        }
        Ok(Plan {
            name: topo.name.clone(),
            nodes,
            links,
            apps: topo.apps.clone(),
            region_dns,
            controller: topo.controller.clone(),
        })
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Option<&NodePlan> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// An app by name.
    pub fn app(&self, name: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.name == name)
    }

    /// The GeoDNS answers a caller in `region` gets.
    pub fn dns_for_region(&self, region: &str) -> &[DnsAnswer] {
        self.region_dns
            .iter()
            .find(|(r, _)| r == region)
            .map(|(_, a)| a.as_slice())
            .unwrap_or(&[])
    }

    /// All addresses of a node (index into `nodes`), IPv4 then IPv6.
    pub fn addresses_of(&self, node: usize) -> Vec<IpAddr> {
        let ends = self
            .links
            .iter()
            .flat_map(|l| [&l.a, &l.b])
            .filter(|e| e.node == node);
        let (v4, v6): (Vec<_>, Vec<_>) = ends.map(|e| (e.addr4, e.addr6)).unzip();
        v4.into_iter()
            .map(IpAddr::V4)
            .chain(v6.into_iter().flatten().map(IpAddr::V6))
            .collect()
    }

    /// The public IPv4 address of a stub node (vantage node, service, cellular phone).
    pub fn public_addr(&self, node: usize) -> Option<Ipv4Addr> {
        stub_end(&self.links, node).map(|e| e.addr4)
    }

    /// The public IPv6 address of a stub node, if its uplink carries IPv6.
    pub fn public_addr6(&self, node: usize) -> Option<Ipv6Addr> {
        stub_end(&self.links, node).and_then(|e| e.addr6)
    }
}

/// The end of a stub node's single uplink.
fn stub_end(links: &[LinkPlan], node: usize) -> Option<&LinkEnd> {
    links.iter().find(|l| l.b.node == node).map(|l| &l.b)
}

/// GeoDNS: for each name, the service for this region, else the default one.
fn dns_answers(topo: &Topology, links: &[LinkPlan], region: &str) -> Vec<DnsAnswer> {
    let mut answers: Vec<DnsAnswer> = Vec::new();
    let services = topo
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| match &n.role {
            NodeRole::Service { names, regions, .. } => Some((i, n, names, regions)),
            _ => None,
        });
    for (i, n, names, regions) in services {
        let Some(end) = stub_end(links, i) else {
            continue;
        };
        let for_region = regions.iter().any(|r| r == region);
        for name in names {
            let answer = DnsAnswer {
                name: name.clone(),
                service: n.name.clone(),
                addr4: end.addr4,
                addr6: end.addr6,
            };
            match answers.iter_mut().find(|a| &a.name == name) {
                Some(existing) if for_region => *existing = answer,
                Some(_) => {}
                None if for_region || regions.is_empty() => answers.push(answer),
                None => {}
            }
        }
    }
    answers.sort_by(|a, b| a.name.cmp(&b.name));
    answers
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
