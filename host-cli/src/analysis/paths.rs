//! A measurement's paths as located hops: the network path (A → B) and the application path
//! (A → each service endpoint, then each endpoint → B), with every hop's country, RTT and
//! evidence.

use super::regions::Regions;
use super::schema::{Endpoint, Measurement, Side, Status, VantageNode};
use crate::geo::areas::{Areas, Coord};
use crate::geo::plausible::{locate_path, HopGeo, HopInput, Origin, Unknown};
use crate::geo::{classify, AddressClass, Claim, GeoError, GeoStack};
use matador_probe::trace::{AtlasReply, AtlasTrace};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

/// One responder at one TTL (or an unresponsive TTL), located.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocatedHop {
    /// TTL; `None` for the destination appended because the trace did not reach it.
    pub ttl: Option<u8>,
    /// The responding address as reported (untrusted text); `None` when nothing answered.
    pub addr: Option<String>,
    /// Replies from this responder, and probes sent at this TTL.
    pub replies: usize,
    /// Probes sent at this TTL.
    pub probes: usize,
    /// Smallest RTT of its replies, ms.
    pub min_rtt_ms: Option<f64>,
    /// Country, provenance and plausibility.
    pub geo: HopGeo,
}

/// One trace of a path, located.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocatedTrace {
    /// The vantage node it left from.
    pub from: Side,
    /// The service endpoint, for application traces.
    pub endpoint: Option<Endpoint>,
    /// Target address.
    pub dst: String,
    /// Probe protocol and port.
    pub proto: String,
    /// Destination port.
    pub port: Option<u16>,
    /// Whether a trace was made at all.
    pub traced: bool,
    /// Whether the target answered.
    pub reached: bool,
    /// The hops, in TTL order.
    pub hops: Vec<LocatedHop>,
}

/// A path: its traces and what they add up to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PathView {
    /// Whether there is anything to analyse (a network trace; at least one app endpoint).
    pub present: bool,
    /// The traces.
    pub traces: Vec<LocatedTrace>,
    /// Countries in the message's order (B's traces read backwards), consecutive repeats
    /// merged; `?` for unknown hops.
    pub sequence: Vec<String>,
    /// Every known country on the path.
    pub countries: BTreeSet<String>,
    /// Hops without a country.
    pub unknown_hops: usize,
    /// Hops whose database claim was flagged as implausible.
    pub flagged_hops: usize,
}

/// A measurement with both paths located: one row of the drill-down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasurementPaths {
    /// Measurement id.
    pub id: String,
    /// App.
    pub app: String,
    /// Campaign.
    pub campaign: String,
    /// Start, Unix seconds.
    pub started: u64,
    /// How it ended.
    pub status: Status,
    /// Vantage node A.
    pub a: VantageNode,
    /// Vantage node B.
    pub b: VantageNode,
    /// A → B.
    pub network: PathView,
    /// A → services → B.
    pub application: PathView,
}

/// A hop as read from a trace, before locating.
struct RawHop {
    ttl: Option<u8>,
    addr: Option<String>,
    replies: usize,
    probes: usize,
    min_rtt_ms: Option<f64>,
}

/// Locates hops, asking each database once per address.
pub struct Locator<'a> {
    geo: &'a GeoStack,
    areas: &'a Areas,
    regions: &'a Regions,
    cache: HashMap<IpAddr, Vec<Claim>>,
}

impl<'a> Locator<'a> {
    /// A locator over these databases and tables.
    pub fn new(geo: &'a GeoStack, areas: &'a Areas, regions: &'a Regions) -> Self {
        Locator {
            geo,
            areas,
            regions,
            cache: HashMap::new(),
        }
    }

    /// Both paths of a measurement.
    pub fn measurement(&mut self, m: &Measurement) -> Result<MeasurementPaths, GeoError> {
        let network = match &m.network_path {
            Some(t) => {
                let located = self.trace(m, Side::A, None, Some(t))?;
                self.path(vec![located])
            }
            None => PathView::default(),
        };
        // A's traces toward the services, then B's (read backwards: from the services to B).
        let mut traces = Vec::new();
        for side in [Side::A, Side::B] {
            for p in m.app_paths.iter().filter(|p| p.from == side) {
                traces.push(self.trace(m, side, Some(&p.endpoint), p.trace.as_ref())?);
            }
        }
        let application = if traces.is_empty() {
            PathView::default()
        } else {
            self.path(traces)
        };
        Ok(MeasurementPaths {
            id: m.id.clone(),
            app: m.app.clone(),
            campaign: m.campaign.clone(),
            started: m.started,
            status: m.status,
            a: m.a.clone(),
            b: m.b.clone(),
            network,
            application,
        })
    }

    /// Sums up traces; B's hops are read backwards, since the message travels toward B.
    fn path(&self, traces: Vec<LocatedTrace>) -> PathView {
        let mut view = PathView {
            present: true,
            ..PathView::default()
        };
        let in_order = traces
            .iter()
            .flat_map(|t| -> Box<dyn Iterator<Item = &LocatedHop>> {
                if t.from == Side::B {
                    Box::new(t.hops.iter().rev())
                } else {
                    Box::new(t.hops.iter())
                }
            });
        for h in in_order {
            let label = match &h.geo.country {
                Some(c) => {
                    view.countries.insert(c.clone());
                    c.clone()
                }
                None => {
                    view.unknown_hops += 1;
                    "?".to_owned()
                }
            };
            if !h.geo.flagged.is_empty() {
                view.flagged_hops += 1;
            }
            if view.sequence.last() != Some(&label) {
                view.sequence.push(label);
            }
        }
        view.traces = traces;
        view
    }

    /// One trace (or, when there is none, just its target), located from `side`.
    fn trace(
        &mut self,
        m: &Measurement,
        side: Side,
        endpoint: Option<&Endpoint>,
        trace: Option<&AtlasTrace>,
    ) -> Result<LocatedTrace, GeoError> {
        let node = if side == Side::A { &m.a } else { &m.b };
        let origin = Origin {
            coord: node.lat.zip(node.lon).map(|(lat, lon)| Coord { lat, lon }),
            country: node.country.clone(),
        };
        let dst = match (endpoint, trace) {
            (Some(e), _) => e.ip.to_string(),
            (None, Some(t)) => t.dst_addr.clone(),
            (None, None) => m.b.address.to_string(),
        };
        let mut raw: Vec<RawHop> = Vec::new();
        for hop in trace.map(|t| t.result.as_slice()).unwrap_or_default() {
            let probes = hop.result.len();
            let responders = hop.responders();
            if responders.is_empty() {
                raw.push(RawHop {
                    ttl: Some(hop.hop),
                    addr: None,
                    replies: 0,
                    probes,
                    min_rtt_ms: None,
                });
            }
            for from in responders {
                let rtts: Vec<f64> = hop
                    .result
                    .iter()
                    .filter_map(|r| match r {
                        AtlasReply::Reply(p) if p.from == from => Some(p.rtt),
                        _ => None,
                    })
                    .collect();
                let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
                raw.push(RawHop {
                    ttl: Some(hop.hop),
                    addr: Some(from.to_owned()),
                    replies: rtts.len(),
                    probes,
                    min_rtt_ms: min.is_finite().then_some(min),
                });
            }
        }
        // Traffic reaches the target whatever the trace saw: an unreached target is added
        // as a hop of its own, without RTT (so its claim cannot be checked).
        let reached = trace.is_some_and(|t| {
            t.destination_reached || raw.iter().any(|h| h.addr.as_deref() == Some(dst.as_str()))
        });
        if !reached {
            raw.push(RawHop {
                ttl: None,
                addr: Some(dst.clone()),
                replies: 0,
                probes: 0,
                min_rtt_ms: None,
            });
        }
        let tunnel_rtt = tunnel_rtt(&raw);
        let mut inputs = Vec::with_capacity(raw.len());
        for h in &raw {
            let ip = h.addr.as_deref().and_then(|a| a.parse::<IpAddr>().ok());
            let claims = match ip {
                Some(ip) => self.claims(ip)?,
                None => Vec::new(),
            };
            inputs.push(HopInput {
                class: ip.map(classify),
                claims,
                // Distances are measured from the vantage node, so the tunnel's share of
                // the RTT (router to vantage node) is taken off.
                min_rtt_ms: h.min_rtt_ms.map(|r| (r - tunnel_rtt).max(0.0)),
            });
        }
        let geos = locate_path(self.areas, &origin, &inputs);
        let hops = raw
            .into_iter()
            .zip(geos)
            .map(|(h, mut geo)| {
                if h.addr
                    .as_deref()
                    .is_some_and(|a| a.parse::<IpAddr>().is_err())
                {
                    geo.unknown = Some(Unknown::BadAddress);
                }
                if let Some(c) = &geo.country {
                    if self.regions.region(c).is_none() {
                        geo.country = None;
                        geo.source = None;
                        geo.unknown = Some(Unknown::NotACountry);
                    }
                }
                LocatedHop {
                    ttl: h.ttl,
                    addr: h.addr,
                    replies: h.replies,
                    probes: h.probes,
                    min_rtt_ms: h.min_rtt_ms,
                    geo,
                }
            })
            .collect();
        Ok(LocatedTrace {
            from: side,
            endpoint: endpoint.cloned(),
            dst,
            proto: trace.map_or_else(
                || endpoint.map_or_else(String::new, |e| e.protocol.to_uppercase()),
                |t| t.proto.clone(),
            ),
            port: trace
                .and_then(|t| t.dst_port)
                .or_else(|| endpoint.and_then(|e| e.port)),
            traced: trace.is_some(),
            reached,
            hops,
        })
    }

    fn claims(&mut self, ip: IpAddr) -> Result<Vec<Claim>, GeoError> {
        if let Some(c) = self.cache.get(&ip) {
            return Ok(c.clone());
        }
        let c = self.geo.claims(ip)?;
        self.cache.insert(ip, c.clone());
        Ok(c)
    }
}

/// The RTT of the tunnel a trace started in: when TTL 1 answers from a private or shared
/// address, the trace ran from a router inside a tunnel and that hop is the vantage node
/// itself, so its RTT is the router's way to the vantage node, not the Internet's. Zero for
/// a trace that started at the vantage node.
fn tunnel_rtt(raw: &[RawHop]) -> f64 {
    raw.iter()
        .filter(|h| h.ttl == Some(1))
        .filter(|h| {
            h.addr
                .as_deref()
                .and_then(|a| a.parse::<IpAddr>().ok())
                .is_some_and(|ip| {
                    matches!(classify(ip), AddressClass::Private | AddressClass::Shared)
                })
        })
        .filter_map(|h| h.min_rtt_ms)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))))
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tunnel_tests {
    use super::*;

    fn hop(ttl: u8, addr: &str, rtt: f64) -> RawHop {
        RawHop {
            ttl: Some(ttl),
            addr: Some(addr.into()),
            replies: 1,
            probes: 1,
            min_rtt_ms: Some(rtt),
        }
    }

    #[test]
    fn a_trace_from_inside_a_tunnel_measures_from_the_vantage_node() {
        // Router in Brazil, vantage node in Germany: 150 ms of tunnel before the first hop.
        let through_tunnel = [hop(1, "100.64.2.1", 150.0), hop(2, "192.0.2.4", 150.6)];
        assert_eq!(tunnel_rtt(&through_tunnel), 150.0);
        let from_the_node = [hop(1, "192.0.2.4", 0.6), hop(2, "198.51.100.9", 20.0)];
        assert_eq!(tunnel_rtt(&from_the_node), 0.0);
        assert_eq!(tunnel_rtt(&[]), 0.0);
    }
}
