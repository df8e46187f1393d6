//! The host's client (`matador_api::client::RouterClient`) against the real API server: every
//! call, and every failure the host must be able to tell apart.

use std::time::Duration;

use matador_api::client::{ClientError, RouterClient, Timeouts};
use matador_api::{
    MeasurementState, ResultKind, SetVantage, StartMeasurement, StopMeasurement, WgPeer, Windows,
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::harness::{peer_json, FakeControl, Harness, KEY, TOKEN};
use crate::api::tls::TlsIdentity;
use crate::api::ApiLimits;

fn peer() -> WgPeer {
    serde_json::from_str::<SetVantage>(&peer_json(KEY))
        .unwrap()
        .peer
}

fn start(id: &str, ap: &str) -> StartMeasurement {
    StartMeasurement {
        id: id.into(),
        ap: ap.into(),
        app: "org.example.chat".into(),
        capture: true,
        traces: true,
        duration_s: 300,
        windows: Windows::default(),
        trace_peer: Some("198.51.100.7".parse().unwrap()),
        rules: None,
        device: None,
        intercept_tls: false,
    }
}

/// The router's error code and HTTP status, or a panic naming what came instead.
fn api(e: ClientError) -> (u16, String) {
    match e {
        ClientError::Api { status, error, .. } => (status, error.error),
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn status_and_vantage() {
    let h = Harness::start(ApiLimits::default()).await;
    let c = h.client();
    assert_eq!(c.status().await.unwrap(), FakeControl::router_status());

    c.set_vantage("ap0", &peer()).await.unwrap();
    let set = h.control.vantage.lock().unwrap().clone();
    assert_eq!(set, vec![("ap0".to_owned(), peer())]);

    let err = c.set_vantage("ap9", &peer()).await.unwrap_err();
    assert!(err.to_string().contains("ap9"), "{err}");
    assert_eq!(api(err), (404, "not_found".into()));
    h.stop().await;
}

#[tokio::test]
async fn measurements_start_stop_and_wait() {
    let h = Harness::start(ApiLimits::default()).await;
    let c = h.client();
    let status = c.start_measurement(&start("m1", "ap0")).await.unwrap();
    assert_eq!(
        (status.id.as_str(), status.state),
        ("m1", MeasurementState::Running)
    );
    let err = c.start_measurement(&start("m1", "ap0")).await.unwrap_err();
    assert_eq!(api(err), (409, "conflict".into()));
    let err = c.start_measurement(&start("m2", "ap7")).await.unwrap_err();
    assert_eq!(api(err), (404, "not_found".into()));
    assert_eq!(
        c.measurement("m1").await.unwrap().state,
        MeasurementState::Running
    );

    let stop = StopMeasurement {
        launched: Some(1_700_000_010.5),
        messages: vec![1_700_000_020.0, 1_700_000_040.0],
    };
    let status = c.stop_measurement("m1", &stop).await.unwrap();
    assert_eq!(status.state, MeasurementState::Processing);
    assert_eq!(status.detail.as_deref(), Some("2 message times"));
    let err = c.stop_measurement("nope", &stop).await.unwrap_err();
    assert_eq!(api(err), (404, "not_found".into()));

    // Still processing when the wait runs out: the error tells the last state.
    let poll = Duration::from_millis(20);
    let err = c
        .wait_measurement("m1", poll, Duration::from_millis(200))
        .await
        .unwrap_err();
    match &err {
        ClientError::WaitTimeout { state, .. } => {
            assert_eq!(*state, Some(MeasurementState::Processing))
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("still processing"), "{err}");

    // The daemon finishes while the host waits.
    let control = h.control.clone();
    let finish = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let mut all = control.measurements.lock().unwrap();
        let m = all.get_mut("m1").expect("m1 exists");
        m.state = MeasurementState::Done;
        m.results = vec!["m1.flows".into()];
    });
    let done = c
        .wait_measurement("m1", poll, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(done.state, MeasurementState::Done);
    assert_eq!(done.results, vec!["m1.flows".to_owned()]);
    finish.await.unwrap();

    // An unknown measurement is an answer, not something to wait out.
    let err = c
        .wait_measurement("nope", poll, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert_eq!(api(err), (404, "not_found".into()));
    h.stop().await;
}

#[tokio::test]
async fn results_are_listed_fetched_checked_and_acknowledged() {
    let h = Harness::start(ApiLimits::default()).await;
    let c = h.client();
    let capture: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let stored = h.store.put("m1", ResultKind::Capture, &capture).unwrap();
    h.store.put("m2", ResultKind::Flows, b"{}").unwrap();

    let list = c.results(None).await.unwrap();
    assert_eq!(list.results.len(), 2);
    assert_eq!(list.used_bytes, 200_002);
    let list = c.results(Some("m1")).await.unwrap();
    assert_eq!(list.results, vec![stored.clone()]);

    let fetched = c.fetch_result("m1.capture").await.unwrap();
    assert_eq!(fetched.bytes, capture);
    assert_eq!(fetched.sha256, stored.sha256);
    assert!(!fetched.encrypted);

    let err = c
        .acknowledge("m1.capture", &"0".repeat(64))
        .await
        .unwrap_err();
    assert_eq!(api(err), (409, "conflict".into()));
    // Upper case, as a person might paste it, is the same hash.
    c.acknowledge("m1.capture", &fetched.sha256.to_uppercase())
        .await
        .unwrap();
    let err = c
        .acknowledge("m1.capture", &fetched.sha256)
        .await
        .unwrap_err();
    assert_eq!(api(err), (404, "not_found".into()));
    let err = c.fetch_result("m1.capture").await.unwrap_err();
    assert_eq!(api(err), (404, "not_found".into()));
    assert_eq!(c.results(None).await.unwrap().results.len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_devices_encrypted_result_is_fetched_as_stored_and_flagged() {
    let h = Harness::start(ApiLimits::default()).await;
    let identity = age::x25519::Identity::generate();
    let to = crate::at_rest::Recipient::parse(&identity.to_public().to_string()).unwrap();
    h.store.set_recipient(Some(to));
    h.store.set_device("m1", Some("pixel".into()));
    let stored = h
        .store
        .put("m1", ResultKind::Flows, b"{\"flows\":[]}")
        .unwrap();
    assert!(stored.encrypted);

    let c = h.client();
    let listed = c.results(Some("m1")).await.unwrap().results;
    assert_eq!(listed, vec![stored.clone()]);
    let fetched = c.fetch_result("m1.flows").await.unwrap();
    assert!(fetched.encrypted);
    assert_eq!(fetched.sha256, stored.sha256);
    assert!(fetched.bytes.starts_with(b"age-encryption.org/v1\n"));
    assert_eq!(
        age::decrypt(&identity, &fetched.bytes).unwrap(),
        b"{\"flows\":[]}"
    );
    c.acknowledge("m1.flows", &fetched.sha256).await.unwrap();
    h.stop().await;
}

#[tokio::test]
async fn a_damaged_result_is_refused() {
    let h = Harness::start(ApiLimits::default()).await;
    let stored = h.store.put("m1", ResultKind::Log, b"line one\n").unwrap();
    // Same length, other bytes: the router still announces the hash it stored. The data file
    // name is the store's layout (`<id>.data`), which this test knows from inside the crate.
    std::fs::write(h.results_dir().join("m1.log.data"), b"line two\n").unwrap();
    let err = h.client().fetch_result("m1.log").await.unwrap_err();
    match &err {
        ClientError::HashMismatch { id, expected, got } => {
            assert_eq!((id.as_str(), expected), ("m1.log", &stored.sha256));
            assert_ne!(got, expected);
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("do not acknowledge"), "{err}");
    h.stop().await;
}

#[tokio::test]
async fn a_wrong_token_is_named() {
    let h = Harness::start(ApiLimits::default()).await;
    let c = RouterClient::new(h.addr, "wrong-token-wrong-token", &h.pin).unwrap();
    let err = c.status().await.unwrap_err();
    assert!(matches!(err, ClientError::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("wrong token"), "{err}");
    assert!(!err.to_string().contains(TOKEN), "{err}");
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_transient());
    h.stop().await;
}

#[tokio::test]
async fn a_wrong_pin_sends_nothing() {
    let h = Harness::start(ApiLimits::default()).await;
    let pinned = "00".repeat(32);
    let c = RouterClient::new(h.addr, TOKEN, &pinned).unwrap();
    let err = c.set_vantage("ap0", &peer()).await.unwrap_err();
    match &err {
        ClientError::CertificateMismatch { expected, got, .. } => {
            assert_eq!((expected, got), (&pinned, &h.pin));
        }
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&format!("expected {pinned}, got {}", h.pin)),
        "{text}"
    );
    assert!(text.contains("re-read state_dir/api-fingerprint"), "{text}");
    assert!(h.control.vantage.lock().unwrap().is_empty());
    // The pin in openssl's spelling is the same pin.
    let upper = h.pin.to_uppercase();
    let pairs: Vec<&str> = upper
        .as_bytes()
        .chunks(2)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    let openssl = pairs.join(":");
    let c = RouterClient::new(h.addr, TOKEN, &openssl).unwrap();
    assert_eq!(c.fingerprint(), h.pin);
    c.status().await.unwrap();
    h.stop().await;
}

#[tokio::test]
async fn the_client_outlives_a_router_restart() {
    let h = Harness::start(ApiLimits::default()).await;
    let c = h.client();
    c.status().await.unwrap();

    let down = h.down().await;
    let err = c.status().await.unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    assert!(err.is_transient());
    assert!(
        err.to_string().contains("is matador-routerd running"),
        "{err}"
    );

    // Same address, same certificate: the same client works again, no reconnect needed.
    let h = down.up().await;
    assert_eq!(c.status().await.unwrap(), FakeControl::router_status());
    h.stop().await;
}

#[tokio::test]
async fn a_router_that_never_answers_times_out() {
    // Accepts TCP (the kernel does, from the backlog) but never speaks TLS.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let timeouts = Timeouts {
        connect: Duration::from_millis(200),
        request: Duration::from_secs(1),
    };
    let c = RouterClient::new(addr, TOKEN, "ab".repeat(32))
        .unwrap()
        .with_timeouts(timeouts);
    let err = c.status().await.unwrap_err();
    assert!(matches!(err, ClientError::ConnectTimeout { .. }), "{err}");
    assert!(
        err.to_string().contains("router down or unreachable"),
        "{err}"
    );
    drop(silent);
}

/// A router impostor with the real TLS identity that answers one request with `reply`, or
/// never answers if there is none: for the failures the real server never produces.
async fn impostor(reply: Option<&'static [u8]>) -> (RouterClient, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let identity = TlsIdentity::load_or_generate(dir.path()).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(identity.server_config().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            if tls.read_exact(&mut byte).await.is_err() {
                return;
            }
            head.push(byte[0]);
        }
        match reply {
            Some(reply) => {
                let _ = tls.write_all(reply).await;
                let _ = tls.shutdown().await;
            }
            None => tokio::time::sleep(Duration::from_secs(30)).await,
        }
    });
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        request: Duration::from_millis(300),
    };
    let client = RouterClient::new(addr, TOKEN, identity.fingerprint())
        .unwrap()
        .with_timeouts(timeouts);
    (client, dir)
}

#[tokio::test]
async fn a_hung_router_times_out() {
    let (c, _dir) = impostor(None).await;
    let err = c.status().await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("GET /v1/status"), "{err}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn answers_that_are_not_the_api_are_named() {
    let garbage: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nnot json";
    let (c, _dir) = impostor(Some(garbage)).await;
    let err = c.status().await.unwrap_err();
    assert!(matches!(err, ClientError::BadJson { .. }), "{err}");
    assert!(err.to_string().contains("versions compatible"), "{err}");

    let unhashed: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc";
    let (c, _dir) = impostor(Some(unhashed)).await;
    let err = c.fetch_result("m1.log").await.unwrap_err();
    assert!(matches!(err, ClientError::MissingHash { .. }), "{err}");

    let proxy: &[u8] = b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 3\r\n\r\nbad";
    let (c, _dir) = impostor(Some(proxy)).await;
    let err = c.status().await.unwrap_err();
    assert!(
        matches!(err, ClientError::Status { status: 502, .. }),
        "{err}"
    );
}
