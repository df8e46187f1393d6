//! The country of each hop of a path: the databases' claims checked against the speed of
//! light. A hop cannot be farther from the vantage node than light in fibre travels in half
//! its minimum RTT; a claim that needs more is flagged and, where another database or a
//! neighbouring hop gives a plausible country, corrected with the reason recorded.

use super::areas::{max_reach_km, Areas, Coord};
use super::{AddressClass, Claim};
use serde::Serialize;

/// Where the probes of a path left from: the vantage node.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// Its coordinates, when known (without them nothing can be checked).
    pub coord: Option<Coord>,
    /// Its country, the "previous hop" of the first hop.
    pub country: String,
}

/// What the analysis knows of one hop before locating it.
#[derive(Debug, Clone, PartialEq)]
pub struct HopInput {
    /// Kind of the responding address; `None`: no reply at this TTL.
    pub class: Option<AddressClass>,
    /// Every database's answer, in stack order.
    pub claims: Vec<Claim>,
    /// Smallest RTT of its replies, ms.
    pub min_rtt_ms: Option<f64>,
}

/// Why a hop has no country. Unknown hops never count in the tables, and are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    /// No reply at this TTL.
    Unresponsive,
    /// A private address (RFC 1918, IPv6 ULA).
    Private,
    /// Shared address space (100.64.0.0/10).
    Shared,
    /// Loopback, link-local, multicast and the like.
    Special,
    /// The reply's address could not be read.
    BadAddress,
    /// No database has an entry.
    NoEntry,
    /// Every claim is implausible and no neighbour offers a plausible country.
    Implausible,
    /// Every claim is implausible and the neighbours disagree, equally close in RTT.
    Ambiguous,
    /// The claimed code is in no UN M49 region (e.g. `EU`, `AP`).
    NotACountry,
}

/// The outcome of the RTT check of one claim.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Check {
    /// The country's nearest point is within reach.
    Plausible {
        /// Lower bound of the distance to the country, km.
        min_km: f64,
        /// Reach given the RTT, km.
        max_km: f64,
    },
    /// The country is out of reach: the claim is wrong.
    Implausible {
        /// Lower bound of the distance to the country, km.
        min_km: f64,
        /// Reach given the RTT, km.
        max_km: f64,
    },
    /// No RTT, no vantage coordinates, or the country is not in the areas table.
    NotChecked {
        /// Why.
        why: &'static str,
    },
}

/// An implausible claim: what was claimed, and why it cannot be.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    /// The country claimed.
    pub claimed: String,
    /// The database that claimed it.
    pub source: String,
    /// Lower bound of the distance to that country, km.
    pub min_km: f64,
    /// Reach given the RTT, km.
    pub max_km: f64,
}

/// The located hop: its country (or why none), where the country came from, and the evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HopGeo {
    /// ISO 3166-1 alpha-2 code used by the analysis; `None`: unknown.
    pub country: Option<String>,
    /// Where the country came from: a database's name, `previous hop`, `next hop` or
    /// `vantage node`.
    pub source: Option<String>,
    /// Why the hop is unknown.
    pub unknown: Option<Unknown>,
    /// The RTT check of the country used (or of the first claim, when none is used).
    pub check: Option<Check>,
    /// Implausible claims set aside, in order.
    pub flagged: Vec<Flag>,
    /// How a flagged claim was corrected, for a person.
    pub correction: Option<String>,
    /// Every database's answer, in stack order.
    pub claims: Vec<Claim>,
}

impl HopGeo {
    fn unknown(why: Unknown, claims: Vec<Claim>) -> Self {
        HopGeo {
            country: None,
            source: None,
            unknown: Some(why),
            check: None,
            flagged: Vec::new(),
            correction: None,
            claims,
        }
    }
}

/// Checks whether a hop with `min_rtt_ms` can be in `country`.
pub fn check(areas: &Areas, origin: &Origin, country: &str, min_rtt_ms: Option<f64>) -> Check {
    let Some(rtt) = min_rtt_ms else {
        return Check::NotChecked { why: "no RTT" };
    };
    let Some(from) = origin.coord else {
        return Check::NotChecked {
            why: "vantage node coordinates unknown",
        };
    };
    let Some(min_km) = areas.min_distance_km(from, country) else {
        return Check::NotChecked {
            why: "no coordinates for the country",
        };
    };
    let max_km = max_reach_km(rtt);
    if min_km <= max_km {
        Check::Plausible { min_km, max_km }
    } else {
        Check::Implausible { min_km, max_km }
    }
}

/// Locates every hop of one path (hops in TTL order, all from `origin`).
///
/// First each hop takes the first database claim that passes the RTT check; then hops whose
/// every claim failed take a neighbour's country when that one is plausible for them: the
/// nearest located hop before (or the vantage node) and after, preferring the one closer in
/// RTT when they disagree.
pub fn locate_path(areas: &Areas, origin: &Origin, hops: &[HopInput]) -> Vec<HopGeo> {
    let mut out: Vec<HopGeo> = hops.iter().map(|h| from_claims(areas, origin, h)).collect();
    // Neighbours are taken from the first pass only, so corrections never chain.
    let located: Vec<Option<(String, f64)>> = out
        .iter()
        .zip(hops)
        .map(
            |(g, h)| match (&g.country, g.correction.is_none(), h.min_rtt_ms) {
                (Some(c), true, Some(rtt)) => Some((c.clone(), rtt)),
                _ => None,
            },
        )
        .collect();
    for i in 0..out.len() {
        if out[i].unknown != Some(Unknown::Implausible) {
            continue;
        }
        let prev = located[..i]
            .iter()
            .rev()
            .flatten()
            .next()
            .map(|(c, r)| (c.clone(), *r, "previous hop"))
            .or_else(|| Some((origin.country.clone(), 0.0, "vantage node")));
        let next = located[i + 1..]
            .iter()
            .flatten()
            .next()
            .map(|(c, r)| (c.clone(), *r, "next hop"));
        correct_from_neighbours(areas, origin, &hops[i], &mut out[i], prev, next);
    }
    out
}

/// First pass: the first claim that survives the RTT check.
fn from_claims(areas: &Areas, origin: &Origin, hop: &HopInput) -> HopGeo {
    match hop.class {
        None => return HopGeo::unknown(Unknown::Unresponsive, Vec::new()),
        Some(AddressClass::Private) => return HopGeo::unknown(Unknown::Private, Vec::new()),
        Some(AddressClass::Shared) => return HopGeo::unknown(Unknown::Shared, Vec::new()),
        Some(AddressClass::Special) => return HopGeo::unknown(Unknown::Special, Vec::new()),
        Some(AddressClass::Public) => {}
    }
    if hop.claims.is_empty() {
        return HopGeo::unknown(Unknown::NoEntry, Vec::new());
    }
    let mut geo = HopGeo::unknown(Unknown::Implausible, hop.claims.clone());
    for claim in &hop.claims {
        let c = check(areas, origin, &claim.country, hop.min_rtt_ms);
        match c {
            Check::Implausible { min_km, max_km } => geo.flagged.push(Flag {
                claimed: claim.country.clone(),
                source: claim.source.clone(),
                min_km,
                max_km,
            }),
            Check::Plausible { .. } | Check::NotChecked { .. } => {
                geo.country = Some(claim.country.clone());
                geo.source = Some(claim.source.clone());
                geo.unknown = None;
                geo.check = Some(c);
                if let Some(first) = geo.flagged.first() {
                    let verdict = match c {
                        Check::NotChecked { why } => format!("which cannot be checked ({why})"),
                        _ => "which is plausible".to_owned(),
                    };
                    geo.correction = Some(format!(
                        "{} says {}, which is at least {:.0} km away, beyond the {:.0} km \
                         light travels in half the RTT; {} says {}, {verdict}",
                        first.source,
                        first.claimed,
                        first.min_km,
                        first.max_km,
                        claim.source,
                        claim.country
                    ));
                }
                return geo;
            }
        }
    }
    geo
}

/// Second pass for a hop whose every claim is implausible.
fn correct_from_neighbours(
    areas: &Areas,
    origin: &Origin,
    hop: &HopInput,
    geo: &mut HopGeo,
    prev: Option<(String, f64, &'static str)>,
    next: Option<(String, f64, &'static str)>,
) {
    let rtt = hop.min_rtt_ms.unwrap_or(0.0);
    let mut candidates: Vec<(String, f64, &'static str, Check)> = [prev, next]
        .into_iter()
        .flatten()
        .filter_map(|(c, r, label)| {
            let chk = check(areas, origin, &c, hop.min_rtt_ms);
            matches!(chk, Check::Plausible { .. }).then_some((c, r, label, chk))
        })
        .collect();
    candidates.sort_by(|a, b| (a.1 - rtt).abs().total_cmp(&(b.1 - rtt).abs()));
    let chosen = match candidates.as_slice() {
        [] => None,
        [only] => Some(only),
        [a, b] if a.0 == b.0 => Some(a),
        [a, b] if (a.1 - rtt).abs() < (b.1 - rtt).abs() => Some(a),
        _ => {
            geo.unknown = Some(Unknown::Ambiguous);
            None
        }
    };
    let first = geo.flagged.first().cloned();
    if let (Some((country, r, label, chk)), Some(first)) = (chosen, first) {
        geo.correction = Some(format!(
            "{} says {}, which is at least {:.0} km away, beyond the {:.0} km light travels \
             in half the RTT ({:.1} ms) and no database offers a plausible country; the {} \
             ({:.1} ms) is in {}, which is plausible",
            first.source, first.claimed, first.min_km, first.max_km, rtt, label, r, country
        ));
        geo.country = Some(country.clone());
        geo.source = Some((*label).to_owned());
        geo.unknown = None;
        geo.check = Some(*chk);
    }
}

#[cfg(test)]
#[path = "plausible_tests.rs"]
mod tests;
