//! `/v1/interception/ca`: the router's TLS interception CA certificate, which the host
//! installs on lab test phones whose policy allows interception. Only the certificate: the
//! CA's private key never leaves the router.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::routes::{App, Failure};

/// `GET /v1/interception/ca`: the CA certificate, PEM; made on first use.
pub(super) async fn ca(State(app): State<App>) -> Result<Response, Failure> {
    let pem = app.control.interception_ca().await?;
    let mut response = pem.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-pem-file"),
    );
    Ok(response)
}
