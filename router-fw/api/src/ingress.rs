//! The VPN ingress (`/v1/ingress`): WireGuard interfaces that phones on any network (cellular
//! too) join as peers, each peer a named device, and what the router holds per device
//! (`/v1/devices/{device}/results`).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::{check_key, Invalid, ResultSummary};

/// Longest device name.
pub const MAX_DEVICE_LEN: usize = 32;

/// One phone enrolled on an ingress: its name, key and tunnel address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngressPeer {
    /// The device's name ([`check_device_name`]), unique on the router.
    pub device: String,
    /// The phone's WireGuard public key, standard base64.
    pub public_key: String,
    /// The phone's address inside the ingress subnet (its `/32` allowed IP).
    pub address: Ipv4Addr,
}

/// One WireGuard ingress interface of the router, with its peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ingress {
    /// The AP (router API name) whose tunnel and capture the ingress's phones go through.
    pub ap: String,
    /// The WireGuard interface's name on the router.
    pub interface: String,
    /// The UDP port it listens on (the phones' `Endpoint` port, unless forwarded).
    pub listen_port: u16,
    /// The router's public key on it, standard base64 (the phones' `[Peer] PublicKey`).
    pub public_key: String,
    /// The subnet the phones' addresses come from.
    pub subnet: Ipv4Net,
    /// The router's address in `subnet`: the phones' gateway and DNS resolver.
    pub gateway: Ipv4Addr,
    /// The phones enrolled on it.
    pub peers: Vec<IngressPeer>,
}

/// `PUT /v1/ingress/{ap}/peers/{device}`: enroll a phone (409 if the key or address is taken).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddPeer {
    /// The phone's WireGuard public key, standard base64.
    pub public_key: String,
    /// The phone's address, inside the ingress subnet.
    pub address: Ipv4Addr,
}

impl AddPeer {
    /// Checks what the router would refuse without looking at its state.
    pub fn validate(&self) -> Result<(), Invalid> {
        check_key("public_key", &self.public_key)?;
        if self.address.is_unspecified() || self.address.is_broadcast() {
            return Err(Invalid::new(
                "address",
                format!("{} cannot be a phone's address", self.address),
            ));
        }
        Ok(())
    }
}

/// `GET` and `DELETE /v1/devices/{device}/results`: a device's results (those deleted, for
/// `DELETE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceData {
    /// The device's name.
    pub device: String,
    /// Its results, oldest first.
    pub results: Vec<ResultSummary>,
}

/// A device name: 1 to [`MAX_DEVICE_LEN`] characters of `[A-Za-z0-9._-]`, not starting with
/// `.` or `-` (names become file names on the router and arguments on the host).
pub fn check_device_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a device name must not be empty".to_owned());
    }
    if name.len() > MAX_DEVICE_LEN {
        return Err(format!(
            "a device name has at most {MAX_DEVICE_LEN} characters, {name:?} has {}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "{c:?} is not allowed in a device name (use A-Z a-z 0-9 . _ -)"
        ));
    }
    if name.starts_with(['.', '-']) {
        return Err(format!(
            "a device name must not start with '.' or '-': {name:?}"
        ));
    }
    Ok(())
}

/// [`check_device_name`] as the error of a request field.
pub(crate) fn check_device(field: &str, name: &str) -> Result<(), Invalid> {
    check_device_name(name).map_err(|reason| Invalid::new(field, reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResultKind;

    #[test]
    fn device_names() {
        for good in ["pixel-7", "a", "Alice_2.iphone", &"x".repeat(32), "0"] {
            assert_eq!(check_device_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "-rf",
            "a/b",
            "a b",
            "é",
            "a\0",
            &"x".repeat(33),
        ] {
            assert!(check_device_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_device_name("a/b").unwrap_err(),
            "'/' is not allowed in a device name (use A-Z a-z 0-9 . _ -)"
        );
    }

    #[test]
    fn add_peer_checks_the_key_and_rejects_unknown_fields() {
        let key = format!("{}=", "A".repeat(43));
        let ok = AddPeer {
            public_key: key.clone(),
            address: Ipv4Addr::new(10, 99, 0, 2),
        };
        assert_eq!(ok.validate(), Ok(()));
        let bad_key = AddPeer {
            public_key: "nope".into(),
            ..ok.clone()
        };
        assert_eq!(bad_key.validate().unwrap_err().field, "public_key");
        let unspecified = AddPeer {
            address: Ipv4Addr::UNSPECIFIED,
            ..ok.clone()
        };
        assert_eq!(unspecified.validate().unwrap_err().field, "address");
        let json = format!(r#"{{"public_key":"{key}","address":"10.99.0.2","x":1}}"#);
        assert!(serde_json::from_str::<AddPeer>(&json).is_err());
    }

    #[test]
    fn the_wire_shape_is_stable() {
        let ingress = Ingress {
            ap: "ap0".into(),
            interface: "mtd-in0".into(),
            listen_port: 51820,
            public_key: "k".into(),
            subnet: "10.99.0.0/24".parse().unwrap(),
            gateway: Ipv4Addr::new(10, 99, 0, 1),
            peers: vec![IngressPeer {
                device: "pixel".into(),
                public_key: "p".into(),
                address: Ipv4Addr::new(10, 99, 0, 2),
            }],
        };
        let json = serde_json::to_value(&ingress).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "ap": "ap0", "interface": "mtd-in0", "listen_port": 51820, "public_key": "k",
                "subnet": "10.99.0.0/24", "gateway": "10.99.0.1",
                "peers": [{"device": "pixel", "public_key": "p", "address": "10.99.0.2"}],
            })
        );
        assert_eq!(serde_json::from_value::<Ingress>(json).unwrap(), ingress);
        let data = DeviceData {
            device: "pixel".into(),
            results: vec![ResultSummary {
                id: "m1.flows".into(),
                measurement: "m1".into(),
                kind: ResultKind::Flows,
                size: 10,
                created: 1,
                sha256: "0".repeat(64),
                device: Some("pixel".into()),
                encrypted: false,
            }],
        };
        let json = serde_json::to_value(&data).unwrap();
        assert_eq!(json["results"][0]["device"], "pixel");
        assert_eq!(serde_json::from_value::<DeviceData>(json).unwrap(), data);
    }
}
