//! Reading a topology file and checking it: every reference resolves, names and codes are
//! well-formed, addresses stay in documentation/test ranges. Errors name file, line and column.

use super::cellular::cellular_router;
use super::checks::{check_geodns, check_iso, check_name, checked_address};
use super::delay::one_way_delay_ms;
use super::edge::{check_ap, check_apps, check_phone};
use super::model::{City, ServiceKind, TopologyFile};
use super::types::{Node, NodeRole, TopoLink, Topology, TopologyError};
use serde_saphyr::Spanned;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::Path;

/// The built-in topology used when `lab up` is given no file.
pub const DEFAULT_TOPOLOGY: &str = include_str!("../../topologies/default.yaml");

/// Reads and checks a topology file.
pub fn load_file(path: &Path) -> Result<Topology, TopologyError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| TopologyError {
        file: file.clone(),
        position: None,
        message: format!("cannot read the topology file: {e}"),
    })?;
    parse(&text, &file)
}

pub(super) fn pos<T>(s: &Spanned<T>) -> (u64, u64) {
    (s.referenced.line(), s.referenced.column())
}

/// Parses and checks a topology given as YAML text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Topology, TopologyError> {
    let raw: TopologyFile = serde_saphyr::from_str(text).map_err(|e| TopologyError {
        file: file.to_string(),
        position: e.location().map(|l| (l.line(), l.column())),
        message: first_line(&e.to_string()),
    })?;
    let err = |p: (u64, u64), message: String| TopologyError {
        file: file.to_string(),
        position: Some(p),
        message,
    };

    let mut countries: HashMap<String, (&str, &City)> = HashMap::new();
    for c in &raw.countries {
        check_iso(&c.code).map_err(|m| err(pos(&c.code), m))?;
        if c.region.trim().is_empty() {
            return Err(err(
                pos(&c.code),
                format!("country {} has an empty region", c.code.value),
            ));
        }
        if countries
            .insert(c.code.value.clone(), (&c.region, &c.city))
            .is_some()
        {
            return Err(err(
                pos(&c.code),
                format!("country {} is defined twice", c.code.value),
            ));
        }
    }

    let mut nodes: Vec<Node> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut add_node = |name: &Spanned<String>,
                        country: &Spanned<String>,
                        city: &Option<City>,
                        role: NodeRole,
                        geo_claim: Option<String>,
                        address: Option<Ipv4Addr>|
     -> Result<(), TopologyError> {
        check_name(&name.value).map_err(|m| err(pos(name), m))?;
        if !seen.insert(name.value.clone()) {
            return Err(err(
                pos(name),
                format!("node name `{}` is used twice", name.value),
            ));
        }
        let Some((region, default_city)) = countries.get(&country.value) else {
            return Err(err(
                pos(country),
                format!(
                    "country `{}` is not defined under `countries`",
                    country.value
                ),
            ));
        };
        nodes.push(Node {
            name: name.value.clone(),
            role,
            country: country.value.clone(),
            region: region.to_string(),
            city: city.clone().unwrap_or_else(|| (*default_city).clone()),
            geo_claim,
            address,
            position: pos(name),
        });
        Ok(())
    };

    for r in &raw.routers {
        let claim = match &r.geo_claim {
            Some(c) => {
                check_iso(c).map_err(|m| err(pos(c), m))?;
                Some(c.value.clone())
            }
            None => None,
        };
        add_node(
            &r.name,
            &r.country,
            &r.city,
            NodeRole::Router { silent: r.silent },
            claim,
            None,
        )?;
    }
    for v in &raw.vantage_nodes {
        let address = checked_address(&v.address).map_err(|(p, m)| err(p, m))?;
        add_node(
            &v.name,
            &v.country,
            &v.city,
            NodeRole::Vantage,
            None,
            address,
        )?;
    }
    for s in &raw.services {
        if s.names.is_empty() {
            return Err(err(
                pos(&s.name),
                format!("service `{}` has no DNS names", s.name.value),
            ));
        }
        if s.kind == ServiceKind::Chat && s.app.is_none() {
            return Err(err(
                pos(&s.name),
                format!("chat service `{}` needs `app`", s.name.value),
            ));
        }
        let address = checked_address(&s.address).map_err(|(p, m)| err(p, m))?;
        let role = NodeRole::Service {
            kind: s.kind,
            app: s.app.clone(),
            names: s.names.clone(),
            regions: s.regions.clone(),
        };
        add_node(&s.name, &s.country, &s.city, role, None, address)?;
    }
    let mut subnets: Vec<ipnet::Ipv4Net> = Vec::new();
    for r in &raw.lab_routers {
        let ap = check_ap(&r.ap).map_err(|(p, m)| err(p, m))?;
        if let Some(other) = subnets
            .iter()
            .find(|n| n.contains(&ap.subnet.network()) || ap.subnet.contains(&n.network()))
        {
            return Err(err(
                pos(&r.ap.subnet),
                format!("access point subnet {} overlaps {other}", ap.subnet),
            ));
        }
        subnets.push(ap.subnet);
        let address = checked_address(&r.address).map_err(|(p, m)| err(p, m))?;
        if let Some(v) = &r.vantage {
            if !raw.vantage_nodes.iter().any(|n| n.name.value == v.value) {
                return Err(err(
                    pos(v),
                    format!("`{}` is not a vantage node of this topology", v.value),
                ));
            }
        }
        let role = NodeRole::LabRouter {
            ap,
            vantage_node: r.vantage.as_ref().map(|v| v.value.clone()),
        };
        add_node(&r.name, &r.country, &r.city, role, None, address)?;
    }
    let apps = check_apps(&raw).map_err(|(p, m)| err(p, m))?;
    let (mut taken_routers, mut taken_ports) = (HashSet::new(), HashSet::new());
    for (i, p) in raw.phones.iter().enumerate() {
        let role = check_phone(p, i, &raw, &mut taken_routers, &mut taken_ports)
            .map_err(|(p, m)| err(p, m))?;
        let Some(router) = raw.lab_routers.iter().find(|r| r.name.value == role.router) else {
            continue;
        };
        // A phone on cellular is where its mobile network is, not at its lab router.
        let (country, city) = match cellular_router(p, &raw) {
            Some(r) => (&r.country, &r.city),
            None => (&router.country, &router.city),
        };
        add_node(&p.name, country, city, NodeRole::Phone(role), None, None)?;
    }

    let index: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.clone(), i))
        .collect();
    let router_ref = |r: &Spanned<String>, what: &str| -> Result<usize, TopologyError> {
        match index.get(&r.value) {
            None => Err(err(
                pos(r),
                format!("{what} `{}` is not a node of this topology", r.value),
            )),
            Some(&i) if !nodes[i].is_router() => Err(err(
                pos(r),
                format!(
                    "{what} `{}` is not a transit router; only routers forward",
                    r.value
                ),
            )),
            Some(&i) => Ok(i),
        }
    };

    let mut links = Vec::new();
    let mut pairs: HashSet<(usize, usize)> = HashSet::new();
    for l in &raw.links {
        let a = router_ref(&l.a, "link end")?;
        let b = router_ref(&l.b, "link end")?;
        if a == b {
            return Err(err(
                pos(&l.a),
                format!("link from `{}` to itself", l.a.value),
            ));
        }
        if !pairs.insert((a.min(b), a.max(b))) {
            return Err(err(
                pos(&l.a),
                format!("a second link between `{}` and `{}`", l.a.value, l.b.value),
            ));
        }
        let delay_ms = match l.delay_ms {
            Some(d) if !(d.is_finite() && (0.0..=10_000.0).contains(&d)) => {
                return Err(err(
                    pos(&l.a),
                    format!("delay_ms {d} is not between 0 and 10000"),
                ))
            }
            Some(d) => d,
            None => one_way_delay_ms(&nodes[a].city, &nodes[b].city),
        };
        let cost = match &l.cost {
            Some(c) if c.value == 0 => {
                return Err(err(
                    pos(c),
                    "cost 0: a cycle of zero-cost links has no loop-free routes; use cost >= 1"
                        .to_string(),
                ))
            }
            Some(c) => c.value,
            None => default_cost(delay_ms),
        };
        links.push(TopoLink {
            a,
            b,
            delay_ms,
            cost,
            ipv6: l.ipv6,
            position: pos(&l.a),
        });
    }

    let stubs = raw
        .vantage_nodes
        .iter()
        .map(|v| (&v.name, &v.attach, v.ipv6))
        .chain(raw.services.iter().map(|s| (&s.name, &s.attach, s.ipv6)))
        .chain(raw.lab_routers.iter().map(|r| (&r.name, &r.attach, false)))
        .chain(
            raw.phones
                .iter()
                .filter_map(|p| Some((&p.name, p.cellular.as_ref()?, false))),
        );
    for (name, attach, ipv6) in stubs {
        let a = router_ref(attach, "attach point")?;
        let b = index[&name.value];
        let delay_ms = one_way_delay_ms(&nodes[a].city, &nodes[b].city);
        let cost = default_cost(delay_ms);
        links.push(TopoLink {
            a,
            b,
            delay_ms,
            cost,
            ipv6,
            position: pos(attach),
        });
    }

    check_geodns(&raw, file)?;
    let controller = match &raw.controller {
        None => None,
        Some(c) => {
            if !raw.vantage_nodes.iter().any(|n| n.name.value == c.value) {
                return Err(err(
                    pos(c),
                    format!(
                        "controller `{}` is not a vantage node of this topology",
                        c.value
                    ),
                ));
            }
            if let Some(r) = raw
                .lab_routers
                .iter()
                .find(|r| r.vantage.as_ref().is_some_and(|v| v.value == c.value))
            {
                return Err(err(
                    pos(c),
                    format!(
                        "controller `{}` is lab router `{}`'s vantage node: the controller only manages",
                        c.value, r.name.value
                    ),
                ));
            }
            Some(c.value.clone())
        }
    };
    Ok(Topology {
        name: raw.name,
        file: file.to_string(),
        nodes,
        links,
        apps,
        controller,
    })
}

/// Routing cost of a link from its delay: one per hop plus one per millisecond.
fn default_cost(delay_ms: f64) -> u32 {
    1 + delay_ms.round().clamp(0.0, 1_000_000.0) as u32
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
