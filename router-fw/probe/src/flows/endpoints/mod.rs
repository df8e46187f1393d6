//! From flows to the app's service endpoints (address, protocol, port, names): grouped by
//! responder, judged by the app's rules and the noise baseline, and placed in the
//! measurement's phases. Pure functions over flows.

mod glob;
mod phases;
mod rules;

pub use glob::NamePattern;
pub use phases::{Phase, Timers};
pub use rules::{Match, Rules, RulesError};

use super::names::NameSource;
use super::table::{Flow, Protocol};
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;

/// What the rules made of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A service endpoint of the app.
    Kept,
    /// Dropped by a deny rule (its reason).
    Denied(String),
    /// Dropped as seen in empty runs (the rule's reason).
    Baseline(String),
    /// Dropped because `only_allowed` is set and no allow rule matched.
    NotAllowed,
}

/// A server the phone talked to: the responder side of one or more flows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Endpoint {
    /// Transport protocol.
    pub protocol: Protocol,
    /// The responder's address.
    pub address: IpAddr,
    /// The responder's port.
    pub port: u16,
    /// The best name over its flows (SNI over HTTP Host over DNS).
    pub name: Option<String>,
    /// Every distinct name its flows went by.
    pub names: Vec<String>,
    /// Flows to it.
    pub flows: u64,
    /// Packets both ways.
    pub packets: u64,
    /// Bytes both ways.
    pub bytes: u64,
    /// Start of its first flow, ns since the Unix epoch.
    pub first_ns: u64,
    /// End of its last flow, ns since the Unix epoch.
    pub last_ns: u64,
    /// Its phase ([`Timers::endpoint_phase`]): messaging when active around every message,
    /// authentication when active only between launch and the first message, else
    /// background; `None` without timers.
    pub phase: Option<Phase>,
    /// The phases of its bursts of activity.
    pub phases: Vec<Phase>,
    /// How many of the messages it was active around.
    pub windows_hit: usize,
    /// What the rules made of it.
    pub verdict: Verdict,
}

impl Endpoint {
    /// Whether the rules kept it.
    pub fn is_kept(&self) -> bool {
        self.verdict == Verdict::Kept
    }
}

/// Groups flows by responder (protocol, address, port) in the order they first appear, then
/// judges each endpoint by the rules and places it in the timers' phases.
pub fn endpoints(flows: &[Flow], rules: &Rules, timers: Option<&Timers>) -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = Vec::new();
    let mut best: Vec<Option<(NameSource, String)>> = Vec::new();
    let mut hits: Vec<Vec<bool>> = Vec::new();
    let mut index: HashMap<(Protocol, IpAddr, u16), usize> = HashMap::new();
    for flow in flows {
        let key = (flow.protocol, flow.responder.address, flow.responder.port);
        let i = *index.entry(key).or_insert_with(|| {
            out.push(Endpoint {
                protocol: flow.protocol,
                address: flow.responder.address,
                port: flow.responder.port,
                name: None,
                names: Vec::new(),
                flows: 0,
                packets: 0,
                bytes: 0,
                first_ns: flow.first_ns,
                last_ns: flow.last_ns,
                phase: None,
                phases: Vec::new(),
                windows_hit: 0,
                verdict: Verdict::Kept,
            });
            best.push(None);
            hits.push(vec![false; timers.map_or(0, |t| t.messages.len())]);
            out.len() - 1
        });
        let e = &mut out[i];
        e.flows += 1;
        e.packets += flow.initiator.packets + flow.responder.packets;
        e.bytes += flow.initiator.bytes + flow.responder.bytes;
        e.first_ns = e.first_ns.min(flow.first_ns);
        e.last_ns = e.last_ns.max(flow.last_ns);
        for name in flow.names.all() {
            if !e.names.iter().any(|n| n == name) {
                e.names.push(name.to_string());
            }
        }
        if let Some((source, name)) = flow.names.chosen() {
            // Earlier sources in NameSource's order are stronger.
            if best[i]
                .as_ref()
                .is_none_or(|(s, _)| rank(source) < rank(*s))
            {
                best[i] = Some((source, name.to_string()));
            }
        }
        if let Some(t) = timers {
            for burst in &flow.bursts {
                let phase = t.phase_of(burst.first_ns, burst.last_ns);
                if !e.phases.contains(&phase) {
                    e.phases.push(phase);
                    e.phases.sort();
                }
                for w in t.windows_hit(burst.first_ns, burst.last_ns) {
                    hits[i][w] = true;
                }
            }
        }
    }
    if let Some(t) = timers {
        for (e, hit) in out.iter_mut().zip(&hits) {
            e.windows_hit = hit.iter().filter(|h| **h).count();
            e.phase = Some(t.endpoint_phase(&e.phases, e.windows_hit));
        }
    }
    for (e, b) in out.iter_mut().zip(best) {
        e.name = b.map(|(_, n)| n);
        e.verdict = judge(e, rules);
    }
    out
}

fn rank(source: NameSource) -> u8 {
    match source {
        NameSource::Sni => 0,
        NameSource::HttpHost => 1,
        NameSource::Dns => 2,
    }
}

/// Allow beats deny and baseline; `only_allowed` drops whatever allow does not match.
fn judge(e: &Endpoint, rules: &Rules) -> Verdict {
    if rules.allow.iter().any(|m| m.matches(e)) {
        return Verdict::Kept;
    }
    if let Some(m) = rules.deny.iter().find(|m| m.matches(e)) {
        return Verdict::Denied(m.describe());
    }
    if let Some(m) = rules.baseline.iter().find(|m| m.matches(e)) {
        return Verdict::Baseline(m.describe());
    }
    if rules.only_allowed {
        return Verdict::NotAllowed;
    }
    Verdict::Kept
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
