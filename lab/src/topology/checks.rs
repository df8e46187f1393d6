//! Field checks of a topology file: ISO codes, node names, address ranges, GeoDNS answers.

use super::load::pos;
use super::model::TopologyFile;
use super::types::TopologyError;
use serde_saphyr::Spanned;
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Longest node name: `t-<name>` and `wg-<name>` must fit Linux's 15-byte interface names.
pub(super) const MAX_NAME: usize = 12;

pub(super) fn check_iso(code: &Spanned<String>) -> Result<(), String> {
    let c = &code.value;
    if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(format!(
            "`{c}` is not an ISO 3166-1 alpha-2 code (two upper-case letters)"
        ))
    }
}

pub(super) fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "node name `{name}`: use 1 to {MAX_NAME} characters a-z, 0-9 and '-', starting with a letter"
        ))
    }
}

/// Ranges the lab may use: documentation (RFC 5737), shared (RFC 6598) and reserved (240/4).
pub fn is_lab_range(a: Ipv4Addr) -> bool {
    let o = a.octets();
    matches!(o, [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _])
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        || (o[0] >= 240 && a != Ipv4Addr::BROADCAST)
}

pub(super) type Positioned = ((u64, u64), String);

pub(super) fn checked_address(
    a: &Option<Spanned<Ipv4Addr>>,
) -> Result<Option<Ipv4Addr>, Positioned> {
    match a {
        None => Ok(None),
        Some(s) if is_lab_range(s.value) => Ok(Some(s.value)),
        Some(s) => Err((
            pos(s),
            format!(
                "address {} is outside the documentation/test ranges the lab may use \
                 (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 100.64.0.0/10, 240.0.0.0/4)",
                s.value
            ),
        )),
    }
}

/// Each DNS name has at most one default answer, and no region gets two answers.
pub(super) fn check_geodns(raw: &TopologyFile, file: &str) -> Result<(), TopologyError> {
    let mut answers: HashMap<(&str, Option<&str>), &str> = HashMap::new();
    for s in &raw.services {
        let keys: Vec<Option<&str>> = if s.regions.is_empty() {
            vec![None]
        } else {
            s.regions.iter().map(|r| Some(r.as_str())).collect()
        };
        for name in &s.names {
            for k in &keys {
                if let Some(other) = answers.insert((name, *k), &s.name.value) {
                    return Err(TopologyError {
                        file: file.to_string(),
                        position: Some(pos(&s.name)),
                        message: format!(
                            "`{name}` already answers {} with service `{other}`",
                            k.map_or("by default".to_string(), |r| format!("region {r}"))
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}
