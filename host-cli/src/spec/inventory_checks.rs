//! Checks of the inventory's parts: API addresses, Wi-Fi, vantage nodes, router pairs, and
//! that every router serves exactly one phone.

use super::checks::check_name;
use super::error::{pos, SpecError};
use super::inventory::{
    check_passphrase, Inventory, Passphrase, PeerSource, RouterEntry, VantageNode, Wifi,
};
use super::inventory_file::{VantageFile, WifiFile};
use serde_saphyr::Spanned;
use std::collections::{HashMap, HashSet};

pub(super) fn check_api(api: &str) -> Result<(), String> {
    let port_ok = api
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty() && !host.contains(char::is_whitespace))
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .is_some_and(|p| p != 0);
    if port_ok {
        Ok(())
    } else {
        Err(format!("api `{api}` must be host:port"))
    }
}

pub(super) fn check_wifi(
    w: &WifiFile,
    at: &dyn Fn((u64, u64), String) -> SpecError,
    path: &dyn Fn(&Spanned<String>) -> std::path::PathBuf,
) -> Result<Wifi, SpecError> {
    if w.ssid.value.is_empty() || w.ssid.value.len() > 32 {
        return Err(at(pos(&w.ssid), "ssid must be 1 to 32 bytes".into()));
    }
    let passphrase = match (&w.passphrase, &w.passphrase_file) {
        (Some(p), None) => {
            check_passphrase(&p.value).map_err(|m| at(pos(p), m))?;
            Passphrase::Inline(p.value.clone())
        }
        (None, Some(p)) => Passphrase::File(path(p)),
        (Some(p), Some(_)) => {
            return Err(at(
                pos(p),
                "give `passphrase` or `passphrase_file`, not both".into(),
            ))
        }
        (None, None) => {
            return Err(at(
                pos(&w.ssid),
                "wifi needs `passphrase` or `passphrase_file`".into(),
            ))
        }
    };
    Ok(Wifi {
        ssid: w.ssid.value.clone(),
        passphrase,
    })
}

pub(super) fn check_vantage(
    v: VantageFile,
    at: &dyn Fn((u64, u64), String) -> SpecError,
    path: &dyn Fn(&Spanned<String>) -> std::path::PathBuf,
    names: &mut HashSet<String>,
) -> Result<VantageNode, SpecError> {
    check_name("vantage node name", &v.name.value).map_err(|m| at(pos(&v.name), m))?;
    if !names.insert(v.name.value.clone()) {
        return Err(at(
            pos(&v.name),
            format!("vantage node `{}` is listed twice", v.name.value),
        ));
    }
    let c = &v.country.value;
    if !(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(at(
            pos(&v.country),
            format!("country `{c}` must be an ISO 3166-1 code such as CH"),
        ));
    }
    if v.city.value.trim().is_empty() {
        return Err(at(pos(&v.city), "city must not be empty".into()));
    }
    if !(v.lat.value.is_finite() && v.lat.value.abs() <= 90.0) {
        return Err(at(pos(&v.lat), "lat must be -90 to 90 degrees".into()));
    }
    if !(v.lon.value.is_finite() && v.lon.value.abs() <= 180.0) {
        return Err(at(pos(&v.lon), "lon must be -180 to 180 degrees".into()));
    }
    if let Some(r) = v.region.as_ref().filter(|r| r.value.trim().is_empty()) {
        return Err(at(pos(r), "region must not be empty".into()));
    }
    let peer = match (v.from_lab, &v.wg_quick, &v.wg_quick_inline) {
        (true, None, None) => PeerSource::Lab,
        (false, Some(f), None) => PeerSource::File(path(f)),
        (false, None, Some(text)) => {
            matador_api::parse_wg_quick(&v.name.value, &text.value).map_err(|e| at(pos(text), e.to_string()))?;
            PeerSource::Inline(text.value.clone())
        }
        _ => return Err(at(pos(&v.name), format!(
            "vantage node `{}` needs exactly one of `from_lab: true`, `wg_quick` (a file) and `wg_quick_inline`",
            v.name.value
        ))),
    };
    Ok(VantageNode {
        name: v.name.value,
        country: v.country.value,
        city: v.city.value,
        lat: v.lat.value,
        lon: v.lon.value,
        region: v.region.map(|r| r.value),
        peer,
    })
}

/// Every router serves exactly one phone.
pub(super) fn check_references(
    inv: &Inventory,
    at: &dyn Fn((u64, u64), String) -> SpecError,
    places: &HashMap<String, (u64, u64)>,
) -> Result<(), SpecError> {
    let place = |name: &str| places.get(name).copied().unwrap_or((1, 1));
    for r in &inv.routers {
        let phones: Vec<&str> = inv
            .phones
            .iter()
            .filter(|p| p.router == r.name)
            .map(|p| p.serial.as_str())
            .collect();
        match phones.as_slice() {
            [] => {
                return Err(at(
                    place(&r.name),
                    format!(
                        "router `{}` has no phone; every router serves one phone",
                        r.name
                    ),
                ))
            }
            [_] => {}
            many => {
                return Err(at(
                    place(&r.name),
                    format!(
                        "router `{}` has {} phones ({}); a router serves one phone",
                        r.name,
                        many.len(),
                        many.join(", ")
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// Named routers, each in at most one pair, never with itself.
pub(super) fn check_pairs(
    pairs: Vec<[Spanned<String>; 2]>,
    routers: &[RouterEntry],
    at: &dyn Fn((u64, u64), String) -> SpecError,
) -> Result<Vec<(String, String)>, SpecError> {
    let mut paired = HashSet::new();
    let mut out = Vec::new();
    for [a, b] in pairs {
        if a.value == b.value {
            return Err(at(
                pos(&b),
                format!("router `{}` cannot pair with itself", a.value),
            ));
        }
        for r in [&a, &b] {
            if !routers.iter().any(|x| x.name == r.value) {
                return Err(at(
                    pos(r),
                    format!("router `{}` is not in `routers`", r.value),
                ));
            }
            if !paired.insert(r.value.clone()) {
                return Err(at(
                    pos(r),
                    format!("router `{}` is in two router pairs", r.value),
                ));
            }
        }
        out.push((a.value, b.value));
    }
    Ok(out)
}
