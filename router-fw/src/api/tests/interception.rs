//! `/v1/interception/ca` over the real server with the fake daemon, raw and through the
//! host's client.

use std::sync::atomic::Ordering;

use super::client::request;
use super::harness::{Harness, CA_PEM};
use crate::api::ApiLimits;
use matador_api::ApiError;

#[tokio::test]
async fn the_ca_certificate_is_served_as_pem_and_needs_the_token() {
    let h = Harness::start(ApiLimits::default()).await;
    let reply = h.call("GET", "/v1/interception/ca", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/x-pem-file"));
    assert_eq!(reply.body, CA_PEM.as_bytes());
    assert_eq!(h.client().interception_ca().await.unwrap(), CA_PEM);

    let anonymous = request(h.addr, &h.pin, "GET", "/v1/interception/ca", None, None)
        .await
        .unwrap();
    assert_eq!(anonymous.status, 401);
    assert!(!String::from_utf8_lossy(&anonymous.body).contains("BEGIN"));
    let posted = h.call("POST", "/v1/interception/ca", Some("{}")).await;
    assert_eq!(posted.status, 405);
    h.stop().await;
}

#[tokio::test]
async fn a_router_without_the_proxy_answers_501_naming_the_file() {
    let h = Harness::start(ApiLimits::default()).await;
    h.control.no_proxy.store(true, Ordering::Relaxed);
    let reply = h.call("GET", "/v1/interception/ca", None).await;
    assert_eq!(reply.status, 501);
    let error: ApiError = reply.json();
    assert_eq!(error.error, "unsupported");
    assert!(error.detail.contains("/usr/bin/matador-mitm"), "{error}");
    let e = h.client().interception_ca().await.unwrap_err();
    assert_eq!((e.status(), e.api_code()), (Some(501), Some("unsupported")));
    assert!(!e.is_transient(), "{e}");
    h.stop().await;
}
