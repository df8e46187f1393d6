//! Reading the client's ClientHello ourselves, keeping its raw bytes: an intercepted
//! connection goes on from rustls' `Accepted`, a passed-through one replays the bytes to
//! the real server as if we had never looked.

use std::io;

use rustls::server::{Accepted, Acceptor};
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;

/// The most ClientHello bytes read before giving up (real ones are under 2 KiB; post-quantum
/// key shares bring them to ~2–3 KiB).
pub(crate) const MAX_HELLO: usize = 64 * 1024;

/// A parsed ClientHello.
pub(crate) struct Hello {
    /// rustls' state, to continue the handshake.
    pub accepted: Accepted,
    /// Every byte read from the client so far.
    pub raw: Vec<u8>,
    /// The server name asked for.
    pub sni: Option<String>,
    /// The application protocols offered, in the client's order.
    pub alpn: Vec<Vec<u8>>,
}

/// Why no ClientHello was read.
#[derive(Debug)]
pub(crate) enum HelloError {
    /// The client closed before a ClientHello was complete.
    Closed,
    /// The bytes are not TLS: pass them through.
    NotTls(Vec<u8>),
    /// The ClientHello is malformed (rustls' reason).
    Tls(rustls::Error),
    /// More than [`MAX_HELLO`] bytes without a complete ClientHello.
    TooLarge,
    /// Reading failed.
    Io(io::Error),
}

impl std::fmt::Display for HelloError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HelloError::Closed => f.write_str("the client closed before its ClientHello"),
            HelloError::NotTls(_) => f.write_str("the client does not speak TLS"),
            HelloError::Tls(e) => write!(f, "bad ClientHello: {e}"),
            HelloError::TooLarge => write!(f, "no ClientHello in the first {MAX_HELLO} bytes"),
            HelloError::Io(e) => write!(f, "reading the ClientHello: {e}"),
        }
    }
}

/// A TLS handshake record starts every TLS connection.
const HANDSHAKE_RECORD: u8 = 0x16;

/// Reads until a whole ClientHello is in.
pub(crate) async fn read(tcp: &mut TcpStream) -> Result<Hello, HelloError> {
    let mut acceptor = Acceptor::default();
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let n = tcp.read(&mut buf).await.map_err(HelloError::Io)?;
        if n == 0 {
            return Err(HelloError::Closed);
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.first() != Some(&HANDSHAKE_RECORD) {
            return Err(HelloError::NotTls(raw));
        }
        if raw.len() > MAX_HELLO {
            return Err(HelloError::TooLarge);
        }
        let mut input = &buf[..n];
        while !input.is_empty() {
            acceptor.read_tls(&mut input).map_err(HelloError::Io)?;
        }
        match acceptor.accept() {
            Ok(None) => continue,
            Ok(Some(accepted)) => {
                let hello = accepted.client_hello();
                let sni = hello.server_name().map(str::to_owned);
                let alpn = hello
                    .alpn()
                    .map(|list| list.map(<[u8]>::to_vec).collect())
                    .unwrap_or_default();
                return Ok(Hello {
                    accepted,
                    raw,
                    sni,
                    alpn,
                });
            }
            Err((e, _alert)) => return Err(HelloError::Tls(e)),
        }
    }
}
