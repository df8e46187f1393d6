//! Results: the RIPE Atlas traceroute result schema (one object per target, as
//! `ripe.atlas.sagan` reads it), and a human table with min/avg RTT per responder.

use super::ext::Extensions;
use super::matcher::Traces;
use super::reply::{ReplyKind, Unreach};
use super::state::{SlotState, Target};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::io::{self, Write};

/// The firmware version we claim: results are shaped like Atlas firmware 5080's.
pub const ATLAS_FW: u32 = 5080;

/// One trace in the RIPE Atlas traceroute result schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtlasTrace {
    /// Result format version.
    pub fw: u32,
    /// Address family, 4 or 6.
    pub af: u8,
    /// Target address.
    pub dst_addr: String,
    /// Target as given.
    pub dst_name: String,
    /// Source address of the probes.
    pub src_addr: String,
    /// `TCP`, `UDP` or `ICMP`.
    pub proto: String,
    /// Paris variation.
    pub paris_id: u16,
    /// Probe size in bytes (whole IP packet).
    pub size: u16,
    /// Start, Unix seconds.
    pub timestamp: u64,
    /// End, Unix seconds.
    pub endtime: u64,
    /// Always `traceroute`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Measurement id: 0, these are not Atlas measurements (sagan requires the field).
    pub msm_id: u64,
    /// Probe id: 0, as above.
    pub prb_id: u64,
    /// Destination port (TCP and UDP); not in Atlas results, which sagan ignores.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dst_port: Option<u16>,
    /// Whether the target itself answered.
    pub destination_reached: bool,
    /// The hops.
    pub result: Vec<AtlasHop>,
}

/// One hop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtlasHop {
    /// TTL.
    pub hop: u8,
    /// One entry per probe.
    pub result: Vec<AtlasReply>,
}

/// One probe's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AtlasReply {
    /// A reply.
    Reply(AtlasPacket),
    /// No reply: `{"x": "*"}`.
    Timeout {
        /// Always `*`.
        x: String,
    },
}

/// A reply as Atlas reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtlasPacket {
    /// Responder.
    pub from: String,
    /// Round-trip time, ms.
    pub rtt: f64,
    /// Reply size.
    pub size: u16,
    /// Reply TTL.
    pub ttl: u8,
    /// Unreachable code (`N`, `H`, `A`, `P`, `p`, or the number).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub err: Option<serde_json::Value>,
    /// Quoted TTL when not 1.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ittl: Option<u8>,
    /// TCP flags of the target's answer (`SA`, `RA`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub flags: Option<String>,
    /// RFC 4884 extensions.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub icmpext: Option<serde_json::Value>,
    /// Not probed, to spare a rate-limited router: repeats this hop's own answer, or comes
    /// from the stop set (a hop other targets share); not an Atlas field.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub inferred: Option<bool>,
}

impl AtlasHop {
    /// Distinct responders of the hop, in order of first appearance.
    pub fn responders(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for r in &self.result {
            if let AtlasReply::Reply(p) = r {
                if !v.contains(&p.from.as_str()) {
                    v.push(&p.from);
                }
            }
        }
        v
    }
}

/// The Atlas results of every target of a finished run.
pub fn atlas(traces: &Traces, paris_id: u16) -> Vec<AtlasTrace> {
    traces
        .targets
        .iter()
        .map(|t| atlas_one(traces, t, paris_id))
        .collect()
}

fn atlas_one(traces: &Traces, t: &Target, paris_id: u16) -> AtlasTrace {
    let shape = traces.shape;
    let mut result = Vec::new();
    let last = t.limit.max(shape.first_ttl.saturating_sub(1));
    for ttl in shape.first_ttl..=last {
        let mut replies = Vec::with_capacity(usize::from(shape.probes));
        for (a, s) in t.hop(&shape, ttl).iter().enumerate() {
            let slot = shape.slot(ttl, a as u8);
            replies.push(match s.state {
                SlotState::Answered | SlotState::Inferred => {
                    let from = traces
                        .responders
                        .get(s.from)
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    let ext = t
                        .exts
                        .iter()
                        .find(|(i, _)| usize::from(*i) == slot)
                        .map(|(_, e)| icmpext(e));
                    AtlasReply::Reply(AtlasPacket {
                        from,
                        rtt: (f64::from(s.rtt_ns) / 1000.0).round() / 1000.0,
                        size: s.size,
                        ttl: s.reply_ttl,
                        err: s.kind.and_then(err_code),
                        ittl: (s.state == SlotState::Answered && s.quoted_ttl > 1)
                            .then_some(s.quoted_ttl),
                        flags: match s.kind {
                            Some(ReplyKind::SynAck) => Some("SA".into()),
                            Some(ReplyKind::Rst) => Some("RA".into()),
                            _ => None,
                        },
                        icmpext: ext,
                        inferred: (s.state == SlotState::Inferred).then_some(true),
                    })
                }
                _ => AtlasReply::Timeout { x: "*".into() },
            });
        }
        result.push(AtlasHop {
            hop: ttl,
            result: replies,
        });
    }
    let f = &t.flow;
    AtlasTrace {
        fw: ATLAS_FW,
        af: if f.is_v6() { 6 } else { 4 },
        dst_addr: f.dst.to_string(),
        dst_name: t.name.clone(),
        src_addr: f.src.to_string(),
        proto: f.proto.atlas_name().into(),
        paris_id,
        size: f.probe_len() as u16,
        timestamp: t.started_ns / 1_000_000_000,
        endtime: t.ended_ns.max(t.started_ns) / 1_000_000_000,
        kind: "traceroute".into(),
        msm_id: 0,
        prb_id: 0,
        dst_port: (f.proto != super::probe::Protocol::Icmp).then_some(f.dst_port),
        destination_reached: t.dest_ttl.is_some(),
        result,
    }
}

/// Atlas's `err` for a reply that ends a trace (none for time exceeded or the target's own
/// normal answer).
fn err_code(kind: ReplyKind) -> Option<serde_json::Value> {
    let ReplyKind::Unreachable(u) = kind else {
        return None;
    };
    Some(match u {
        Unreach::Network => "N".into(),
        Unreach::Host => "H".into(),
        Unreach::Protocol => "P".into(),
        Unreach::Port => return None,
        Unreach::Prohibited => "A".into(),
        Unreach::Other(c) => c.into(),
    })
}

fn icmpext(e: &Extensions) -> serde_json::Value {
    let mpls: Vec<_> = e
        .mpls()
        .iter()
        .map(|m| serde_json::json!({"label": m.label, "exp": m.exp, "s": u8::from(m.bottom), "ttl": m.ttl}))
        .collect();
    let obj = if mpls.is_empty() {
        vec![]
    } else {
        vec![serde_json::json!({"class": 1, "type": 1, "mpls": mpls})]
    };
    serde_json::json!({"version": 2, "rfc4884": u8::from(e.rfc4884), "obj": obj})
}

/// Writes one trace as a table: per hop and responder, replies, min and average RTT.
pub fn write_table(out: &mut impl Write, t: &AtlasTrace) -> io::Result<()> {
    let port = t.dst_port.map(|p| format!(" port {p}")).unwrap_or_default();
    let name = if t.dst_name == t.dst_addr {
        t.dst_addr.clone()
    } else {
        format!("{} ({})", t.dst_name, t.dst_addr)
    };
    writeln!(
        out,
        "trace to {name}, {}{port} from {}",
        t.proto.to_lowercase(),
        t.src_addr
    )?;
    writeln!(
        out,
        "{:>4}  {:<40} {:>7} {:>9} {:>9}",
        "hop", "address", "replies", "min ms", "avg ms"
    )?;
    for hop in &t.result {
        let probes = hop.result.len();
        let responders = hop.responders();
        if responders.is_empty() {
            writeln!(
                out,
                "{:>4}  {:<40} {:>7}",
                hop.hop,
                "*",
                format!("0/{probes}")
            )?;
            continue;
        }
        for (i, from) in responders.iter().enumerate() {
            let rtts: Vec<&AtlasPacket> = hop
                .result
                .iter()
                .filter_map(|r| match r {
                    AtlasReply::Reply(p) if p.from == *from => Some(p),
                    _ => None,
                })
                .collect();
            let min = rtts.iter().map(|p| p.rtt).fold(f64::INFINITY, f64::min);
            let avg = rtts.iter().map(|p| p.rtt).sum::<f64>() / rtts.len() as f64;
            let mut note = String::new();
            if let Some(e) = rtts.iter().find_map(|p| p.err.as_ref()) {
                let _ = write!(
                    note,
                    " !{}",
                    e.as_str().map_or_else(|| e.to_string(), str::to_string)
                );
            }
            if rtts.iter().any(|p| p.inferred == Some(true)) {
                note.push_str(
                    " (some probes not sent: rate-limited router, answer repeated or shared)",
                );
            }
            if i > 0 {
                note.push_str(" (path changed between probes)");
            }
            let hop_col = if i == 0 {
                hop.hop.to_string()
            } else {
                String::new()
            };
            writeln!(
                out,
                "{hop_col:>4}  {from:<40} {:>7} {min:>9.3} {avg:>9.3}{note}",
                format!("{}/{probes}", rtts.len())
            )?;
        }
    }
    let end = if t.destination_reached {
        "reached"
    } else {
        "not reached"
    };
    writeln!(out, "destination {end}")
}
