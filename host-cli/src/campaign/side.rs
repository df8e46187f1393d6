//! A router pair's side as a measurement finds it: where its phone is on the router (Wi-Fi
//! AP, or the ingress holding its device), whether the phone answers, and a measurement an
//! interrupted run left on its AP.

use super::one::Side;
use anyhow::{anyhow, Context, Result};
use matador_api::StopMeasurement;
use std::time::Duration;

/// Where a side's phone is on its router: the AP it is measured on (for a phone on the
/// router's WireGuard ingress, the ingress's), and its VPN address there.
pub struct Reach {
    /// The AP the phone is measured on.
    pub ap: String,
    /// Its VPN address on the router's ingress, if it is on one.
    pub vpn: Option<std::net::Ipv4Addr>,
}

/// A side's [`Reach`]: its router's Wi-Fi AP, or the ingress holding its device.
pub async fn reach_of(side: &Side) -> Result<Reach> {
    let Some(device) = &side.ingress else {
        return Ok(Reach {
            ap: side.router.ap.clone(),
            vpn: None,
        });
    };
    let ingresses = side
        .client
        .ingress()
        .await
        .with_context(|| format!("router {}: its ingress", side.router.name))?;
    ingresses
        .iter()
        .find_map(|i| {
            i.peers.iter().find(|p| &p.device == device).map(|p| Reach {
                ap: i.ap.clone(),
                vpn: Some(p.address),
            })
        })
        .ok_or_else(|| {
            anyhow!(
                "router {} has no ingress device {device}: enrol the phone first \
                 (`matador-host phone enroll --router {} --device {device} --push SERIAL`)",
                side.router.name,
                side.router.name
            )
        })
}

/// Waits until a side's phone answers over ADB: a phone that dropped off (crash, reboot,
/// cable) gets `limit` to come back before the attempt fails.
pub async fn wait_phone(side: &Side, limit: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut warned = false;
    loop {
        match side.phone.shell("getprop ro.product.model").await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(anyhow!(e)).with_context(|| {
                    format!(
                        "the phone of {} did not answer for {} s",
                        side.router.name,
                        limit.as_secs()
                    )
                })
            }
            Err(e) => {
                if !warned {
                    tracing::warn!(router = %side.router.name, error = %e, "waiting for the phone to come back");
                    warned = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// A measurement a killed host left on the router (still capturing, or being processed)
/// holds the AP: stop it, wait, and drop its results — its attempt is being redone.
pub async fn abandon_leftover(side: &Side, ap: &str, limit: Duration) -> Result<()> {
    let status = side
        .client
        .status()
        .await
        .with_context(|| format!("router {}: status", side.router.name))?;
    let Some(m) = status.measurement.filter(|m| m.ap == ap) else {
        return Ok(());
    };
    tracing::warn!(router = %side.router.name, measurement = %m.id, "stopping a measurement an interrupted run left");
    if m.state == matador_api::MeasurementState::Running {
        side.client
            .stop_measurement(&m.id, &StopMeasurement::default())
            .await
            .with_context(|| {
                format!(
                    "router {}: stopping the leftover {}",
                    side.router.name, m.id
                )
            })?;
    }
    let m = side
        .client
        .wait_measurement(&m.id, Duration::from_millis(500), limit)
        .await?;
    for id in &m.results {
        if let Ok(r) = side.client.fetch_result(id).await {
            let _ = side.client.acknowledge(id, &r.sha256).await;
        }
    }
    Ok(())
}
