//! The `/v1` routes: request checks, calls into the daemon and the store, error bodies.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use matador_api::{
    check_id, check_result_id, ApiError, Invalid, MeasurementStatus, ResultList, RouterStatus,
    SetVantage, StartMeasurement, StopMeasurement, ENCRYPTED_AGE, ENCRYPTED_HEADER, SHA256_HEADER,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::auth::{require_token, Token};
use super::body::FileBody;
use super::control::{Control, ControlError};
use crate::store::{Store, StoreError};

/// What every handler reaches.
#[derive(Clone)]
pub struct App {
    pub control: Arc<dyn Control>,
    pub store: Arc<Store>,
}

/// The API's routes with authentication, a body size limit and a request timeout.
pub fn router(app: App, token: Token, max_body_bytes: usize, request_timeout: Duration) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/aps/{ap}/vantage", put(set_vantage))
        .route(
            "/v1/aps/{ap}/blocklist",
            get(super::blocklist::get_blocklist)
                .put(super::blocklist::put_blocklist)
                .delete(super::blocklist::delete_blocklist),
        )
        .route("/v1/measurements", post(start_measurement))
        .route("/v1/measurements/{id}", get(measurement))
        .route("/v1/measurements/{id}/stop", post(stop_measurement))
        .route("/v1/results", get(list_results))
        .route(
            "/v1/results/{id}",
            get(fetch_result).delete(acknowledge_result),
        )
        .route("/v1/interception/ca", get(super::interception::ca))
        .route("/v1/ingress", get(super::devices::ingress))
        .route(
            "/v1/ingress/{ap}/peers/{device}",
            put(super::devices::add_peer).delete(super::devices::remove_peer),
        )
        .route(
            "/v1/devices/{device}/results",
            get(super::devices::results).delete(super::devices::forget),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies sent chunked are cut while they are read; announced ones are refused at once.
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(from_fn_with_state(max_body_bytes, announced_length))
        .layer(from_fn_with_state(request_timeout, timeout))
        // Outermost: nothing runs, not even the body limit, before the token is checked.
        .layer(from_fn_with_state(token, require_token))
        .with_state(app)
}

/// An error response: a status and an [`ApiError`] body.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    body: ApiError,
}

impl Failure {
    pub fn new(status: StatusCode, error: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            body: ApiError::new(error, detail),
        }
    }

    pub(super) fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let close = matches!(
            self.status,
            StatusCode::REQUEST_TIMEOUT | StatusCode::PAYLOAD_TOO_LARGE
        );
        let mut response = (self.status, Json(self.body)).into_response();
        if close {
            // The request body may be unread: this connection cannot carry another request.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl From<Invalid> for Failure {
    fn from(e: Invalid) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", e.to_string())
    }
}

impl From<ControlError> for Failure {
    fn from(e: ControlError) -> Self {
        let (status, code) = match &e {
            ControlError::UnknownAp(_) | ControlError::UnknownMeasurement(_) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            ControlError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ControlError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            ControlError::Unsupported(_) => (StatusCode::NOT_IMPLEMENTED, "unsupported"),
            ControlError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ControlError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let (status, code) = match &e {
            StoreError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            StoreError::Sha256Mismatch { .. } | StoreError::Exists(_) => {
                (StatusCode::CONFLICT, "conflict")
            }
            StoreError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            StoreError::Full { .. } => (StatusCode::INSUFFICIENT_STORAGE, "storage_full"),
            StoreError::Io { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Self::new(status, code, e.to_string())
    }
}

/// A request body as bytes, within the size limit (413 beyond it).
pub struct RawBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Failure;

    async fn from_request(request: Request, state: &S) -> Result<Self, Failure> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
            Err(r) => Err(Failure::new(r.status(), "bad_request", r.body_text())),
        }
    }
}

/// A JSON request body of type `T`; a body that is not valid JSON for `T` is a 400 naming
/// the line, column and field.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Failure;

    async fn from_request(request: Request, state: &S) -> Result<Self, Failure> {
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        parse_json(&bytes).map(Self)
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "this request needs a JSON body",
        ));
    }
    let bad = |detail: String| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the body is not valid JSON for this request: {detail}"),
        )
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            bad(inner.to_string())
        } else {
            bad(format!("{path}: {inner}"))
        }
    })?;
    de.end().map_err(|e| bad(e.to_string()))?;
    Ok(value)
}

pub(super) fn path_param(path: Result<Path<String>, PathRejection>) -> Result<String, Failure> {
    path.map(|Path(p)| p)
        .map_err(|r| Failure::new(StatusCode::BAD_REQUEST, "bad_request", r.body_text()))
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, Failure> {
    query
        .map(|Query(q)| q)
        .map_err(|r| Failure::new(StatusCode::BAD_REQUEST, "bad_request", r.body_text()))
}

/// Runs blocking store work off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Failure> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(Failure::from),
        Err(e) => Err(Failure::internal(format!("store task failed: {e}"))),
    }
}

async fn timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Failure::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request took longer than {} s", limit.as_secs_f64()),
        )
        .into_response(),
    }
}

fn too_large() -> Failure {
    Failure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than the API accepts",
    )
}

/// Refuses a request whose `Content-Length` is over the limit before reading any of it.
async fn announced_length(State(max): State<usize>, request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match announced {
        Some(len) if len > max as u64 => too_large().into_response(),
        _ => next.run(request).await,
    }
}

async fn not_found() -> Failure {
    Failure::new(StatusCode::NOT_FOUND, "not_found", "no such API path")
}

async fn method_not_allowed() -> Failure {
    Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not take this method",
    )
}

async fn status(State(app): State<App>) -> Result<Json<RouterStatus>, Failure> {
    Ok(Json(app.control.status().await?))
}

async fn set_vantage(
    State(app): State<App>,
    ap: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<SetVantage>,
) -> Result<StatusCode, Failure> {
    let ap = path_param(ap)?;
    check_id("ap", &ap)?;
    body.peer.validate()?;
    app.control.set_vantage(ap, body.peer).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn start_measurement(
    State(app): State<App>,
    JsonBody(request): JsonBody<StartMeasurement>,
) -> Result<(StatusCode, Json<MeasurementStatus>), Failure> {
    request.validate()?;
    let status = app.control.start_measurement(request).await?;
    Ok((StatusCode::CREATED, Json(status)))
}

async fn measurement(
    State(app): State<App>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<MeasurementStatus>, Failure> {
    let id = path_param(id)?;
    check_id("id", &id)?;
    Ok(Json(app.control.measurement(id).await?))
}

async fn stop_measurement(
    State(app): State<App>,
    id: Result<Path<String>, PathRejection>,
    RawBody(body): RawBody,
) -> Result<Json<MeasurementStatus>, Failure> {
    let id = path_param(id)?;
    check_id("id", &id)?;
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        StopMeasurement::default()
    } else {
        parse_json::<StopMeasurement>(&body)?
    };
    request.validate()?;
    Ok(Json(app.control.stop_measurement(id, request).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    measurement: Option<String>,
}

async fn list_results(
    State(app): State<App>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ResultList>, Failure> {
    let q = query(q)?;
    let mut results = app.store.list();
    if let Some(m) = &q.measurement {
        results.retain(|r| &r.measurement == m);
    }
    Ok(Json(ResultList {
        results,
        used_bytes: app.store.used_bytes(),
        capacity_bytes: app.store.capacity_bytes(),
    }))
}

async fn fetch_result(
    State(app): State<App>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Failure> {
    let id = path_param(id)?;
    check_result_id("id", &id)?;
    let store = Arc::clone(&app.store);
    let (summary, file) = blocking(move || store.open_result(&id)).await?;
    let body = FileBody::new(tokio::fs::File::from_std(file), summary.size);
    let mut response = Response::new(Body::new(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(summary.size));
    // Hex digits and an id of [A-Za-z0-9._-]: always valid header values.
    if let Ok(v) = HeaderValue::from_str(&summary.sha256) {
        headers.insert(SHA256_HEADER, v);
    }
    if summary.encrypted {
        headers.insert(ENCRYPTED_HEADER, HeaderValue::from_static(ENCRYPTED_AGE));
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckQuery {
    sha256: Option<String>,
}

async fn acknowledge_result(
    State(app): State<App>,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<AckQuery>, QueryRejection>,
) -> Result<StatusCode, Failure> {
    let id = path_param(id)?;
    check_result_id("id", &id)?;
    let q = query(q)?;
    let store = Arc::clone(&app.store);
    blocking(move || store.acknowledge(&id, q.sha256.as_deref())).await?;
    Ok(StatusCode::NO_CONTENT)
}
