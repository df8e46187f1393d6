//! One HTTPS exchange per connection: connect, handshake against the pin, send one request
//! with `Connection: close`, read the whole answer. A fresh connection each time costs a
//! handshake but survives router restarts and never reuses a connection the router dropped.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::pin::{normalize_sha256, pinned_config, PinMismatch};
use super::ClientError;
use crate::Invalid;

/// The name the client asks for in the handshake; the router's certificate carries it, but
/// only the pin is checked.
const SERVER_NAME: &str = "matador-router";
/// Largest buffer reserved up front from an announced `Content-Length`.
const MAX_PREALLOC: usize = 16 * 1024 * 1024;

/// How long the client waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connection and TLS handshake together.
    pub connect: Duration,
    /// From sending a request to its answer's head, and at most between two pieces of its
    /// body (a large result may take long in total, but never stalls this long).
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        // The router answers within its own 30 s request timeout, or with a 408.
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(40),
        }
    }
}

/// `host:port` as given, checked: an IP socket address, or a name with a port.
pub(crate) fn parse_address(address: &str) -> Result<String, ClientError> {
    let bad = |reason: &str| ClientError::BadAddress {
        address: address.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = address.trim();
    if let Ok(addr) = trimmed.parse::<SocketAddr>() {
        if addr.port() == 0 {
            return Err(bad("port 0 is not a port to connect to"));
        }
        return Ok(addr.to_string());
    }
    let (host, port) = trimmed.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    if host.is_empty() {
        return Err(bad("no host"));
    }
    // A bare IPv6 address ("::1:8443") is ambiguous; brackets would have parsed above.
    if host.contains(':') || host.contains('[') {
        return Err(bad("an IPv6 address needs brackets: [addr]:port"));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(bad("not a host name"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(format!("{host}:{p}")),
        _ => Err(bad("the port must be 1 to 65535")),
    }
}

/// A whole answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Aborts the task driving a connection when the exchange ends or is dropped (timed out).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Where and how to reach one router.
#[derive(Clone)]
pub(crate) struct Transport {
    pub address: String,
    pub fingerprint: String,
    connector: TlsConnector,
    authorization: HeaderValue,
    pub timeouts: Timeouts,
}

impl Transport {
    /// Checks the address, token and pin; connects to nothing yet.
    pub fn new(address: &str, token: &str, fingerprint: &str) -> Result<Self, ClientError> {
        let address = parse_address(address)?;
        let fingerprint =
            normalize_sha256(fingerprint).ok_or_else(|| ClientError::BadFingerprint {
                given: fingerprint.to_owned(),
            })?;
        let config = pinned_config(&fingerprint)?;
        let bad_token = |reason: &str| ClientError::Invalid(Invalid::new("token", reason));
        // The router trims its token file; a copy read from a file keeps its newline.
        let token = token.trim();
        if token.is_empty() {
            return Err(bad_token(
                "is empty: use the one in the router's token_file (default /etc/matador/token)",
            ));
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| bad_token("has characters a header cannot carry"))?;
        // Kept out of hyper's debug output.
        authorization.set_sensitive(true);
        Ok(Self {
            address,
            fingerprint,
            connector: TlsConnector::from(config),
            authorization,
            timeouts: Timeouts::default(),
        })
    }

    async fn connect(&self) -> Result<TlsStream<TcpStream>, ClientError> {
        let address = &self.address;
        let attempt = async {
            let tcp = TcpStream::connect(address.as_str())
                .await
                .map_err(|source| ClientError::Connect {
                    address: address.clone(),
                    source,
                })?;
            // Requests are small and answered at once: do not let Nagle hold them.
            let _ = tcp.set_nodelay(true);
            let name = ServerName::try_from(SERVER_NAME)
                .map_err(|e| ClientError::TlsSetup(e.to_string()))?;
            self.connector.connect(name, tcp).await.map_err(|source| {
                match PinMismatch::find(&source) {
                    Some(m) => ClientError::CertificateMismatch {
                        address: address.clone(),
                        expected: m.expected,
                        got: m.got,
                    },
                    None => ClientError::Tls {
                        address: address.clone(),
                        source,
                    },
                }
            })
        };
        tokio::time::timeout(self.timeouts.connect, attempt)
            .await
            .map_err(|_| ClientError::ConnectTimeout {
                address: address.clone(),
                after: self.timeouts.connect,
            })?
    }

    /// Sends one request on a new connection and reads the answer, at most `limit` bytes of
    /// body. Any status is an answer here; the caller judges it.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        limit: u64,
    ) -> Result<Answer, ClientError> {
        let tls = self.connect().await?;
        let http_err = |source| ClientError::Http {
            address: self.address.clone(),
            method: method.to_string(),
            path: path.to_owned(),
            source,
        };
        let timed_out = || ClientError::Timeout {
            address: self.address.clone(),
            method: method.to_string(),
            path: path.to_owned(),
            after: self.timeouts.request,
        };
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(tls))
                .await
                .map_err(http_err)?;
        let _driver = AbortOnDrop(tokio::spawn(async move {
            // Its errors reach the sender's side too; nothing to add here.
            let _ = connection.await;
        }));
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(HOST, self.address.as_str())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONNECTION, "close");
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::Invalid(Invalid::new("path", e.to_string())))?;
        let response = tokio::time::timeout(self.timeouts.request, sender.send_request(request))
            .await
            .map_err(|_| timed_out())?
            .map_err(http_err)?;
        let (head, incoming) = response.into_parts();
        let too_large = || ClientError::TooLarge {
            method: method.to_string(),
            path: path.to_owned(),
            limit,
        };
        let body = read_body(incoming, limit, self.timeouts.request, &head.headers)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => too_large(),
                BodyError::Stalled => timed_out(),
                BodyError::Http(source) => http_err(source),
            })?;
        Ok(Answer {
            status: head.status,
            headers: head.headers,
            body,
        })
    }
}

enum BodyError {
    TooLarge,
    Stalled,
    Http(hyper::Error),
}

/// Reads a body piece by piece, each within `stall`, at most `limit` bytes in all.
async fn read_body(
    mut body: Incoming,
    limit: u64,
    stall: Duration,
    headers: &HeaderMap,
) -> Result<Vec<u8>, BodyError> {
    let announced = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let reserve = announced
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
        .min(MAX_PREALLOC);
    let mut out = Vec::with_capacity(reserve);
    loop {
        let frame = match tokio::time::timeout(stall, body.frame()).await {
            Err(_) => return Err(BodyError::Stalled),
            Ok(None) => return Ok(out),
            Ok(Some(frame)) => frame.map_err(BodyError::Http)?,
        };
        if let Ok(data) = frame.into_data() {
            if out.len() as u64 + data.len() as u64 > limit {
                return Err(BodyError::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_host_and_port() {
        let ok = |a: &str| parse_address(a).unwrap();
        assert_eq!(ok("192.0.2.1:8443"), "192.0.2.1:8443");
        assert_eq!(ok("[2001:db8::1]:8443"), "[2001:db8::1]:8443");
        assert_eq!(ok(" lr-a.lab:8443 "), "lr-a.lab:8443");
        for bad in [
            "192.0.2.1",
            "lr-a",
            ":8443",
            "lr-a:0",
            "lr-a:99999",
            "2001:db8::1:8443",
            "a b:1",
            "",
        ] {
            let err = parse_address(bad).unwrap_err();
            assert!(
                matches!(err, ClientError::BadAddress { .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("host:port"), "{err}");
        }
    }

    #[test]
    fn tokens_must_fit_a_header() {
        let pin = "ab".repeat(32);
        assert!(Transport::new("r:1", "", &pin).is_err());
        let err = Transport::new("r:1", "bad\ntoken", &pin).err().unwrap();
        assert!(err.to_string().contains("token"), "{err}");
        let t = Transport::new("r:1", "good-token-0123456", &pin.to_uppercase()).unwrap();
        assert_eq!(t.fingerprint, pin);
        let t = Transport::new("r:1", "good-token-0123456\n", &pin).unwrap();
        assert_eq!(t.authorization, "Bearer good-token-0123456");
    }
}
