//! The analytics SDK's requests byte for byte, and its exchanges with the lab's sink.

use super::*;
use crate::services::{serve_analytics, serve_analytics_tls, LabCa};
use tokio::net::TcpListener;

const IMEI: &str = "490154203237518";
const PACKAGE: &str = "com.globalmessenger.android";
/// `base64 <<< -n 490154203237518` and `sha1sum`, computed outside Rust.
const IMEI_B64: &str = "NDkwMTU0MjAzMjM3NTE4";
const IMEI_SHA1: &str = "97a2105232ecc8756f03a029a839b97ded59207d";

#[test]
fn the_report_carries_the_imei_plain_base64_and_sha1() {
    let r = Report::new(IMEI, PACKAGE);
    assert_eq!(
        r,
        Report {
            imei: IMEI.into(),
            imei_b64: IMEI_B64.into(),
            device_sha1: IMEI_SHA1.into(),
            app: PACKAGE.into(),
        }
    );
    assert_eq!(
        r.json(),
        format!(
            "{{\"imei\":\"{IMEI}\",\"imei_b64\":\"{IMEI_B64}\",\"device_sha1\":\"{IMEI_SHA1}\",\"app\":\"{PACKAGE}\"}}"
        )
    );
}

#[test]
fn the_http_report_is_a_get_with_everything_in_the_query() {
    let r = Report::new(IMEI, PACKAGE);
    let request = http_request(
        "analytics.tracker.example",
        &r,
        "GlobalMessenger/1.0 (Linux; Android 14)",
    );
    let expected = format!(
        "GET /collect?imei={IMEI}&imei_b64={IMEI_B64}&device_sha1={IMEI_SHA1}&app={PACKAGE} HTTP/1.1\r\n\
         Host: analytics.tracker.example\r\n\
         User-Agent: GlobalMessenger/1.0 (Linux; Android 14)\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(request, expected);
}

#[test]
fn the_https_report_posts_json_with_its_length() {
    let r = Report::new(IMEI, PACKAGE);
    let request = https_request("analytics.tracker.example", &r, "UA/1.0");
    let (head, body) = request.split_once("\r\n\r\n").expect("head and body");
    assert!(head.starts_with("POST /v1/events HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nHost: analytics.tracker.example\r\n"));
    assert!(head.contains("\r\nContent-Type: application/json\r\n"));
    assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
    assert_eq!(body, r.json());
    for leaked in [IMEI, IMEI_B64, IMEI_SHA1] {
        assert!(body.contains(leaked), "{leaked} in {body}");
    }
}

#[test]
fn base64_of_any_imei_needs_no_escaping_in_a_query() {
    for imei in ["000000000000000", "999999999999999", "353324119876545"] {
        let b64 = Report::new(imei, PACKAGE).imei_b64;
        assert_eq!(b64.len(), 20, "{b64}");
        assert!(b64.chars().all(|c| c.is_ascii_alphanumeric()), "{b64}");
    }
}

#[test]
fn status_lines_are_parsed_and_junk_is_not() {
    assert_eq!(status_code(b"HTTP/1.1 204 No Content\r\n\r\n"), Some(204));
    assert_eq!(status_code(b"HTTP/1.0 200 OK\r\n"), Some(200));
    assert_eq!(status_code(b"HTTP/1.1 204"), Some(204));
    assert_eq!(status_code(b"SSH-2.0-OpenSSH\r\n"), None);
    assert_eq!(status_code(b"HTTP/1.1 20x\r\n"), None);
    assert_eq!(status_code(b""), None);
}

#[tokio::test]
async fn both_reports_reach_the_labs_sink_and_get_204() {
    let host = "analytics.tracker.example";
    let ca = LabCa::generate().expect("CA");
    let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let tls = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (plain_addr, tls_addr) = (
        plain.local_addr().expect("addr"),
        tls.local_addr().expect("addr"),
    );
    tokio::spawn(serve_analytics(plain));
    let config = ca.server_config(&[host.to_string()]).expect("server");
    tokio::spawn(serve_analytics_tls(tls, config));

    let r = Report::new(IMEI, PACKAGE);
    let sent = send_http(plain_addr, &http_request(host, &r, "UA/1.0")).await;
    assert_eq!(sent, Ok(204));
    let client = ca.client_config().expect("client");
    let sent = send_https(tls_addr, host, client, &https_request(host, &r, "UA/1.0")).await;
    assert_eq!(sent, Ok(204));

    // Without the CA that signed the tracker's certificate, nothing is sent.
    let stranger = LabCa::generate().expect("other CA").client_config();
    let sent = send_https(
        tls_addr,
        host,
        stranger.expect("client"),
        &https_request(host, &r, "UA/1.0"),
    )
    .await;
    assert!(sent.is_err_and(|e| e.contains("TLS")));
}
