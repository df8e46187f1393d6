//! Routing: all-pairs shortest paths over link costs (hosts never forward), with every
//! equal-cost next hop kept, so ties become ECMP routes. Positive costs make the result
//! loop-free; a topology split in parts is an error naming two nodes that cannot meet.

use super::{LinkPlan, NextHop, Route};
use crate::topology::{Topology, TopologyError};
use ipnet::IpNet;
use std::net::IpAddr;

const INF: u64 = u64::MAX / 4;

/// Shortest-path costs between all nodes over the links that `usable` keeps.
fn distances(topo: &Topology, usable: impl Fn(usize) -> bool) -> Vec<Vec<u64>> {
    let n = topo.nodes.len();
    let mut d = vec![vec![INF; n]; n];
    for (i, row) in d.iter_mut().enumerate() {
        row[i] = 0;
    }
    for (_, l) in topo.links.iter().enumerate().filter(|(li, _)| usable(*li)) {
        let c = u64::from(l.cost);
        d[l.a][l.b] = d[l.a][l.b].min(c);
        d[l.b][l.a] = d[l.b][l.a].min(c);
    }
    for k in (0..n).filter(|&k| topo.nodes[k].is_router()) {
        let through_k = d[k].clone();
        for row in d.iter_mut() {
            let dik = row[k];
            if dik >= INF {
                continue;
            }
            for (dij, dkj) in row.iter_mut().zip(&through_k) {
                *dij = (*dij).min(dik + dkj);
            }
        }
    }
    d
}

/// Routes of every node (indexed like `topo.nodes`).
pub(super) fn routes(
    topo: &Topology,
    links: &[LinkPlan],
) -> Result<Vec<Vec<Route>>, TopologyError> {
    let d4 = distances(topo, |_| true);
    let d6 = distances(topo, |li| links[li].a.addr6.is_some());
    let n = topo.nodes.len();

    let online = |i: &usize| !topo.nodes[*i].is_phone();
    for (i, row) in d4.iter().enumerate().filter(|(i, _)| online(i)) {
        if let Some(j) = (0..n).filter(online).find(|&j| row[j] >= INF) {
            let (a, b) = (&topo.nodes[i], &topo.nodes[j]);
            return Err(topo.error(
                Some(b.position),
                format!(
                    "no route between `{}` and `{}`: the links leave them in separate parts \
                     of the network",
                    a.name, b.name
                ),
            ));
        }
    }
    let v6_stubs: Vec<usize> = (0..n)
        .filter(|&i| {
            !topo.nodes[i].is_router() && links.iter().any(|l| l.b.node == i && l.b.addr6.is_some())
        })
        .collect();
    for &i in &v6_stubs {
        for &j in &v6_stubs {
            if d6[i][j] >= INF {
                return Err(topo.error(
                    Some(topo.nodes[j].position),
                    format!(
                        "no IPv6 route between `{}` and `{}`: mark the links between them `ipv6: true`",
                        topo.nodes[i].name, topo.nodes[j].name
                    ),
                ));
            }
        }
    }

    let mut all = vec![Vec::new(); n];
    for (node, routes) in all.iter_mut().enumerate() {
        if topo.nodes[node].is_router() {
            *routes = router_routes(topo, links, node, &d4, &d6);
        } else if let Some(l) = links.iter().find(|l| l.b.node == node) {
            routes.push(default_route(&l.b.ifname, IpAddr::V4(l.a.addr4)));
            if let Some(gw6) = l.a.addr6 {
                routes.push(default_route(&l.b.ifname, IpAddr::V6(gw6)));
            }
        }
    }
    Ok(all)
}

fn default_route(ifname: &str, gateway: IpAddr) -> Route {
    let dest = match gateway {
        IpAddr::V4(_) => IpNet::V4(Default::default()),
        IpAddr::V6(_) => IpNet::V6(Default::default()),
    };
    Route {
        dest,
        via: vec![NextHop {
            ifname: ifname.to_string(),
            gateway,
        }],
    }
}

/// Host routes from a router to every address it is not directly connected to.
fn router_routes(
    topo: &Topology,
    links: &[LinkPlan],
    node: usize,
    d4: &[Vec<u64>],
    d6: &[Vec<u64>],
) -> Vec<Route> {
    let connected: Vec<usize> = (0..links.len())
        .filter(|&li| links[li].a.node == node || links[li].b.node == node)
        .collect();
    let mut routes = Vec::new();
    for (li, l) in links.iter().enumerate() {
        if connected.contains(&li) {
            continue;
        }
        for end in [&l.a, &l.b] {
            let targets = [(IpAddr::V4(end.addr4), d4, false)]
                .into_iter()
                .chain(end.addr6.map(|a| (IpAddr::V6(a), d6, true)));
            for (addr, d, v6) in targets {
                let dest = end.node;
                if d[node][dest] >= INF {
                    continue;
                }
                let via: Vec<NextHop> = connected
                    .iter()
                    .filter_map(|&ci| {
                        let c = &links[ci];
                        let (mine, theirs) = if c.a.node == node {
                            (&c.a, &c.b)
                        } else {
                            (&c.b, &c.a)
                        };
                        let peer = theirs.node;
                        let forwards = peer == dest || topo.nodes[peer].is_router();
                        let cost = u64::from(topo.links[ci].cost);
                        let on_path = forwards && cost + d[peer][dest] == d[node][dest];
                        let gateway = if v6 {
                            theirs.addr6.map(IpAddr::V6)
                        } else {
                            Some(IpAddr::V4(theirs.addr4))
                        };
                        match gateway {
                            Some(gateway) if on_path => Some(NextHop {
                                ifname: mine.ifname.clone(),
                                gateway,
                            }),
                            _ => None,
                        }
                    })
                    .collect();
                if !via.is_empty() {
                    routes.push(Route {
                        dest: IpNet::from(addr),
                        via,
                    });
                }
            }
        }
    }
    routes
}
