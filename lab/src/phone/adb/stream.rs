//! Streams multiplexed on one connection: the table of open streams and each service's flow-controlled end.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Notify};

use super::message::{Command, Message};

/// Open streams allowed per connection; more OPENs are refused with CLSE.
const MAX_STREAMS: usize = 64;
/// Host writes queued per stream; a host honouring flow control has at most one in flight.
const STREAM_QUEUE: usize = 8;

/// What the connection's writer task is asked to do.
#[derive(Debug)]
pub enum Outgoing {
    /// Send this message.
    Message(Message),
    /// Flush and end the connection.
    Disconnect,
}

/// The stream is closed (by the host, or because the connection ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stream closed")]
pub struct Closed;

/// What became of a WRTE from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Handed to the stream's service.
    Delivered,
    /// For a stream that has since closed: dropped, as adbd does.
    Stale,
    /// For a stream id this connection never handed out.
    Unknown,
    /// The host ignored flow control and filled the stream's queue.
    Flooded,
}

/// The connection's end of one stream.
#[derive(Debug)]
struct Entry {
    remote_id: u32,
    data: mpsc::Sender<Vec<u8>>,
    acks: Arc<Notify>,
    // Dropped with the entry, which tells a service waiting for an OKAY that none will come.
    _closed: oneshot::Sender<()>,
}

/// The streams open on one connection, keyed by the device's (local) id.
#[derive(Debug)]
pub struct StreamTable {
    entries: HashMap<u32, Entry>,
    next_id: u32,
}

impl Default for StreamTable {
    fn default() -> StreamTable {
        StreamTable {
            entries: HashMap::new(),
            next_id: 1,
        }
    }
}

impl StreamTable {
    fn find(&mut self, local_id: u32, remote_id: u32) -> Option<&Entry> {
        let entry = self.entries.get(&local_id)?;
        // Hosts once sent CLSE(0, id) for normal closes; adbd accepts 0 as "any".
        (remote_id == 0 || entry.remote_id == remote_id).then_some(entry)
    }

    /// Opens a stream for host stream `remote_id`; `None` when the table is full.
    pub fn open(
        &mut self,
        remote_id: u32,
        out: mpsc::Sender<Outgoing>,
        max_payload: usize,
    ) -> Option<StreamIo> {
        self.entries.retain(|_, e| !e.data.is_closed());
        if self.entries.len() >= MAX_STREAMS {
            return None;
        }
        let local_id = self.next_id;
        self.next_id = self.next_id.checked_add(1)?;
        let (data_tx, data_rx) = mpsc::channel(STREAM_QUEUE);
        let (closed_tx, closed_rx) = oneshot::channel();
        let acks = Arc::new(Notify::new());
        self.entries.insert(
            local_id,
            Entry {
                remote_id,
                data: data_tx,
                acks: Arc::clone(&acks),
                _closed: closed_tx,
            },
        );
        Some(StreamIo {
            local_id,
            remote_id,
            data: data_rx,
            acks,
            closed: closed_rx,
            peer_closed: false,
            unacked: false,
            out,
            max_payload,
        })
    }

    /// Routes a host WRTE to its stream.
    pub fn deliver(&mut self, local_id: u32, remote_id: u32, data: Vec<u8>) -> Delivery {
        let handed_out = local_id != 0 && local_id < self.next_id;
        let Some(entry) = self.find(local_id, remote_id) else {
            return if handed_out {
                Delivery::Stale
            } else {
                Delivery::Unknown
            };
        };
        match entry.data.try_send(data) {
            Ok(()) => Delivery::Delivered,
            Err(mpsc::error::TrySendError::Full(_)) => Delivery::Flooded,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.entries.remove(&local_id);
                Delivery::Stale
            }
        }
    }

    /// Routes a host OKAY (our previous WRTE was consumed).
    pub fn ack(&mut self, local_id: u32, remote_id: u32) {
        if let Some(entry) = self.find(local_id, remote_id) {
            entry.acks.notify_one();
        }
    }

    /// Handles a host CLSE: the service sees end of input and gets no more OKAYs.
    pub fn close(&mut self, local_id: u32, remote_id: u32) {
        if self.find(local_id, remote_id).is_some() {
            self.entries.remove(&local_id);
        }
    }

    /// Closes every stream (host reconnected or connection ending).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// A service's end of a stream: reads acknowledge, writes wait for the host's OKAY.
#[derive(Debug)]
pub struct StreamIo {
    local_id: u32,
    remote_id: u32,
    data: mpsc::Receiver<Vec<u8>>,
    acks: Arc<Notify>,
    closed: oneshot::Receiver<()>,
    peer_closed: bool,
    unacked: bool,
    out: mpsc::Sender<Outgoing>,
    max_payload: usize,
}

impl StreamIo {
    /// The device's id for this stream.
    pub fn local_id(&self) -> u32 {
        self.local_id
    }

    /// Largest payload of one WRTE on this connection.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    async fn send(&self, command: Command, payload: Vec<u8>) -> Result<(), Closed> {
        let message = Message::new(command, self.local_id, self.remote_id, payload);
        self.out
            .send(Outgoing::Message(message))
            .await
            .map_err(|_| Closed)
    }

    /// The next data the host wrote, acknowledged; `None` once the host closed the stream.
    pub async fn read(&mut self) -> Option<Vec<u8>> {
        let Some(data) = self.data.recv().await else {
            self.peer_closed = true;
            return None;
        };
        // Acknowledging only once consumed is what limits the host to one write in flight.
        self.send(Command::Okay, Vec::new()).await.ok()?;
        Some(data)
    }

    /// Sends one WRTE with exactly this payload, after the host acknowledged the previous one.
    pub async fn write_packet(&mut self, payload: Vec<u8>) -> Result<(), Closed> {
        if self.peer_closed {
            return Err(Closed);
        }
        if self.unacked {
            tokio::select! {
                () = self.acks.notified() => {}
                _ = &mut self.closed => {
                    self.peer_closed = true;
                    return Err(Closed);
                }
            }
        }
        self.send(Command::Wrte, payload).await?;
        self.unacked = true;
        Ok(())
    }

    /// Sends `data` in as many WRTEs as the negotiated payload size needs.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), Closed> {
        for chunk in data.chunks(self.max_payload.max(1)) {
            self.write_packet(chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// Closes the stream from the device side (no-op if the host already did).
    pub async fn close(mut self) {
        if self.peer_closed {
            return;
        }
        // Empty means the connection still holds the stream's entry: the host has not closed it.
        if let Err(oneshot::error::TryRecvError::Empty) = self.closed.try_recv() {
            let _ = self.send(Command::Clse, Vec::new()).await;
        }
    }

    /// Closes the stream and then the whole connection (reboot).
    pub async fn disconnect(self) {
        let out = self.out.clone();
        self.close().await;
        let _ = out.send(Outgoing::Disconnect).await;
    }
}
