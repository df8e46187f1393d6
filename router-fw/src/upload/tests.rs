use super::*;
use matador_api::ResultKind;
use tokio::net::TcpListener;

#[test]
fn collector_urls_are_ip_and_port_over_http() {
    let c = Collector::parse("http://10.200.0.1:8444/").expect("v4");
    assert_eq!(c.addr, "10.200.0.1:8444".parse().expect("addr"));
    assert!(Collector::parse("http://[2001:db8::1]:8444").is_ok());
    for bad in [
        "https://10.200.0.1:8444",
        "http://collector.example:8444",
        "http://10.200.0.1",
        "http://10.200.0.1:0",
        "10.200.0.1:8444",
    ] {
        assert!(Collector::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_backoff_doubles_up_to_its_cap_and_resets_on_success() {
    let mut b = Backoff::new(Duration::from_secs(2), Duration::from_secs(30));
    let waits: Vec<u64> = (0..6).map(|_| b.failed().as_secs()).collect();
    assert_eq!(waits, [2, 4, 8, 16, 30, 30]);
    assert_eq!(b.failures(), 6);
    b.succeeded();
    assert_eq!(b.failed().as_secs(), 2);
    let mut many = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
    for _ in 0..100 {
        many.failed();
    }
    assert_eq!(many.failed(), Duration::from_secs(300), "no overflow");
}

/// A collector stand-in that reads one request and answers with what `answer` makes of
/// the body's hash.
async fn serve_once(listener: &TcpListener, answer: impl Fn(&str) -> String) -> Vec<u8> {
    let (mut s, _) = listener.accept().await.expect("accept");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).await.expect("read");
        got.extend_from_slice(&buf[..n]);
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.parse().ok())
                .expect("length");
            if got.len() >= end + 4 + len {
                let body = got[end + 4..].to_vec();
                let sha = ring::digest::digest(&ring::digest::SHA256, &body);
                let hex: String = sha.as_ref().iter().map(|b| format!("{b:02x}")).collect();
                s.write_all(answer(&hex).as_bytes()).await.expect("answer");
                return got;
            }
        }
        assert!(n > 0, "request cut short");
    }
}

fn uploader(store: Arc<Store>, addr: SocketAddr) -> Uploader {
    Uploader {
        store,
        collector: Collector { addr },
        router: "lr-t".into(),
        token: "t".repeat(24),
        backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(8)),
        state: Arc::default(),
    }
}

#[tokio::test]
async fn a_result_is_deleted_only_after_the_collector_acknowledges_its_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("results"), 1 << 20).expect("store");
    let stored = store
        .put("m1", ResultKind::Flows, b"{\"flows\":[]}")
        .expect("put");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut up = uploader(Arc::clone(&store), addr);

    // Wrong hash acknowledged: kept, and the failure is reported with a longer wait next.
    let server = tokio::spawn(async move {
        let req = serve_once(&listener, |_| {
            "HTTP/1.1 200 OK\r\n\r\n{\"sha256\":\"00\"}".into()
        })
        .await;
        (listener, req)
    });
    assert_eq!(up.round().await, Duration::from_secs(1));
    let (listener, request) = server.await.expect("server");
    let head = String::from_utf8_lossy(&request);
    assert!(
        head.starts_with("PUT /v1/uploads/lr-t/m1.flows HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains(&format!("x-matador-sha256: {}\r\n", stored.sha256)));
    assert!(
        !head.contains("x-matador-encrypted"),
        "a plain result: {head}"
    );
    assert!(head.ends_with("{\"flows\":[]}"), "the body is the result");
    assert!(store.get("m1.flows").is_some(), "kept");
    let state = lock(&up.state).clone();
    assert_eq!(state.failures, 1);
    assert!(state
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("stored sha256 00"));

    // Refused (5xx): kept, waits longer.
    let server = tokio::spawn(async move {
        serve_once(&listener, |_| "HTTP/1.1 507 Full\r\n\r\ndisk full".into()).await;
        listener
    });
    assert_eq!(up.round().await, Duration::from_secs(2));
    let listener = server.await.expect("server");
    assert!(lock(&up.state)
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("507"));

    // Acknowledged with the right hash: deleted, and the backoff starts over.
    let server = tokio::spawn(async move {
        serve_once(&listener, |sha| {
            format!("HTTP/1.1 201 Created\r\n\r\n{{\"sha256\":\"{sha}\"}}")
        })
        .await;
    });
    assert_eq!(up.round().await, IDLE_POLL);
    server.await.expect("server");
    assert!(store.get("m1.flows").is_none(), "deleted after the ack");
    let state = lock(&up.state).clone();
    assert_eq!(
        (state.uploaded, state.failures, state.last_error),
        (1, 0, None)
    );
}

#[tokio::test]
async fn an_unreachable_collector_leaves_everything_spooled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("results"), 1 << 20).expect("store");
    store.put("m1", ResultKind::Flows, b"a").expect("put");
    store.put("m2", ResultKind::Flows, b"b").expect("put");
    // A port nobody listens on: bind, learn it, close.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr");
    let mut up = uploader(Arc::clone(&store), addr);
    assert_eq!(up.round().await, Duration::from_secs(1));
    assert_eq!(up.round().await, Duration::from_secs(2));
    assert_eq!(store.list().len(), 2);
    assert_eq!(lock(&up.state).failures, 2);
}

#[tokio::test]
async fn an_encrypted_result_is_uploaded_as_stored_and_flagged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("results"), 1 << 20).expect("store");
    let identity = age::x25519::Identity::generate();
    let to = crate::at_rest::Recipient::parse(&identity.to_public().to_string()).expect("to");
    store.set_recipient(Some(to));
    store.set_device("m1", Some("pixel".into()));
    let stored = store.put("m1", ResultKind::Log, b"a line\n").expect("put");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut up = uploader(Arc::clone(&store), addr);
    let server = tokio::spawn(async move {
        serve_once(&listener, |sha| {
            format!("HTTP/1.1 201 Created\r\n\r\n{{\"sha256\":\"{sha}\"}}")
        })
        .await
    });
    assert_eq!(up.round().await, IDLE_POLL);
    let request = server.await.expect("server");
    let split = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head ends")
        + 4;
    let head = String::from_utf8_lossy(&request[..split]);
    assert!(head.contains("x-matador-encrypted: age\r\n"), "{head}");
    assert!(head.contains(&format!("x-matador-sha256: {}\r\n", stored.sha256)));
    let body = &request[split..];
    assert_eq!(body.len() as u64, stored.size);
    assert_eq!(
        age::decrypt(&identity, body).expect("decrypts"),
        b"a line\n"
    );
    assert!(store.get("m1.log").is_none(), "deleted after the ack");
}
