//! The checked topology as the rest of the lab sees it: nodes with their roles, links with
//! delays and costs, and the error type that names file, line and column.

use super::edge::{AccessPoint, App, PhoneRole};
use super::model::{City, ServiceKind};
use std::fmt;
use std::net::Ipv4Addr;

/// A topology file that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TopologyError {
    /// File the topology came from (`<built-in default>` for the default).
    pub file: String,
    /// 1-based line and column, when the problem has a place in the file.
    pub position: Option<(u64, u64)>,
    /// What is wrong, and what to fix.
    pub message: String,
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "{}:{}:{}: {}", self.file, line, col, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What a node of the lab is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum NodeRole {
    /// A transit router (a hop).
    Router {
        /// Sends no ICMP errors (time exceeded, unreachable).
        silent: bool,
    },
    /// A vantage node (WireGuard exit, NAT, resolver).
    Vantage,
    /// A network service.
    Service {
        /// What it serves.
        kind: ServiceKind,
        /// The app whose backend it is.
        app: Option<String>,
        /// DNS names resolving to it.
        names: Vec<String>,
        /// Resolver regions it is the GeoDNS answer for (empty: the default answer).
        regions: Vec<String>,
    },
    /// A lab router: `matador-routerd`'s home, serving one phone's access point.
    #[serde(rename = "lab_router")]
    LabRouter {
        /// Its access point.
        ap: AccessPoint,
        /// Vantage node the access point tunnels to (not `vantage`: the plan flattens roles
        /// next to its own `vantage` field).
        vantage_node: Option<String>,
    },
    /// An emulated phone: off the Internet until it joins its lab router's access point, or
    /// on cellular with its own uplink.
    Phone(PhoneRole),
}

/// A checked node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Node name (namespace `mtd-<name>`).
    pub name: String,
    /// What the node is.
    pub role: NodeRole,
    /// ISO code of the country it is really in.
    pub country: String,
    /// Region of that country.
    pub region: String,
    /// Where it is.
    pub city: City,
    /// Country the geolocation database claims, if it lies.
    pub geo_claim: Option<String>,
    /// Explicit public IPv4 address of a stub node.
    pub address: Option<Ipv4Addr>,
    /// Position in the file, for later errors.
    pub position: (u64, u64),
}

impl Node {
    /// Whether the node forwards traffic of others.
    pub fn is_router(&self) -> bool {
        matches!(self.role, NodeRole::Router { .. })
    }

    /// Whether the node is a phone (on Wi-Fi, or on cellular with its own uplink).
    pub fn is_phone(&self) -> bool {
        matches!(self.role, NodeRole::Phone(_))
    }
}

/// A checked link between two nodes (indices into `Topology::nodes`).
#[derive(Debug, Clone)]
pub struct TopoLink {
    /// One end (for stub links, the router).
    pub a: usize,
    /// The other end (for stub links, the vantage node or service).
    pub b: usize,
    /// One-way delay in milliseconds.
    pub delay_ms: f64,
    /// Routing cost.
    pub cost: u32,
    /// Whether it carries IPv6 too.
    pub ipv6: bool,
    /// Position in the file.
    pub position: (u64, u64),
}

/// A checked topology: nodes and links, references resolved.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Name of the topology.
    pub name: String,
    /// Where it was read from, for error messages.
    pub file: String,
    /// All nodes: routers, vantage nodes, services.
    pub nodes: Vec<Node>,
    /// All links, router-router and stub attachments.
    pub links: Vec<TopoLink>,
    /// Messenger apps phones can have.
    pub apps: Vec<App>,
    /// The vantage node lab routers dial for management, if any.
    pub controller: Option<String>,
}

impl Topology {
    /// An error about this topology at a position.
    pub fn error(&self, position: Option<(u64, u64)>, message: String) -> TopologyError {
        TopologyError {
            file: self.file.clone(),
            position,
            message,
        }
    }

    /// Index of a node by name.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}
