//! The policy a campaign's privacy pass runs: the campaign's `policy:` file if it names one,
//! else the default (classification, pii, tracker for every flow), completed from the
//! inventory and the apps: every phone is a device with its registered `pii:` values, and
//! every app has its own domains (from its `allow` endpoint rules) as first party.

use crate::spec::{AppSpec, Inventory};
use matador_pipeline::policy::{AppPolicy, DevicePolicy};
use matador_pipeline::Policy;

/// How the default policy is named in records and reports.
pub const DEFAULT_POLICY: &str =
    "(default: classification, pii, tracker; values from the inventory)";

/// The campaign's policy: `file` (read with the campaign) or the default, with every phone
/// of the inventory and every app added where the file does not say otherwise. A device the
/// file lists keeps its own values and gains the inventory's under labels it does not use;
/// an app the file lists keeps its own first-party domains.
pub fn campaign_policy(file: Option<Policy>, inventory: &Inventory, apps: &[AppSpec]) -> Policy {
    let mut policy = file.unwrap_or_else(|| Policy {
        file: DEFAULT_POLICY.to_string(),
        ..Policy::default()
    });
    for app in apps {
        if policy.app(&app.package).is_none() {
            policy.apps.push(AppPolicy {
                id: app.package.clone(),
                first_party: first_party_of(app),
                plugins: None,
            });
        }
    }
    for phone in &inventory.phones {
        match policy.devices.iter_mut().find(|d| d.id == phone.serial) {
            Some(device) => {
                for value in &phone.pii {
                    if !device.registered.iter().any(|r| r.label == value.label) {
                        device.registered.push(value.clone());
                    }
                }
            }
            None => policy.devices.push(DevicePolicy {
                id: phone.serial.clone(),
                lab: false,
                tls_interception: false,
                plugins: None,
                apps: Vec::new(),
                registered: phone.pii.clone(),
            }),
        }
    }
    policy
}

/// An app's own domains: the names of its `allow` endpoint rules, `*.x.example` read as
/// `x.example` (whose subdomains are first party too); patterns with other wildcards are
/// left out.
pub fn first_party_of(app: &AppSpec) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for pattern in app.rules.allow.iter().filter_map(|m| m.name.as_ref()) {
        let p = pattern.as_str();
        let domain = p.strip_prefix("*.").unwrap_or(p).trim_end_matches('.');
        if domain.is_empty() || domain.contains(['*', '?']) || !domain.contains('.') {
            continue;
        }
        if !out.iter().any(|d| d == domain) {
            out.push(domain.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::tests::{APP, INVENTORY};
    use crate::spec::{parse_app, parse_inventory};
    use matador_pipeline::pii::RegisteredValue;
    use matador_pipeline::PiiKind;
    use std::path::Path;

    fn app() -> AppSpec {
        let text = APP.replace(
            "ui:",
            "rules:\n  allow:\n    - { name: \"*.chat.example\" }\n    - { name: \"api.chat-cdn.example\" }\n    - { name: \"cdn?.example\" }\n    - { port: 443 }\nui:",
        );
        parse_app(&text, "app.yaml").expect("app")
    }

    fn imei(value: &str) -> RegisteredValue {
        RegisteredValue {
            kind: PiiKind::Imei,
            label: "imei".into(),
            value: value.into(),
        }
    }

    #[test]
    fn allow_rules_name_the_first_party() {
        assert_eq!(
            first_party_of(&app()),
            ["chat.example", "api.chat-cdn.example"]
        );
    }

    #[test]
    fn the_default_policy_covers_every_phone_and_app() {
        let mut inv = parse_inventory(INVENTORY, "inv.yaml", Path::new("/")).expect("inventory");
        inv.phones[0].pii = vec![imei("490154203237518")];
        let p = campaign_policy(None, &inv, &[app()]);
        assert_eq!(p.file, DEFAULT_POLICY);
        assert_eq!(
            p.plugins_for("R58M123", Some("com.example.chat")),
            ["classification", "pii", "tracker"]
        );
        assert_eq!(p.device("R58M123").map(|d| d.registered.len()), Some(1));
        assert_eq!(
            p.device("127.0.0.1:25551").map(|d| d.registered.len()),
            Some(0)
        );
        assert_eq!(
            p.first_party(Some("com.example.chat")),
            ["chat.example", "api.chat-cdn.example"]
        );
    }

    #[test]
    fn a_policy_file_wins_where_it_speaks() {
        let mut inv = parse_inventory(INVENTORY, "inv.yaml", Path::new("/")).expect("inventory");
        inv.phones[0].pii = vec![imei("490154203237518")];
        let file = Policy::parse(
            "apps:\n  - id: com.example.chat\n    first_party: [own.example]\n\
             devices:\n  - id: R58M123\n    plugins: [pii]\n    pii:\n      imei: \"356938035643809\"\n      email: a@b.example\n",
            "p.yaml",
        )
        .expect("policy");
        let p = campaign_policy(Some(file), &inv, &[app()]);
        assert_eq!(p.file, "p.yaml");
        let d = p.device("R58M123").expect("device");
        assert_eq!(d.plugins.as_deref(), Some(&["pii".to_string()][..]));
        let values: Vec<&str> = d.registered.iter().map(|v| v.value.as_str()).collect();
        assert_eq!(
            values,
            ["356938035643809", "a@b.example"],
            "the file's IMEI stays"
        );
        assert_eq!(p.first_party(Some("com.example.chat")), ["own.example"]);
        assert!(
            p.device("127.0.0.1:25551").is_some(),
            "phones the file omits are added"
        );
    }
}
