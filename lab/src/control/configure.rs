//! Per-namespace configuration as text: the `ip -batch` script (interfaces, addresses,
//! routes) and the nftables ruleset of silent routers. Plain functions over the plan.

use crate::plan::{Plan, Route};
use crate::topology::NodeRole;
use std::fmt::Write as _;

/// The `ip -batch` commands that give a node its addresses and routes.
pub fn ip_batch(plan: &Plan, node: usize) -> String {
    let mut b = String::from("link set lo up\n");
    for l in &plan.links {
        for e in [&l.a, &l.b].into_iter().filter(|e| e.node == node) {
            let _ = writeln!(b, "addr add {}/31 dev {}", e.addr4, e.ifname);
            if let Some(a6) = e.addr6 {
                let _ = writeln!(b, "addr add {a6}/64 dev {} nodad", e.ifname);
            }
            let _ = writeln!(b, "link set {} up", e.ifname);
        }
    }
    for r in &plan.nodes[node].routes {
        let _ = writeln!(b, "{}", route_command(r));
    }
    b
}

/// One `route add` line; several next hops become an ECMP (`nexthop`) route.
pub fn route_command(r: &Route) -> String {
    match r.via.as_slice() {
        [one] => format!(
            "route add {} via {} dev {}",
            r.dest, one.gateway, one.ifname
        ),
        many => {
            let hops: Vec<String> = many
                .iter()
                .map(|h| format!("nexthop via {} dev {}", h.gateway, h.ifname))
                .collect();
            format!("route add {} {}", r.dest, hops.join(" "))
        }
    }
}

/// nftables ruleset making a router silent to probes (no ICMP errors leave it), if it is.
pub fn silent_ruleset(plan: &Plan, node: usize) -> Option<String> {
    match plan.nodes[node].role {
        NodeRole::Router { silent: true } => Some(
            "table inet matador-lab {\n  chain output {\n    type filter hook output priority filter; policy accept;\n    \
             icmp type { time-exceeded, destination-unreachable } drop\n    \
             icmpv6 type { time-exceeded, destination-unreachable } drop\n  }\n}\n"
                .to_string(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{parse, DEFAULT_TOPOLOGY};

    fn plan() -> Plan {
        Plan::build(&parse(DEFAULT_TOPOLOGY, "default.yaml").expect("parses")).expect("plans")
    }

    #[test]
    fn ecmp_routes_become_nexthop_lines() {
        let p = plan();
        let nyc = p
            .nodes
            .iter()
            .position(|n| n.name == "us-nyc")
            .expect("nyc");
        let batch = ip_batch(&p, nyc);
        let ecmp = batch
            .lines()
            .filter(|l| l.contains(" nexthop via "))
            .count();
        assert!(ecmp > 0, "{batch}");
        assert!(
            batch
                .lines()
                .filter(|l| l.contains("nexthop"))
                .all(|l| l.matches("nexthop").count() == 2),
            "{batch}"
        );
    }

    #[test]
    fn stubs_get_a_default_route_and_v6_when_their_link_has_it() {
        let p = plan();
        let gb = p
            .nodes
            .iter()
            .position(|n| n.name == "vp-gb")
            .expect("vp-gb");
        let batch = ip_batch(&p, gb);
        assert!(batch.contains("route add 0.0.0.0/0 via "), "{batch}");
        assert!(batch.contains("route add ::/0 via 2001:db8:"), "{batch}");
        assert!(batch.contains(" nodad"), "{batch}");
    }

    #[test]
    fn only_silent_routers_get_the_silencing_ruleset() {
        let p = plan();
        let silent: Vec<&str> = (0..p.nodes.len())
            .filter(|&i| silent_ruleset(&p, i).is_some())
            .map(|i| p.nodes[i].name.as_str())
            .collect();
        assert_eq!(silent, ["us-lax"]);
    }
}
