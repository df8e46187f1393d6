//! The measurement record (docs/schema.md): what the host stores per measurement and what
//! `matador-host import` reads, one JSON object per line. Traces are the traceroute engine's
//! RIPE Atlas results ([`AtlasTrace`]).

use super::regions::is_country_code;
use crate::store::StoredRow;
use matador_probe::trace::{AtlasReply, AtlasTrace};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Version of the record schema this build writes and reads.
pub const RECORD_VERSION: u32 = 1;
/// Longest identifier, app or campaign name accepted.
const MAX_NAME: usize = 256;
/// Most application traces in one record.
const MAX_APP_PATHS: usize = 4096;

/// How a measurement ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every step done.
    #[default]
    Complete,
    /// Some traces or steps missing; analysed with what there is.
    Partial,
    /// Failed; kept for the record, never analysed.
    Failed,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Partial => "partial",
            Status::Failed => "failed",
        }
    }
}

/// One measurement: an app, two vantage nodes, the network path and the application paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    /// Record schema version ([`RECORD_VERSION`]).
    pub version: u32,
    /// Unique id.
    pub id: String,
    /// The app under test (e.g. its Android package name).
    pub app: String,
    /// The campaign it belongs to.
    #[serde(default)]
    pub campaign: String,
    /// Start, Unix seconds.
    pub started: u64,
    /// How it ended.
    #[serde(default)]
    pub status: Status,
    /// Vantage node of phone A.
    pub a: VantageNode,
    /// Vantage node of phone B.
    pub b: VantageNode,
    /// The network path: traced from A's vantage node to B's public address.
    #[serde(default)]
    pub network_path: Option<AtlasTrace>,
    /// The application paths: from each side's vantage node to each service endpoint.
    #[serde(default)]
    pub app_paths: Vec<AppTrace>,
}

/// A vantage node: where a phone's traffic enters the Internet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VantageNode {
    /// Its name.
    pub name: String,
    /// Its public address.
    pub address: IpAddr,
    /// ISO 3166-1 alpha-2 code of its country.
    pub country: String,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// Latitude of the city, degrees north; without coordinates no RTT check is possible.
    #[serde(default)]
    pub lat: Option<f64>,
    /// Longitude of the city, degrees east.
    #[serde(default)]
    pub lon: Option<f64>,
}

/// Which vantage node a trace left from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Phone A's.
    A,
    /// Phone B's.
    B,
}

/// A service endpoint of the app, seen in the phone's traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Its address.
    pub ip: IpAddr,
    /// `tcp`, `udp`, …
    pub protocol: String,
    /// Destination port.
    #[serde(default)]
    pub port: Option<u16>,
    /// The name the app used (DNS, TLS SNI, HTTP Host): from captured traffic, untrusted.
    #[serde(default)]
    pub name: Option<String>,
}

/// One application trace: from a side's vantage node to one service endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppTrace {
    /// The side it was traced from.
    pub from: Side,
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The trace; `null` when tracing failed.
    #[serde(default)]
    pub trace: Option<AtlasTrace>,
}

/// A record that parses but cannot be right.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// Where.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl Measurement {
    /// Checks what serde cannot: version, names, codes, coordinates and RTTs.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.version != RECORD_VERSION {
            return Err(invalid(
                "version",
                format!(
                    "{} is not supported (this build reads {RECORD_VERSION})",
                    self.version
                ),
            ));
        }
        for (field, v) in [("id", &self.id), ("app", &self.app)] {
            if v.trim().is_empty() || v.len() > MAX_NAME {
                return Err(invalid(field, format!("must be 1 to {MAX_NAME} bytes")));
            }
        }
        if self.campaign.len() > MAX_NAME {
            return Err(invalid("campaign", format!("longer than {MAX_NAME} bytes")));
        }
        self.a.validate("a")?;
        self.b.validate("b")?;
        if let Some(t) = &self.network_path {
            validate_trace("network_path", t)?;
        }
        if self.app_paths.len() > MAX_APP_PATHS {
            return Err(invalid("app_paths", format!("more than {MAX_APP_PATHS}")));
        }
        for (i, p) in self.app_paths.iter().enumerate() {
            if let Some(t) = &p.trace {
                validate_trace(&format!("app_paths[{i}].trace"), t)?;
            }
        }
        Ok(())
    }
}

impl Measurement {
    /// The row the result store keeps for this record.
    pub fn to_row(&self) -> Result<StoredRow, serde_json::Error> {
        Ok(StoredRow {
            id: self.id.clone(),
            campaign: self.campaign.clone(),
            app: self.app.clone(),
            status: self.status.as_str().to_owned(),
            record: serde_json::to_string(self)?,
            created: 0,
        })
    }
}

impl VantageNode {
    fn validate(&self, field: &str) -> Result<(), Invalid> {
        if !is_country_code(&self.country) {
            return Err(invalid(
                format!("{field}.country"),
                format!("{:?} is not an ISO 3166-1 alpha-2 code", self.country),
            ));
        }
        match (self.lat, self.lon) {
            (None, None) => Ok(()),
            (Some(lat), Some(lon))
                if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
            {
                Ok(())
            }
            _ => Err(invalid(
                format!("{field}.lat/lon"),
                "give both, latitude in [-90, 90] and longitude in [-180, 180]",
            )),
        }
    }
}

fn validate_trace(field: &str, t: &AtlasTrace) -> Result<(), Invalid> {
    for hop in &t.result {
        for r in &hop.result {
            if let AtlasReply::Reply(p) = r {
                if !(p.rtt.is_finite() && p.rtt >= 0.0) {
                    return Err(invalid(
                        format!("{field}.result[hop {}].rtt", hop.hop),
                        format!("{} is not a round-trip time", p.rtt),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"version":1,"id":"m1","app":"x","started":0,
        "a":{"name":"a","address":"192.0.2.1","country":"CH","lat":47.4,"lon":8.5},
        "b":{"name":"b","address":"192.0.2.2","country":"BR"},
        "network_path":{"fw":5080,"af":4,"dst_addr":"192.0.2.2","dst_name":"192.0.2.2",
          "src_addr":"10.0.0.2","proto":"TCP","paris_id":0,"size":52,"timestamp":0,
          "endtime":1,"type":"traceroute","msm_id":0,"prb_id":0,"dst_port":40000,
          "destination_reached":true,"result":[{"hop":1,"result":[{"x":"*"},
          {"from":"192.0.2.2","rtt":1.5,"size":52,"ttl":64}]}]}}"#;

    #[test]
    fn a_record_round_trips_and_validates() {
        let m: Measurement = serde_json::from_str(RECORD).unwrap();
        m.validate().unwrap();
        assert_eq!(m.status, Status::Complete);
        assert!(m.app_paths.is_empty());
        let again: Measurement = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn bad_records_are_refused_with_the_field() {
        let mut m: Measurement = serde_json::from_str(RECORD).unwrap();
        m.a.country = "ch".into();
        assert_eq!(m.validate().unwrap_err().field, "a.country");
        let mut m: Measurement = serde_json::from_str(RECORD).unwrap();
        m.b.lat = Some(10.0);
        assert_eq!(m.validate().unwrap_err().field, "b.lat/lon");
        let mut m: Measurement = serde_json::from_str(RECORD).unwrap();
        m.version = 2;
        assert_eq!(m.validate().unwrap_err().field, "version");
        let err = serde_json::from_str::<Measurement>(&RECORD.replace("\"started\"", "\"begun\""))
            .unwrap_err();
        assert!(err.to_string().contains("begun"), "{err}");
    }
}
