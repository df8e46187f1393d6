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
