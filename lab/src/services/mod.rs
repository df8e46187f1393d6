//! The lab's network services: chat relays, NTP, analytics, whoami.
//!
//! The lab daemon binds the listening sockets inside the right network namespaces and hands them
//! to the `serve_*` functions here, which serve them until the socket fails. Every service treats
//! its input as untrusted: buffers are bounded, nothing panics on malformed input, and slow or
//! silent peers cannot make a server grow its memory without bound.
//!
//! # Chat relay protocol
//!
//! One messaging app's backend is a [`ChatHub`]: the users' live connections and mailboxes.
//! Several listening addresses of the same app (say a GeoDNS app with a CN and an EU backend)
//! share one hub, so clients connected to different backends can reach each other. The protocol
//! is the same in plain TCP ([`serve_chat`]) and TLS ([`serve_chat_tls`]).
//!
//! Lines are UTF-8 text terminated by `\n` (a `\r` before it is ignored). Fields are separated
//! by single spaces. Client to server:
//!
//! | Client line             | Server reply                                             |
//! |-------------------------|----------------------------------------------------------|
//! | `HELLO <user>`          | `OK <user>`: the login (authentication) step              |
//! | `SEND <to> <text...>`   | `QUEUED <id>`: the message id, unique within the hub      |
//! | `ACK <id>`              | nothing on success                                       |
//! | `PING`                  | `PONG` (also allowed before `HELLO`)                      |
//!
//! Server to client, unsolicited:
//!
//! * `MSG <id> <from> <text>`: a message for the logged-in user; the client answers `ACK <id>`.
//! * `DELIVERED <id>`: the recipient acknowledged message `<id>` sent by this user.
//!
//! A message waits in the recipient's mailbox until the recipient is connected (now, or when it
//! next logs in). A mailbox holds at most [`MAILBOX_CAPACITY`] messages; when it is full the
//! oldest message is dropped. At most [`DELIVERY_WINDOW`] messages per user are in flight (sent as
//! `MSG` but not yet acknowledged); the next ones follow as `ACK`s arrive. Messages in flight when
//! the recipient's connection ends go back to the front of its mailbox and are delivered again
//! at the next login. When the recipient acknowledges a message, its sender, if connected at that
//! moment, receives `DELIVERED <id>`. A second login of the same user takes over: the older
//! connection is closed.
//!
//! User names are 1 to [`MAX_USER_LEN`] bytes without whitespace or control characters. Message
//! text is the rest of the `SEND` line after `<to> ` and may contain spaces.
//!
//! Errors: any command other than `PING` before `HELLO`, an unknown command, malformed
//! arguments, or an `ACK` for a message not in flight to this user yields `ERR <reason>`, and the
//! connection stays open. A line longer than [`MAX_LINE_LEN`] bytes or invalid UTF-8 yields
//! `ERR <reason>` and the connection is closed. A connection whose outgoing queue is full (a peer
//! that does not read) is dropped.
//!
//! Every event (login, queued, delivered, acked, logout, dropped) is logged with `tracing` at
//! info level, with the app, the user and the peer address as structured fields; TLS connections
//! also record the client's SNI.
//!
//! # Other services
//!
//! * [`serve_ntp`]: an NTP server (stratum 2) answering client requests with the current time.
//! * [`serve_whoami`]: HTTP answering every request with the caller's IP address.
//! * [`serve_analytics`]: an HTTP sink that accepts anything and answers `204 No Content`;
//!   [`serve_analytics_tls`] serves the same over TLS.
//! * [`LabCa`]: the lab's certificate authority issuing the TLS servers' certificates.

mod chat;
mod chat_client;
#[cfg(test)]
mod chat_tests;
mod http;
mod hub;
mod lines;
mod ntp;
mod tls;

pub use chat::{serve_chat, serve_chat_tls};
pub use chat_client::{ChatClient, ChatEvent};
pub use http::{serve_analytics, serve_analytics_tls, serve_httpdns, serve_whoami, HttpDnsLookup};
pub use hub::ChatHub;
pub use ntp::serve_ntp;
pub use tls::{client_config_from_pem, client_config_from_pems, pem_certificates, LabCa};

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Longest chat line a client may send, in bytes, excluding the terminating newline.
pub const MAX_LINE_LEN: usize = 4096;
/// Most messages waiting in one user's mailbox; the oldest is dropped beyond this.
pub const MAILBOX_CAPACITY: usize = 1000;
/// Most messages in flight (sent, not yet acknowledged) to one user.
pub const DELIVERY_WINDOW: usize = 64;
/// Longest user name, in bytes.
pub const MAX_USER_LEN: usize = 64;

/// Most connections one listener serves at a time; further clients wait in the accept backlog.
const MAX_CONNECTIONS_PER_LISTENER: usize = 4096;

/// Errors of the lab services and of the chat client.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A socket operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// TLS configuration or handshake failed.
    #[error("TLS error: {0}")]
    Tls(#[from] rustls::Error),
    /// Generating a key or certificate failed.
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),
    /// An argument was rejected before anything was sent (bad user name, DNS name, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The chat server answered `ERR <reason>`.
    #[error("server error: {0}")]
    Server(String),
    /// The peer sent something the protocol does not allow at this point.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The peer closed the connection.
    #[error("connection closed by peer")]
    Closed,
}

/// Whether `name` is acceptable as a chat user name (see the module documentation).
pub(crate) fn valid_user(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_USER_LEN
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Accepts connections while limiting how many are served at a time. Transient accept errors
/// (aborted handshakes, running out of file descriptors) are logged and retried; any other error
/// is returned, ending the service.
pub(crate) struct Acceptor {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    service: &'static str,
}

impl Acceptor {
    pub(crate) fn new(listener: TcpListener, service: &'static str) -> Self {
        Self {
            listener,
            slots: Arc::new(Semaphore::new(MAX_CONNECTIONS_PER_LISTENER)),
            service,
        }
    }

    /// The next connection, with a permit to hold for as long as it is served.
    pub(crate) async fn accept(&self) -> io::Result<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| io::Error::other("connection limiter closed"))?;
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    // Small request/response lines: don't wait for Nagle.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(service = self.service, %peer, error = %e, "set_nodelay failed");
                    }
                    return Ok((stream, peer, permit));
                }
                Err(e) if is_transient_accept_error(&e) => {
                    tracing::warn!(service = self.service, error = %e, "accept failed, retrying");
                    if is_resource_exhaustion(&e) {
                        // Back off so that a full descriptor table does not turn into a busy loop.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                Err(e) => {
                    tracing::error!(service = self.service, error = %e, "listener failed");
                    return Err(e);
                }
            }
        }
    }
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || is_resource_exhaustion(e)
}

fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
