//! Minimal HTTP/1.1 services: whoami (the caller's address) and an analytics sink (also
//! over TLS, as trackers are reached).
//!
//! Persistent connections and pipelining are supported; chunked request bodies are not (`501`).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use super::lines::{Line, LineReader};
use super::Acceptor;

/// Longest request line or header line.
const MAX_HEAD_LINE: usize = 8 * 1024;
/// Most header lines in one request.
const MAX_HEADERS: usize = 100;
/// Largest request body accepted (and discarded).
const MAX_BODY: u64 = 1024 * 1024;
/// Time allowed to receive a request head, including the idle time before it.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed to receive a request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// Requests served on one connection before it is closed.
const MAX_REQUESTS_PER_CONNECTION: usize = 1000;
/// Longest excerpt of a client-supplied string that is logged.
const LOG_EXCERPT: usize = 256;
const LINGER_BYTES: u64 = 64 * 1024;
const LINGER_TIMEOUT: Duration = Duration::from_secs(1);
/// Time allowed for a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Minimal HTTP/1.1: any request gets 200 with body `"<caller ip>\n"` (content-type text/plain).
pub async fn serve_whoami(listener: TcpListener) -> io::Result<()> {
    serve(listener, Service::Whoami).await
}

/// Minimal HTTP/1.1 analytics sink: accepts any request (reads and discards a Content-Length body up to 1 MiB), answers 204.
pub async fn serve_analytics(listener: TcpListener) -> io::Result<()> {
    serve(listener, Service::Analytics).await
}

/// The same analytics sink over TLS (HTTPS), with this server configuration; records the
/// client's SNI per connection in the log.
pub async fn serve_analytics_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
) -> io::Result<()> {
    let acceptor = Acceptor::new(listener, "analytics-tls");
    let tls = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (stream, peer, permit) = acceptor.accept().await?;
        let tls = tls.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::info!(service = "analytics", %peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::info!(service = "analytics", %peer, "TLS handshake timed out");
                    return;
                }
            };
            let sni = stream.get_ref().1.server_name().unwrap_or("").to_owned();
            tracing::info!(service = "analytics", %peer, transport = "tls", sni = %sni,
                "https connection accepted");
            if let Err(e) = serve_connection(stream, peer, Service::Analytics).await {
                tracing::debug!(service = "analytics", %peer, error = %e, "https connection failed");
            }
            drop(permit);
        });
    }
}

/// What an HTTP-DNS server answers: the address of a name for a caller at an address.
pub type HttpDnsLookup = Arc<dyn Fn(IpAddr, &str) -> Option<IpAddr> + Send + Sync>;

/// HTTP-DNS as some messengers use it: `GET /d?dn=NAME` answers `"<address>\n"` for the
/// caller's location (404 for names it does not know), bypassing the phone's resolver.
pub async fn serve_httpdns(listener: TcpListener, lookup: HttpDnsLookup) -> io::Result<()> {
    serve(listener, Service::Httpdns(lookup)).await
}

#[derive(Clone)]
enum Service {
    Whoami,
    Analytics,
    Httpdns(HttpDnsLookup),
}

impl Service {
    fn name(&self) -> &'static str {
        match self {
            Service::Whoami => "whoami",
            Service::Analytics => "analytics",
            Service::Httpdns(_) => "httpdns",
        }
    }
}

/// The parts of a request head this server cares about.
#[derive(Debug, Default)]
struct Head {
    method: String,
    target: String,
    http10: bool,
    content_length: Option<u64>,
    chunked: bool,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
    host: String,
    user_agent: String,
}

/// A request that cannot be served: answer with this status and close.
#[derive(Debug, PartialEq, Eq)]
struct Reject(u16, &'static str);

async fn serve(listener: TcpListener, service: Service) -> io::Result<()> {
    let acceptor = Acceptor::new(listener, service.name());
    loop {
        let (stream, peer, permit) = acceptor.accept().await?;
        let service = service.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_connection(stream, peer, service.clone()).await {
                tracing::debug!(service = service.name(), %peer, error = %e, "http connection failed");
            }
            drop(permit);
        });
    }
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    service: Service,
) -> io::Result<()> {
    let mut conn = LineReader::new(stream, MAX_HEAD_LINE);
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut conn)).await {
            Err(_) => return Ok(()), // idle or too slow
            Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(Ok(head)))) => head,
            Ok(Ok(Some(Err(reject)))) => {
                return reject_and_close(&mut conn, peer, &service, reject).await
            }
            Ok(Err(e)) => return Err(e),
        };
        if head.chunked {
            return reject_and_close(&mut conn, peer, &service, Reject(501, "Not Implemented"))
                .await;
        }
        let body_len = head.content_length.unwrap_or(0);
        if body_len > MAX_BODY {
            return reject_and_close(&mut conn, peer, &service, Reject(413, "Content Too Large"))
                .await;
        }
        if head.expect_continue && body_len > 0 && !head.http10 {
            conn.get_mut()
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await?;
        }
        tokio::time::timeout(BODY_TIMEOUT, conn.discard_exact(body_len))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "request body too slow"))??;

        let keep_alive = if head.http10 {
            head.keep_alive
        } else {
            !head.close
        };
        let response = respond(&service, &head, peer, keep_alive);
        conn.get_mut().write_all(&response).await?;
        tracing::info!(service = service.name(), %peer, method = ?excerpt(&head.method),
            target = ?excerpt(&head.target), host = ?excerpt(&head.host),
            user_agent = ?excerpt(&head.user_agent), body_len, "http request served");
        if !keep_alive {
            conn.get_mut().shutdown().await?;
            return Ok(());
        }
    }
    conn.get_mut().shutdown().await
}

fn respond(service: &Service, head: &Head, peer: SocketAddr, keep_alive: bool) -> Vec<u8> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    match service {
        Service::Httpdns(lookup) => {
            let answer = head
                .target
                .strip_prefix("/d?dn=")
                .map(|name| name.split('&').next().unwrap_or(name))
                .and_then(|name| lookup(peer.ip().to_canonical(), name));
            let (status, body) = match answer {
                Some(addr) => ("200 OK", format!("{addr}\n")),
                None => ("404 Not Found", String::new()),
            };
            let mut out = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                 Cache-Control: no-store\r\nConnection: {connection}\r\n\r\n",
                body.len()
            );
            if head.method != "HEAD" {
                out.push_str(&body);
            }
            out.into_bytes()
        }
        Service::Whoami => {
            let body = format!("{}\n", peer.ip().to_canonical());
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                 Cache-Control: no-store\r\nConnection: {connection}\r\n\r\n",
                body.len()
            );
            if head.method != "HEAD" {
                out.push_str(&body);
            }
            out.into_bytes()
        }
        Service::Analytics => {
            format!("HTTP/1.1 204 No Content\r\nConnection: {connection}\r\n\r\n").into_bytes()
        }
    }
}

async fn reject_and_close<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut LineReader<S>,
    peer: SocketAddr,
    service: &Service,
    Reject(status, reason): Reject,
) -> io::Result<()> {
    tracing::info!(service = service.name(), %peer, status, reason, "http request rejected");
    let response =
        format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    conn.get_mut().write_all(response.as_bytes()).await?;
    conn.get_mut().shutdown().await?;
    let _ = tokio::time::timeout(LINGER_TIMEOUT, conn.drain(LINGER_BYTES)).await;
    Ok(())
}

/// Reads one request head. `Ok(None)`: the peer closed the connection between requests.
async fn read_head<S: AsyncRead + Unpin>(
    conn: &mut LineReader<S>,
) -> io::Result<Option<Result<Head, Reject>>> {
    // RFC 9112 2.2: ignore empty lines before the request line.
    let request_line = loop {
        match conn.next_line().await? {
            Line::Text(line) if line.is_empty() => continue,
            Line::Text(line) => break line,
            Line::Eof => return Ok(None),
            Line::TooLong => return Ok(Some(Err(Reject(414, "URI Too Long")))),
            Line::BadUtf8 => return Ok(Some(Err(Reject(400, "Bad Request")))),
        }
    };
    let mut head = match parse_request_line(&request_line) {
        Ok(head) => head,
        Err(reject) => return Ok(Some(Err(reject))),
    };
    for _ in 0..=MAX_HEADERS {
        let line = match conn.next_line().await? {
            Line::Text(line) => line,
            Line::Eof => return Ok(None),
            Line::TooLong => return Ok(Some(Err(Reject(431, "Request Header Fields Too Large")))),
            Line::BadUtf8 => return Ok(Some(Err(Reject(400, "Bad Request")))),
        };
        if line.is_empty() {
            return Ok(Some(Ok(head)));
        }
        if let Err(reject) = parse_header(&mut head, &line) {
            return Ok(Some(Err(reject)));
        }
    }
    Ok(Some(Err(Reject(431, "Request Header Fields Too Large"))))
}

fn parse_request_line(line: &str) -> Result<Head, Reject> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Reject(400, "Bad Request"));
    };
    if method.is_empty() || target.is_empty() {
        return Err(Reject(400, "Bad Request"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        v if v.starts_with("HTTP/") => return Err(Reject(505, "HTTP Version Not Supported")),
        _ => return Err(Reject(400, "Bad Request")),
    };
    Ok(Head {
        method: method.to_owned(),
        target: target.to_owned(),
        http10,
        ..Head::default()
    })
}

fn parse_header(head: &mut Head, line: &str) -> Result<(), Reject> {
    let bad = Reject(400, "Bad Request");
    if line.starts_with([' ', '\t']) {
        return Err(bad); // obsolete line folding
    }
    let (name, value) = line.split_once(':').ok_or(Reject(400, "Bad Request"))?;
    let value = value.trim_matches([' ', '\t']);
    if name.eq_ignore_ascii_case("content-length") {
        let length = value
            .parse::<u64>()
            .map_err(|_| Reject(400, "Bad Request"))?;
        if head.content_length.is_some_and(|l| l != length) {
            return Err(bad);
        }
        head.content_length = Some(length);
    } else if name.eq_ignore_ascii_case("transfer-encoding") {
        head.chunked = true;
    } else if name.eq_ignore_ascii_case("connection") {
        for token in value.split(',').map(str::trim) {
            head.close |= token.eq_ignore_ascii_case("close");
            head.keep_alive |= token.eq_ignore_ascii_case("keep-alive");
        }
    } else if name.eq_ignore_ascii_case("expect") {
        head.expect_continue = value.eq_ignore_ascii_case("100-continue");
    } else if name.eq_ignore_ascii_case("host") {
        head.host = excerpt(value).to_owned();
    } else if name.eq_ignore_ascii_case("user-agent") {
        head.user_agent = excerpt(value).to_owned();
    }
    Ok(())
}

/// At most [`LOG_EXCERPT`] bytes of `s`, cut at a character boundary.
fn excerpt(s: &str) -> &str {
    let mut end = s.len().min(LOG_EXCERPT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
