//! Tests of the pipeline: plugin order, stop at block, rewrites, device context, errors.

use super::*;
use crate::flow::{FlowSide, Payload, PayloadKind, Protocol};
use crate::plugin::registry::PluginError;
use crate::plugin::{Detail, Direction, Encoding, PluginOutput};
use crate::policy::PluginOptions;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

const IMEI: &str = "490154203237518";
const IMEI_SHA1: &str = "97a2105232ecc8756f03a029a839b97ded59207d";

fn flow(device: &str, name: &str, kind: PayloadKind, body: &str) -> FlowRecord {
    let mut f = FlowRecord::new(
        device,
        Protocol::Tcp,
        FlowSide::new([10, 0, 0, 2].into(), 40000),
        FlowSide::new([192, 0, 2, 7].into(), 443),
    );
    f.app = Some("com.example.app".into());
    f.names.sni = Some(name.to_string());
    f.payload = Some(Payload {
        kind,
        to_server: body.as_bytes().to_vec(),
        to_client: Vec::new(),
    });
    f
}

fn pipeline(plugins: &str) -> Pipeline {
    let text = format!(
        "devices:\n  - id: lab-phone\n    lab: true\n    tls_interception: true\n    plugins: {plugins}\n    pii:\n      imei: '{IMEI}'\n"
    );
    Pipeline::from_yaml(&text, "policy.yaml").expect("valid policy")
}

fn kinds(result: &PipelineResult) -> Vec<&'static str> {
    result
        .findings
        .iter()
        .map(|f| match &f.detail {
            Detail::Classification(_) => "classification",
            Detail::Pii(_) => "pii",
            Detail::Tracker(_) => "tracker",
            Detail::Note { .. } => "note",
        })
        .collect()
}

#[test]
fn plugins_run_in_policy_order_and_stop_at_the_first_block() {
    let p = pipeline("[classification, blocking, pii, tracker]");
    let tracked = flow(
        "lab-phone",
        "ad.doubleclick.net",
        PayloadKind::Decrypted,
        IMEI,
    );
    let r = p.run(&tracked);
    assert_eq!(r.ran, ["classification", "blocking"]);
    assert_eq!(r.skipped, ["pii", "tracker"]);
    assert_eq!(r.blocked_by.as_deref(), Some("blocking"));
    assert!(r.is_blocked());
    assert_eq!(kinds(&r), ["classification"]);

    let other = flow(
        "lab-phone",
        "chat.app.example",
        PayloadKind::Decrypted,
        IMEI,
    );
    let r = p.run(&other);
    assert_eq!(r.ran, ["classification", "blocking", "pii", "tracker"]);
    assert!(r.skipped.is_empty() && !r.is_blocked());
    assert_eq!(kinds(&r), ["classification", "pii"]);

    let reordered = pipeline("[pii, tracker, blocking, classification]");
    let r = reordered.run(&tracked);
    assert_eq!(r.ran, ["pii", "tracker", "blocking"]);
    assert_eq!(r.skipped, ["classification"]);
    assert_eq!(kinds(&r), ["pii", "tracker"]);
}

#[test]
fn an_imei_leak_is_reported_with_destination_and_encoding() {
    let p = pipeline("[pii]");
    let body = format!(
        "POST /e HTTP/1.1\r\n\r\na={IMEI}&b={}&c={IMEI_SHA1}",
        STANDARD.encode(IMEI)
    );
    let r = p.run(&flow(
        "lab-phone",
        "collect.example",
        PayloadKind::Cleartext,
        &body,
    ));
    let leaks: Vec<(String, Encoding)> = r
        .findings
        .iter()
        .filter_map(|f| match &f.detail {
            Detail::Pii(l) => Some((f.destination.clone(), l.encoding)),
            _ => None,
        })
        .collect();
    let dest = "collect.example".to_string();
    assert_eq!(
        leaks,
        [
            (dest.clone(), Encoding::Plain),
            (dest.clone(), Encoding::Base64),
            (dest, Encoding::Sha1)
        ]
    );
    let json = serde_json::to_value(&r).expect("serialises");
    assert_eq!(json["findings"][2]["type"], "pii");
    assert_eq!(json["findings"][2]["encoding"], "sha1");
    assert_eq!(json["findings"][2]["label"], "imei");
}

#[test]
fn an_encrypted_leak_is_not_visible_and_the_result_says_so() {
    let p = Pipeline::from_yaml(
        &format!("devices:\n  - id: field-phone\n    pii:\n      imei: '{IMEI}'\n"),
        "policy.yaml",
    )
    .expect("valid");
    let r = p.run(&flow(
        "field-phone",
        "collect.example",
        PayloadKind::Encrypted,
        IMEI,
    ));
    assert_eq!(kinds(&r), ["classification", "note"]);
    assert!(matches!(
        &r.findings[1].detail,
        Detail::Note { message } if message == crate::pii::ENCRYPTED_NOTE
    ));
}

#[test]
fn unknown_devices_get_the_defaults_and_no_registered_values() {
    let p = pipeline("[pii]");
    let r = p.run(&flow(
        "stranger",
        "collect.example",
        PayloadKind::Cleartext,
        IMEI,
    ));
    assert_eq!(r.ran, ["classification", "pii", "tracker"]);
    // Found by shape (a Luhn-valid 15-digit number), not as a registered value.
    let labels: Vec<Option<&str>> = r
        .findings
        .iter()
        .filter_map(|f| match &f.detail {
            Detail::Pii(l) => Some(l.label.as_deref()),
            _ => None,
        })
        .collect();
    assert_eq!(labels, [None]);
}

struct Rewriter;

impl Plugin for Rewriter {
    fn name(&self) -> &str {
        "rewriter"
    }

    fn inspect(&self, _: &FlowRecord, _: &DeviceContext<'_>) -> PluginOutput {
        PluginOutput {
            findings: Vec::new(),
            verdict: Verdict::Rewrite {
                description: "replace the IMEI by zeros".into(),
                edits: vec![Edit {
                    direction: Direction::ToServer,
                    find: IMEI.as_bytes().to_vec(),
                    replace: vec![b'0'; 15],
                }],
            },
        }
    }
}

struct Stopper;

impl Plugin for Stopper {
    fn name(&self) -> &str {
        "stopper"
    }

    fn inspect(&self, _: &FlowRecord, ctx: &DeviceContext<'_>) -> PluginOutput {
        PluginOutput {
            findings: Vec::new(),
            verdict: Verdict::Block {
                reason: format!("stop {}", ctx.device),
            },
        }
    }
}

fn rewriter(_: &PluginOptions) -> Result<Box<dyn Plugin>, PluginError> {
    Ok(Box::new(Rewriter))
}

fn stopper(_: &PluginOptions) -> Result<Box<dyn Plugin>, PluginError> {
    Ok(Box::new(Stopper))
}

fn custom(plugins: &str) -> Pipeline {
    let mut registry = Registry::builtin();
    registry.register("rewriter", rewriter).expect("new name");
    registry.register("stopper", stopper).expect("new name");
    let text = format!("defaults:\n  plugins: {plugins}\n");
    let policy = Policy::parse_with(&text, "policy.yaml", &registry).expect("valid");
    Pipeline::with_registry(policy, &registry).expect("builds")
}

#[test]
fn rewrites_are_collected_and_blocks_win() {
    let f = flow("d", "x.example", PayloadKind::Cleartext, IMEI);
    let r = custom("[classification, rewriter]").run(&f);
    assert_eq!(r.verdict, Verdict::Pass);
    assert_eq!(r.rewrites.len(), 1);
    assert_eq!(r.rewrites[0].plugin, "rewriter");
    assert_eq!(r.rewrites[0].edits[0].replace, b"000000000000000");

    let r = custom("[rewriter, stopper, classification]").run(&f);
    assert_eq!(
        r.verdict,
        Verdict::Block {
            reason: "stop d".into()
        }
    );
    assert_eq!(r.blocked_by.as_deref(), Some("stopper"));
    assert_eq!(r.rewrites.len(), 1);
    assert_eq!(r.skipped, ["classification"]);
    assert!(Policy::parse("defaults:\n  plugins: [stopper]\n", "p").is_err());
}

#[test]
fn plugin_option_errors_point_into_the_policy() {
    let text = "defaults:\n  plugins: [blocking]\nplugins:\n  blocking:\n    categories: [advertising, ads]\n";
    let e = Pipeline::from_yaml(text, "policy.yaml").expect_err("unknown category");
    assert_eq!(e.position, Some((5, 31)));
    assert!(
        e.message
            .starts_with("plugin `blocking`: unknown tracker category `ads`"),
        "{e}"
    );
    let text = "plugins:\n  tracker:\n    extra:\n      - {domain: 'bad domain', category: x}\n";
    let e = Pipeline::from_yaml(text, "policy.yaml").expect_err("bad domain");
    assert_eq!(e.position, Some((4, 18)));
    assert_eq!(
        e.message,
        "plugin `tracker`: extra tracker `bad domain` is not a domain name"
    );
}

#[test]
fn extra_trackers_are_found_and_blocked() {
    let text = "defaults:\n  plugins: [tracker, blocking]\nplugins:\n  tracker:\n    extra:\n      - {domain: analytics.lab.example, tracker: Lab Analytics, category: site_analytics, owner: Lab}\n";
    let p = Pipeline::from_yaml(text, "policy.yaml").expect("valid");
    let r = p.run(&flow(
        "d",
        "e.analytics.lab.example",
        PayloadKind::Encrypted,
        "",
    ));
    assert!(r.is_blocked());
    assert!(matches!(&r.findings[0].detail, Detail::Tracker(t) if t.tracker == "Lab Analytics"));
    let r = p.run(&flow("d", "chat.lab.example", PayloadKind::Encrypted, ""));
    assert!(!r.is_blocked() && r.findings.is_empty());
}

#[test]
fn blocked_domains_only_where_the_policy_runs_the_blocking_plugin() {
    let text = "plugins:\n  tracker:\n    extra:\n      - {domain: analytics.lab.example, tracker: Lab Analytics, category: site_analytics}\n\
                devices:\n  - id: blocker\n    plugins: [tracker, blocking]\n  - id: watcher\n    plugins: [tracker]\n";
    let p = Pipeline::from_yaml(text, "policy.yaml").expect("valid policy");
    let blocked = p
        .blocked_domains("blocker", Some("com.example.app"))
        .expect("builds")
        .expect("blocking runs for this device");
    assert!(blocked.iter().any(|d| d == "analytics.lab.example"));
    assert!(blocked.iter().any(|d| d == "doubleclick.net"));
    assert_eq!(p.blocked_domains("watcher", None).expect("builds"), None);
    assert_eq!(p.blocked_domains("unknown", None).expect("builds"), None);
}
