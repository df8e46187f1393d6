//! The Privacy section from hand-built records: rows merge by destination and encoding,
//! a flow counts once per row, trackers add up flows and bytes, encrypted flows are counted.

use super::*;
use crate::privacy::{CaptureSummary, FlowFindings, PRIVACY_VERSION};
use matador_pipeline::{Finding, FlowSide, Names, PiiLeak, Protocol, TrackerHit};

fn pii(encoding: Encoding, form: &str, location: Location) -> Detail {
    Detail::Pii(PiiLeak {
        kind: PiiKind::Imei,
        label: Some("imei".into()),
        encoding,
        form: form.into(),
        location,
        evidence: "id=4**************8".into(),
        occurrences: 1,
    })
}

fn tracker(name: &str, party: Party) -> Detail {
    Detail::Tracker(TrackerHit {
        name: name.into(),
        domain: "doubleclick.net".into(),
        tracker: "DoubleClick".into(),
        category: "advertising".into(),
        owner: Some("Google".into()),
        party,
    })
}

fn flow(
    server: [u8; 4],
    destination: &str,
    payload: PayloadState,
    details: Vec<Detail>,
) -> FlowFindings {
    let mut client = FlowSide::new([10, 0, 0, 2].into(), 40000);
    client.bytes = 300;
    let mut srv = FlowSide::new(server.into(), 80);
    srv.bytes = 700;
    FlowFindings {
        protocol: Protocol::Tcp,
        client,
        server: srv,
        names: Names::default(),
        destination: destination.into(),
        payload,
        payload_bytes: 0,
        findings: details
            .into_iter()
            .map(|detail| Finding {
                plugin: "test".into(),
                destination: destination.into(),
                detail,
            })
            .collect(),
        blocked: None,
        interception: None,
    }
}

fn record(id: &str, side: &str, app: &str, flows: Vec<FlowFindings>) -> MeasurementPrivacy {
    MeasurementPrivacy {
        version: PRIVACY_VERSION,
        measurement: id.into(),
        side: side.into(),
        device: "phone".into(),
        app: app.into(),
        policy: "p.yaml".into(),
        capture: CaptureSummary::default(),
        flows,
    }
}

#[test]
fn leaks_and_trackers_add_up_per_app() {
    let ad = "ad.doubleclick.net";
    let records = [
        record(
            "m1",
            "a",
            "zeta",
            vec![
                // Two SHA-1 forms and the plain value in one flow: two rows, one flow each.
                flow(
                    [192, 0, 2, 7],
                    ad,
                    PayloadState::Cleartext,
                    vec![
                        pii(Encoding::Plain, "plain", Location::ToServer),
                        pii(Encoding::Sha1, "sha1 lowercase hex", Location::ToServer),
                        pii(Encoding::Sha1, "sha1 base64", Location::ToServer),
                        tracker(ad, Party::Third),
                    ],
                ),
                flow(
                    [192, 0, 2, 9],
                    "chat.example",
                    PayloadState::Encrypted,
                    vec![],
                ),
            ],
        ),
        record(
            "m1",
            "b",
            "zeta",
            vec![flow(
                [192, 0, 2, 7],
                ad,
                PayloadState::Cleartext,
                vec![
                    pii(Encoding::Plain, "plain", Location::ToServer),
                    tracker(ad, Party::Third),
                ],
            )],
        ),
        record(
            "m2",
            "a",
            "alpha",
            vec![flow(
                [192, 0, 2, 1],
                "x.example",
                PayloadState::None,
                vec![],
            )],
        ),
    ];
    let report = compute(&records);
    assert_eq!(report.captures, 3);
    assert_eq!(report.policies, ["p.yaml"]);
    assert_eq!(report.note, NOT_INSPECTED);
    let names: Vec<&str> = report.apps.iter().map(|a| a.app.as_str()).collect();
    assert_eq!(names, ["alpha", "zeta"]);
    let alpha = &report.apps[0];
    assert_eq!((alpha.flows, alpha.without_payload), (1, 1));
    assert!(alpha.leaks.is_empty() && alpha.trackers.is_empty());
    let zeta = &report.apps[1];
    assert_eq!((zeta.measurements, zeta.captures, zeta.flows), (1, 2, 3));
    assert_eq!((zeta.inspected, zeta.encrypted_not_inspected), (2, 1));
    let rows: Vec<(Encoding, usize, u64)> = zeta
        .leaks
        .iter()
        .map(|l| (l.encoding, l.flows, l.occurrences))
        .collect();
    assert_eq!(rows, [(Encoding::Plain, 2, 2), (Encoding::Sha1, 1, 2)]);
    assert_eq!(zeta.leaks[1].forms, ["sha1 lowercase hex", "sha1 base64"]);
    assert_eq!(zeta.leaks[0].destination, ad);
    assert_eq!(zeta.leaks[0].address.to_string(), "192.0.2.7");
    assert_eq!(zeta.trackers.len(), 1);
    let t = &zeta.trackers[0];
    assert_eq!((t.organisation.as_str(), t.party), ("Google", Party::Third));
    assert_eq!((t.flows, t.bytes), (2, 2000));
    assert_eq!(t.names, [ad]);
}

#[test]
fn no_records_give_an_empty_section() {
    let report = compute(&[]);
    assert_eq!(report.captures, 0);
    assert!(report.apps.is_empty());
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["apps"], serde_json::json!([]));
}

#[test]
fn notes_say_what_interception_did() {
    let pinned = |mut f: FlowFindings, outcome: &str| {
        f.interception = Some(outcome.into());
        f
    };
    let tls = |payload| flow([192, 0, 2, 9], "chat.example", payload, vec![]);
    let report = compute(&[record(
        "m1",
        "a",
        "zeta",
        vec![
            pinned(tls(PayloadState::Encrypted), "pinned"),
            pinned(tls(PayloadState::Encrypted), "passthrough_pinned"),
            pinned(tls(PayloadState::Encrypted), "upstream_failed"),
            pinned(tls(PayloadState::Decrypted), "intercepted"),
            pinned(tls(PayloadState::Decrypted), "intercepted"),
        ],
    )]);
    let a = &report.apps[0];
    assert_eq!(
        (a.encrypted_not_inspected, a.decrypted, a.pinned),
        (3, 2, 2)
    );
    assert_eq!(
        a.notes,
        [
            NOT_INSPECTED,
            "2 flows pinned their certificate and were not decrypted.",
            "2 TLS flows were decrypted by the router's interception proxy and searched."
        ]
    );
    // A leak in a decrypted flow's payload is told apart; one in its server name is not.
    let leaky = flow(
        [192, 0, 2, 7],
        "t.example",
        PayloadState::Decrypted,
        vec![
            pii(Encoding::Plain, "plain", Location::ToServer),
            pii(Encoding::Plain, "plain", Location::ServerName),
        ],
    );
    let report = compute(&[record("m2", "a", "alpha", vec![leaky])]);
    let a = &report.apps[0];
    let via: Vec<Via> = a.leaks.iter().map(|l| l.via).collect();
    assert_eq!(via, [Via::Cleartext, Via::DecryptedTls]);
    assert_eq!(a.notes, [ALL_DECRYPTED]);
}
