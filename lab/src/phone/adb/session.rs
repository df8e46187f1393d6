//! One host connection: the read-and-dispatch loop, the writer task, and teardown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::auth::KeyStore;
use super::handshake::{device_banner, Handshake, HandshakeError};
use super::message::{Command, DecodeError, Decoder, Message, MAX_PAYLOAD};
use super::service::{parse_service, run_service};
use super::stream::{Delivery, Outgoing, StreamTable};
use super::Device;

/// How long a host may take to authenticate before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
/// Messages queued for the writer before services wait.
const OUT_QUEUE: usize = 64;
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Why a connection was closed by the device.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not ADB messages.
    #[error("malformed message: {0}")]
    Decode(#[from] DecodeError),
    /// Authentication went wrong.
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// The host did not get online in time.
    #[error("no successful handshake within {0:?}")]
    HandshakeTimeout(Duration),
    /// A WRTE named a stream id this connection never handed out.
    #[error("WRTE for stream {0}, which was never opened")]
    UnknownStream(u32),
    /// The host kept writing without waiting for OKAY.
    #[error("host ignored flow control on stream {0}")]
    Flooded(u32),
    /// OPEN without a host stream id, or with a device id already set.
    #[error("OPEN with invalid ids ({0}, {1})")]
    BadOpen(u32, u32),
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut queue: mpsc::Receiver<Outgoing>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    while let Some(item) = queue.recv().await {
        match item {
            Outgoing::Message(message) => {
                buf.clear();
                message.encode_into(&mut buf);
                writer.write_all(&buf).await?;
            }
            Outgoing::Disconnect => break,
        }
    }
    writer.flush().await?;
    writer.shutdown().await
}

struct Connection {
    device: Arc<dyn Device>,
    handshake: Handshake,
    streams: StreamTable,
    services: JoinSet<()>,
    out: mpsc::Sender<Outgoing>,
    decoder: Decoder,
}

impl Connection {
    async fn send(&self, message: Message) -> Result<(), ConnectionError> {
        self.out
            .send(Outgoing::Message(message))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe).into())
    }

    async fn read_loop<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
        writer: &mut JoinHandle<std::io::Result<()>>,
        handshake_timeout: Duration,
    ) -> Result<(), ConnectionError> {
        let deadline = Instant::now() + handshake_timeout;
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = tokio::select! {
                read = reader.read(&mut buf) => read?,
                () = tokio::time::sleep_until(deadline), if !self.handshake.is_online() => {
                    return Err(ConnectionError::HandshakeTimeout(handshake_timeout));
                }
                // The writer ends on a write error or when a service hangs up (reboot).
                _ = &mut *writer => return Ok(()),
            };
            if n == 0 {
                return Ok(());
            }
            self.decoder.feed(buf.get(..n).unwrap_or_default());
            while let Some(message) = self.decoder.next_message()? {
                self.dispatch(message).await?;
                self.decoder
                    .set_check_checksum(self.handshake.checksums_required());
            }
        }
    }

    async fn dispatch(&mut self, msg: Message) -> Result<(), ConnectionError> {
        let online = self.handshake.is_online();
        if !online || matches!(msg.command, Command::Cnxn | Command::Auth) {
            if online && msg.command == Command::Cnxn {
                // A host that reconnects starts afresh, as adbd tears down all streams.
                self.streams.clear();
                self.services.abort_all();
            }
            if let Some(reply) = self.handshake.on_message(&msg)? {
                self.send(reply).await?;
            }
            return Ok(());
        }
        // The host's id is arg0, ours arg1.
        match msg.command {
            Command::Open => self.open(msg).await,
            Command::Wrte => match self.streams.deliver(msg.arg1, msg.arg0, msg.payload) {
                Delivery::Delivered | Delivery::Stale => Ok(()),
                Delivery::Unknown => Err(ConnectionError::UnknownStream(msg.arg1)),
                Delivery::Flooded => Err(ConnectionError::Flooded(msg.arg1)),
            },
            Command::Okay => {
                self.streams.ack(msg.arg1, msg.arg0);
                Ok(())
            }
            Command::Clse => {
                self.streams.close(msg.arg1, msg.arg0);
                Ok(())
            }
            // SYNC is obsolete; STLS (TLS upgrade) is not offered, so hosts do not send it.
            Command::Sync | Command::Stls | Command::Cnxn | Command::Auth => Ok(()),
        }
    }

    async fn open(&mut self, msg: Message) -> Result<(), ConnectionError> {
        let remote_id = msg.arg0;
        if remote_id == 0 || msg.arg1 != 0 {
            return Err(ConnectionError::BadOpen(msg.arg0, msg.arg1));
        }
        while self.services.try_join_next().is_some() {}
        let service = parse_service(&msg.payload);
        let max_payload = self.handshake.max_payload();
        let opened = service.and_then(|s| {
            let io = self
                .streams
                .open(remote_id, self.out.clone(), max_payload)?;
            Some((s, io))
        });
        let Some((service, io)) = opened else {
            tracing::debug!(
                service = %String::from_utf8_lossy(&msg.payload).trim_end_matches('\0'),
                "refusing adb service"
            );
            return self
                .send(Message::new(Command::Clse, 0, remote_id, Vec::new()))
                .await;
        };
        // Queued before the service starts, so the host sees OKAY before any data.
        self.send(Message::new(
            Command::Okay,
            io.local_id(),
            remote_id,
            Vec::new(),
        ))
        .await?;
        self.services
            .spawn(run_service(service, io, Arc::clone(&self.device)));
        Ok(())
    }
}

/// Serves one host connection until it closes, logging why the device closed it.
pub async fn run<S>(
    stream: S,
    peer: SocketAddr,
    device: Arc<dyn Device>,
    handshake_timeout: Duration,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    // adb_keys holds a few lines: reading it inline costs less than a blocking task.
    let keys = KeyStore::load(&device.authorised_keys());
    let handshake = Handshake::new(
        device.auth_policy(),
        keys,
        device_banner(&device.properties()),
    );
    let (mut reader, writer) = tokio::io::split(stream);
    let (out, queue) = mpsc::channel(OUT_QUEUE);
    let mut writer_task = tokio::spawn(write_loop(writer, queue));
    let mut connection = Connection {
        device,
        handshake,
        streams: StreamTable::default(),
        services: JoinSet::new(),
        out,
        decoder: Decoder::new(MAX_PAYLOAD),
    };
    let result = connection
        .read_loop(&mut reader, &mut writer_task, handshake_timeout)
        .await;
    match result {
        Ok(()) => tracing::debug!(%peer, "adb connection closed"),
        Err(ConnectionError::Io(e)) => tracing::debug!(%peer, error = %e, "adb connection lost"),
        Err(e) => tracing::warn!(%peer, reason = %e, "closing adb connection"),
    }
    // Dropping the services and the writer closes the socket.
    drop(connection);
    writer_task.abort();
}
