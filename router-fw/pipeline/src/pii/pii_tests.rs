//! Tests of the PII plugin: every encoding of a registered IMEI, generic shapes, evidence,
//! encrypted payloads.

use super::*;
use crate::flow::{FlowSide, Payload, Protocol};
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use md5::{Digest, Md5};
use ring::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY, SHA256};

const IMEI: &str = "490154203237518";

fn registered() -> RegisteredPii {
    let value = |kind, label: &str, value: &str| RegisteredValue {
        kind,
        label: label.into(),
        value: value.into(),
    };
    RegisteredPii::new(vec![
        value(PiiKind::Imei, "imei", IMEI),
        value(PiiKind::Email, "email", "alice+lab@lab.example"),
        value(PiiKind::Other, "account name", "alice-lab-7"),
    ])
    .expect("compiles")
}

fn flow(kind: PayloadKind, to_server: &[u8]) -> FlowRecord {
    let mut f = FlowRecord::new(
        "phone-a",
        Protocol::Tcp,
        FlowSide::new([10, 0, 0, 2].into(), 40000),
        FlowSide::new([192, 0, 2, 7].into(), 80),
    );
    f.names.http_host = Some("collect.tracker.example".into());
    f.payload = Some(Payload {
        kind,
        to_server: to_server.to_vec(),
        to_client: b"HTTP/1.1 200 OK\r\n\r\n{\"echo\":\"490154203237518\"}".to_vec(),
    });
    f
}

fn leaks(plugin: &PiiPlugin, f: &FlowRecord) -> Vec<PiiLeak> {
    let reg = registered();
    let ctx = DeviceContext::new("phone-a", &reg);
    let out = plugin.inspect(f, &ctx);
    assert_eq!(out.verdict, crate::plugin::Verdict::Pass);
    out.findings
        .into_iter()
        .filter_map(|f| match f.detail {
            Detail::Pii(leak) => Some(leak),
            _ => None,
        })
        .collect()
}

fn imei_encodings(body: &str) -> Vec<(Encoding, String)> {
    let plugin = PiiPlugin::new(&PiiOptions {
        generic: Vec::new(),
        scan_responses: false,
    });
    let request = format!("POST /v1/e HTTP/1.1\r\nHost: collect.tracker.example\r\n\r\n{body}");
    leaks(&plugin, &flow(PayloadKind::Cleartext, request.as_bytes()))
        .into_iter()
        .filter(|l| l.label.as_deref() == Some("imei"))
        .map(|l| (l.encoding, l.form))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_registered_imei_is_found_in_every_encoding() {
    let md5 = hex(&Md5::digest(IMEI.as_bytes()));
    let sha1 = digest(&SHA1_FOR_LEGACY_USE_ONLY, IMEI.as_bytes());
    let sha256 = hex(digest(&SHA256, IMEI.as_bytes()).as_ref());
    let url: String = IMEI.bytes().map(|b| format!("%{b:02X}")).collect();
    let cases = [
        (format!("imei={IMEI}"), Encoding::Plain, "plain"),
        (
            format!("d={url}"),
            Encoding::Url,
            "percent-encoded, every byte",
        ),
        (
            format!("h={}", hex(IMEI.as_bytes())),
            Encoding::Hex,
            "lowercase hex",
        ),
        (
            format!("b={}", STANDARD.encode(format!("x{IMEI}"))),
            Encoding::Base64,
            "base64",
        ),
        (
            format!("j={}", URL_SAFE.encode(format!("{{\"imei\":\"{IMEI}\"}}"))),
            Encoding::Base64,
            "base64",
        ),
        (format!("m={md5}"), Encoding::Md5, "md5 lowercase hex"),
        (
            format!("s={}", hex(sha1.as_ref()).to_uppercase()),
            Encoding::Sha1,
            "sha1 uppercase hex",
        ),
        (
            format!("s={}", STANDARD.encode(sha1.as_ref())),
            Encoding::Sha1,
            "sha1 base64",
        ),
        (
            format!("t={sha256}"),
            Encoding::Sha256,
            "sha256 lowercase hex",
        ),
    ];
    for (body, encoding, form) in cases {
        let found = imei_encodings(&body);
        assert_eq!(found, [(encoding, form.to_string())], "{body}");
    }
}

#[test]
fn a_registered_imei_is_not_found_when_absent() {
    assert!(imei_encodings("imei=490154203237519&h=3439303135343230333233373531").is_empty());
    let other = hex(&Md5::digest(b"490154203237519"));
    assert!(imei_encodings(&format!("m={other}")).is_empty());
}

#[test]
fn evidence_masks_the_value_and_names_the_destination() {
    let plugin = PiiPlugin::new(&PiiOptions::default());
    let reg = registered();
    let ctx = DeviceContext::new("phone-a", &reg);
    let f = flow(
        PayloadKind::Cleartext,
        b"GET /c?id=490154203237518&u=2 HTTP/1.1\r\n",
    );
    let out = plugin.inspect(&f, &ctx);
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    let finding = &out.findings[0];
    assert_eq!(finding.plugin, "pii");
    assert_eq!(finding.destination, "collect.tracker.example");
    let Detail::Pii(leak) = &finding.detail else {
        panic!("not a PII finding: {finding:?}");
    };
    assert_eq!(leak.kind, PiiKind::Imei);
    assert_eq!(leak.location, Location::ToServer);
    assert_eq!(leak.evidence, "GET /c?id=[49********18]&u=2 HTTP/1.1\\r\\n");
    assert!(!leak.evidence.contains(IMEI));
}

#[test]
fn registered_email_and_labelled_values_are_found_encoded() {
    let plugin = PiiPlugin::new(&PiiOptions::default());
    let body = b"u=alice%2Blab%40lab.example&n=ALICE-LAB-7&n2=alice-lab-7";
    let found = leaks(&plugin, &flow(PayloadKind::Decrypted, body));
    let labels: Vec<(Option<&str>, Encoding)> = found
        .iter()
        .map(|l| (l.label.as_deref(), l.encoding))
        .collect();
    // The upper-cased labelled value is not registered: only exact values of `other`.
    assert_eq!(
        labels,
        [
            (Some("email"), Encoding::Url),
            (Some("account name"), Encoding::Plain)
        ]
    );
}

#[test]
fn repeated_matches_are_counted_once() {
    let plugin = PiiPlugin::new(&PiiOptions::default());
    let body = format!("a={IMEI}&b={IMEI}&c={IMEI}");
    let found = leaks(&plugin, &flow(PayloadKind::Cleartext, body.as_bytes()));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].occurrences, 3);
}

#[test]
fn generic_identifiers_are_found_without_registration() {
    let plugin = PiiPlugin::new(&PiiOptions::default());
    let body = format!(
        "imei=356938035643809&mail=bob%40corp.example&tel=%2B41791234567&geo={}",
        STANDARD.encode(r#"{"lat":47.3769,"lon":8.5417}"#)
    );
    let found = leaks(&plugin, &flow(PayloadKind::Cleartext, body.as_bytes()));
    let kinds: Vec<(PiiKind, Encoding, Option<String>)> = found
        .iter()
        .map(|l| (l.kind, l.encoding, l.label.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (PiiKind::Imei, Encoding::Plain, None),
            (PiiKind::Email, Encoding::Url, None),
            (PiiKind::Phone, Encoding::Url, None),
            (PiiKind::Location, Encoding::Base64, None),
        ]
    );
}

#[test]
fn encrypted_payloads_are_noted_not_inspected() {
    let plugin = PiiPlugin::new(&PiiOptions::default());
    let reg = registered();
    let mut ctx = DeviceContext::new("phone-a", &reg);
    let f = flow(PayloadKind::Encrypted, IMEI.as_bytes());
    let notes = |ctx: &DeviceContext<'_>| -> Vec<String> {
        plugin
            .inspect(&f, ctx)
            .findings
            .into_iter()
            .map(|f| match f.detail {
                Detail::Note { message } => message,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    };
    assert_eq!(notes(&ctx), [ENCRYPTED_NOTE]);
    ctx.tls_interception = true;
    assert!(notes(&ctx)[0].contains("pin its certificates"));
}

#[test]
fn responses_are_scanned_only_when_asked() {
    let quiet = PiiPlugin::new(&PiiOptions::default());
    let f = flow(PayloadKind::Cleartext, b"GET / HTTP/1.1\r\n\r\n");
    assert!(leaks(&quiet, &f).is_empty());
    let loud = PiiPlugin::new(&PiiOptions {
        scan_responses: true,
        ..PiiOptions::default()
    });
    let found = leaks(&loud, &f);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].location, Location::ToClient);
}

#[test]
fn values_in_names_are_found() {
    let plugin = PiiPlugin::new(&PiiOptions::default());
    let mut f = flow(PayloadKind::Cleartext, b"");
    f.names.dns = Some(format!("{IMEI}.exfil.example"));
    let found = leaks(&plugin, &f);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].location, Location::ServerName);
}

#[test]
fn findings_per_flow_are_bounded() {
    let plugin = PiiPlugin::new(&PiiOptions::default());
    let body: String = (0..200).map(|i| format!("u{i}@mail.example ")).collect();
    let reg = RegisteredPii::default();
    let ctx = DeviceContext::new("phone-a", &reg);
    let out = plugin.inspect(&flow(PayloadKind::Cleartext, body.as_bytes()), &ctx);
    assert_eq!(out.findings.len(), MAX_FINDINGS + 1);
    assert!(matches!(
        &out.findings[MAX_FINDINGS].detail,
        Detail::Note { message } if message.starts_with("136 more")
    ));
}
