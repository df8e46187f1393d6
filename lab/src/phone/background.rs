//! The phone's own background traffic, which a measurement must tell apart from the app's:
//! system_server (UID 1000) syncs the clock over NTP and checks connectivity over HTTP, and
//! a Google-services-like package (its own UID) reports to an analytics endpoint. Each runs
//! on a thread under its UID, so the per-app firewall can block it too.

use super::apps::become_uid;
use super::device::{Phone, SERVICES_UID, SYSTEM_UID};
use super::dns;
use super::logcat::Priority;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Time between two rounds of background traffic.
pub const BACKGROUND_PERIOD: Duration = Duration::from_secs(20);
/// NTP server name system_server asks.
pub const NTP_NAME: &str = "ntp.lab.example";
/// Host of the connectivity check (`/generate_204`).
pub const CONNECTIVITY_NAME: &str = "whoami.lab.example";
/// Host the services package reports to.
pub const ANALYTICS_NAME: &str = "analytics.tracker.example";

/// Starts both background senders.
pub fn start(phone: &Arc<Phone>) {
    for (uid, tag) in [(SYSTEM_UID, "NetworkMonitor"), (SERVICES_UID, "GmsCore")] {
        let phone = phone.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("bg-{uid}"))
            .spawn(move || {
                // SAFETY: gettid has no preconditions.
                let pid = unsafe { libc::gettid() } as u32;
                if let Err(e) = become_uid(uid) {
                    phone.log(
                        pid,
                        Priority::Error,
                        tag,
                        &format!("cannot run as uid {uid}: {e}"),
                    );
                    return;
                }
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(rounds(phone, uid, tag, pid));
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start background traffic");
        }
    }
}

async fn rounds(phone: Arc<Phone>, uid: u32, tag: &'static str, pid: u32) {
    let mut last_lease = None;
    let mut since = Duration::MAX;
    loop {
        let resolver = phone.resolver();
        // A new network gets a round at once, as Android checks every network it joins.
        if resolver.is_some() && (resolver != last_lease || since >= BACKGROUND_PERIOD) {
            last_lease = resolver;
            since = Duration::ZERO;
            if let Some(r) = resolver {
                let result = if uid == SYSTEM_UID {
                    system_round(r).await
                } else {
                    http(
                        r,
                        ANALYTICS_NAME,
                        "POST /collect",
                        "{\"event\":\"heartbeat\"}",
                    )
                    .await
                };
                match result {
                    Ok(what) => phone.log(pid, Priority::Debug, tag, &what),
                    Err(e) => phone.log(pid, Priority::Debug, tag, &format!("failed: {e}")),
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        since = since.saturating_add(Duration::from_secs(1));
    }
}

async fn system_round(resolver: Ipv4Addr) -> Result<String, String> {
    let ntp = ntp_query(resolver).await;
    let check = http(resolver, CONNECTIVITY_NAME, "GET /generate_204", "").await;
    Ok(format!(
        "ntp: {}; connectivity check: {}",
        ntp.unwrap_or_else(|e| e),
        check.unwrap_or_else(|e| e)
    ))
}

async fn ntp_query(resolver: Ipv4Addr) -> Result<String, String> {
    let server = dns::resolve(resolver, NTP_NAME).await?;
    let socket = tokio::net::UdpSocket::bind("0.0.0.0:0")
        .await
        .map_err(|e| e.to_string())?;
    let mut request = [0u8; 48];
    request[0] = 0x23; // version 4, client mode
    socket
        .send_to(&request, SocketAddr::from((server, 123)))
        .await
        .map_err(|e| e.to_string())?;
    let mut reply = [0u8; 68];
    match tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut reply)).await {
        Ok(Ok(n)) if n >= 48 => Ok(format!("time from {server}")),
        _ => Err(format!("no NTP answer from {server}")),
    }
}

async fn http(
    resolver: Ipv4Addr,
    host: &str,
    request_line: &str,
    body: &str,
) -> Result<String, String> {
    let server = dns::resolve(resolver, host).await?;
    let request = format!(
        "{request_line} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Dalvik/2.1.0 (Linux; U; Android 14)\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect((server, 80))
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut head = [0u8; 64];
        let n = s.read(&mut head).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(
            String::from_utf8_lossy(&head[..n])
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        )
    };
    match tokio::time::timeout(Duration::from_secs(3), exchange).await {
        Ok(Ok(status)) => Ok(format!("{host} ({server}): {status}")),
        Ok(Err(e)) => Err(format!("{host} ({server}): {e}")),
        Err(_) => Err(format!("{host} ({server}): timed out")),
    }
}
