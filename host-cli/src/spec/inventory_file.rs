//! The inventory as written: every field checked, mutually exclusive fields refused, every
//! reference resolved, relative paths taken from the inventory's folder.

use super::checks::{check_name, normalise_fingerprint};
use super::error::{pos, SpecError};
use super::inventory::{Fingerprint, Inventory, PhoneEntry, RootVia, RouterAccess, RouterEntry};
use super::inventory_checks::{
    check_api, check_pairs, check_references, check_vantage, check_wifi,
};
use super::pii::PiiFile;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::{HashMap, HashSet};
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryFile {
    routers: Vec<RouterFile>,
    phones: Vec<PhoneFile>,
    vantage_nodes: Vec<VantageFile>,
    #[serde(default)]
    router_pairs: Option<Vec<[Spanned<String>; 2]>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouterFile {
    name: Spanned<String>,
    #[serde(default)]
    ap: Option<Spanned<String>>,
    #[serde(default)]
    from_lab: bool,
    #[serde(default)]
    api: Option<Spanned<String>>,
    #[serde(default)]
    token_file: Option<Spanned<String>>,
    #[serde(default)]
    fingerprint: Option<Spanned<String>>,
    #[serde(default)]
    fingerprint_file: Option<Spanned<String>>,
    #[serde(default)]
    wifi: Option<WifiFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WifiFile {
    pub(super) ssid: Spanned<String>,
    #[serde(default)]
    pub(super) passphrase: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) passphrase_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneFile {
    serial: Spanned<String>,
    model: Spanned<String>,
    router: Spanned<String>,
    #[serde(default)]
    connect: bool,
    #[serde(default)]
    root: RootVia,
    #[serde(default)]
    pii: Option<PiiFile>,
    #[serde(default)]
    ingress: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VantageFile {
    pub(super) name: Spanned<String>,
    pub(super) country: Spanned<String>,
    pub(super) city: Spanned<String>,
    pub(super) lat: Spanned<f64>,
    pub(super) lon: Spanned<f64>,
    #[serde(default)]
    pub(super) region: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) from_lab: bool,
    #[serde(default)]
    pub(super) wg_quick: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) wg_quick_inline: Option<Spanned<String>>,
}

/// Reads and checks an inventory from YAML text; `file` names it in errors and relative
/// paths in it are taken from `base` (the inventory's folder).
pub fn parse_inventory(text: &str, file: &str, base: &Path) -> Result<Inventory, SpecError> {
    let raw: InventoryFile = serde_saphyr::from_str(text).map_err(|e| SpecError::yaml(file, &e))?;
    let at = |p: (u64, u64), m: String| SpecError::at(file, p, m);
    let path = |s: &Spanned<String>| base.join(&s.value);
    let mut places: HashMap<String, (u64, u64)> = HashMap::new();

    let mut routers = Vec::new();
    for r in raw.routers {
        check_name("router name", &r.name.value).map_err(|m| at(pos(&r.name), m))?;
        if places.insert(r.name.value.clone(), pos(&r.name)).is_some() {
            return Err(at(
                pos(&r.name),
                format!("router `{}` is listed twice", r.name.value),
            ));
        }
        let ap = match &r.ap {
            Some(ap) => {
                check_name("ap", &ap.value).map_err(|m| at(pos(ap), m))?;
                ap.value.clone()
            }
            // The lab names each router's access point after the router.
            None => r.name.value.clone(),
        };
        let given: Vec<&str> = [
            ("api", r.api.is_some()),
            ("token_file", r.token_file.is_some()),
            ("fingerprint", r.fingerprint.is_some()),
            ("fingerprint_file", r.fingerprint_file.is_some()),
            ("wifi", r.wifi.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        let access = if r.from_lab {
            if !given.is_empty() {
                return Err(at(
                    pos(&r.name),
                    format!(
                        "router `{}` is `from_lab`, so it takes no {} (the lab publishes them)",
                        r.name.value,
                        given.join(", ")
                    ),
                ));
            }
            RouterAccess::Lab
        } else {
            let missing = |k: &str| {
                at(
                    pos(&r.name),
                    format!(
                        "router `{}` needs `{k}` (or `from_lab: true` for a lab router)",
                        r.name.value
                    ),
                )
            };
            let api = r.api.as_ref().ok_or_else(|| missing("api"))?;
            check_api(&api.value).map_err(|m| at(pos(api), m))?;
            let token = r.token_file.as_ref().ok_or_else(|| missing("token_file"))?;
            let fingerprint = match (&r.fingerprint, &r.fingerprint_file) {
                (Some(f), None) => {
                    Fingerprint::Sha256(normalise_fingerprint(&f.value).map_err(|m| at(pos(f), m))?)
                }
                (None, Some(f)) => Fingerprint::File(path(f)),
                (Some(f), Some(_)) => {
                    return Err(at(
                        pos(f),
                        "give `fingerprint` or `fingerprint_file`, not both".into(),
                    ))
                }
                (None, None) => return Err(missing("fingerprint` or `fingerprint_file")),
            };
            let w = r.wifi.as_ref().ok_or_else(|| missing("wifi"))?;
            RouterAccess::Direct {
                api: api.value.clone(),
                token_file: path(token),
                fingerprint,
                wifi: check_wifi(w, &at, &path)?,
            }
        };
        routers.push(RouterEntry {
            name: r.name.value,
            ap,
            access,
        });
    }

    let mut phones = Vec::new();
    let mut serials = HashSet::new();
    for p in raw.phones {
        let s = &p.serial.value;
        if s.is_empty() || s.len() > 128 || s.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(at(
                pos(&p.serial),
                format!("serial `{s}` must be 1 to 128 printable characters without spaces"),
            ));
        }
        if !serials.insert(s.clone()) {
            return Err(at(pos(&p.serial), format!("phone `{s}` is listed twice")));
        }
        if p.connect && s.parse::<std::net::SocketAddrV4>().is_err() {
            return Err(at(
                pos(&p.serial),
                format!("`connect: true` needs the serial to be IPv4:PORT, not `{s}`"),
            ));
        }
        if p.model.value.trim().is_empty() || p.model.value.len() > 64 {
            return Err(at(
                pos(&p.model),
                "model must be 1 to 64 characters (ro.product.model)".into(),
            ));
        }
        if !routers
            .iter()
            .any(|r: &RouterEntry| r.name == p.router.value)
        {
            return Err(at(
                pos(&p.router),
                format!("router `{}` is not in `routers`", p.router.value),
            ));
        }
        let pii = match &p.pii {
            Some(f) => super::pii::registered(file, s, f)?,
            None => Vec::new(),
        };
        if let Some(device) = &p.ingress {
            matador_api::check_device_name(&device.value)
                .map_err(|e| at(pos(device), format!("ingress: {e}")))?;
        }
        phones.push(PhoneEntry {
            serial: p.serial.value,
            model: p.model.value,
            router: p.router.value,
            connect: p.connect,
            root: p.root,
            pii,
            ingress: p.ingress.map(|d| d.value),
        });
    }

    let mut vantage_nodes = Vec::new();
    let mut node_names = HashSet::new();
    for v in raw.vantage_nodes {
        vantage_nodes.push(check_vantage(v, &at, &path, &mut node_names)?);
    }

    let router_pairs = match raw.router_pairs {
        Some(pairs) => check_pairs(pairs, &routers, &at)?,
        // By default the routers pair up in file order.
        None if routers.len() % 2 == 1 => {
            return Err(SpecError::whole(
                file,
                format!(
                    "{} routers cannot pair up: list `router_pairs`",
                    routers.len()
                ),
            ))
        }
        None => routers
            .chunks(2)
            .map(|c| (c[0].name.clone(), c[1].name.clone()))
            .collect(),
    };

    let inventory = Inventory {
        routers,
        phones,
        vantage_nodes,
        router_pairs,
    };
    check_references(&inventory, &at, &places)?;
    Ok(inventory)
}
