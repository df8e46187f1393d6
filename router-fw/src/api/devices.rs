//! The per-device routes: the WireGuard ingresses and their peers (`/v1/ingress`), and a
//! device's results (`/v1/devices/{device}/results`): what a participant's data is, and how
//! it is deleted and monitoring stopped, each with one request.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use matador_api::{check_device_name, check_id, AddPeer, DeviceData, Ingress, IngressPeer};

use super::routes::{blocking, path_param, App, Failure, JsonBody};

fn bad_device(reason: String) -> Failure {
    Failure::new(
        StatusCode::BAD_REQUEST,
        "invalid",
        format!("device: {reason}"),
    )
}

fn device_param(p: Result<Path<String>, PathRejection>) -> Result<String, Failure> {
    let device = path_param(p)?;
    check_device_name(&device).map_err(bad_device)?;
    Ok(device)
}

fn two_params(
    p: Result<Path<(String, String)>, PathRejection>,
) -> Result<(String, String), Failure> {
    let Path((ap, device)) =
        p.map_err(|r| Failure::new(StatusCode::BAD_REQUEST, "bad_request", r.body_text()))?;
    check_id("ap", &ap)?;
    check_device_name(&device).map_err(bad_device)?;
    Ok((ap, device))
}

/// `GET /v1/ingress`.
pub(super) async fn ingress(State(app): State<App>) -> Result<Json<Vec<Ingress>>, Failure> {
    Ok(Json(app.control.ingress().await?))
}

/// `PUT /v1/ingress/{ap}/peers/{device}`.
pub(super) async fn add_peer(
    State(app): State<App>,
    p: Result<Path<(String, String)>, PathRejection>,
    JsonBody(body): JsonBody<AddPeer>,
) -> Result<Json<IngressPeer>, Failure> {
    let (ap, device) = two_params(p)?;
    body.validate()?;
    Ok(Json(app.control.add_ingress_peer(ap, device, body).await?))
}

/// `DELETE /v1/ingress/{ap}/peers/{device}`.
pub(super) async fn remove_peer(
    State(app): State<App>,
    p: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, Failure> {
    let (ap, device) = two_params(p)?;
    app.control.remove_ingress_peer(ap, device).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/devices/{device}/results`.
pub(super) async fn results(
    State(app): State<App>,
    p: Result<Path<String>, PathRejection>,
) -> Result<Json<DeviceData>, Failure> {
    let device = device_param(p)?;
    let mut results = app.store.list();
    results.retain(|r| r.device.as_deref() == Some(device.as_str()));
    Ok(Json(DeviceData { device, results }))
}

/// `DELETE /v1/devices/{device}/results`: deletes them all and lists what went.
pub(super) async fn forget(
    State(app): State<App>,
    p: Result<Path<String>, PathRejection>,
) -> Result<Json<DeviceData>, Failure> {
    let device = device_param(p)?;
    let store = Arc::clone(&app.store);
    let who = device.clone();
    let results = blocking(move || {
        let mine: Vec<_> = store
            .list()
            .into_iter()
            .filter(|r| r.device.as_deref() == Some(who.as_str()))
            .collect();
        for r in &mine {
            store.acknowledge(&r.id, None)?;
        }
        Ok(mine)
    })
    .await?;
    tracing::info!(%device, deleted = results.len(), "a device's results deleted");
    Ok(Json(DeviceData { device, results }))
}
