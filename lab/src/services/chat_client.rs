//! A client of the chat relay protocol, for tests and for the emulated messenger apps.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::lines::{Line, LineReader};
use super::{valid_user, ServiceError, MAX_LINE_LEN};

/// Longest line accepted from the server (a `MSG` line is a client line plus a header).
const MAX_SERVER_LINE: usize = 2 * MAX_LINE_LEN;
/// Most events buffered while waiting for a reply to a command.
const MAX_BUFFERED_EVENTS: usize = 10_000;

/// Something the server sent without being asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// A message for this user; answer with [`ChatClient::ack`].
    Msg {
        /// The hub-wide message id.
        id: u64,
        /// The sender's user name.
        from: String,
        /// The message text.
        text: String,
    },
    /// The recipient acknowledged message `id` sent by this user.
    Delivered {
        /// The message id returned by [`ChatClient::send`].
        id: u64,
    },
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A chat client (used by tests now, and later by the emulated messenger apps on emulated phones).
///
/// Commands wait for their reply; events that arrive meanwhile are kept for
/// [`next_event`](Self::next_event). `ACK` has no reply on success: if the server refuses an
/// `ACK`, its `ERR` is reported by the next call that reads from the server (use
/// [`ping`](Self::ping) to check at once).
pub struct ChatClient {
    conn: LineReader<Box<dyn Stream>>,
    events: VecDeque<ChatEvent>,
    user: Option<String>,
}

impl std::fmt::Debug for ChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatClient")
            .field("user", &self.user)
            .field("buffered_events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl ChatClient {
    /// Connects over plain TCP.
    pub async fn connect(addr: SocketAddr) -> Result<Self, ServiceError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self::from_stream(stream))
    }

    /// Connects over TLS, sending `server_name` as SNI and verifying the server's certificate
    /// for it with `config`.
    pub async fn connect_tls(
        addr: SocketAddr,
        server_name: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<Self, ServiceError> {
        let name = ServerName::try_from(server_name.to_owned()).map_err(|e| {
            ServiceError::InvalidArgument(format!("server name {server_name:?}: {e}"))
        })?;
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, stream)
            .await
            .map_err(tls_error)?;
        Ok(Self::from_stream(stream))
    }

    /// Speaks the protocol over an already established stream (e.g. one opened inside a network
    /// namespace).
    pub fn from_stream<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(stream: S) -> Self {
        Self {
            conn: LineReader::new(Box::new(stream), MAX_SERVER_LINE),
            events: VecDeque::new(),
            user: None,
        }
    }

    /// The user logged in on this connection, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Logs in as `user` (`HELLO`), waiting for `OK`.
    pub async fn login(&mut self, user: &str) -> Result<(), ServiceError> {
        if !valid_user(user) {
            return Err(ServiceError::InvalidArgument(format!("user name {user:?}")));
        }
        self.write_line(&format!("HELLO {user}")).await?;
        let reply = self.reply().await?;
        if reply.strip_prefix("OK ") != Some(user) {
            return Err(ServiceError::Protocol(format!(
                "expected OK {user}, got {reply:?}"
            )));
        }
        self.user = Some(user.to_owned());
        Ok(())
    }

    /// Sends `text` to `to`, returning the message id the server assigned.
    pub async fn send(&mut self, to: &str, text: &str) -> Result<u64, ServiceError> {
        if !valid_user(to) {
            return Err(ServiceError::InvalidArgument(format!("recipient {to:?}")));
        }
        if text.contains(['\n', '\r']) {
            return Err(ServiceError::InvalidArgument(
                "text contains a line break".into(),
            ));
        }
        let line = format!("SEND {to} {text}");
        if line.len() > MAX_LINE_LEN {
            return Err(ServiceError::InvalidArgument(format!(
                "message longer than the {MAX_LINE_LEN}-byte line limit"
            )));
        }
        self.write_line(&line).await?;
        let reply = self.reply().await?;
        reply
            .strip_prefix("QUEUED ")
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| ServiceError::Protocol(format!("expected QUEUED <id>, got {reply:?}")))
    }

    /// Acknowledges message `id` (see the type's documentation about errors).
    pub async fn ack(&mut self, id: u64) -> Result<(), ServiceError> {
        self.write_line(&format!("ACK {id}")).await
    }

    /// Sends `PING` and waits for `PONG`: a round trip through everything sent before.
    pub async fn ping(&mut self) -> Result<(), ServiceError> {
        self.write_line("PING").await?;
        let reply = self.reply().await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(ServiceError::Protocol(format!(
                "expected PONG, got {reply:?}"
            )))
        }
    }

    /// The next event: a buffered one, or the next one from the server.
    pub async fn next_event(&mut self) -> Result<ChatEvent, ServiceError> {
        if let Some(event) = self.events.pop_front() {
            return Ok(event);
        }
        let line = self.read_line().await?;
        if let Some(event) = parse_event(&line)? {
            return Ok(event);
        }
        Err(match line.strip_prefix("ERR ") {
            Some(reason) => ServiceError::Server(reason.to_owned()),
            None => ServiceError::Protocol(format!("unexpected line {line:?}")),
        })
    }

    /// Closes the connection (the server then logs the user out).
    pub async fn close(mut self) -> Result<(), ServiceError> {
        self.conn.get_mut().shutdown().await?;
        Ok(())
    }

    async fn write_line(&mut self, line: &str) -> Result<(), ServiceError> {
        let out = self.conn.get_mut();
        out.write_all(format!("{line}\n").as_bytes()).await?;
        out.flush().await?;
        Ok(())
    }

    async fn read_line(&mut self) -> Result<String, ServiceError> {
        match self.conn.next_line().await? {
            Line::Text(line) => Ok(line),
            Line::Eof => Err(ServiceError::Closed),
            Line::TooLong => Err(ServiceError::Protocol("server line too long".into())),
            Line::BadUtf8 => Err(ServiceError::Protocol("server sent invalid UTF-8".into())),
        }
    }

    /// The reply to the command just sent, buffering events that come first.
    async fn reply(&mut self) -> Result<String, ServiceError> {
        loop {
            let line = self.read_line().await?;
            if let Some(event) = parse_event(&line)? {
                if self.events.len() >= MAX_BUFFERED_EVENTS {
                    return Err(ServiceError::Protocol("too many unread events".into()));
                }
                self.events.push_back(event);
                continue;
            }
            if let Some(reason) = line.strip_prefix("ERR ") {
                return Err(ServiceError::Server(reason.to_owned()));
            }
            return Ok(line);
        }
    }
}

/// `Some` if `line` is an event (`MSG`, `DELIVERED`); malformed events are errors.
fn parse_event(line: &str) -> Result<Option<ChatEvent>, ServiceError> {
    let malformed = || ServiceError::Protocol(format!("malformed event {line:?}"));
    if let Some(rest) = line.strip_prefix("MSG ") {
        let mut parts = rest.splitn(3, ' ');
        let (Some(id), Some(from), Some(text)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed());
        };
        let id = id.parse().map_err(|_| malformed())?;
        return Ok(Some(ChatEvent::Msg {
            id,
            from: from.to_owned(),
            text: text.to_owned(),
        }));
    }
    if let Some(id) = line.strip_prefix("DELIVERED ") {
        let id = id.parse().map_err(|_| malformed())?;
        return Ok(Some(ChatEvent::Delivered { id }));
    }
    Ok(None)
}

/// Reports a TLS failure inside an I/O error as a TLS error.
fn tls_error(e: io::Error) -> ServiceError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => ServiceError::Tls(tls.clone()),
        None => ServiceError::Io(e),
    }
}
