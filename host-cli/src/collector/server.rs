//! The collector's HTTP/1.1 server (hyper): one handler, `PUT /v1/uploads/<router>/<id>`.

use super::spool::{self, Existing, Received, CLOCK_SKEW_WARN_S};
use anyhow::{Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// What the server needs.
pub struct Config {
    /// Where results go.
    pub dir: PathBuf,
    /// Router → its token.
    pub tokens: BTreeMap<String, String>,
    /// Largest upload accepted.
    pub max_bytes: u64,
}

/// Serves until SIGINT or SIGTERM; connections in progress are dropped then (their routers
/// have no acknowledgement and upload again).
pub async fn serve(listen: SocketAddr, config: Config) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    eprintln!(
        "matador-host collector: listening on {listen}, results in {}",
        config.dir.display()
    );
    let config = Arc::new(config);
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    loop {
        let (stream, peer) = tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept");
                    continue;
                }
            },
        };
        let config = Arc::clone(&config);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let config = Arc::clone(&config);
                async move { Ok::<_, std::convert::Infallible>(handle(&config, req).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::info!(%peer, error = %e, "connection ended");
            }
        });
    }
}

fn answer(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r
}

fn refuse(status: StatusCode, why: impl Into<String>) -> Response<Full<Bytes>> {
    let why = why.into();
    tracing::warn!(%status, %why, "upload refused");
    answer(status, format!("{why}\n"))
}

fn ack(sha256: &str) -> Response<Full<Bytes>> {
    answer(
        StatusCode::CREATED,
        serde_json::json!({ "sha256": sha256 }).to_string(),
    )
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One request.
async fn handle(config: &Config, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let Some((router, id)) = path
        .strip_prefix("/v1/uploads/")
        .and_then(|rest| rest.split_once('/'))
        .map(|(r, i)| (r.to_string(), i.to_string()))
    else {
        return refuse(StatusCode::NOT_FOUND, format!("no such endpoint {path}"));
    };
    if req.method() != hyper::Method::PUT {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, "uploads are PUT");
    }
    let Some(token) = config.tokens.get(&router) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            format!("unknown router {router:?}"),
        );
    };
    let given = header(&req, "authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("");
    if !ring_eq(given.as_bytes(), token.as_bytes()) {
        return refuse(StatusCode::UNAUTHORIZED, format!("{router}: wrong token"));
    }
    if let Err(e) = matador_api::check_result_id("id", &id) {
        return refuse(StatusCode::BAD_REQUEST, e.to_string());
    }
    let sha = header(&req, "x-matador-sha256").unwrap_or("").to_string();
    if sha.len() != 64
        || !sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            "x-matador-sha256: 64 lowercase hex digits",
        );
    }
    let Some(length) = header(&req, "content-length").and_then(|l| l.parse::<u64>().ok()) else {
        return refuse(StatusCode::LENGTH_REQUIRED, "content-length is required");
    };
    if length > config.max_bytes {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{length} bytes is over the {} accepted", config.max_bytes),
        );
    }
    let number = |name| {
        header(&req, name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let now = unix_now();
    let router_time = number("x-matador-router-time");
    let received = Received {
        measurement: header(&req, "x-matador-measurement")
            .unwrap_or("")
            .to_string(),
        kind: header(&req, "x-matador-kind").unwrap_or("").to_string(),
        created: number("x-matador-created"),
        router: router.clone(),
        id: id.clone(),
        size: length,
        sha256: sha.clone(),
        router_time,
        received: now,
        clock_skew_s: i64::try_from(router_time).unwrap_or(i64::MAX)
            - i64::try_from(now).unwrap_or(0),
        encrypted: header(&req, matador_api::ENCRYPTED_HEADER)
            .is_some_and(|v| v.eq_ignore_ascii_case(matador_api::ENCRYPTED_AGE)),
    };
    let dir = config.dir.clone();
    let state = {
        let (dir, router, id, sha) = (dir.clone(), router.clone(), id.clone(), sha.clone());
        tokio::task::spawn_blocking(move || spool::existing(&dir, &router, &id, &sha)).await
    };
    match state {
        Ok(Ok(Existing::New)) => {}
        Ok(Ok(Existing::Same)) => {
            // Our acknowledgement was lost: read the body (so the router sees the answer),
            // then acknowledge again.
            let mut body = req.into_body();
            while let Some(Ok(_)) = body.frame().await {}
            tracing::info!(%router, %id, "already here; acknowledged again");
            return ack(&sha);
        }
        Ok(Ok(Existing::Different(ours))) => {
            return refuse(
                StatusCode::CONFLICT,
                format!("{router}/{id} is already here with sha256 {ours}"),
            )
        }
        Ok(Err(e)) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    match receive(&dir, &received, req.into_body()).await {
        Ok(()) => {
            if received.clock_skew_s.abs() > CLOCK_SKEW_WARN_S {
                tracing::warn!(%router, skew_s = received.clock_skew_s, "router clock is off (no NTP?)");
                eprintln!(
                    "matador-host collector: {router}'s clock is {} s off ours (no NTP?)",
                    received.clock_skew_s
                );
            }
            tracing::info!(%router, %id, bytes = length, "stored");
            ack(&sha)
        }
        Err((status, why)) => refuse(status, format!("{router}/{id}: {why}")),
    }
}

/// Streams the body to the temporary file, hashing it; commits only if length and hash are
/// what the router announced.
async fn receive(
    dir: &std::path::Path,
    received: &Received,
    mut body: Incoming,
) -> Result<(), (StatusCode, String)> {
    let internal = |e: std::io::Error| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let rdir = spool::router_dir(dir, &received.router);
    std::fs::create_dir_all(&rdir).map_err(internal)?;
    let temp = spool::temp_path(dir, &received.router, &received.id);
    let mut file = std::fs::File::create(&temp).map_err(internal)?;
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    let mut got = 0u64;
    let outcome = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| (StatusCode::BAD_REQUEST, format!("body: {e}")))?;
            if let Ok(data) = frame.into_data() {
                got += data.len() as u64;
                if got > received.size {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        "body longer than content-length".into(),
                    ));
                }
                hash.update(&data);
                file.write_all(&data).map_err(internal)?;
            }
        }
        if got != received.size {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("{got} of {} bytes arrived", received.size),
            ));
        }
        let digest: String = hash
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if digest != received.sha256 {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("the bytes have sha256 {digest}, not {}", received.sha256),
            ));
        }
        file.sync_all().map_err(internal)?;
        spool::commit(dir, received).map_err(internal)
    }
    .await;
    if outcome.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    outcome
}

/// Constant-time comparison of a token (its length may leak; it is fixed anyway).
fn ring_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
