//! The report's Privacy section, as data: per app, the PII leaks and the trackers the privacy
//! pass found in its measurements' captures, how many encrypted flows it could not read, and
//! how many the router's interception proxy decrypted (or the app's pinning kept it from).
//! A pure function of the privacy records (docs/analysis.md, "Privacy").

use crate::privacy::{MeasurementPrivacy, PayloadState};
use matador_pipeline::{Detail, Encoding, Location, Party, PiiKind};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// What the report says wherever encrypted flows were not inspected.
pub const NOT_INSPECTED: &str = "Leaks inside TLS (and QUIC) are not visible without \
     interception: the payload of these encrypted flows was not inspected.";

/// What an app's note says when every one of its TLS flows was decrypted and searched.
pub const ALL_DECRYPTED: &str =
    "TLS flows were decrypted by the router's interception proxy and searched.";

/// The Privacy section: one entry per app with privacy records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrivacyReport {
    /// Captures (measurement sides) with a privacy record.
    pub captures: usize,
    /// The policies the records were made with.
    pub policies: Vec<String>,
    /// Per app, sorted by app.
    pub apps: Vec<AppPrivacy>,
    /// The sentence about encrypted flows.
    pub note: String,
}

impl Default for PrivacyReport {
    fn default() -> Self {
        PrivacyReport {
            captures: 0,
            policies: Vec::new(),
            apps: Vec::new(),
            note: NOT_INSPECTED.to_string(),
        }
    }
}

/// One app's leaks and trackers over all its measurements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppPrivacy {
    /// The app (its package).
    pub app: String,
    /// Measurements with a privacy record.
    pub measurements: usize,
    /// Captures (two per measurement when both routers sent one).
    pub captures: usize,
    /// Flows in those captures.
    pub flows: usize,
    /// Flows whose cleartext payload was searched.
    pub inspected: usize,
    /// TLS/QUIC flows whose payload was not inspected.
    pub encrypted_not_inspected: usize,
    /// Flows without payload (names were still searched).
    pub without_payload: usize,
    /// TLS flows decrypted by the router's interception proxy and searched.
    pub decrypted: usize,
    /// Flows whose app refused the interception certificate (pinning): not decrypted.
    pub pinned: usize,
    /// What the counts mean for the leaks: not inspected, decrypted, pinned (sentences).
    pub notes: Vec<String>,
    /// PII leaks, by kind, destination and encoding.
    pub leaks: Vec<LeakRow>,
    /// Trackers, by listed domain.
    pub trackers: Vec<TrackerRow>,
}

/// One registered (or generic) value, written one way, sent to one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeakRow {
    /// What kind of data.
    pub kind: PiiKind,
    /// Its registered label; none for values found by shape.
    pub label: Option<String>,
    /// How it was written: plain, url, hex, base64, md5, sha1, sha256.
    pub encoding: Encoding,
    /// The exact forms seen (e.g. `sha1 lowercase hex`).
    pub forms: Vec<String>,
    /// Where in the flows: request bytes, response bytes, server name.
    pub locations: Vec<Location>,
    /// Seen in cleartext, or in TLS the router's interception proxy decrypted.
    pub via: Via,
    /// The destination host (server name, else `address:port`).
    pub destination: String,
    /// The server's address.
    pub address: IpAddr,
    /// The first excerpt seen, the value masked.
    pub evidence: String,
    /// Flows it was seen in.
    pub flows: usize,
    /// Times it was seen, all flows together.
    pub occurrences: u64,
}

/// How the bytes a leak was found in travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Readable on the wire (cleartext payload, or a name such as the SNI).
    Cleartext,
    /// Inside TLS, read because the router's interception proxy decrypted it.
    DecryptedTls,
}

impl Via {
    /// The label the reports show (`cleartext`, `decrypted TLS`).
    pub fn label(self) -> &'static str {
        match self {
            Via::Cleartext => "cleartext",
            Via::DecryptedTls => "decrypted TLS",
        }
    }
}

/// Flows to one listed tracker domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackerRow {
    /// The listed domain the flows' names fall under.
    pub domain: String,
    /// The tracker's name.
    pub tracker: String,
    /// The company behind it (the list's owner; the tracker's name when the list has none).
    pub organisation: String,
    /// The list's category (`advertising`, `site_analytics`, …).
    pub category: String,
    /// First party (one of the app's own domains) or third party.
    pub party: Party,
    /// The names the flows went by.
    pub names: Vec<String>,
    /// Flows to it.
    pub flows: usize,
    /// Bytes of those flows, both ways, as frames on the wire.
    pub bytes: u64,
    /// Of those flows, how many the policy blocks (the router refuses them).
    #[serde(default)]
    pub blocked: usize,
    /// Of the blocked flows, how many the server still answered (the block missed them).
    #[serde(default)]
    pub got_through: usize,
}

/// What makes two leak findings one row.
type LeakKey = (String, Option<String>, String, String, Encoding, Via);

/// The Privacy section of the given records.
pub fn compute(records: &[MeasurementPrivacy]) -> PrivacyReport {
    let mut apps: BTreeMap<&str, (AppPrivacy, BTreeSet<&str>, Acc)> = BTreeMap::new();
    let mut policies = BTreeSet::new();
    for r in records {
        policies.insert(r.policy.clone());
        let (app, ids, acc) = apps
            .entry(r.app.as_str())
            .or_insert_with(|| (empty(&r.app), BTreeSet::new(), Acc::default()));
        ids.insert(r.measurement.as_str());
        app.captures += 1;
        for f in &r.flows {
            app.flows += 1;
            match f.payload {
                PayloadState::Cleartext => app.inspected += 1,
                PayloadState::Encrypted => app.encrypted_not_inspected += 1,
                PayloadState::None => app.without_payload += 1,
                PayloadState::Decrypted => app.decrypted += 1,
            }
            app.pinned += usize::from(f.pinned());
            let mut seen: BTreeSet<LeakKey> = BTreeSet::new();
            for finding in &f.findings {
                match &finding.detail {
                    Detail::Pii(leak) => {
                        let via = match (f.payload, leak.location) {
                            (PayloadState::Decrypted, Location::ToServer | Location::ToClient) => {
                                Via::DecryptedTls
                            }
                            _ => Via::Cleartext,
                        };
                        let key = (
                            leak.kind.to_string(),
                            leak.label.clone(),
                            f.destination.clone(),
                            f.server.address.to_string(),
                            leak.encoding,
                            via,
                        );
                        let row = acc.leaks.entry(key.clone()).or_insert_with(|| LeakRow {
                            kind: leak.kind,
                            label: leak.label.clone(),
                            encoding: leak.encoding,
                            forms: Vec::new(),
                            locations: Vec::new(),
                            via,
                            destination: f.destination.clone(),
                            address: f.server.address,
                            evidence: leak.evidence.clone(),
                            flows: 0,
                            occurrences: 0,
                        });
                        push_new(&mut row.forms, &leak.form);
                        if !row.locations.contains(&leak.location) {
                            row.locations.push(leak.location);
                        }
                        row.occurrences += u64::from(leak.occurrences);
                        // A value seen in several forms in one flow counts the flow once.
                        if seen.insert(key) {
                            row.flows += 1;
                        }
                    }
                    Detail::Tracker(hit) => {
                        let key = (hit.domain.clone(), hit.party == Party::First);
                        let row = acc.trackers.entry(key).or_insert_with(|| TrackerRow {
                            domain: hit.domain.clone(),
                            tracker: hit.tracker.clone(),
                            organisation: hit.owner.clone().unwrap_or_else(|| hit.tracker.clone()),
                            category: hit.category.clone(),
                            party: hit.party,
                            names: Vec::new(),
                            flows: 0,
                            bytes: 0,
                            blocked: 0,
                            got_through: 0,
                        });
                        push_new(&mut row.names, &hit.name);
                        row.flows += 1;
                        row.bytes += f.client.bytes + f.server.bytes;
                        if let Some(b) = &f.blocked {
                            row.blocked += 1;
                            row.got_through += usize::from(b.answered);
                        }
                    }
                    Detail::Classification(_) | Detail::Note { .. } => {}
                }
            }
        }
    }
    PrivacyReport {
        captures: records.len(),
        policies: policies.into_iter().collect(),
        apps: apps
            .into_values()
            .map(|(mut app, ids, acc)| {
                app.measurements = ids.len();
                app.notes = notes(&app);
                app.leaks = acc.leaks.into_values().collect();
                app.trackers = acc.trackers.into_values().collect();
                app
            })
            .collect(),
        note: NOT_INSPECTED.to_string(),
    }
}

/// An app's rows as they are gathered, in a stable order.
#[derive(Default)]
struct Acc {
    leaks: BTreeMap<LeakKey, LeakRow>,
    trackers: BTreeMap<(String, bool), TrackerRow>,
}

/// The app's sentences: encrypted flows not inspected ([`NOT_INSPECTED`]), flows that pinned
/// their certificate, and TLS flows decrypted ([`ALL_DECRYPTED`] when none was left unread).
fn notes(a: &AppPrivacy) -> Vec<String> {
    let mut out = Vec::new();
    if a.encrypted_not_inspected > 0 {
        out.push(NOT_INSPECTED.to_string());
    }
    match a.pinned {
        0 => {}
        1 => out.push("1 flow pinned its certificate and was not decrypted.".to_string()),
        n => out.push(format!(
            "{n} flows pinned their certificate and were not decrypted."
        )),
    }
    match (a.decrypted, a.encrypted_not_inspected) {
        (0, _) => {}
        (_, 0) => out.push(ALL_DECRYPTED.to_string()),
        (1, _) => out.push(
            "1 TLS flow was decrypted by the router's interception proxy and searched.".to_string(),
        ),
        (n, _) => out.push(format!(
            "{n} TLS flows were decrypted by the router's interception proxy and searched."
        )),
    }
    out
}

fn empty(app: &str) -> AppPrivacy {
    AppPrivacy {
        app: app.to_string(),
        measurements: 0,
        captures: 0,
        flows: 0,
        inspected: 0,
        encrypted_not_inspected: 0,
        without_payload: 0,
        decrypted: 0,
        pinned: 0,
        notes: Vec::new(),
        leaks: Vec::new(),
        trackers: Vec::new(),
    }
}

fn push_new(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_string());
    }
}

#[cfg(test)]
#[path = "privacy_tests.rs"]
mod tests;
