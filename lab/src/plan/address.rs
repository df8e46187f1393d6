//! Address assignment: a /31 per link from the documentation ranges (stub uplinks from
//! 192.0.2.0/24, transit links from 198.51.100.0/24 and 203.0.113.0/24), a /64 per IPv6 link
//! from 2001:db8::/32. Explicit addresses are honoured and checked for overlap.

use super::{LinkEnd, LinkPlan};
use crate::topology::{Topology, TopologyError};
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Pool of /31 link networks, handed out in order, skipping ones already taken.
struct Pool {
    blocks: Vec<Ipv4Addr>,
    next: usize,
}

impl Pool {
    fn new(blocks: &[[u8; 3]]) -> Self {
        let blocks = blocks
            .iter()
            .flat_map(|[a, b, c]| (0..128u8).map(move |k| Ipv4Addr::new(*a, *b, *c, k * 2)))
            .collect();
        Pool { blocks, next: 0 }
    }

    fn take(&mut self, used: &HashMap<Ipv4Addr, usize>) -> Option<Ipv4Addr> {
        while let Some(&net) = self.blocks.get(self.next) {
            self.next += 1;
            if !used.contains_key(&net) {
                return Some(net);
            }
        }
        None
    }
}

/// The /31 network an address belongs to.
fn net31(a: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(a) & !1)
}

/// Gives every link its interfaces and addresses.
pub(super) fn assign(topo: &Topology) -> Result<Vec<LinkPlan>, TopologyError> {
    // Explicit addresses first, so the pools can skip them.
    let mut used: HashMap<Ipv4Addr, usize> = HashMap::new();
    for (li, l) in topo.links.iter().enumerate() {
        if let Some(addr) = topo.nodes[l.b].address {
            if let Some(&other) = used.get(&net31(addr)) {
                let other_name = &topo.nodes[topo.links[other].b].name;
                return Err(topo.error(
                    Some(topo.nodes[l.b].position),
                    format!(
                        "address {addr} of `{}` overlaps {}/31 of `{other_name}`",
                        topo.nodes[l.b].name,
                        net31(addr)
                    ),
                ));
            }
            used.insert(net31(addr), li);
        }
    }
    let mut stub_pool = Pool::new(&[[192, 0, 2]]);
    let mut transit_pool = Pool::new(&[[198, 51, 100], [203, 0, 113]]);

    let mut plans = Vec::with_capacity(topo.links.len());
    for (li, l) in topo.links.iter().enumerate() {
        let (a, b) = (&topo.nodes[l.a], &topo.nodes[l.b]);
        let (addr_a, addr_b) = match b.address {
            Some(addr) => (Ipv4Addr::from(u32::from(addr) ^ 1), addr),
            None => {
                let pool = if b.is_router() {
                    &mut transit_pool
                } else {
                    &mut stub_pool
                };
                let net = pool.take(&used).ok_or_else(|| {
                    topo.error(
                        Some(l.position),
                        "the lab's address ranges are exhausted: too many links".to_string(),
                    )
                })?;
                used.insert(net, li);
                (net, Ipv4Addr::from(u32::from(net) + 1))
            }
        };
        let (addr6_a, addr6_b) = if l.ipv6 {
            let n = u16::try_from(li + 1)
                .map_err(|_| topo.error(Some(l.position), "too many IPv6 links".to_string()))?;
            (
                Some(Ipv6Addr::new(0x2001, 0xdb8, 0, n, 0, 0, 0, 1)),
                Some(Ipv6Addr::new(0x2001, 0xdb8, 0, n, 0, 0, 0, 2)),
            )
        } else {
            (None, None)
        };
        plans.push(LinkPlan {
            a: LinkEnd {
                node: l.a,
                ifname: format!("t-{}", b.name),
                addr4: addr_a,
                addr6: addr6_a,
            },
            b: LinkEnd {
                node: l.b,
                ifname: format!("t-{}", a.name),
                addr4: addr_b,
                addr6: addr6_b,
            },
            delay_ms: l.delay_ms,
        });
    }
    Ok(plans)
}
