//! The analytics SDK inside a messenger: once per launch, after the app has logged in, it
//! reports the device's IMEI (plain, base64 and SHA-1) to its tracker, over plain HTTP and
//! over HTTPS, as leaky SDKs do. A privacy analysis finds the HTTP leak in any capture, the
//! HTTPS one only with TLS interception. Failures are logged and never stop the app.

use super::apps::tag_of;
use super::device::Phone;
use super::dns;
use super::logcat::Priority;
use super::trust::TrustStore;
use crate::topology::App;
use base64::Engine as _;
use serde::Serialize;
use sha1::{Digest, Sha1};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long one report (connect, send, read the status line) may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most bytes read while looking for the status line.
const MAX_STATUS_LINE: usize = 1024;

/// What the SDK reports: the device's identifiers in the encodings trackers use, and the
/// reporting app. Field order is the JSON body's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The IMEI, plain.
    pub imei: String,
    /// Base64 (standard alphabet) of the IMEI's ASCII digits.
    pub imei_b64: String,
    /// SHA-1 of the IMEI's ASCII digits, lower-case hex.
    pub device_sha1: String,
    /// The reporting app's package.
    pub app: String,
}

impl Report {
    /// The report of `imei` by app `package`.
    pub fn new(imei: &str, package: &str) -> Report {
        let sha1: String = Sha1::digest(imei.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Report {
            imei: imei.to_string(),
            imei_b64: base64::engine::general_purpose::STANDARD.encode(imei),
            device_sha1: sha1,
            app: package.to_string(),
        }
    }

    /// The JSON body of the HTTPS report.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The SDK's `User-Agent`: the app's label (without spaces, as a product token) and Android.
pub fn user_agent(app: &App) -> String {
    format!("{}/1.0 (Linux; Android 14)", tag_of(app))
}

/// The plain-HTTP report: everything in the query string. (An IMEI's base64 has no `+`, `/`
/// or `=`, and package names are letters, digits, `_` and `.`: nothing needs escaping.)
pub fn http_request(host: &str, report: &Report, user_agent: &str) -> String {
    format!(
        "GET /collect?imei={}&imei_b64={}&device_sha1={}&app={} HTTP/1.1\r\nHost: {host}\r\n\
         User-Agent: {user_agent}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        report.imei, report.imei_b64, report.device_sha1, report.app
    )
}

/// The HTTPS report: a JSON event posted to `/v1/events`.
pub fn https_request(host: &str, report: &Report, user_agent: &str) -> String {
    let body = report.json();
    format!(
        "POST /v1/events HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The status code of a response that starts with `HTTP/1.x NNN`.
pub fn status_code(response: &[u8]) -> Option<u16> {
    let line = response.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.trim_end().split(' ');
    let version = parts.next()?;
    let code = parts.next()?;
    (version.starts_with("HTTP/1.") && code.len() == 3)
        .then(|| code.parse().ok())
        .flatten()
}

/// Sends `request` and reads the status code of the answer.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
) -> Result<u16, String> {
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    stream.flush().await.map_err(|e| format!("send: {e}"))?;
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.contains(&b'\n') && got.len() < MAX_STATUS_LINE {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    status_code(&got).ok_or_else(|| "no HTTP status line in the answer".to_string())
}

/// The plain-HTTP report to `addr`; the answer's status code.
pub async fn send_http(addr: SocketAddr, request: &str) -> Result<u16, String> {
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        exchange(stream, request).await
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, attempt)
        .await
        .map_err(|_| format!("{addr}: timed out"))?
}

/// The HTTPS report to `addr`, with `host` as SNI and the certificate verified for it by
/// `config`; the answer's status code.
pub async fn send_https(
    addr: SocketAddr,
    host: &str,
    config: Arc<rustls::ClientConfig>,
    request: &str,
) -> Result<u16, String> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("server name {host:?}: {e}"))?;
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS with {addr}: {e}"))?;
        exchange(tls, request).await
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, attempt)
        .await
        .map_err(|_| format!("{addr}: timed out"))?
}

/// Both reports of `app` to `server` (its analytics name's address); the log line.
pub async fn report_to(
    server: Ipv4Addr,
    host: &str,
    app: &App,
    imei: &str,
    trust: &TrustStore,
) -> String {
    let report = Report::new(imei, &app.package);
    let agent = user_agent(app);
    let http = send_http(
        SocketAddr::from((server, 80)),
        &http_request(host, &report, &agent),
    )
    .await;
    let https = match trust.client_config() {
        Ok(config) => {
            let request = https_request(host, &report, &agent);
            send_https(SocketAddr::from((server, 443)), host, config, &request).await
        }
        Err(e) => Err(format!("trust store: {e}")),
    };
    let show =
        |r: Result<u16, String>| r.map_or_else(|e| format!("failed: {e}"), |c| c.to_string());
    format!(
        "analytics: http {}, https {} ({host} at {server})",
        show(http),
        show(https)
    )
}

/// Starts the reports of `app` in the background of its runtime (on its thread, so its
/// sockets are the app's UID's), if it has an analytics name; logs the outcome.
pub fn spawn_report(phone: &Arc<Phone>, app: &App, trust: &TrustStore, pid: u32) {
    let Some(host) = app.analytics.clone() else {
        return;
    };
    let (phone, app, trust) = (phone.clone(), app.clone(), trust.clone());
    tokio::spawn(async move {
        let line = match phone.resolver() {
            None => "analytics: no network".to_string(),
            Some(resolver) => match dns::resolve(resolver, &host).await {
                Ok(server) => report_to(server, &host, &app, &phone.role.imei, &trust).await,
                Err(e) => format!("analytics: {e}"),
            },
        };
        phone.log(pid, Priority::Info, &tag_of(&app), &line);
    });
}

#[cfg(test)]
#[path = "analytics_tests.rs"]
mod tests;
