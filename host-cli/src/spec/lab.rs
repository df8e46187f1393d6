//! Routers as the host reaches them: a field router's entry as written, or a lab router's
//! API, token, fingerprint and Wi-Fi from the running lab (`matador-host lab status --json`).

use super::error::SpecError;
use super::inventory::{Fingerprint, Passphrase, RouterAccess, RouterEntry};
use ipnet::Ipv4Net;
use serde::Deserialize;
use std::path::PathBuf;

/// How to reach one router and join its Wi-Fi, wherever that came from.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterConnection {
    /// Router name.
    pub name: String,
    /// Access point (router API name).
    pub ap: String,
    /// `host:port` of the HTTPS API.
    pub api: String,
    /// File with the API token.
    pub token_file: PathBuf,
    /// The API certificate's fingerprint, to pin.
    pub fingerprint: Fingerprint,
    /// The access point's SSID.
    pub ssid: String,
    /// Its WPA2 passphrase.
    pub passphrase: Passphrase,
    /// Its subnet, when known (the lab says), to check the phone's address.
    pub subnet: Option<Ipv4Net>,
}

/// The part of `lab status --json` about lab routers.
#[derive(Debug, Deserialize)]
struct LabStatus {
    lab_routers: Vec<LabRouter>,
}

#[derive(Debug, Deserialize)]
struct LabRouter {
    name: String,
    api: String,
    api_token_file: PathBuf,
    api_fingerprint_file: PathBuf,
    ssid: String,
    passphrase: String,
    subnet: String,
}

impl RouterEntry {
    /// The router's connection; a lab router's from `lab_status` (the JSON `matador-host lab
    /// status --json` prints), which must then be given.
    pub fn connection(&self, lab_status: Option<&str>) -> Result<RouterConnection, SpecError> {
        let what = format!("router {}", self.name);
        match &self.access {
            RouterAccess::Direct {
                api,
                token_file,
                fingerprint,
                wifi,
            } => Ok(RouterConnection {
                name: self.name.clone(),
                ap: self.ap.clone(),
                api: api.clone(),
                token_file: token_file.clone(),
                fingerprint: fingerprint.clone(),
                ssid: wifi.ssid.clone(),
                passphrase: wifi.passphrase.clone(),
                subnet: None,
            }),
            RouterAccess::Lab => {
                let text = lab_status.ok_or_else(|| {
                    SpecError::whole(
                        &what,
                        "is a lab router, and the lab's status is not at hand (is the lab up?)",
                    )
                })?;
                let status: LabStatus = serde_json::from_str(text)
                    .map_err(|e| SpecError::whole(&what, format!("lab status: {e}")))?;
                let r = status
                    .lab_routers
                    .into_iter()
                    .find(|r| r.name == self.name)
                    .ok_or_else(|| {
                        SpecError::whole(&what, "the running lab has no router of that name")
                    })?;
                Ok(RouterConnection {
                    name: self.name.clone(),
                    ap: self.ap.clone(),
                    api: r.api,
                    token_file: r.api_token_file,
                    fingerprint: Fingerprint::File(r.api_fingerprint_file),
                    ssid: r.ssid,
                    passphrase: Passphrase::Inline(r.passphrase),
                    subnet: r.subnet.parse().ok(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_inventory;
    use std::path::Path;

    const STATUS: &str = r#"{"up": true, "topology": "default", "lab_routers": [{
        "name": "lr-b", "country": "BR", "namespace": "mtd-lr-b", "address": "203.0.113.7",
        "ssid": "matador-b", "passphrase": "lab-passphrase-b", "subnet": "10.77.2.0/24",
        "gateway": "10.77.2.1", "hostapd_conf": "/run/matador-lab/routers/lr-b/hostapd.conf",
        "phone": "phone-b", "vantage": "vp-us", "api": "127.0.0.1:28444",
        "api_token_file": "/run/matador-lab/routers/lr-b/token",
        "api_fingerprint_file": "/run/matador-lab/routers/lr-b/state/api-fingerprint"}]}"#;

    #[test]
    fn lab_routers_come_from_the_lab_status_and_field_routers_from_the_file() {
        let inv = parse_inventory(
            super::super::tests::INVENTORY,
            "inv.yaml",
            Path::new("/etc/m"),
        )
        .expect("inventory");
        let lab = inv.router("lr-b").expect("lr-b");
        let c = lab.connection(Some(STATUS)).expect("from the lab");
        assert_eq!(c.api, "127.0.0.1:28444");
        assert_eq!(c.ap, "lr-b");
        assert_eq!(c.ssid, "matador-b");
        assert_eq!(
            c.passphrase.resolve().ok().as_deref(),
            Some("lab-passphrase-b")
        );
        assert_eq!(c.subnet, "10.77.2.0/24".parse().ok());
        assert_eq!(
            c.fingerprint,
            Fingerprint::File("/run/matador-lab/routers/lr-b/state/api-fingerprint".into())
        );
        let e = lab.connection(None).expect_err("no lab");
        assert!(e.to_string().contains("is the lab up?"), "{e}");
        let e = lab
            .connection(Some(r#"{"lab_routers": []}"#))
            .expect_err("not in the lab");
        assert!(e.to_string().contains("no router of that name"), "{e}");
        let field = inv
            .router("zrh")
            .expect("zrh")
            .connection(None)
            .expect("field");
        assert_eq!(field.api, "10.200.0.2:8443");
        assert_eq!(field.token_file, Path::new("/etc/m/secrets/zrh.token"));
        assert_eq!(field.subnet, None);
    }
}
