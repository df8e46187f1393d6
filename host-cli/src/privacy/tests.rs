//! The privacy pass end to end, without root: a capture built here (the probe's packet and
//! capture templates) with an HTTP GET to a tracker carrying a registered IMEI plain, in
//! base64 and as its SHA-1, and a TLS ClientHello; through the pass into the store, back into
//! the analysis, and out as the report's Privacy section in HTML and JSON.

#[path = "../../../router-fw/probe/tests/support/capture.rs"]
pub(super) mod capture;
#[path = "../../../router-fw/probe/tests/support/messages.rs"]
pub(super) mod messages;
#[path = "../../../router-fw/probe/tests/support/packets.rs"]
pub(super) mod packets;

use super::policy::DEFAULT_POLICY;
use super::*;
use crate::analysis::groups::Groups;
use crate::analysis::privacy::{LeakRow, NOT_INSPECTED};
use crate::analysis::regions::Regions;
use crate::analysis::render::{render, Format};
use crate::analysis::test_support::{geo, measurement};
use crate::analysis::Analyzer;
use crate::spec::{parse_app, parse_inventory};
use base64::Engine as _;
use matador_pipeline::{Encoding, Party, PiiKind};
use packets::{ACK, PSH, SYN};
use std::net::IpAddr;
use std::path::Path;

pub(super) const IMEI: &str = "490154203237518";
pub(super) const PHONE: &str = "10.0.0.2";
/// A tracker of the bundled list: `doubleclick.net`, DoubleClick, advertising, Google.
pub(super) const TRACKER_HOST: &str = "ad.doubleclick.net";
pub(super) const TRACKER_IP: &str = "192.0.2.80";
const CHAT_IP: &str = "192.0.2.44";
pub(super) const SERIAL: &str = "127.0.0.1:25550";
pub(super) const PACKAGE: &str = "com.example.chat";
pub(super) const MEASUREMENT: &str = "c1-chat-vp-de-vp-fr-r1";

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// A TCP conversation: handshake, the client's bytes in `pieces` (sent in the given order,
/// each `(offset, bytes)`), then the server's reply.
pub(super) fn conversation(
    out: &mut Vec<Vec<u8>>,
    (client, cport): (&str, u16),
    (server, sport): (&str, u16),
    pieces: &[(u32, &[u8])],
    reply: &[u8],
) {
    let (c, s) = (ip(client), ip(server));
    let seg = |from: IpAddr, to: IpAddr, ports: (u16, u16), seq: u32, flags: u8, data: &[u8]| {
        packets::ip(
            from,
            to,
            6,
            &packets::tcp(ports.0, ports.1, seq, 1, flags, data),
        )
    };
    out.push(seg(c, s, (cport, sport), 1000, SYN, b""));
    out.push(seg(s, c, (sport, cport), 7000, SYN | ACK, b""));
    for (offset, bytes) in pieces {
        out.push(seg(c, s, (cport, sport), 1001 + offset, ACK | PSH, bytes));
    }
    if !reply.is_empty() {
        out.push(seg(s, c, (sport, cport), 7001, ACK | PSH, reply));
    }
}

/// The capture: the tracker request cut in two segments that arrive out of order (the first
/// one twice), and a TLS ClientHello to the chat service.
fn capture_bytes() -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(IMEI);
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, IMEI.as_bytes());
    let sha1: String = sha1.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let request = messages::http_request(
        TRACKER_HOST,
        "okhttp/4.9.3",
        &format!("/collect?imei={IMEI}&b={b64}&h={sha1}&v=2"),
    );
    let cut = 20;
    let mut ips = Vec::new();
    conversation(
        &mut ips,
        (PHONE, 40000),
        (TRACKER_IP, 80),
        &[
            (cut as u32, &request[cut..]),
            (0, &request[..cut]),
            (0, &request[..cut]),
        ],
        b"HTTP/1.1 204 No Content\r\n\r\n",
    );
    let hello = messages::tls_records(&messages::client_hello("chat.example", 0, false), 16384);
    conversation(
        &mut ips,
        (PHONE, 40001),
        (CHAT_IP, 443),
        &[(0, &hello)],
        b"",
    );
    let t0 = 1_700_000_000_000_000_000u64;
    let packets: Vec<(u64, Vec<u8>)> = ips
        .into_iter()
        .enumerate()
        .map(|(i, p)| (t0 + i as u64 * 1_000_000, p))
        .collect();
    capture::pcap(capture::RAW, false, true, &packets)
}

/// The inventory phone with its registered IMEI, and the app.
pub(super) fn pass(db: &Path) -> PrivacyPass {
    pass_with(db, None)
}

/// The same with a policy file.
fn pass_with(db: &Path, policy: Option<matador_pipeline::Policy>) -> PrivacyPass {
    let inventory = format!(
        "routers:\n  - {{ name: lr-a, from_lab: true }}\n  - {{ name: lr-b, from_lab: true }}\n\
         phones:\n  - serial: \"{SERIAL}\"\n    model: Pixel 7\n    router: lr-a\n    pii:\n      imei: \"{IMEI}\"\n\
         \x20 - {{ serial: \"127.0.0.1:25551\", model: Pixel 7, router: lr-b }}\n\
         vantage_nodes:\n  - {{ name: vp-de, country: DE, city: Frankfurt, lat: 50.11, lon: 8.68, from_lab: true }}\n"
    );
    let inventory = parse_inventory(&inventory, "inv.yaml", Path::new("/")).expect("inventory");
    let app = crate::spec::tests::APP.replace(
        "ui:",
        "rules:\n  allow:\n    - { name: \"*.chat.example\" }\nui:",
    );
    let app = parse_app(&app, "app.yaml").expect("app");
    PrivacyPass::new(db, policy, &inventory, &[app]).expect("privacy pass")
}

#[test]
fn a_tracker_request_leaking_an_imei_three_ways_and_a_tls_flow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("results.sqlite");
    let pass = pass(&db);
    let record = pass
        .run(
            MEASUREMENT,
            "a",
            "lr-a",
            PACKAGE,
            &capture_bytes(),
            None,
            dir.path(),
        )
        .expect("privacy pass");
    assert_eq!(
        (record.device.as_str(), record.app.as_str()),
        (SERIAL, PACKAGE)
    );
    assert_eq!(record.policy, DEFAULT_POLICY);
    assert_eq!(record.flows.len(), 2);
    // The record is beside the screenshots and in the store.
    let file = std::fs::read(dir.path().join("privacy-a.json")).expect("file written");
    let from_file: MeasurementPrivacy = serde_json::from_slice(&file).expect("parses");
    assert_eq!(from_file, record);

    // The analysis reads it back for the measurements it analyses.
    let regions = Regions::builtin().expect("regions");
    let groups = Groups::preset("default", &regions)
        .expect("preset")
        .expect("known");
    let analyzer = Analyzer::new(geo(), regions, groups).expect("analyzer");
    let m = measurement(
        MEASUREMENT,
        PACKAGE,
        ("DE", "FR"),
        Some(&["DE", "FR"]),
        &["DE", "GB"],
        &["FR", "GB"],
    );
    let mut report = analyzer.analyze(&[m], Vec::new()).expect("report");
    crate::analysis::cli::add_privacy(&mut report, &db).expect("privacy records");

    let p = &report.privacy;
    assert_eq!(p.captures, 1);
    let app = &p.apps[0];
    assert_eq!((app.app.as_str(), app.flows), (PACKAGE, 2));
    assert_eq!((app.inspected, app.encrypted_not_inspected), (1, 1));
    let leaks: Vec<(PiiKind, Encoding, &str, IpAddr, usize)> = app
        .leaks
        .iter()
        .map(|l: &LeakRow| {
            (
                l.kind,
                l.encoding,
                l.destination.as_str(),
                l.address,
                l.flows,
            )
        })
        .collect();
    let to_tracker = |e| (PiiKind::Imei, e, TRACKER_HOST, ip(TRACKER_IP), 1);
    assert_eq!(
        leaks,
        [
            to_tracker(Encoding::Plain),
            to_tracker(Encoding::Base64),
            to_tracker(Encoding::Sha1)
        ],
        "{:#?}",
        app.leaks
    );
    for l in &app.leaks {
        assert!(
            !l.evidence.contains(IMEI),
            "evidence is masked: {}",
            l.evidence
        );
    }
    assert_eq!(app.trackers.len(), 1);
    let t = &app.trackers[0];
    assert_eq!(
        (
            t.domain.as_str(),
            t.tracker.as_str(),
            t.organisation.as_str(),
            t.category.as_str()
        ),
        ("doubleclick.net", "DoubleClick", "Google", "advertising")
    );
    assert_eq!((t.party, t.flows), (Party::Third, 1));
    assert!(t.bytes > 0);

    let html = render(&report, Format::Html).expect("html");
    assert!(html.contains("<h2>Privacy</h2>"), "section");
    assert!(html.contains("<h3>com.example.chat</h3>"));
    assert!(html.contains("<td>sha1</td>") && html.contains("<td>base64</td>"));
    assert!(html.contains("<td>Google</td>") && html.contains("third party"));
    assert!(html.contains("1 encrypted not inspected"));
    assert!(html.contains("not visible without interception"));
    assert!(!html.contains(IMEI), "no unmasked value in the report");

    let json: serde_json::Value =
        serde_json::from_str(&render(&report, Format::Json).expect("json")).expect("parses");
    let app = &json["privacy"]["apps"][0];
    assert_eq!(app["app"], PACKAGE);
    assert_eq!(app["encrypted_not_inspected"], 1);
    assert_eq!(app["leaks"].as_array().map(Vec::len), Some(3));
    assert_eq!(app["leaks"][2]["encoding"], "sha1");
    assert_eq!(app["leaks"][0]["destination"], TRACKER_HOST);
    assert_eq!(app["leaks"][0]["address"], TRACKER_IP);
    assert_eq!(app["trackers"][0]["organisation"], "Google");
    assert_eq!(app["trackers"][0]["party"], "third");
    assert_eq!(json["privacy"]["note"], NOT_INSPECTED);
}

#[test]
fn a_first_party_domain_and_a_capture_that_does_not_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("results.sqlite");
    let pass = pass(&db);
    let err = pass
        .run(
            MEASUREMENT,
            "b",
            "lr-b",
            PACKAGE,
            b"not a capture",
            None,
            dir.path(),
        )
        .expect_err("refused");
    assert!(err.to_string().contains("not a pcap"), "{err}");
    // The app's `allow` rule makes chat.example its own domain.
    assert_eq!(
        pass.pipeline().policy().first_party(Some(PACKAGE)),
        ["chat.example"]
    );
    let conn = store::open(&db).expect("store");
    assert!(store::load(&conn, |_| true)
        .expect("load")
        .records
        .is_empty());
}

#[test]
fn a_policy_that_blocks_trackers_gives_the_router_its_list_and_the_report_says_what_got_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("results.sqlite");
    let policy = format!(
        "devices:\n  - id: \"{SERIAL}\"\n    lab: true\n    plugins: [classification, pii, tracker, blocking]\n"
    );
    let policy = matador_pipeline::Policy::parse(&policy, "policy.yaml").expect("policy");
    let pass = pass_with(&db, Some(policy));
    let list = pass
        .blocklist("lr-a", PACKAGE)
        .expect("builds")
        .expect("blocking");
    assert!(
        list.iter().any(|d| d == "doubleclick.net"),
        "{}",
        list.len()
    );
    assert!(
        !list.iter().any(|d| d == "chat.example"),
        "the app's own domain"
    );
    // The other phone runs the defaults, without blocking: its router blocks nothing.
    assert_eq!(
        pass.blocklist("lr-b", PACKAGE).expect("builds"),
        Some(Vec::new())
    );
    // Without blocking anywhere in the policy, the routers' lists are left alone.
    assert_eq!(
        pass_with(&dir.path().join("other.sqlite"), None)
            .blocklist("lr-a", PACKAGE)
            .expect("builds"),
        None
    );

    let record = pass
        .run(
            MEASUREMENT,
            "a",
            "lr-a",
            PACKAGE,
            &capture_bytes(),
            None,
            dir.path(),
        )
        .expect("analysed");
    let tracker_flow = record
        .flows
        .iter()
        .find(|f| f.destination == TRACKER_HOST)
        .expect("the tracker flow");
    let blocked = tracker_flow.blocked.as_ref().expect("the policy blocks it");
    assert!(blocked.reason.contains("DoubleClick"), "{}", blocked.reason);
    assert!(
        blocked.answered,
        "the capture has the server's 204: it got through"
    );
    assert!(record
        .flows
        .iter()
        .filter(|f| f.destination != TRACKER_HOST)
        .all(|f| f.blocked.is_none()));
    let report = crate::analysis::privacy::compute(&[record]);
    let row = &report.apps[0].trackers[0];
    assert_eq!((row.flows, row.blocked, row.got_through), (1, 1, 1));
}
