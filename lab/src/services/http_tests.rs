//! Tests of the HTTP services, over real sockets on 127.0.0.1.

use super::*;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;

const LIMIT: Duration = Duration::from_secs(10);

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn start(service: Service) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, service));
    addr
}

/// Reads one response; `head_only` for responses to HEAD.
async fn read_response(reader: &mut BufReader<TcpStream>, head_only: bool) -> Response {
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    let mut parts = line.trim_end().splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"), "status line {line:?}");
    let status = parts.next().unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').expect("header line");
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let length: usize = match response.header("content-length") {
        Some(l) if !head_only => l.parse().unwrap(),
        _ => 0,
    };
    response.body = vec![0; length];
    reader.read_exact(&mut response.body).await.unwrap();
    response
}

async fn exchange(addr: SocketAddr, request: &[u8]) -> (Response, BufReader<TcpStream>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut reader = BufReader::new(stream);
    let response = tokio::time::timeout(LIMIT, read_response(&mut reader, false))
        .await
        .expect("no response in time");
    (response, reader)
}

async fn assert_closed(reader: &mut BufReader<TcpStream>) {
    let mut rest = Vec::new();
    let n = tokio::time::timeout(LIMIT, reader.read_to_end(&mut rest))
        .await
        .expect("connection not closed in time")
        .unwrap();
    assert_eq!(n, 0, "unexpected data {rest:?}");
}

#[tokio::test]
async fn whoami_returns_the_callers_address() {
    let addr = start(Service::Whoami).await;
    let (response, mut reader) = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: whoami.lab\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/plain"));
    assert_eq!(response.body, b"127.0.0.1\n");
    assert_closed(&mut reader).await;
}

#[tokio::test]
async fn whoami_keeps_the_connection_alive_and_answers_head() {
    let addr = start(Service::Whoami).await;
    let (first, mut reader) = exchange(addr, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("connection"), Some("keep-alive"));
    assert_eq!(first.body, b"127.0.0.1\n");

    reader
        .get_mut()
        .write_all(b"HEAD /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let second = tokio::time::timeout(LIMIT, read_response(&mut reader, true))
        .await
        .unwrap();
    assert_eq!(second.status, 200);
    assert_eq!(second.header("content-length"), Some("10"));
    assert_closed(&mut reader).await;
}

#[tokio::test]
async fn analytics_accepts_a_post_with_a_body() {
    let addr = start(Service::Analytics).await;
    let body = "{\"event\":\"app_open\",\"n\":1}";
    // The body is followed by a pipelined second request: if the body were not consumed
    // exactly, the second request would be misparsed.
    let request = format!(
        "POST /v1/events HTTP/1.1\r\nHost: stats.lab\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}GET /ping HTTP/1.1\r\nHost: stats.lab\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let (first, mut reader) = exchange(addr, request.as_bytes()).await;
    assert_eq!(first.status, 204);
    assert!(first.body.is_empty());
    let second = tokio::time::timeout(LIMIT, read_response(&mut reader, false))
        .await
        .unwrap();
    assert_eq!(second.status, 204);
    assert_eq!(second.header("connection"), Some("close"));
    assert_closed(&mut reader).await;
}

#[tokio::test]
async fn analytics_rejects_oversized_and_chunked_bodies() {
    let addr = start(Service::Analytics).await;
    let (too_large, mut reader) = exchange(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\nabc",
    )
    .await;
    assert_eq!(too_large.status, 413);
    assert_closed(&mut reader).await;

    let (chunked, mut reader) = exchange(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(chunked.status, 501);
    assert_closed(&mut reader).await;
}

#[tokio::test]
async fn malformed_requests_get_400() {
    let addr = start(Service::Whoami).await;
    let (response, mut reader) = exchange(addr, b"NONSENSE\r\n\r\n").await;
    assert_eq!(response.status, 400);
    assert_closed(&mut reader).await;

    let (response, _) = exchange(addr, b"GET / HTTP/2.0\r\n\r\n").await;
    assert_eq!(response.status, 505);

    let (response, _) = exchange(
        addr,
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    )
    .await;
    assert_eq!(response.status, 400);
}

#[test]
fn excerpts_cut_at_character_boundaries() {
    let long = "é".repeat(LOG_EXCERPT);
    let cut = excerpt(&long);
    assert!(cut.len() <= LOG_EXCERPT);
    assert!(cut.chars().all(|c| c == 'é'));
    assert_eq!(excerpt("short"), "short");
}

#[tokio::test]
async fn analytics_over_tls_verifies_and_answers_204() {
    let ca = crate::services::LabCa::generate().expect("CA");
    let names = vec!["analytics.tracker.example".to_string()];
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_analytics_tls(
        listener,
        ca.server_config(&names).expect("server config"),
    ));

    let stream = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("analytics.tracker.example").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(ca.client_config().expect("client"))
        .connect(name, stream)
        .await
        .expect("handshake with a certificate for the name");
    let body = "{\"imei\":\"490154203237518\"}";
    let request = format!(
        "POST /v1/events HTTP/1.1\r\nHost: analytics.tracker.example\r\n\
         Content-Length: {}\r\n\r\n{body}GET /ping HTTP/1.1\r\nHost: x\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(LIMIT, tls.read_to_end(&mut answer))
        .await
        .expect("answer in time")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    // Two answers: the body was consumed exactly, then the pipelined request was served.
    assert_eq!(
        answer.matches("HTTP/1.1 204 No Content\r\n").count(),
        2,
        "{answer}"
    );
    assert!(answer.ends_with("Connection: close\r\n\r\n"), "{answer}");

    // A client that does not trust the lab CA does not get through.
    let other = crate::services::LabCa::generate().expect("other CA");
    let stream = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("analytics.tracker.example").unwrap();
    let refused = tokio_rustls::TlsConnector::from(other.client_config().expect("client"))
        .connect(name, stream)
        .await;
    assert!(refused.is_err());
}
