//! The privacy pass with the router's TLS interception records: a TLS flow to a tracker whose
//! capture shows only ciphertext, and the proxy's record of it whose plaintext is a POST
//! carrying the registered IMEI plain, in base64 and as its SHA-1; a second TLS flow the app
//! pinned; garbage lines. Built as `tests.rs` builds its capture, with its helpers.

use super::tests::{
    capture, conversation, ip, messages, pass, IMEI, MEASUREMENT, PACKAGE, PHONE, TRACKER_HOST,
    TRACKER_IP,
};
use super::*;
use crate::analysis::groups::Groups;
use crate::analysis::privacy::{compute, PrivacyReport, Via, ALL_DECRYPTED, NOT_INSPECTED};
use crate::analysis::regions::Regions;
use crate::analysis::render::{render, Format};
use crate::analysis::test_support::geo;
use crate::analysis::{Analyzer, Report};
use base64::Engine as _;
use matador_mitm::record::{FlowRecord as ProxyRecord, Outcome};
use matador_pipeline::{Detail, Encoding, PiiKind};

const CHAT_IP: &str = "192.0.2.44";
const T0_MS: u64 = 1_700_000_000_000;

/// Two TLS flows: the phone to the tracker (ClientHello, an application-data record, the
/// server's answer) and to the chat service (ClientHello only).
fn tls_capture() -> Vec<u8> {
    let mut ips = Vec::new();
    let hello = messages::tls_records(&messages::client_hello(TRACKER_HOST, 0, false), 16384);
    let mut data = b"\x17\x03\x03\x00\x20".to_vec();
    data.extend((0u8..32).map(|b| b.wrapping_mul(37) ^ 0x5a));
    conversation(
        &mut ips,
        (PHONE, 40002),
        (TRACKER_IP, 443),
        &[(0, &hello), (hello.len() as u32, &data)],
        b"\x16\x03\x03\x00\x04\x02\x00\x00\x00",
    );
    let hello = messages::tls_records(&messages::client_hello("chat.example", 0, false), 16384);
    conversation(
        &mut ips,
        (PHONE, 40003),
        (CHAT_IP, 443),
        &[(0, &hello)],
        b"",
    );
    let packets: Vec<(u64, Vec<u8>)> = ips
        .into_iter()
        .enumerate()
        .map(|(i, p)| ((T0_MS + i as u64) * 1_000_000, p))
        .collect();
    capture::pcap(capture::RAW, false, true, &packets)
}

/// The POST the app sent inside TLS: the IMEI plain, base64 and SHA-1 hex in a JSON body.
fn post() -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(IMEI);
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, IMEI.as_bytes());
    let sha1: String = sha1.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let body = format!(r#"{{"imei":"{IMEI}","b":"{b64}","h":"{sha1}","v":2}}"#);
    format!(
        "POST /v1/collect HTTP/1.1\r\nHost: {TRACKER_HOST}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The proxy's JSON line for the phone's connection from `port` to `server`:443.
fn line(port: u16, server: &str, outcome: Outcome, to_server: &[u8]) -> String {
    let mut r = ProxyRecord::new(
        format!("{PHONE}:{port}").parse().expect("client"),
        format!("{server}:443").parse().expect("server"),
        T0_MS,
        outcome,
    );
    r.set_excerpts(to_server, b"HTTP/1.1 204 No Content\r\n\r\n");
    serde_json::to_string(&r).expect("encodes")
}

fn tracker_flow(r: &MeasurementPrivacy) -> &FlowFindings {
    r.flows
        .iter()
        .find(|f| f.destination == TRACKER_HOST)
        .expect("the tracker flow")
}

fn pii(f: &FlowFindings) -> Vec<Encoding> {
    f.findings
        .iter()
        .filter_map(|x| match &x.detail {
            Detail::Pii(l) if l.kind == PiiKind::Imei => Some(l.encoding),
            _ => None,
        })
        .collect()
}

/// A report of no measurement with `privacy` as its Privacy section.
fn report_of(privacy: PrivacyReport) -> Report {
    let regions = Regions::builtin().expect("regions");
    let groups = Groups::preset("default", &regions)
        .expect("preset")
        .expect("known");
    let analyzer = Analyzer::new(geo(), regions, groups).expect("analyzer");
    let mut report = analyzer.analyze(&[], Vec::new()).expect("report");
    report.privacy = privacy;
    report
}

fn run(decrypted: Option<&[u8]>) -> MeasurementPrivacy {
    let dir = tempfile::tempdir().expect("tempdir");
    let pass = pass(&dir.path().join("results.sqlite"));
    pass.run(
        MEASUREMENT,
        "a",
        "lr-a",
        PACKAGE,
        &tls_capture(),
        decrypted,
        dir.path(),
    )
    .expect("privacy pass")
}

#[test]
fn without_interception_the_tls_flow_is_encrypted_and_its_leak_not_visible() {
    let record = run(None);
    assert_eq!(record.flows.len(), 2);
    let f = tracker_flow(&record);
    assert_eq!(f.payload, PayloadState::Encrypted);
    assert_eq!(f.interception, None);
    assert!(pii(f).is_empty(), "{:#?}", f.findings);
    assert_eq!(record.capture.interception, None);
    // Such a record has none of the new fields: records written before them read the same.
    let json = serde_json::to_string(&record).expect("encodes");
    assert!(!json.contains("interception"), "{json}");
    let back: MeasurementPrivacy = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back, record);
    let app = &compute(std::slice::from_ref(&record)).apps[0];
    assert_eq!(
        (app.encrypted_not_inspected, app.decrypted, app.pinned),
        (2, 0, 0)
    );
    assert_eq!(app.notes, [NOT_INSPECTED]);
    assert!(app.leaks.is_empty());
}

#[test]
fn a_decrypted_post_leaks_the_imei_three_ways_and_a_pinned_flow_is_counted() {
    let lines = [
        line(40002, TRACKER_IP, Outcome::Intercepted, &post()),
        "{\"client\": garbage".to_string(),
        line(40003, CHAT_IP, Outcome::Pinned, b""),
        // A connection the capture does not have.
        line(
            49999,
            CHAT_IP,
            Outcome::Intercepted,
            b"GET / HTTP/1.1\r\n\r\n",
        ),
    ]
    .join("\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("results.sqlite");
    let record = pass(&db)
        .run(
            MEASUREMENT,
            "a",
            "lr-a",
            PACKAGE,
            &tls_capture(),
            Some(lines.as_bytes()),
            dir.path(),
        )
        .expect("privacy pass");
    let f = tracker_flow(&record);
    assert_eq!(f.payload, PayloadState::Decrypted);
    assert_eq!(f.interception.as_deref(), Some("intercepted"));
    assert_eq!(
        pii(f),
        [Encoding::Plain, Encoding::Base64, Encoding::Sha1],
        "{:#?}",
        f.findings
    );
    let chat = record
        .flows
        .iter()
        .find(|f| f.destination == "chat.example")
        .expect("the chat flow");
    assert_eq!(chat.payload, PayloadState::Encrypted);
    assert_eq!(chat.interception.as_deref(), Some("pinned"));
    assert!(chat.pinned());
    assert_eq!(
        record.capture.interception,
        Some(InterceptionSummary {
            records: 3,
            matched: 2,
            skipped_lines: 1
        })
    );
    // The store gives the record back as written.
    let loaded = store::load(&store::open(&db).expect("store"), |_| true).expect("load");
    assert_eq!(loaded.records, std::slice::from_ref(&record));

    let report = compute(&[record]);
    let app = &report.apps[0];
    assert_eq!((app.inspected, app.decrypted), (0, 1));
    assert_eq!((app.encrypted_not_inspected, app.pinned), (1, 1));
    assert_eq!(app.notes.len(), 3, "{:?}", app.notes);
    assert_eq!(app.notes[0], NOT_INSPECTED);
    assert_eq!(
        app.notes[1],
        "1 flow pinned its certificate and was not decrypted."
    );
    let rows: Vec<(Encoding, &str, std::net::IpAddr, Via)> = app
        .leaks
        .iter()
        .map(|l| (l.encoding, l.destination.as_str(), l.address, l.via))
        .collect();
    let to_tracker = |e| (e, TRACKER_HOST, ip(TRACKER_IP), Via::DecryptedTls);
    assert_eq!(
        rows,
        [
            to_tracker(Encoding::Plain),
            to_tracker(Encoding::Base64),
            to_tracker(Encoding::Sha1)
        ]
    );

    let full = report_of(report);
    let html = render(&full, Format::Html).expect("html");
    assert!(
        html.contains("<td>decrypted TLS</td>"),
        "the leak's row says how"
    );
    assert!(html.contains("1 decrypted TLS") && html.contains("(1 pinned)"));
    assert!(html.contains("pinned its certificate and was not decrypted"));
    assert!(html.contains("not visible without interception"));
    assert!(!html.contains(IMEI), "no unmasked value in the report");
    let json: serde_json::Value =
        serde_json::from_str(&render(&full, Format::Json).expect("json")).expect("parses");
    let app = &json["privacy"]["apps"][0];
    assert_eq!(
        (app["decrypted"].as_u64(), app["pinned"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(app["leaks"][0]["via"], "decrypted_tls");
    assert_eq!(app["leaks"][0]["destination"], TRACKER_HOST);
}

#[test]
fn a_version_1_record_from_before_interception_still_reads() {
    let old = r#"{"version":1,"measurement":"m1","side":"a","device":"d","app":"x",
        "policy":"p","capture":{"packets":4,"flows":1,"payload_cap":16384,"cut_short":false},
        "flows":[{"protocol":"tcp",
          "client":{"address":"10.0.0.2","port":40000,"packets":2,"bytes":120},
          "server":{"address":"192.0.2.80","port":443,"packets":2,"bytes":80},
          "names":{"sni":"ad.doubleclick.net","http_host":null,"dns":null,"user_agent":null},
          "destination":"ad.doubleclick.net","payload":"encrypted","payload_bytes":64,
          "findings":[]}]}"#;
    let r: MeasurementPrivacy = serde_json::from_str(old).expect("an old record reads");
    assert_eq!(r.version, PRIVACY_VERSION);
    assert_eq!(
        (
            r.capture.interception.as_ref(),
            r.flows[0].interception.as_ref()
        ),
        (None, None)
    );
    assert_eq!(compute(&[r]).apps[0].notes, [NOT_INSPECTED]);
}

#[test]
fn when_every_tls_flow_is_decrypted_the_note_says_so() {
    let lines = [
        line(40002, TRACKER_IP, Outcome::Intercepted, &post()),
        line(
            40003,
            CHAT_IP,
            Outcome::Intercepted,
            b"GET /inbox HTTP/1.1\r\n\r\n",
        ),
    ]
    .join("\n");
    let record = run(Some(lines.as_bytes()));
    assert!(record
        .flows
        .iter()
        .all(|f| f.payload == PayloadState::Decrypted));
    let app = &compute(&[record]).apps[0];
    assert_eq!((app.decrypted, app.encrypted_not_inspected), (2, 0));
    assert_eq!(app.notes, [ALL_DECRYPTED]);
}

#[test]
fn garbage_interception_records_never_fail_the_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pass = pass(&dir.path().join("results.sqlite"));
    let of = CaptureOf {
        measurement: MEASUREMENT,
        side: "a",
        device: super::tests::SERIAL,
        app: PACKAGE,
    };
    let config = matador_probe::flows::PayloadConfig::default();
    let capture = tls_capture();
    let cases: [&[u8]; 6] = [
        b"",
        b"\n\n",
        b"\xff\xfe\x00\n{}",
        b"[1,2,3]\nnull\n\"intercepted\"",
        br#"{"client":"10.0.0.2:40002","server":"192.0.2.80:443","outcome":"intercepted"}"#,
        &[b'{'; 10_000],
    ];
    for bytes in cases {
        let r = analyse_capture(&capture, Some(bytes), of, pass.pipeline(), &config)
            .expect("the pass runs");
        let summary = r.capture.interception.clone().expect("records were given");
        assert_eq!((summary.records, summary.matched), (0, 0));
        assert!(r.flows.iter().all(|f| f.interception.is_none()));
        assert_eq!(tracker_flow(&r).payload, PayloadState::Encrypted);
    }
}
