//! The chat relay server: one task per connection, speaking the protocol of the module docs.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter, WriteHalf};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

use super::hub::{AckRefused, SendRefused, Session};
use super::lines::{Line, LineReader};
use super::{valid_user, Acceptor, ChatHub, MAX_LINE_LEN};

/// Lines waiting to be written to one connection; a peer that lets this fill up is dropped.
const OUTGOING_CAPACITY: usize = 256;
/// Time allowed for a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed to flush the last replies when a connection ends.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// Input read and discarded after a fatal error so that closing does not reset the connection.
const LINGER_BYTES: u64 = 64 * 1024;
const LINGER_TIMEOUT: Duration = Duration::from_secs(1);

/// Serves the chat relay protocol on plain TCP until the listener fails.
pub async fn serve_chat(listener: TcpListener, hub: Arc<ChatHub>) -> io::Result<()> {
    let acceptor = Acceptor::new(listener, "chat");
    loop {
        let (stream, peer, permit) = acceptor.accept().await?;
        let hub = Arc::clone(&hub);
        tokio::spawn(async move {
            tracing::info!(app = %hub.app(), %peer, transport = "tcp", "chat connection accepted");
            serve_connection(stream, peer, None, &hub).await;
            drop(permit);
        });
    }
}

/// Serves the same protocol over TLS (records the client's SNI per connection in the log line).
pub async fn serve_chat_tls(
    listener: TcpListener,
    hub: Arc<ChatHub>,
    tls: Arc<rustls::ServerConfig>,
) -> io::Result<()> {
    let acceptor = Acceptor::new(listener, "chat-tls");
    let tls = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (stream, peer, permit) = acceptor.accept().await?;
        let hub = Arc::clone(&hub);
        let tls = tls.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::info!(app = %hub.app(), %peer, error = %e, "chat TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::info!(app = %hub.app(), %peer, "chat TLS handshake timed out");
                    return;
                }
            };
            let (_, conn) = stream.get_ref();
            let sni = conn.server_name().unwrap_or("").to_owned();
            let alpn = conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default();
            let version = conn
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default();
            tracing::info!(app = %hub.app(), %peer, transport = "tls", sni = %sni, alpn = %alpn,
                version = %version, "chat connection accepted");
            serve_connection(stream, peer, Some(sni), &hub).await;
            drop(permit);
        });
    }
}

/// How the read loop ended.
enum End {
    /// The peer closed its side or the socket failed: close quietly.
    Quiet,
    /// A fatal protocol error was reported with `ERR`: flush it, then close.
    Fatal,
    /// The hub dropped us, or our outgoing queue overflowed: close at once.
    Abort,
}

/// Whether the loop continues after one line.
enum Step {
    Continue,
    Stop(End),
}

struct Conn<'a> {
    hub: &'a ChatHub,
    peer: SocketAddr,
    id: u64,
    tx: mpsc::Sender<String>,
    kill: Arc<Notify>,
    user: Option<String>,
}

/// Serves one connection; `sni` is the server name a TLS client asked for (`None` for TCP).
async fn serve_connection<S>(stream: S, peer: SocketAddr, sni: Option<String>, hub: &ChatHub)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (read_half, write_half) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel(OUTGOING_CAPACITY);
    let mut writer = tokio::spawn(write_lines(write_half, rx));
    let mut reader = LineReader::new(read_half, MAX_LINE_LEN);
    let mut conn = Conn {
        hub,
        peer,
        id: hub.next_conn(),
        tx,
        kill: Arc::new(Notify::new()),
        user: None,
    };

    let end = loop {
        let line = tokio::select! {
            biased;
            () = conn.kill.notified() => break End::Abort,
            line = reader.next_line() => line,
        };
        let step = match line {
            Ok(Line::Text(text)) => conn.handle(&text),
            Ok(Line::TooLong) => conn.fatal(&format!("line longer than {MAX_LINE_LEN} bytes")),
            Ok(Line::BadUtf8) => conn.fatal("invalid UTF-8"),
            Ok(Line::Eof) => Step::Stop(End::Quiet),
            Err(e) => {
                tracing::debug!(app = %hub.app(), %peer, error = %e, "chat read failed");
                Step::Stop(End::Quiet)
            }
        };
        if let Step::Stop(end) = step {
            break end;
        }
    };

    let Conn { user, id, tx, .. } = conn;
    if let Some(user) = &user {
        hub.logout(user, id);
    }
    // The hub holds no clone of `tx` any more, so the writer ends once it has written the rest.
    drop(tx);
    match end {
        End::Abort => writer.abort(),
        End::Quiet | End::Fatal => {
            if tokio::time::timeout(FLUSH_TIMEOUT, &mut writer)
                .await
                .is_err()
            {
                writer.abort();
            } else if matches!(end, End::Fatal) {
                let _ = tokio::time::timeout(LINGER_TIMEOUT, reader.drain(LINGER_BYTES)).await;
            }
        }
    }
    tracing::info!(app = %hub.app(), %peer, user = user.as_deref().unwrap_or(""),
        sni = sni.as_deref().unwrap_or(""), "chat connection closed");
}

/// Writes queued lines until every sender is gone, then shuts the stream down.
async fn write_lines<S>(write_half: WriteHalf<S>, mut rx: mpsc::Receiver<String>)
where
    S: AsyncWrite,
{
    let mut out = BufWriter::new(write_half);
    let result: io::Result<()> = async {
        while let Some(line) = rx.recv().await {
            write_line(&mut out, &line).await?;
            // Batch whatever else is already waiting into the same flush.
            while let Ok(line) = rx.try_recv() {
                write_line(&mut out, &line).await?;
            }
            out.flush().await?;
        }
        out.shutdown().await
    }
    .await;
    if let Err(e) = result {
        tracing::debug!(error = %e, "chat write failed");
    }
}

async fn write_line<W: AsyncWrite + Unpin>(out: &mut W, line: &str) -> io::Result<()> {
    out.write_all(line.as_bytes()).await?;
    out.write_all(b"\n").await
}

impl Conn<'_> {
    /// Queues a reply; a full queue means the peer does not read, so the connection is dropped.
    fn reply(&self, line: String) -> Step {
        match self.tx.try_send(line) {
            Ok(()) => Step::Continue,
            Err(_) => self.overflow(),
        }
    }

    fn overflow(&self) -> Step {
        tracing::info!(app = %self.hub.app(), peer = %self.peer,
            user = self.user.as_deref().unwrap_or(""), "chat connection dropped: outgoing queue full");
        Step::Stop(End::Abort)
    }

    fn error(&self, reason: &str) -> Step {
        self.reply(format!("ERR {reason}"))
    }

    /// Reports a fatal error and ends the connection.
    fn fatal(&self, reason: &str) -> Step {
        tracing::info!(app = %self.hub.app(), peer = %self.peer,
            user = self.user.as_deref().unwrap_or(""), reason, "chat connection closed on error");
        match self.error(reason) {
            Step::Continue => Step::Stop(End::Fatal),
            stop => stop,
        }
    }

    fn handle(&mut self, line: &str) -> Step {
        let (command, args) = line.split_once(' ').unwrap_or((line, ""));
        match (command, self.user.clone()) {
            ("PING", _) => {
                if args.is_empty() {
                    self.reply("PONG".to_owned())
                } else {
                    self.error("usage: PING")
                }
            }
            ("HELLO", None) => self.hello(args),
            ("HELLO", Some(user)) => self.error(&format!("already logged in as {user}")),
            ("SEND" | "ACK", None) => self.error("not logged in"),
            ("SEND", Some(user)) => self.send(&user, args),
            ("ACK", Some(user)) => self.ack(&user, args),
            ("", _) => self.error("empty command"),
            (_, None) => self.error("not logged in"),
            (_, Some(_)) => self.error("unknown command"),
        }
    }

    fn hello(&mut self, args: &str) -> Step {
        if !valid_user(args) {
            return self.error("invalid user name");
        }
        let session = Session {
            conn: self.id,
            peer: self.peer,
            tx: self.tx.clone(),
            kill: Arc::clone(&self.kill),
        };
        if !self.hub.login(args, session) {
            return self.overflow();
        }
        self.user = Some(args.to_owned());
        Step::Continue
    }

    fn send(&self, user: &str, args: &str) -> Step {
        let Some((to, text)) = args.split_once(' ') else {
            return self.error("usage: SEND <to> <text>");
        };
        if !valid_user(to) {
            return self.error("invalid recipient");
        }
        match self.hub.send(user, self.peer, &self.tx, to, text) {
            Ok(_) => Step::Continue,
            Err(SendRefused::HubFull) => self.error("mailboxes full, message refused"),
            Err(SendRefused::SenderOverflow) => self.overflow(),
        }
    }

    fn ack(&self, user: &str, args: &str) -> Step {
        let Ok(id) = args.parse::<u64>() else {
            return self.error("usage: ACK <id>");
        };
        match self.hub.ack(user, self.id, id) {
            Ok(()) => Step::Continue,
            Err(AckRefused::NotInFlight) => self.error(&format!("no message {id} awaiting ack")),
        }
    }
}
