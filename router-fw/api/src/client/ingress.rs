//! The VPN ingress calls: phones enrolled as WireGuard peers, and each device's results.

use hyper::Method;

use super::{encode, ClientError, RouterClient, MAX_JSON_BYTES};
use crate::ingress::check_device;
use crate::{check_id, AddPeer, DeviceData, Ingress, IngressPeer};

impl RouterClient {
    /// `GET /v1/ingress`: every WireGuard ingress of the router, with its peers.
    pub async fn ingress(&self) -> Result<Vec<Ingress>, ClientError> {
        self.json(Method::GET, "/v1/ingress", None).await
    }

    /// `PUT /v1/ingress/{ap}/peers/{device}`: enroll a phone on the AP's ingress; the router
    /// answers the peer as added (409 `conflict` if the address or key is taken).
    pub async fn add_ingress_peer(
        &self,
        ap: &str,
        device: &str,
        peer: &AddPeer,
    ) -> Result<IngressPeer, ClientError> {
        check_id("ap", ap)?;
        check_device("device", device)?;
        peer.validate()?;
        let path = format!("/v1/ingress/{ap}/peers/{device}");
        self.json(Method::PUT, &path, Some(encode(peer)?)).await
    }

    /// `DELETE /v1/ingress/{ap}/peers/{device}`: remove the phone from the interface at once,
    /// which stops its monitoring; its results stay until deleted.
    pub async fn remove_ingress_peer(&self, ap: &str, device: &str) -> Result<(), ClientError> {
        check_id("ap", ap)?;
        check_device("device", device)?;
        let path = format!("/v1/ingress/{ap}/peers/{device}");
        self.call(Method::DELETE, &path, None, MAX_JSON_BYTES)
            .await
            .map(drop)
    }

    /// `GET /v1/devices/{device}/results`: the results the router holds for a device.
    pub async fn device_results(&self, device: &str) -> Result<DeviceData, ClientError> {
        check_device("device", device)?;
        let path = format!("/v1/devices/{device}/results");
        self.json(Method::GET, &path, None).await
    }

    /// `DELETE /v1/devices/{device}/results`: delete a device's results; the answer lists
    /// what was deleted.
    pub async fn delete_device_results(&self, device: &str) -> Result<DeviceData, ClientError> {
        check_device("device", device)?;
        let path = format!("/v1/devices/{device}/results");
        self.json(Method::DELETE, &path, None).await
    }
}
