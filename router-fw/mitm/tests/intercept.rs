//! Interception end to end on 127.0.0.1: what the phone gets, what the flows file and the
//! key log hold.

mod common;

use std::collections::HashSet;

use common::*;
use matador_mitm::Outcome;
use rustls::pki_types::ServerName;
use rustls::version::{TLS12, TLS13};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The client randoms of the key log lines with `label`.
fn randoms(keylog: &std::path::Path, label: &str) -> HashSet<String> {
    std::fs::read_to_string(keylog)
        .expect("key log")
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(' ');
            (parts.next() == Some(label)).then(|| parts.next().unwrap_or_default().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn an_imei_sent_over_tls_is_decrypted_recorded_and_its_secrets_logged() {
    let up = upstream(&[&TLS13]).await;
    let proxy = start_proxy(up.addr, Some(up.ca.roots())).await;
    let phone = client(trusting(&proxy.ca_der), &[&TLS13]);

    let answer = fetch(proxy.addr, phone, sni())
        .await
        .expect("through the proxy");
    assert_eq!(answer, RESPONSE, "the phone gets the real server's answer");

    let records = proxy.records(1).await;
    let r = &records[0];
    assert_eq!(r.outcome, Outcome::Intercepted);
    assert_eq!(r.sni.as_deref(), Some(SNI));
    assert_eq!(r.server, up.addr.to_string());
    assert_eq!(r.alpn.as_deref(), Some("http/1.1"));
    assert!(r.client.starts_with("127.0.0.1:"), "{}", r.client);
    let sent = String::from_utf8(r.to_server()).expect("plaintext");
    assert!(sent.contains(&format!("imei={IMEI}")), "{sent}");
    assert_eq!(r.to_client(), RESPONSE);
    assert_eq!(r.bytes_to_server, REQUEST.len() as u64);
    assert_eq!(r.bytes_to_client, RESPONSE.len() as u64);
    assert!(r.ended_unix_ms >= r.started_unix_ms && r.started_unix_ms > 0);

    // Both sessions (phone ↔ proxy, proxy ↔ server) can be decrypted.
    let client_secrets = randoms(&proxy.keylog, "CLIENT_TRAFFIC_SECRET_0");
    assert_eq!(
        client_secrets.len(),
        2,
        "one per session: {client_secrets:?}"
    );
    assert_eq!(
        randoms(&proxy.keylog, "SERVER_TRAFFIC_SECRET_0"),
        client_secrets
    );
    assert_eq!(
        randoms(&proxy.keylog, "CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
        client_secrets
    );
    proxy.stop().await;
}

#[tokio::test]
async fn tls12_sessions_log_client_random_lines_for_both_sides() {
    let up = upstream(&[&TLS12]).await;
    let proxy = start_proxy(up.addr, Some(up.ca.roots())).await;
    let phone = client(trusting(&proxy.ca_der), &[&TLS12]);
    let answer = fetch(proxy.addr, phone, sni())
        .await
        .expect("through the proxy");
    assert_eq!(answer, RESPONSE);
    let records = proxy.records(1).await;
    assert_eq!(records[0].outcome, Outcome::Intercepted);
    let randoms = randoms(&proxy.keylog, "CLIENT_RANDOM");
    assert_eq!(randoms.len(), 2, "{randoms:?}");
    assert!(randoms.iter().all(|r| r.len() == 64));
    proxy.stop().await;
}

#[tokio::test]
async fn a_client_without_sni_is_intercepted_with_a_certificate_for_the_address() {
    let up = upstream(&[&TLS13]).await;
    let proxy = start_proxy(up.addr, Some(up.ca.roots())).await;
    let phone = client(trusting(&proxy.ca_der), &[&TLS13]);
    // An address as the server name: rustls sends no SNI and checks the address SAN.
    let name = ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into());
    let answer = fetch(proxy.addr, phone, name)
        .await
        .expect("through the proxy");
    assert_eq!(answer, RESPONSE);
    let r = &proxy.records(1).await[0];
    assert_eq!((r.outcome, r.sni.as_deref()), (Outcome::Intercepted, None));
    assert!(String::from_utf8_lossy(&r.to_server()).contains(IMEI));
    proxy.stop().await;
}

#[tokio::test]
async fn plain_tcp_is_passed_through_untouched() {
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let echo_addr = echo.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut s, _) = echo.accept().await.expect("accept");
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.expect("read");
        s.write_all(&buf[..n]).await.expect("echo");
    });
    let proxy = start_proxy(echo_addr, None).await;
    let mut tcp = tokio::net::TcpStream::connect(proxy.addr)
        .await
        .expect("connect");
    tcp.write_all(b"PING not tls").await.expect("write");
    let mut back = Vec::new();
    tcp.read_to_end(&mut back).await.expect("read");
    assert_eq!(back, b"PING not tls");
    drop(tcp);
    let r = &proxy.records(1).await[0];
    assert_eq!(r.outcome, Outcome::PassthroughNotTls);
    assert_eq!((r.bytes_to_server, r.bytes_to_client), (12, 12));
    assert!(
        r.to_server_b64.is_empty(),
        "nothing is kept of what was not decrypted"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn stopping_cuts_open_connections_short_and_still_writes_their_records() {
    let up = upstream(&[&TLS13]).await;
    let proxy = start_proxy(up.addr, Some(up.ca.roots())).await;
    let phone = client(trusting(&proxy.ca_der), &[&TLS13]);
    let tcp = tokio::net::TcpStream::connect(proxy.addr)
        .await
        .expect("connect");
    let mut tls = tokio_rustls::TlsConnector::from(phone)
        .connect(sni(), tcp)
        .await
        .expect("handshake");
    // Half a request: the server waits for the rest, so the connection stays open.
    tls.write_all(b"GET /collect?imei=490154203237518 HTTP/1.1\r\n")
        .await
        .expect("write");
    tls.flush().await.expect("flush");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let records = proxy.stop().await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].outcome, Outcome::Intercepted);
    assert_eq!(
        records[0].error.as_deref(),
        Some("cut short: the proxy stopped")
    );
    assert!(String::from_utf8_lossy(&records[0].to_server()).contains(IMEI));
}
