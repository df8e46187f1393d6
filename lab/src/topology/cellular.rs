//! Phones on cellular: no Wi-Fi radio, an uplink to the transit router their mobile network
//! attaches to, and a lab router's WireGuard ingress to join from there.

use super::checks::Positioned;
use super::edge::PhoneRole;
use super::load::pos;
use super::model::{PhoneDef, RouterDef, TopologyFile};

impl PhoneRole {
    /// Whether the phone is on cellular (out on the Internet) rather than its router's Wi-Fi.
    pub fn is_cellular(&self) -> bool {
        self.cellular.is_some()
    }
}

/// Checks a phone's `cellular:`: it names a transit router, and the phone's lab router has
/// a WireGuard ingress for it to join. Returns the transit router's name, if on cellular.
pub(super) fn check_cellular(
    p: &PhoneDef,
    raw: &TopologyFile,
) -> Result<Option<String>, Positioned> {
    let Some(c) = &p.cellular else {
        return Ok(None);
    };
    if cellular_router(p, raw).is_none() {
        return Err((
            pos(c),
            format!(
                "cellular `{}` is not a transit router of this topology (a phone's mobile \
                 network attaches to one, as a vantage node's `attach` does)",
                c.value
            ),
        ));
    }
    let router = raw
        .lab_routers
        .iter()
        .find(|r| r.name.value == p.router.value);
    if router.is_some_and(|r| r.ap.ingress.is_none()) {
        return Err((
            pos(&p.router),
            format!(
                "phone `{}` is on cellular, but lab router `{}` has no WireGuard ingress to \
                 join: give its `ap` an `ingress:` subnet (like 10.78.1.0/24)",
                p.name.value, p.router.value
            ),
        ));
    }
    Ok(Some(c.value.clone()))
}

/// The transit router a cellular phone's mobile network attaches to, if it names one.
pub(super) fn cellular_router<'a>(p: &PhoneDef, raw: &'a TopologyFile) -> Option<&'a RouterDef> {
    let c = p.cellular.as_ref()?;
    raw.routers.iter().find(|r| r.name.value == c.value)
}
