//! From the two routers' results to the analysis record: the kept service endpoints of each
//! side (from its `flows` result) with the trace its router made to each (from its `traces`
//! result), and the network path from A's side. Pure: JSON in, record out.

use crate::analysis::schema::{
    AppTrace, Endpoint, Measurement, Side, Status, VantageNode, RECORD_VERSION,
};
use matador_probe::trace::AtlasTrace;
use serde_json::Value;
use std::net::IpAddr;

/// What one router returned for a measurement.
#[derive(Debug, Clone, Default)]
pub struct SideResults {
    /// Its `flows` result, if fetched.
    pub flows: Option<Value>,
    /// Its `traces` result, if fetched.
    pub traces: Option<Value>,
}

/// The kept endpoints of a `flows` result.
pub fn kept_endpoints(flows: &Value) -> Vec<Endpoint> {
    flows["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["verdict"] == "kept")
        .filter_map(|e| {
            Some(Endpoint {
                ip: e["address"].as_str()?.parse::<IpAddr>().ok()?,
                protocol: e["protocol"].as_str()?.to_string(),
                port: e["port"]
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p != 0),
                name: e["name"].as_str().map(str::to_string),
            })
        })
        .collect()
}

/// The traces under `key` (`application` or `network`) of a `traces` result; unreadable ones
/// are skipped.
pub fn traces(result: &Value, key: &str) -> Vec<AtlasTrace> {
    result[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| serde_json::from_value(t.clone()).ok())
        .collect()
}

fn side_paths(side: Side, results: &SideResults) -> Vec<AppTrace> {
    let Some(flows) = &results.flows else {
        return Vec::new();
    };
    let traced = results
        .traces
        .as_ref()
        .map(|t| traces(t, "application"))
        .unwrap_or_default();
    kept_endpoints(flows)
        .into_iter()
        .map(|endpoint| {
            let ip = endpoint.ip.to_string();
            let trace = traced
                .iter()
                .find(|t| t.dst_addr == ip && (t.dst_port.is_none() || t.dst_port == endpoint.port))
                .cloned();
            AppTrace {
                from: side,
                endpoint,
                trace,
            }
        })
        .collect()
}

/// The record of one measurement. Complete when both sides gave flows and every endpoint and
/// the network path were traced; partial when something is missing.
pub fn build(
    id: &str,
    campaign: &str,
    app: &str,
    started: u64,
    (a, b): (VantageNode, VantageNode),
    results: (&SideResults, &SideResults),
) -> Measurement {
    let network_path = results
        .0
        .traces
        .as_ref()
        .and_then(|t| traces(t, "network").into_iter().next());
    let mut app_paths = side_paths(Side::A, results.0);
    app_paths.extend(side_paths(Side::B, results.1));
    let whole = results.0.flows.is_some()
        && results.1.flows.is_some()
        && network_path.is_some()
        && app_paths.iter().all(|p| p.trace.is_some());
    Measurement {
        version: RECORD_VERSION,
        id: id.to_string(),
        app: app.to_string(),
        campaign: campaign.to_string(),
        started,
        status: if whole {
            Status::Complete
        } else {
            Status::Partial
        },
        a,
        b,
        network_path,
        app_paths,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, ip: &str) -> VantageNode {
        VantageNode {
            name: name.into(),
            address: ip.parse().unwrap(),
            country: "CH".into(),
            city: None,
            lat: None,
            lon: None,
        }
    }

    fn trace(dst: &str, port: Option<u16>) -> Value {
        json!({"fw": 5080, "af": 4, "dst_addr": dst, "dst_name": dst, "src_addr": "100.64.1.2",
            "proto": "TCP", "paris_id": 1, "size": 40, "timestamp": 1, "endtime": 2,
            "type": "traceroute", "msm_id": 0, "prb_id": 0, "dst_port": port,
            "destination_reached": true,
            "result": [{"hop": 1, "result": [{"from": "100.64.1.1", "rtt": 1.0, "size": 40, "ttl": 64}]}]})
    }

    fn flows(endpoints: Value) -> Value {
        json!({ "endpoints": endpoints })
    }

    #[test]
    fn each_sides_kept_endpoints_get_their_own_trace() {
        let a = SideResults {
            flows: Some(flows(json!([
                {"address": "192.0.2.25", "protocol": "tcp", "port": 443, "name": "chat.example", "verdict": "kept"},
                {"address": "192.0.2.33", "protocol": "udp", "port": 123, "name": null, "verdict": {"denied": "NTP"}},
            ]))),
            traces: Some(
                json!({"application": [trace("192.0.2.25", Some(443))], "network": [trace("192.0.2.9", Some(50000))]}),
            ),
        };
        let b = SideResults {
            flows: Some(flows(json!([
                {"address": "192.0.2.25", "protocol": "tcp", "port": 443, "name": "chat.example", "verdict": "kept"},
            ]))),
            traces: Some(json!({"application": [], "network": []})),
        };
        let m = build(
            "m1",
            "c",
            "app",
            7,
            (node("vp-gb", "192.0.2.3"), node("vp-us", "192.0.2.9")),
            (&a, &b),
        );
        assert_eq!(m.app_paths.len(), 2);
        assert_eq!(m.app_paths[0].from, Side::A);
        assert_eq!(
            m.app_paths[0].endpoint.name.as_deref(),
            Some("chat.example")
        );
        assert!(m.app_paths[0].trace.is_some());
        assert_eq!(m.app_paths[1].from, Side::B);
        assert!(m.app_paths[1].trace.is_none(), "B traced nothing");
        assert_eq!(
            m.network_path.as_ref().map(|t| t.dst_addr.as_str()),
            Some("192.0.2.9")
        );
        assert_eq!(m.status, Status::Partial);
        assert!(m.validate().is_ok(), "{:?}", m.validate());
    }

    #[test]
    fn a_side_without_results_leaves_the_record_partial() {
        let empty = SideResults::default();
        let m = build(
            "m1",
            "c",
            "app",
            7,
            (node("a", "192.0.2.1"), node("b", "192.0.2.2")),
            (&empty, &empty),
        );
        assert!(m.app_paths.is_empty() && m.network_path.is_none());
        assert_eq!(m.status, Status::Partial);
    }
}
