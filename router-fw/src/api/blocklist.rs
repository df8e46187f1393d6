//! `/v1/aps/{ap}/blocklist`: the domains an AP's phones may not reach (tracker blocking as
//! a user incentive, and the policy's blocking plugin in campaigns). `PUT` replaces the list
//! and answers with it normalised; `DELETE` empties it.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use matador_api::{check_id, Blocklist};

use super::routes::{path_param, App, Failure, JsonBody};

fn ap_param(p: Result<Path<String>, PathRejection>) -> Result<String, Failure> {
    let ap = path_param(p)?;
    check_id("ap", &ap)?;
    Ok(ap)
}

/// `GET /v1/aps/{ap}/blocklist`.
pub(super) async fn get_blocklist(
    State(app): State<App>,
    p: Result<Path<String>, PathRejection>,
) -> Result<Json<Blocklist>, Failure> {
    let ap = ap_param(p)?;
    let domains = app.control.blocklist(ap).await?;
    Ok(Json(Blocklist { domains }))
}

/// `PUT /v1/aps/{ap}/blocklist`.
pub(super) async fn put_blocklist(
    State(app): State<App>,
    p: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<Blocklist>,
) -> Result<Json<Blocklist>, Failure> {
    let ap = ap_param(p)?;
    let domains = body.normalized()?;
    app.control.set_blocklist(ap, domains.clone()).await?;
    Ok(Json(Blocklist { domains }))
}

/// `DELETE /v1/aps/{ap}/blocklist`.
pub(super) async fn delete_blocklist(
    State(app): State<App>,
    p: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, Failure> {
    let ap = ap_param(p)?;
    app.control.set_blocklist(ap, Vec::new()).await?;
    Ok(StatusCode::NO_CONTENT)
}
