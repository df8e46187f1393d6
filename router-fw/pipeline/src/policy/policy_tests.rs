//! Tests of policy reading and checking.

use super::*;
use crate::plugin::PiiKind;

const POLICY: &str = r#"
defaults:
  plugins: [classification, tracker]
plugins:
  pii:
    generic: [imei, email]
  blocking:
    categories: [advertising]
    allow: [google.com]
apps:
  - id: com.example.chat
    first_party: [example.com, Chat-CDN.example.]
    plugins: [classification, pii]
devices:
  - id: phone-a
    lab: true
    tls_interception: true
    plugins: [classification, pii, tracker, blocking]
    apps:
      - id: com.example.maps
        plugins: [pii]
    pii:
      imei: "490154203237518"
      android_id: 9774d56d682e549c
      email: " alice@lab.example "
      other:
        - label: account name
          value: alice-lab-7
  - id: phone-b
"#;

fn parse(text: &str) -> Result<Policy, PolicyError> {
    Policy::parse(text, "policy.yaml")
}

fn error(text: &str) -> PolicyError {
    match parse(text) {
        Ok(p) => panic!("accepted: {p:?}"),
        Err(e) => e,
    }
}

#[test]
fn a_full_policy_reads() {
    let p = parse(POLICY).expect("valid");
    let a = p.device("phone-a").expect("phone-a");
    assert!(a.lab && a.tls_interception);
    let labels: Vec<(PiiKind, &str, &str)> = a
        .registered
        .iter()
        .map(|v| (v.kind, v.label.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            (PiiKind::Imei, "imei", "490154203237518"),
            (PiiKind::AndroidId, "android_id", "9774d56d682e549c"),
            (PiiKind::Email, "email", "alice@lab.example"),
            (PiiKind::Other, "account name", "alice-lab-7"),
        ]
    );
    let b = p.device("phone-b").expect("phone-b");
    assert!(!b.lab && !b.tls_interception && b.registered.is_empty());
    assert_eq!(
        p.first_party(Some("com.example.chat")),
        ["example.com", "chat-cdn.example"]
    );
    assert!(p.first_party(None).is_empty());
    assert_eq!(p.options.pii.generic, [GenericPii::Imei, GenericPii::Email]);
    assert_eq!(
        p.plugin_names(),
        ["classification", "tracker", "pii", "blocking"]
    );
}

#[test]
fn plugins_come_from_the_most_specific_entry() {
    let p = parse(POLICY).expect("valid");
    let chat = Some("com.example.chat");
    assert_eq!(p.plugins_for("phone-a", Some("com.example.maps")), ["pii"]);
    assert_eq!(
        p.plugins_for("phone-a", chat),
        ["classification", "pii", "tracker", "blocking"]
    );
    assert_eq!(p.plugins_for("phone-b", chat), ["classification", "pii"]);
    assert_eq!(
        p.plugins_for("phone-b", None),
        ["classification", "tracker"]
    );
    assert_eq!(
        p.plugins_for("unknown", Some("other.app")),
        ["classification", "tracker"]
    );
}

#[test]
fn an_empty_policy_runs_the_default_plugins() {
    let p = parse("{}").expect("valid");
    assert_eq!(p.defaults, DEFAULT_PLUGINS);
    assert_eq!(Policy::default().defaults, DEFAULT_PLUGINS);
}

#[test]
fn unknown_plugins_are_reported_where_written() {
    let e = error("defaults:\n  plugins: [classification, tls-mitm]\n");
    assert_eq!(e.position, Some((2, 29)));
    assert_eq!(
        e.to_string(),
        "policy.yaml:2:29: unknown plugin `tls-mitm` (registered: classification, pii, tracker, blocking)"
    );
    let e = error("devices:\n  - id: a\n    plugins: [pii, pii]\n");
    assert_eq!(
        (e.position, e.message.as_str()),
        (Some((3, 20)), "plugin `pii` is listed twice")
    );
}

#[test]
fn duplicate_devices_and_apps_are_refused() {
    let e = error("devices:\n  - id: a\n  - id: b\n  - id: a\n");
    assert_eq!(e.position, Some((4, 9)));
    assert_eq!(e.message, "device `a` is listed twice");
    let e = error("apps:\n  - id: x\n  - id: x\n");
    assert_eq!(e.message, "app `x` is listed twice");
    let e = error("devices:\n  - id: ' '\n");
    assert_eq!(e.message, "device with an empty id");
}

#[test]
fn registered_values_must_be_present_and_long_enough() {
    let e = error("devices:\n  - id: a\n    pii:\n      imei: ''\n");
    assert_eq!(
        (e.position, e.message.as_str()),
        (
            Some((4, 13)),
            "device `a`: registered value `imei` is empty"
        )
    );
    let e = error("devices:\n  - id: a\n    pii:\n      password: abc\n");
    assert!(e.message.contains("too short"), "{e}");
    let e =
        error("devices:\n  - id: a\n    pii:\n      other:\n        - {label: x, value: '   '}\n");
    assert_eq!(e.message, "device `a`: registered value `x` is empty");
    let e = error("devices:\n  - id: a\n    pii:\n      imei: '490154203237518'\n      other:\n        - {label: imei, value: abcdefgh}\n");
    assert_eq!(e.message, "device `a`: label `imei` is used twice");
}

#[test]
fn tls_interception_needs_a_lab_device() {
    let e = error("devices:\n  - id: field-phone\n    tls_interception: true\n");
    assert_eq!(e.position, Some((3, 23)));
    assert!(e
        .message
        .starts_with("device `field-phone`: tls_interception is only allowed for lab devices"));
    let p = parse("devices:\n  - id: a\n    tls_interception: false\n").expect("off is fine");
    assert!(!p.devices[0].tls_interception);
}

#[test]
fn unknown_keys_and_bad_yaml_have_positions() {
    let e = error("devices:\n  - id: a\n    tls: true\n");
    assert_eq!(e.position.map(|p| p.0), Some(3));
    assert!(e.message.contains("tls"), "{e}");
    let e = error("plugins:\n  pii:\n    generic: [imei, ssn]\n");
    assert_eq!(e.position.map(|p| p.0), Some(3));
    assert!(e.message.contains("ssn"), "{e}");
    let e = error("plugins:\n  pii:\n    scan_response: true\n");
    assert_eq!(e.position.map(|p| p.0), Some(3));
    let e = error("devices: [\n");
    assert!(e.position.is_some(), "{e}");
    let e = error("apps:\n  - id: x\n    first_party: ['a b']\n");
    assert_eq!(e.message, "first_party `a b` is not a domain name");
}

#[test]
fn missing_files_are_reported() {
    let e = Policy::load(Path::new("/nonexistent/policy.yaml")).expect_err("no such file");
    assert_eq!(e.file, "/nonexistent/policy.yaml");
    assert!(e.message.starts_with("cannot read the policy"));
}
