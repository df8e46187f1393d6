//! The API over real HTTPS: a fake daemon, a real store, a client that pins the certificate.

mod blocklist;
mod client;
mod harness;
mod interception;
mod router_client;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use matador_api::client::PinMismatch;
use matador_api::{
    MeasurementState, MeasurementStatus, ResultKind, ResultList, RouterStatus, SHA256_HEADER,
};
use tokio::io::AsyncWriteExt;

use super::*;
use crate::store::Store;
use client::{connect, raw, read_reply, request};
use harness::{peer_json, Capture, FakeControl, Harness, KEY, TOKEN};

#[tokio::test]
async fn requests_without_the_right_token_are_refused_and_logged() {
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = Arc::clone(&logs);
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || Capture(Arc::clone(&sink)))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::start(ApiLimits::default()).await;
    let wrong = "wrong-token-wrong-token";
    let cases: [(&str, Option<&str>); 4] = [
        ("/v1/status", None),
        ("/v1/status", Some(wrong)),
        ("/v1/status", Some("x")),
        ("/v1/nowhere", None), // unknown paths are not revealed either
    ];
    for (path, token) in cases {
        let reply = request(h.addr, &h.pin, "GET", path, token, None)
            .await
            .unwrap();
        assert_eq!(reply.status, 401, "{path} {token:?}");
        assert_eq!(reply.error().error, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
    // Not even the body is looked at before the token.
    let reply = request(
        h.addr,
        &h.pin,
        "PUT",
        "/v1/aps/ap0/vantage",
        Some(wrong),
        Some(b"{"),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 401);
    assert!(h.control.vantage.lock().unwrap().is_empty());

    let reply = h.call("GET", "/v1/status", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json::<RouterStatus>(), FakeControl::router_status());
    h.stop().await;

    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert_eq!(logs.matches("API request refused").count(), 5, "{logs}");
    assert!(logs.contains("peer=127.0.0.1:"), "{logs}");
    assert!(logs.contains("path=/v1/status"), "{logs}");
    assert!(logs.contains("wrong token"), "{logs}");
    assert!(!logs.contains(wrong) && !logs.contains(TOKEN), "{logs}");
}

#[tokio::test]
async fn the_client_pins_the_certificate() {
    let h = Harness::start(ApiLimits::default()).await;
    assert!(connect(h.addr, &h.pin).await.is_ok());
    let other = "00".repeat(32);
    let err = connect(h.addr, &other).await.unwrap_err();
    let mismatch = PinMismatch::find(&err).unwrap_or_else(|| panic!("{err}"));
    assert_eq!((mismatch.expected, mismatch.got), (other, h.pin.clone()));
    h.stop().await;
}

#[tokio::test]
async fn the_certificate_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("results"), 1024).unwrap();
    let config = ApiConfig::new("127.0.0.1:0".parse().unwrap(), TOKEN, dir.path().join("s"));
    let control: Arc<dyn Control> = Arc::new(FakeControl::default());
    let first = ApiServer::bind(config.clone(), Arc::clone(&control), Arc::clone(&store))
        .await
        .unwrap();
    let pin = first.fingerprint().to_owned();
    drop(first);
    let again = ApiServer::bind(config, control, store).await.unwrap();
    assert_eq!(again.fingerprint(), pin);
}

#[tokio::test]
async fn bad_configs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("results"), 1024).unwrap();
    let control: Arc<dyn Control> = Arc::new(FakeControl::default());
    for (listen, token, expected) in [
        ("0.0.0.0:8443", TOKEN, "never to all addresses"),
        ("[::]:8443", TOKEN, "never to all addresses"),
        ("127.0.0.1:0", "short", "at least 16 characters"),
    ] {
        let config = ApiConfig::new(listen.parse().unwrap(), token, dir.path().join("s"));
        let err = ApiServer::bind(config, Arc::clone(&control), Arc::clone(&store))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[tokio::test]
async fn bodies_are_checked() {
    let h = Harness::start(ApiLimits::default()).await;
    let h = &h;
    let put = |body: String| async move { h.call("PUT", "/v1/aps/ap0/vantage", Some(&body)).await };

    let reply = put("{\"peer\": ".into()).await;
    assert_eq!(reply.status, 400);
    let e = reply.error();
    assert_eq!(e.error, "bad_request");
    assert!(e.detail.contains("line 1 column"), "{}", e.detail);

    let reply = put(peer_json(KEY).replace("\"dns\"", "\"dnss\"")).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .error()
            .detail
            .contains("peer.dnss: unknown field `dnss`"),
        "{:?}",
        reply.error()
    );

    let reply = put(peer_json("not-a-key")).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error().error, "invalid");
    assert!(
        reply.error().detail.starts_with("peer.public_key:"),
        "{:?}",
        reply.error()
    );

    let reply = h.call("PUT", "/v1/aps/ap0/vantage", None).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error().detail, "this request needs a JSON body");

    let reply = put(peer_json(KEY)).await;
    assert_eq!(
        reply.status,
        204,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    let set = h.control.vantage.lock().unwrap().clone();
    assert_eq!(set.len(), 1);
    assert_eq!(
        (set[0].0.as_str(), set[0].1.endpoint.as_str()),
        ("ap0", "203.0.113.5:51820")
    );
}

#[tokio::test]
async fn unknown_aps_paths_and_methods_are_named() {
    let h = Harness::start(ApiLimits::default()).await;
    let reply = h
        .call("PUT", "/v1/aps/ap9/vantage", Some(&peer_json(KEY)))
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.error().error, "not_found");
    assert!(reply.error().detail.contains("ap9"));
    let reply = h
        .call("PUT", "/v1/aps/..%2Fx/vantage", Some(&peer_json(KEY)))
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.error());
    let reply = h.call("GET", "/v2/status", None).await;
    assert_eq!(
        (reply.status, reply.error().error.as_str()),
        (404, "not_found")
    );
    let reply = h.call("POST", "/v1/status", Some("{}")).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.error().error, "method_not_allowed");
    h.stop().await;
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let limits = ApiLimits {
        max_body_bytes: 1024,
        ..ApiLimits::default()
    };
    let h = Harness::start(limits).await;
    // Announced too long: refused before any of it is read.
    let head = format!(
        "PUT /v1/aps/ap0/vantage HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Length: 1000000\r\n\r\n"
    );
    let reply = raw(h.addr, &h.pin, head.as_bytes()).await.unwrap();
    assert_eq!(reply.status, 413);
    assert_eq!(reply.error().error, "payload_too_large");
    assert_eq!(reply.header("connection"), Some("close"));
    // Chunked, found too long while reading.
    let mut chunked = format!(
        "POST /v1/measurements HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer {TOKEN}\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        2000
    )
    .into_bytes();
    chunked.extend_from_slice(&[b' '; 2000]);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let reply = raw(h.addr, &h.pin, &chunked).await.unwrap();
    assert_eq!(reply.status, 413);
    h.stop().await;
}

#[tokio::test]
async fn measurements_start_stop_and_show() {
    let h = Harness::start(ApiLimits::default()).await;
    let start = r#"{"id":"m1","ap":"ap0","app":"org.example.chat","capture":true,"traces":true,
        "duration_s":300,"trace_peer":"198.51.100.7"}"#;
    let reply = h.call("POST", "/v1/measurements", Some(start)).await;
    assert_eq!(reply.status, 201);
    assert_eq!(
        reply.json::<MeasurementStatus>().state,
        MeasurementState::Running
    );
    let reply = h.call("POST", "/v1/measurements", Some(start)).await;
    assert_eq!(
        (reply.status, reply.error().error.as_str()),
        (409, "conflict")
    );
    let reply = h
        .call(
            "POST",
            "/v1/measurements",
            Some(&start.replace("ap0", "ap7").replace("m1", "m2")),
        )
        .await;
    assert_eq!(reply.status, 404);
    let reply = h
        .call(
            "POST",
            "/v1/measurements",
            Some(&start.replace("\"m1\"", "\".x\"")),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.error().detail.starts_with("id:"),
        "{:?}",
        reply.error()
    );

    let reply = h.call("GET", "/v1/measurements/m1", None).await;
    assert_eq!(reply.json::<MeasurementStatus>().id, "m1");
    let stop = r#"{"launched":1700000010.5,"messages":[1700000020.0,1700000040.0]}"#;
    let reply = h.call("POST", "/v1/measurements/m1/stop", Some(stop)).await;
    assert_eq!(reply.status, 200);
    let status = reply.json::<MeasurementStatus>();
    assert_eq!(status.state, MeasurementState::Processing);
    assert_eq!(status.detail.as_deref(), Some("2 message times"));
    // An empty body is an empty stop request.
    let reply = h.call("POST", "/v1/measurements/m1/stop", None).await;
    assert_eq!(reply.status, 200);
    let reply = h.call("POST", "/v1/measurements/nope/stop", None).await;
    assert_eq!(reply.status, 404);
    let reply = h
        .call(
            "POST",
            "/v1/measurements/m1/stop",
            Some(r#"{"messages":[-1]}"#),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.error().detail.starts_with("messages[0]:"));
    h.stop().await;
}

#[tokio::test]
async fn results_are_listed_fetched_and_acknowledged() {
    let h = Harness::start(ApiLimits::default()).await;
    let capture: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let stored = h.store.put("m1", ResultKind::Capture, &capture).unwrap();
    h.store.put("m2", ResultKind::Flows, b"{}").unwrap();

    let list = h
        .call("GET", "/v1/results", None)
        .await
        .json::<ResultList>();
    assert_eq!(list.results.len(), 2);
    assert_eq!(list.used_bytes, 200_002);
    assert_eq!(list.capacity_bytes, 1024 * 1024);
    let list = h
        .call("GET", "/v1/results?measurement=m1", None)
        .await
        .json::<ResultList>();
    assert_eq!(list.results, vec![stored.clone()]);
    let reply = h.call("GET", "/v1/results?bogus=1", None).await;
    assert_eq!(reply.status, 400);

    let reply = h.call("GET", "/v1/results/m1.capture", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, capture);
    assert_eq!(reply.header(SHA256_HEADER), Some(stored.sha256.as_str()));
    assert_eq!(reply.header("content-length"), Some("200000"));
    assert_eq!(
        crate::store::hex(ring::digest::digest(&ring::digest::SHA256, &reply.body).as_ref()),
        stored.sha256
    );

    let wrong = format!("/v1/results/m1.capture?sha256={}", "0".repeat(64));
    let reply = h.call("DELETE", &wrong, None).await;
    assert_eq!(
        (reply.status, reply.error().error.as_str()),
        (409, "conflict")
    );
    let ack = format!("/v1/results/m1.capture?sha256={}", stored.sha256);
    assert_eq!(h.call("DELETE", &ack, None).await.status, 204);
    assert_eq!(h.call("DELETE", &ack, None).await.status, 404);
    assert_eq!(
        h.call("GET", "/v1/results/m1.capture", None).await.status,
        404
    );
    assert_eq!(
        h.call("DELETE", "/v1/results/m2.flows", None).await.status,
        204
    );
    let list = h
        .call("GET", "/v1/results", None)
        .await
        .json::<ResultList>();
    assert!(list.results.is_empty());
    assert_eq!(list.used_bytes, 0);
    h.stop().await;
}

#[tokio::test]
async fn slow_requests_time_out() {
    let limits = ApiLimits {
        request_timeout: Duration::from_millis(300),
        header_timeout: Duration::from_millis(300),
        ..ApiLimits::default()
    };
    let h = Harness::start(limits).await;
    // A body that never arrives in full.
    let mut tls = connect(h.addr, &h.pin).await.unwrap();
    let head = format!(
        "POST /v1/measurements HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Length: 100\r\n\r\n{{\"id\":"
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), read_reply(&mut tls))
        .await
        .expect("the server answers")
        .unwrap();
    assert_eq!(
        (reply.status, reply.error().error.as_str()),
        (408, "timeout")
    );
    // Headers that never end: the connection is closed.
    let mut tls = connect(h.addr, &h.pin).await.unwrap();
    tls.write_all(b"GET /v1/status HTTP/1.1\r\nHost: r\r\n")
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), read_reply(&mut tls)).await;
    assert!(
        closed.is_ok(),
        "the server closes a connection that sends no full head"
    );
    h.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait() {
    let limits = ApiLimits {
        max_connections: 1,
        ..ApiLimits::default()
    };
    let h = Harness::start(limits).await;
    let first = connect(h.addr, &h.pin).await.unwrap();
    // The second is not served while the first holds the only slot…
    let waiting = tokio::time::timeout(Duration::from_millis(500), connect(h.addr, &h.pin)).await;
    assert!(
        waiting.is_err(),
        "a second connection was served beyond the cap"
    );
    // …and is once the first is gone.
    drop(first);
    let reply = tokio::time::timeout(Duration::from_secs(5), h.call("GET", "/v1/status", None))
        .await
        .expect("served after the first closed");
    assert_eq!(reply.status, 200);
    h.stop().await;
}
