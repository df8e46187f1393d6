//! One redirected connection, from its ClientHello to its record: intercept it, refuse it
//! (untrusted server), or pass it through untouched (pinned before, or not TLS).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::timeout;
use tokio_rustls::StartHandshake;

use super::hello::{self, HelloError};
use super::Shared;
use crate::leaf::LeafName;
use crate::pinning::{self, PinKey, Rejection};
use crate::record::{FlowRecord, Outcome, EXCERPT_BYTES};
use crate::relay::{relay, End};
use crate::upstream::{self, UpstreamError};

/// A fatal `handshake_failure` alert in a plaintext record: what a client gets when the
/// real server could not be verified, instead of a bare close.
const HANDSHAKE_FAILURE_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 40];

/// Handles one accepted connection and writes its record.
pub(super) async fn handle(
    shared: Arc<Shared>,
    tcp: TcpStream,
    client: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let started = crate::unix_ms();
    let server = match shared.original_dst.original_dst(&tcp) {
        Ok(server) => server,
        Err(e) => {
            tracing::warn!(%client, error = %e, "no original destination (not redirected?); closed");
            return;
        }
    };
    if tcp.local_addr().ok() == Some(server) {
        tracing::warn!(%client, %server, "connection addressed to the proxy itself, not redirected; closed");
        return;
    }
    let _ = tcp.set_nodelay(true);
    let mut record = FlowRecord::new(client, server, started, Outcome::ClientFailed);
    record.outcome = intercept(&shared, tcp, client, server, &mut record, &mut stop).await;
    record.ended_unix_ms = crate::unix_ms();
    log(&record);
    shared.flows.write(&record);
}

/// One line per connection that needs attention; routine ones only at debug level, since
/// OpenWrt's log ring is small and a phone opens hundreds of connections.
fn log(r: &FlowRecord) {
    let (client, server) = (&r.client, &r.server);
    let sni = r.sni.as_deref().unwrap_or("-");
    let error = r.error.as_deref().unwrap_or("-");
    match r.outcome {
        Outcome::Intercepted | Outcome::PassthroughPinned | Outcome::PassthroughNotTls => {
            let (to_server, to_client) = (r.bytes_to_server, r.bytes_to_client);
            tracing::debug!(%client, %server, sni, outcome = %r.outcome, to_server, to_client, "connection ended");
        }
        Outcome::Pinned => {
            let alert = r.alert.as_deref().unwrap_or("none");
            tracing::warn!(%client, %server, sni, alert, detail = error, "app pins its certificates: its later connections to this name pass through untouched");
        }
        Outcome::UpstreamUntrusted | Outcome::UpstreamFailed => {
            tracing::warn!(%client, %server, sni, outcome = %r.outcome, error, "connection refused");
        }
        Outcome::ClientFailed => {
            tracing::info!(%client, %server, sni, error, "client handshake failed");
        }
    }
}

/// Records a refusal of our certificate and lets the pair through from now on.
fn pinned(shared: &Shared, key: PinKey, record: &mut FlowRecord, why: Rejection) -> Outcome {
    record.alert = why.alert;
    record.error = Some(why.detail.to_owned());
    shared.pinned.insert(key);
    Outcome::Pinned
}

/// A connection from its ClientHello to its end; returns what became of it.
async fn intercept(
    shared: &Shared,
    mut tcp: TcpStream,
    client: SocketAddr,
    server: SocketAddr,
    record: &mut FlowRecord,
    stop: &mut watch::Receiver<bool>,
) -> Outcome {
    let limit = shared.limits.handshake_timeout;
    let hello = match timeout(limit, hello::read(&mut tcp)).await {
        Err(_) => {
            record.error = Some(format!("no ClientHello within {limit:?}"));
            return Outcome::ClientFailed;
        }
        Ok(Err(HelloError::NotTls(raw))) => {
            return match passthrough(shared, tcp, &raw, server, record, stop).await {
                Ok(()) => Outcome::PassthroughNotTls,
                Err(outcome) => outcome,
            };
        }
        Ok(Err(e)) => {
            record.error = Some(e.to_string());
            return Outcome::ClientFailed;
        }
        Ok(Ok(hello)) => hello,
    };
    record.sni.clone_from(&hello.sni);
    let key: PinKey = (
        client.ip(),
        LeafName::for_connection(hello.sni.as_deref(), server.ip()),
    );
    if shared.pinned.contains(&key) {
        return match passthrough(shared, tcp, &hello.raw, server, record, stop).await {
            Ok(()) => Outcome::PassthroughPinned,
            Err(outcome) => outcome,
        };
    }

    let up = match connect_upstream(shared, &mut tcp, server, &hello, record).await {
        Ok(up) => up,
        Err(outcome) => return outcome,
    };
    let handshake = client_handshake(shared, tcp, hello.accepted, &key.1, up.alpn.clone(), record);
    let tls = match handshake.await {
        Ok(tls) => tls,
        Err(Some(why)) => return pinned(shared, key, record, why),
        Err(None) => return Outcome::ClientFailed,
    };

    let transfer = relay(tls, up.tls, EXCERPT_BYTES, shared.limits.idle_timeout, stop).await;
    record.set_excerpts(&transfer.to_server.excerpt, &transfer.to_client.excerpt);
    record.bytes_to_server = transfer.to_server.bytes;
    record.bytes_to_client = transfer.to_client.bytes;
    note_end(record, transfer.end);
    match pinning::silent_rejection(transfer.to_server.bytes, transfer.client_closed_after()) {
        Some(why) => pinned(shared, key, record, why),
        None => Outcome::Intercepted,
    }
}

/// The TLS connection to the real server; on failure the client gets a
/// `handshake_failure` alert and the outcome says why.
async fn connect_upstream(
    shared: &Shared,
    tcp: &mut TcpStream,
    server: SocketAddr,
    hello: &hello::Hello,
    record: &mut FlowRecord,
) -> Result<upstream::Upstream, Outcome> {
    let limit = shared.limits.handshake_timeout;
    let connect = upstream::connect(
        &shared.upstream,
        &shared.upstream_socket,
        server,
        hello.sni.as_deref(),
        hello.alpn.clone(),
    );
    let connected = timeout(limit, connect).await.unwrap_or_else(|_| {
        Err(UpstreamError::Failed(format!(
            "{server}: no TLS within {limit:?}"
        )))
    });
    match connected {
        Ok(up) => {
            record.alpn = up
                .alpn
                .as_deref()
                .map(|p| String::from_utf8_lossy(p).into_owned());
            Ok(up)
        }
        Err(e) => {
            let _ = tcp.write_all(&HANDSHAKE_FAILURE_ALERT).await;
            let _ = tcp.shutdown().await;
            let (outcome, why) = match e {
                UpstreamError::Untrusted(why) => (Outcome::UpstreamUntrusted, why),
                UpstreamError::Failed(why) => (Outcome::UpstreamFailed, why),
            };
            record.error = Some(why);
            Err(outcome)
        }
    }
}

/// Completes the client's handshake with a leaf for `name`. Fails with `Some` when the
/// client refused the certificate (pinning), `None` otherwise (the record says why).
async fn client_handshake(
    shared: &Shared,
    tcp: TcpStream,
    accepted: rustls::server::Accepted,
    name: &LeafName,
    alpn: Option<Vec<u8>>,
    record: &mut FlowRecord,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, Option<Rejection>> {
    let config = shared
        .leaves
        .get(name)
        .map_err(|e| e.to_string())
        .and_then(|leaf| shared.server_config(leaf, alpn).map_err(|e| e.to_string()));
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(%name, error = %e, "cannot make a certificate");
            record.error = Some(format!("cannot make a certificate: {e}"));
            return Err(None);
        }
    };
    let limit = shared.limits.handshake_timeout;
    let handshake = StartHandshake::from_parts(accepted, tcp).into_stream(config);
    match timeout(limit, handshake).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => {
            let rejection = pinning::client_rejection(&e);
            if rejection.is_none() {
                record.error = Some(format!("client handshake failed: {e}"));
            }
            Err(rejection)
        }
        Err(_) => {
            record.error = Some(format!("client handshake not done within {limit:?}"));
            Err(None)
        }
    }
}

fn note_end(record: &mut FlowRecord, end: End) {
    record.error = match end {
        End::Closed => None,
        End::Idle => Some("closed after the idle limit".into()),
        End::Stopped => Some("cut short: the proxy stopped".into()),
    };
}

/// Splices the client to the original destination untouched, replaying what we read.
/// Returns the outcome to record if the server cannot be reached.
async fn passthrough(
    shared: &Shared,
    mut tcp: TcpStream,
    first: &[u8],
    server: SocketAddr,
    record: &mut FlowRecord,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), Outcome> {
    let limit = shared.limits.handshake_timeout;
    let connected = match timeout(
        limit,
        upstream::tcp_connect(server, &shared.upstream_socket),
    )
    .await
    {
        Ok(Ok(up)) => Ok(up),
        Ok(Err(e)) => Err(format!("cannot connect to {server}: {e}")),
        Err(_) => Err(format!("cannot connect to {server} within {limit:?}")),
    };
    let mut up = match connected {
        Ok(up) => up,
        Err(e) => {
            let _ = tcp.shutdown().await;
            record.error = Some(e);
            return Err(Outcome::UpstreamFailed);
        }
    };
    if let Err(e) = up.write_all(first).await {
        record.error = Some(format!("{server}: {e}"));
        return Err(Outcome::UpstreamFailed);
    }
    let transfer = relay(tcp, up, 0, shared.limits.idle_timeout, stop).await;
    record.bytes_to_server = first.len() as u64 + transfer.to_server.bytes;
    record.bytes_to_client = transfer.to_client.bytes;
    note_end(record, transfer.end);
    Ok(())
}
