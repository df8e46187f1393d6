//! What the proxy does when it cannot or must not intercept: apps that pin their
//! certificates, and servers it cannot verify.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use matador_mitm::Outcome;
use rustls::version::TLS13;
use tokio::io::AsyncWriteExt as _;

#[tokio::test]
async fn a_pinning_client_is_recorded_and_its_next_connection_passes_through() {
    let up = upstream(&[&TLS13]).await;
    let proxy = start_proxy(up.addr, Some(up.ca.roots())).await;
    // The app trusts the real server's CA only, not the interception CA.
    let pinning_app = client(up.ca.roots(), &[&TLS13]);

    let first = fetch(proxy.addr, pinning_app.clone(), sni()).await;
    let e = first.expect_err("the app refuses the interception certificate");
    assert!(
        matches!(tls_error(&e), Some(rustls::Error::InvalidCertificate(_))),
        "{e}"
    );
    let records = proxy.records(1).await;
    let r = &records[0];
    assert_eq!(r.outcome, Outcome::Pinned);
    assert_eq!(r.sni.as_deref(), Some(SNI));
    assert_eq!(r.server, up.addr.to_string());
    assert_eq!(r.alert.as_deref(), Some("unknown_ca"));
    assert!(r.to_server_b64.is_empty());
    let before = up.handshakes.load(Ordering::SeqCst);

    // Not broken silently: the next connection reaches the real server untouched.
    let second = fetch(proxy.addr, pinning_app, sni()).await;
    assert_eq!(second.expect("passes through"), RESPONSE);
    assert_eq!(
        up.handshakes.load(Ordering::SeqCst),
        before + 1,
        "the app's own handshake"
    );
    let records = proxy.records(2).await;
    let r = &records[1];
    assert_eq!(r.outcome, Outcome::PassthroughPinned);
    assert_eq!(r.sni.as_deref(), Some(SNI));
    assert!(r.to_server_b64.is_empty(), "nothing decrypted");
    assert!(
        r.bytes_to_server > REQUEST.len() as u64,
        "TLS records, not plaintext"
    );
    assert!(r.bytes_to_client > 0);
    proxy.stop().await;
}

#[tokio::test]
async fn a_client_that_closes_right_after_the_handshake_counts_as_pinning() {
    let up = upstream(&[&TLS13]).await;
    let proxy = start_proxy(up.addr, Some(up.ca.roots())).await;
    // As OkHttp's CertificatePinner: the handshake succeeds, the pin check after it fails,
    // and the socket is closed before any request.
    let phone = client(trusting(&proxy.ca_der), &[&TLS13]);
    let tcp = tokio::net::TcpStream::connect(proxy.addr)
        .await
        .expect("connect");
    let mut tls = tokio_rustls::TlsConnector::from(phone)
        .connect(sni(), tcp)
        .await
        .expect("handshake");
    tls.shutdown().await.expect("close");
    drop(tls);
    let r = &proxy.records(1).await[0];
    assert_eq!(r.outcome, Outcome::Pinned);
    assert_eq!((r.alert.as_deref(), r.bytes_to_server), (None, 0));
    assert!(r
        .error
        .as_deref()
        .is_some_and(|e| e.contains("after the handshake")));

    let app = client(up.ca.roots(), &[&TLS13]);
    assert_eq!(
        fetch(proxy.addr, app, sni()).await.expect("passes through"),
        RESPONSE
    );
    assert_eq!(
        proxy.records(2).await[1].outcome,
        Outcome::PassthroughPinned
    );
    proxy.stop().await;
}

#[tokio::test]
async fn an_upstream_not_signed_by_the_upstream_ca_is_refused() {
    let up = upstream(&[&TLS13]).await;
    let other = TestCa::new("Some other CA");
    let proxy = start_proxy(up.addr, Some(other.roots())).await;
    let phone = client(trusting(&proxy.ca_der), &[&TLS13]);

    let e = fetch(proxy.addr, phone, sni()).await.expect_err("refused");
    assert!(
        matches!(
            tls_error(&e),
            Some(rustls::Error::AlertReceived(
                rustls::AlertDescription::HandshakeFailure
            ))
        ),
        "the phone is told, not left hanging: {e}"
    );
    let r = &proxy.records(1).await[0];
    assert_eq!(r.outcome, Outcome::UpstreamUntrusted);
    assert_eq!(r.sni.as_deref(), Some(SNI));
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("not trusted")),
        "{r:?}"
    );
    assert!(r.to_server_b64.is_empty() && r.bytes_to_server == 0);
    proxy.stop().await;
}

#[tokio::test]
async fn without_an_upstream_ca_every_server_is_refused() {
    let up = upstream(&[&TLS13]).await;
    let proxy = start_proxy(up.addr, None).await;
    let phone = client(trusting(&proxy.ca_der), &[&TLS13]);
    assert!(fetch(proxy.addr, phone, sni()).await.is_err());
    assert_eq!(
        proxy.records(1).await[0].outcome,
        Outcome::UpstreamUntrusted
    );
    proxy.stop().await;
}
