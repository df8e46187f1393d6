//! A raw HTTPS client for the tests: pins the server's certificate with the host's own
//! verifier (`matador_api::client`), and speaks raw HTTP/1.1 so tests can also send what a
//! real client never would (malformed bodies, slow heads, oversized announcements).

use std::io;
use std::net::SocketAddr;

use matador_api::client::pinned_config;
use matador_api::ApiError;
use rustls::pki_types::ServerName;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Opens a TLS connection to the API, pinning `sha256`.
pub async fn connect(addr: SocketAddr, sha256: &str) -> io::Result<TlsStream<TcpStream>> {
    // The host's own pinned config, so these raw requests trust what the host trusts.
    let config = pinned_config(sha256).map_err(io::Error::other)?;
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("matador-router").map_err(io::Error::other)?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}

/// An HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: status {}, body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn error(&self) -> ApiError {
        self.json()
    }
}

/// Sends `raw` (a whole HTTP/1.1 request) on a new connection and reads the response until
/// the server closes.
pub async fn raw(addr: SocketAddr, sha256: &str, raw: &[u8]) -> io::Result<Reply> {
    let mut tls = connect(addr, sha256).await?;
    // The server may answer (413, 401) and close before reading everything: not an error.
    let _ = tls.write_all(raw).await;
    let _ = tls.flush().await;
    read_reply(&mut tls).await
}

/// Reads one response until the server closes the connection.
pub async fn read_reply(tls: &mut TlsStream<TcpStream>) -> io::Result<Reply> {
    let mut bytes = Vec::new();
    let read = tls.read_to_end(&mut bytes).await;
    // A reset after a complete response (the server closed with our body unread) is fine.
    if let Err(e) = read {
        if bytes.is_empty() {
            return Err(e);
        }
    }
    parse(&bytes)
}

/// A request with `Connection: close`, the token if given, and a body if given.
pub async fn request(
    addr: SocketAddr,
    sha256: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> io::Result<Reply> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: router\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    raw(addr, sha256, &bytes).await
}

fn parse(bytes: &[u8]) -> io::Result<Reply> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&bytes[..end]).map_err(|_| bad("head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: bytes[end + 4..].to_vec(),
    };
    if reply
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        reply.body = dechunk(&reply.body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(reply)
}

fn dechunk(mut bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = bytes.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&bytes[..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(bytes.get(..size)?);
        bytes = bytes.get(size + 2..)?;
    }
}
