//! The client's pure parts: requests refused before sending, answers judged.

use super::*;

fn client() -> RouterClient {
    RouterClient::new("127.0.0.1:1", "test-token-0123456789", "ab".repeat(32)).unwrap()
}

#[tokio::test]
async fn bad_ids_are_refused_before_anything_is_sent() {
    // Port 1 has no listener: an attempt to send would be a connection error instead.
    let c = client();
    let invalid = |e: ClientError| match e {
        ClientError::Invalid(i) => i.field,
        other => panic!("not refused before sending: {other}"),
    };
    assert_eq!(invalid(c.measurement("../x").await.unwrap_err()), "id");
    assert_eq!(
        invalid(c.results(Some("a&b=c")).await.unwrap_err()),
        "measurement"
    );
    assert_eq!(invalid(c.fetch_result("a/b").await.unwrap_err()), "id");
    assert_eq!(
        invalid(c.acknowledge("m1.log", "abc").await.unwrap_err()),
        "sha256"
    );
    let stop = StopMeasurement {
        launched: Some(f64::NAN),
        messages: vec![],
    };
    assert_eq!(
        invalid(c.stop_measurement("m1", &stop).await.unwrap_err()),
        "launched"
    );
}

#[tokio::test]
async fn bad_ingress_requests_are_refused_before_anything_is_sent() {
    let c = client();
    let invalid = |e: ClientError| match e {
        ClientError::Invalid(i) => i.field,
        other => panic!("not refused before sending: {other}"),
    };
    let peer = crate::AddPeer {
        public_key: format!("{}=", "A".repeat(43)),
        address: std::net::Ipv4Addr::new(10, 99, 0, 2),
    };
    let add = |ap: &'static str, device: &'static str, peer: crate::AddPeer| {
        let c = c.clone();
        async move { c.add_ingress_peer(ap, device, &peer).await }
    };
    assert_eq!(
        invalid(add("a/b", "pixel", peer.clone()).await.unwrap_err()),
        "ap"
    );
    assert_eq!(
        invalid(add("ap0", "../x", peer.clone()).await.unwrap_err()),
        "device"
    );
    let bad_key = crate::AddPeer {
        public_key: "k".into(),
        ..peer
    };
    assert_eq!(
        invalid(add("ap0", "pixel", bad_key).await.unwrap_err()),
        "public_key"
    );
    assert_eq!(
        invalid(c.remove_ingress_peer("ap0", "-x").await.unwrap_err()),
        "device"
    );
    assert_eq!(
        invalid(c.device_results("a?b").await.unwrap_err()),
        "device"
    );
    assert_eq!(
        invalid(c.delete_device_results("").await.unwrap_err()),
        "device"
    );
}

#[test]
fn answers_are_judged() {
    let answer = |status: u16, body: &str| Answer {
        status: StatusCode::from_u16(status).unwrap(),
        headers: Default::default(),
        body: body.as_bytes().to_vec(),
    };
    let judged = |a| judge("r:1", &Method::GET, "/v1/x", a);
    assert!(judged(answer(204, "")).is_ok());
    let e = judged(answer(401, r#"{"error":"unauthorized","detail":"x"}"#)).unwrap_err();
    assert!(matches!(e, ClientError::Unauthorized { .. }), "{e}");
    let e = judged(answer(409, r#"{"error":"conflict","detail":"hash"}"#)).unwrap_err();
    assert_eq!((e.status(), e.api_code()), (Some(409), Some("conflict")));
    let e = judged(answer(502, "<html>bad gateway</html>")).unwrap_err();
    assert!(matches!(e, ClientError::Status { status: 502, .. }), "{e}");
    assert!(e.is_transient());
}

#[test]
fn debug_hides_the_token() {
    let shown = format!("{:?}", client());
    assert!(!shown.contains("test-token"), "{shown}");
    assert!(shown.contains(&"ab".repeat(32)), "{shown}");
}
