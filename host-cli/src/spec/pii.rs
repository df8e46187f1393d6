//! A phone's registered personal values (`pii:` in the inventory): the IMEI, Android ID,
//! advertising ID, test account and so on that the privacy pass searches each capture for.
//! The keys, the checks and the messages are those of a device's `pii:` in a
//! matador-pipeline policy: [`PiiFile`] and [`check_registered`] are the pipeline's.

use super::error::SpecError;
use matador_pipeline::pii::RegisteredValue;
use matador_pipeline::policy::check_registered;
pub(super) use matador_pipeline::policy::PiiFile;

/// The registered values of phone `serial` in inventory `file`, checked as the pipeline's
/// policy checks them: present, long enough not to match by chance, each label once.
pub(super) fn registered(
    file: &str,
    serial: &str,
    pii: &PiiFile,
) -> Result<Vec<RegisteredValue>, SpecError> {
    check_registered(&format!("phone `{serial}`"), pii).map_err(|e| SpecError {
        file: file.to_string(),
        position: e.position,
        message: e.message,
    })
}

/// Registered values are written out masked: an inventory printed in a log must not spread them.
pub(super) fn masked<S: serde::Serializer>(
    values: &[RegisteredValue],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(values.len()))?;
    for v in values {
        map.serialize_entry(&v.label, "<registered>")?;
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use crate::spec::parse_inventory;
    use std::path::Path;

    fn inventory(pii: &str) -> Result<crate::spec::Inventory, crate::spec::SpecError> {
        let text = format!(
            "routers:\n  - {{ name: lr-a, from_lab: true }}\n  - {{ name: lr-b, from_lab: true }}\n\
             phones:\n  - serial: \"127.0.0.1:25550\"\n    model: Pixel 7\n    router: lr-a\n{pii}\
             \n  - {{ serial: \"127.0.0.1:25551\", model: Pixel 7, router: lr-b }}\n\
             vantage_nodes:\n  - {{ name: vp-ch, country: CH, city: Zurich, lat: 47.37, lon: 8.54, from_lab: true }}\n"
        );
        parse_inventory(&text, "inv.yaml", Path::new("/"))
    }

    #[test]
    fn phones_register_their_values() {
        let inv = inventory(
            "    pii:\n      imei: \"490154203237518\"\n      email: alice.lab@example.org\n      \
             other:\n        - { label: account, value: alice-lab-7 }",
        )
        .expect("inventory");
        let labels: Vec<&str> = inv.phones[0].pii.iter().map(|v| v.label.as_str()).collect();
        assert_eq!(labels, ["imei", "email", "account"]);
        assert!(inv.phones[1].pii.is_empty());
        // Printed inventories mask the values.
        let json = serde_json::to_string(&inv).expect("serialises");
        assert!(!json.contains("490154203237518"), "{json}");
        assert!(json.contains("\"imei\":\"<registered>\""), "{json}");
    }

    #[test]
    fn bad_values_are_errors_with_their_place() {
        let e = inventory("    pii:\n      imei: \"123\"").expect_err("too short");
        assert_eq!(e.position, Some((9, 13)), "{e}");
        assert!(e.to_string().contains("at least 4 characters"), "{e}");
        let e = inventory("    pii:\n      other:\n        - { label: imei, value: abcdef }\n      imei: \"490154203237518\"")
            .expect_err("label twice");
        // The pipeline's check and wording, with the phone as subject, at the repeated label.
        assert_eq!(
            (e.position, e.message.as_str()),
            (
                Some((10, 20)),
                "phone `127.0.0.1:25550`: label `imei` is used twice"
            ),
            "{e}"
        );
        let e = inventory("    pii:\n      email: ' '").expect_err("empty");
        assert_eq!(
            e.message, "phone `127.0.0.1:25550`: registered value `email` is empty",
            "{e}"
        );
        let e = inventory("    pii:\n      imsi: \"228011234567890\"").expect_err("unknown key");
        assert!(e.to_string().contains("unknown field `imsi`"), "{e}");
    }

    /// A campaign naming `policy`, with the spec tests' inventory and app, in a temporary folder.
    fn campaign_with_policy(policy: Option<&str>) -> Result<crate::spec::LoadedCampaign, String> {
        use crate::spec::tests::{APP, INVENTORY};
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("inv.yaml"), INVENTORY).expect("write");
        std::fs::write(dir.path().join("chat.yaml"), APP).expect("write");
        if let Some(text) = policy {
            std::fs::write(dir.path().join("policy.yaml"), text).expect("write");
        }
        let text = "name: c1\ninventory: inv.yaml\napps: [chat.yaml]\npairs: all\nrepetitions: 1\npolicy: policy.yaml\n";
        crate::spec::parse_campaign(text, "c.yaml", dir.path(), None, &|_| None).map_err(|e| {
            // Keep the file name only: the temporary folder changes every run.
            let file = e.file.rsplit('/').next().unwrap_or_default().to_string();
            crate::spec::SpecError { file, ..e }.to_string()
        })
    }

    #[test]
    fn a_campaign_policy_is_read_and_checked() {
        let ok = campaign_with_policy(Some("devices:\n  - id: R58M123\n    lab: true\n"))
            .expect("campaign");
        let policy = ok.policy.expect("policy read");
        assert_eq!(policy.devices[0].id, "R58M123");
        assert!(ok
            .campaign
            .policy
            .is_some_and(|p| p.ends_with("policy.yaml")));
        let e = campaign_with_policy(None).expect_err("no file");
        assert!(e.starts_with("c.yaml:6:9: policy: "), "{e}");
        let e = campaign_with_policy(Some("defaults:\n  plugins: [pii, spyware]\n"))
            .expect_err("unknown plugin");
        assert!(
            e.starts_with("policy.yaml:2:18: pipeline policy: unknown plugin `spyware`"),
            "{e}"
        );
        let e = campaign_with_policy(Some(
            "defaults:\n  plugins: [blocking]\nplugins:\n  blocking:\n    categories: [nope]\n",
        ))
        .expect_err("unknown category");
        assert!(e.contains("pipeline policy: ") && e.contains("nope"), "{e}");
    }
}
