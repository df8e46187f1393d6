//! The API's ingress calls on the daemon: listing ingresses, enrolling a phone as a peer and
//! removing it. A change goes to wireguard-go at once (adding or removing one peer, never
//! touching the others) and to the enrolled-peers file, so it survives a restart.

use super::config::ApConfig;
use super::control::RouterControl;
use super::ingress::{self, Peers};
use super::wireguard;
use crate::api::ControlError;
use matador_api::{AddPeer, Ingress, IngressPeer};

impl RouterControl {
    /// Every ingress of the router, with its peers.
    pub async fn list_ingress(&self) -> Result<Vec<Ingress>, ControlError> {
        let mut out = Vec::new();
        for (ap, peers) in self.ingress_aps() {
            let Some(ingress) = &ap.ingress else { continue };
            let ap2 = ap.clone();
            let public_key = tokio::task::spawn_blocking(move || ingress::public_key(&ap2))
                .await
                .map_err(|e| ControlError::Internal(e.to_string()))?
                .map_err(|e| ControlError::Unavailable(format!("{e:#}")))?;
            out.push(Ingress {
                ap: ap.name.clone(),
                interface: ap.interface.clone(),
                listen_port: ingress.listen_port,
                public_key,
                subnet: ap.subnet,
                gateway: ap.gateway(),
                peers: ingress::lock(peers).clone(),
            });
        }
        Ok(out)
    }

    /// Enrols `device` on ingress `ap`.
    pub async fn enrol(
        &self,
        ap: &str,
        device: String,
        add: AddPeer,
    ) -> Result<IngressPeer, ControlError> {
        let (ap, peers) = self.ingress_ap(ap)?;
        let peer = IngressPeer {
            device,
            public_key: add.public_key.trim().to_string(),
            address: add.address,
        };
        ingress::check_peer(ap, &peer).map_err(ControlError::Invalid)?;
        {
            let list = ingress::lock(peers);
            if list.contains(&peer) {
                return Ok(peer);
            }
        }
        // A device name is unique on the whole router: results are attributed by it.
        for (other_ap, other) in self.ingress_aps() {
            if let Some(o) = ingress::lock(other)
                .iter()
                .find(|o| ingress::clash(o, &peer))
            {
                return Err(ControlError::Conflict(format!(
                    "`{}` on ingress {} has this device name, key or address",
                    o.device, other_ap.name
                )));
            }
        }
        let request =
            ingress::add_request(&peer).map_err(|e| ControlError::Invalid(format!("{e:#}")))?;
        wireguard::exchange(&wireguard::socket_path(&ap.interface), &request)
            .await
            .map_err(|e| ControlError::Unavailable(e.to_string()))?;
        let mut list = ingress::lock(peers);
        list.push(peer.clone());
        ingress::save_enrolled(&self.config.state_dir, ap, &list)
            .map_err(|e| ControlError::Internal(format!("{e:#}")))?;
        tracing::info!(ap = %ap.name, device = %peer.device, address = %peer.address, "phone enrolled");
        Ok(peer)
    }

    /// Removes `device` from ingress `ap`: its phone can send nothing more through.
    pub async fn unenrol(&self, ap: &str, device: &str) -> Result<(), ControlError> {
        let (ap, peers) = self.ingress_ap(ap)?;
        let peer = ingress::lock(peers)
            .iter()
            .find(|p| p.device == device)
            .cloned()
            .ok_or_else(|| ControlError::UnknownAp(format!("{}/peers/{device}", ap.name)))?;
        let configured = ap.ingress.as_ref().is_some_and(|i| i.peers.contains(&peer));
        if configured {
            return Err(ControlError::Conflict(format!(
                "`{device}` is in the router's configuration file; remove it there"
            )));
        }
        let request = ingress::remove_request(&peer.public_key)
            .map_err(|e| ControlError::Internal(format!("{e:#}")))?;
        wireguard::exchange(&wireguard::socket_path(&ap.interface), &request)
            .await
            .map_err(|e| ControlError::Unavailable(e.to_string()))?;
        let mut list = ingress::lock(peers);
        list.retain(|p| p.device != device);
        ingress::save_enrolled(&self.config.state_dir, ap, &list)
            .map_err(|e| ControlError::Internal(format!("{e:#}")))?;
        tracing::info!(ap = %ap.name, %device, "phone removed: monitoring stopped");
        Ok(())
    }

    fn ingress_aps(&self) -> impl Iterator<Item = (&ApConfig, &Peers)> {
        self.config
            .aps
            .iter()
            .zip(&self.ingress)
            .filter(|(a, _)| a.is_ingress())
    }

    fn ingress_ap(&self, name: &str) -> Result<(&ApConfig, &Peers), ControlError> {
        self.ingress_aps()
            .find(|(a, _)| a.name == name)
            .ok_or_else(|| ControlError::UnknownAp(format!("{name} (no ingress of that name)")))
    }
}
