//! Forwarding over a plan without touching the kernel: which nodes a packet crosses, TTL by
//! TTL. Tests use it as the ground truth a traceroute across the built lab must match.

use super::Plan;
use std::collections::BTreeSet;
use std::net::IpAddr;

impl Plan {
    /// The node owning an address.
    pub fn owner(&self, addr: IpAddr) -> Option<usize> {
        self.links.iter().flat_map(|l| [&l.a, &l.b]).find_map(|e| {
            let mine = IpAddr::V4(e.addr4) == addr || e.addr6.map(IpAddr::V6) == Some(addr);
            mine.then_some(e.node)
        })
    }

    /// Next nodes from `node` toward `dest` (several under ECMP); empty if it has no route.
    pub fn next_nodes(&self, node: usize, dest: IpAddr) -> Vec<usize> {
        let mut next = BTreeSet::new();
        // A directly connected destination goes straight to its owner.
        for l in &self.links {
            for (mine, theirs) in [(&l.a, &l.b), (&l.b, &l.a)] {
                let theirs_has =
                    IpAddr::V4(theirs.addr4) == dest || theirs.addr6.map(IpAddr::V6) == Some(dest);
                if mine.node == node && theirs_has {
                    next.insert(theirs.node);
                }
            }
        }
        if !next.is_empty() {
            return next.into_iter().collect();
        }
        let best = self.nodes[node]
            .routes
            .iter()
            .filter(|r| r.dest.contains(&dest))
            .max_by_key(|r| r.dest.prefix_len());
        if let Some(route) = best {
            for hop in &route.via {
                if let Some(n) = self.owner(hop.gateway) {
                    next.insert(n);
                }
            }
        }
        next.into_iter().collect()
    }

    /// Nodes a packet from `from` to `dest` reaches at TTL 1, 2, …, ending with the
    /// destination's owner; each entry holds every node ECMP may choose at that TTL.
    /// `None` when the packet cannot arrive (no route, or a loop).
    pub fn hops(&self, from: usize, dest: IpAddr) -> Option<Vec<Vec<usize>>> {
        let target = self.owner(dest)?;
        let mut frontier = vec![from];
        let mut hops = Vec::new();
        while !(frontier.len() == 1 && frontier[0] == target) {
            if hops.len() > self.nodes.len() {
                return None;
            }
            let mut next = BTreeSet::new();
            for &n in &frontier {
                let step = self.next_nodes(n, dest);
                if step.is_empty() {
                    return None;
                }
                next.extend(step);
            }
            frontier = next.into_iter().collect();
            hops.push(frontier.clone());
        }
        Some(hops)
    }
}
