//! Whose traffic a measurement is about: the capture filter (an ingress device's tunnel
//! address, or a Wi-Fi AP's phone from the DHCP leases), and the TLS interception of it.

use super::intercept;
use super::process::Notes;
use super::Measurements;
use crate::api::ControlError;
use crate::capture::PhoneFilter;
use crate::dataplane::config::ApConfig;

impl Measurements {
    /// What to capture on an AP, and whose traffic it is. An ingress: the device's tunnel
    /// address (the one asked for, else its only peer); Wi-Fi: the phone from the DHCP
    /// leases (several stations, or none yet: the AP's whole traffic).
    pub(super) fn phone_filter(
        &self,
        ap: &ApConfig,
        device: Option<&str>,
    ) -> Result<(PhoneFilter, Option<String>), ControlError> {
        let mut filter = PhoneFilter::default();
        if ap.is_ingress() {
            let i = self.config.aps.iter().position(|a| a.name == ap.name);
            let peers = i
                .and_then(|i| self.ingress.get(i))
                .map(|p| crate::dataplane::ingress::lock(p).clone())
                .unwrap_or_default();
            let peer = match device {
                Some(d) => peers.iter().find(|p| p.device == d),
                None if peers.len() == 1 => peers.first(),
                None => None,
            };
            let Some(peer) = peer else {
                let known: Vec<&str> = peers.iter().map(|p| p.device.as_str()).collect();
                return Err(ControlError::Invalid(format!(
                    "ingress {:?} serves several devices or none: name one of [{}] as `device`",
                    ap.name,
                    known.join(", ")
                )));
            };
            filter.addresses.push(peer.address.into());
            return Ok((filter, Some(peer.device.clone())));
        }
        let leases = std::fs::read_to_string(self.config.run_dir.join(&ap.name).join("leases"))
            .unwrap_or_default();
        let stations = crate::dataplane::control::stations(&leases);
        if let [only] = stations.as_slice() {
            filter.mac = parse_mac(&only.mac);
            filter.addresses.extend(only.ip);
        }
        Ok((filter, device.map(str::to_string)))
    }

    /// Interception for a measurement on `ap` of the phone(s) `from` (see `intercept`).
    pub(super) fn start_interception(
        &self,
        ap: &ApConfig,
        from: &ipnet::Ipv4Net,
        id: &str,
        notes: &mut Notes,
    ) -> Result<intercept::Active, ControlError> {
        let index = self
            .config
            .aps
            .iter()
            .position(|a| a.name == ap.name)
            .ok_or_else(|| ControlError::UnknownAp(ap.name.clone()))?;
        let place = intercept::Place {
            index,
            ap,
            from: *from,
            dir: &self.capture_dir.join(id),
            run_dir: &self.config.run_dir,
        };
        intercept::start(
            &self.interception,
            self.redirector().as_ref(),
            &place,
            notes,
        )
    }
}

/// `aa:bb:cc:dd:ee:ff` as bytes.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}
