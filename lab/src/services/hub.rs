//! The shared state of one messaging app's backend(s): sessions, mailboxes, messages in flight.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, Notify};

use super::{DELIVERY_WINDOW, MAILBOX_CAPACITY};

/// Most messages waiting in all mailboxes of one hub together. Without it, a client could fill
/// memory by sending to ever new user names.
const HUB_QUEUED_CAPACITY: usize = 20_000;

/// Shared state of one messaging app's backend(s): users' live connections and mailboxes. Several
/// backend addresses of the same app (e.g. a GeoDNS app with a CN and an EU backend) share one hub.
pub struct ChatHub {
    app: String,
    next_conn: AtomicU64,
    state: Mutex<HubState>,
}

impl std::fmt::Debug for ChatHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatHub")
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

/// A logged-in connection, as the hub sees it.
pub(crate) struct Session {
    pub(crate) conn: u64,
    pub(crate) peer: SocketAddr,
    /// The connection's bounded outgoing queue of lines.
    pub(crate) tx: mpsc::Sender<String>,
    /// Notified when the hub drops the connection (overflow, replaced by a newer login).
    pub(crate) kill: Arc<Notify>,
}

struct Message {
    id: u64,
    from: String,
    text: String,
}

#[derive(Default)]
struct User {
    session: Option<Session>,
    queued: VecDeque<Message>,
    in_flight: BTreeMap<u64, Message>,
}

#[derive(Default)]
struct HubState {
    next_id: u64,
    queued_total: usize,
    users: HashMap<String, User>,
}

/// Why a `SEND` was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SendRefused {
    /// The sender's own outgoing queue is full: drop the sender's connection.
    SenderOverflow,
    /// All mailboxes of the hub together are full.
    HubFull,
}

/// Why an `ACK` was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AckRefused {
    /// No such message is in flight to this connection.
    NotInFlight,
}

impl ChatHub {
    /// A hub for the app called `app` (the name appears in the log).
    pub fn new(app: &str) -> Arc<Self> {
        Arc::new(Self {
            app: app.to_owned(),
            next_conn: AtomicU64::new(1),
            state: Mutex::new(HubState {
                next_id: 1,
                ..HubState::default()
            }),
        })
    }

    /// The app's name.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// A fresh connection number, to tell sessions of the same user apart.
    pub(crate) fn next_conn(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // The state stays consistent across a panicking holder (no multi-step invariants are
        // left half-done by the code below), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs `user` in on `session`: replies `OK <user>` and starts delivering its mailbox. An
    /// older session of the same user is closed. Returns false if the new session's own queue
    /// overflowed (it is then not registered).
    pub(crate) fn login(&self, user: &str, session: Session) -> bool {
        if session.tx.try_send(format!("OK {user}")).is_err() {
            return false;
        }
        let mut guard = self.lock();
        let state = &mut *guard;
        let entry = state.users.entry(user.to_owned()).or_default();
        if let Some(old) = entry.session.take() {
            tracing::info!(app = %self.app, user, peer = %old.peer, new_peer = %session.peer,
                "chat session replaced by a newer login");
            old.kill.notify_one();
            self.requeue_in_flight(entry, user, &mut state.queued_total);
        }
        tracing::info!(app = %self.app, user, peer = %session.peer, waiting = entry.queued.len(),
            "chat login");
        entry.session = Some(session);
        self.pump(state, user);
        true
    }

    /// Ends `conn`'s session of `user` (no-op if it was already replaced or dropped).
    pub(crate) fn logout(&self, user: &str, conn: u64) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(entry) = state.users.get_mut(user) else {
            return;
        };
        if let Some(old) = entry.session.take_if(|s| s.conn == conn) {
            tracing::info!(app = %self.app, user, peer = %old.peer,
                unacked = entry.in_flight.len(), "chat logout");
            self.requeue_in_flight(entry, user, &mut state.queued_total);
            forget_if_idle(state, user);
        }
    }

    /// Queues a message from `from` (replying `QUEUED <id>` on `reply`) and delivers it if the
    /// recipient is connected.
    pub(crate) fn send(
        &self,
        from: &str,
        peer: SocketAddr,
        reply: &mpsc::Sender<String>,
        to: &str,
        text: &str,
    ) -> Result<u64, SendRefused> {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.queued_total >= HUB_QUEUED_CAPACITY {
            tracing::warn!(app = %self.app, user = from, %peer, to, "chat hub full, message refused");
            return Err(SendRefused::HubFull);
        }
        // Reserve before assigning the id so that QUEUED is the sender's first news of it.
        let permit = reply
            .try_reserve()
            .map_err(|_| SendRefused::SenderOverflow)?;
        let id = state.next_id;
        state.next_id = state.next_id.wrapping_add(1);
        permit.send(format!("QUEUED {id}"));
        tracing::info!(app = %self.app, user = from, %peer, id, to, len = text.len(),
            "chat message queued");

        let entry = state.users.entry(to.to_owned()).or_default();
        entry.queued.push_back(Message {
            id,
            from: from.to_owned(),
            text: text.to_owned(),
        });
        state.queued_total += 1;
        self.enforce_capacity(entry, to, &mut state.queued_total);
        self.pump(state, to);
        Ok(id)
    }

    /// Handles `ACK <id>` from `conn` logged in as `user`: notifies the sender and delivers the
    /// next waiting message.
    pub(crate) fn ack(&self, user: &str, conn: u64, id: u64) -> Result<(), AckRefused> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let entry = state.users.get_mut(user).ok_or(AckRefused::NotInFlight)?;
        let peer = match &entry.session {
            Some(s) if s.conn == conn => s.peer,
            _ => return Err(AckRefused::NotInFlight),
        };
        let msg = entry.in_flight.remove(&id).ok_or(AckRefused::NotInFlight)?;
        tracing::info!(app = %self.app, user, %peer, id, from = %msg.from, "chat message acked");

        if let Some(sender) = state.users.get_mut(&msg.from) {
            if let Some(session) = &sender.session {
                let sender_peer = session.peer;
                match session.tx.try_send(format!("DELIVERED {id}")) {
                    Ok(()) => tracing::info!(app = %self.app, user = %msg.from,
                        peer = %sender_peer, id, "chat delivery reported to sender"),
                    Err(e) => {
                        self.drop_session(sender, &msg.from, &e, &mut state.queued_total);
                    }
                }
            }
        }
        forget_if_idle(state, &msg.from);
        self.pump(state, user);
        Ok(())
    }

    /// Sends waiting messages to `user`'s session while its delivery window has room.
    fn pump(&self, state: &mut HubState, user: &str) {
        let Some(entry) = state.users.get_mut(user) else {
            return;
        };
        while entry.in_flight.len() < DELIVERY_WINDOW {
            let Some(session) = &entry.session else {
                break;
            };
            let Some(msg) = entry.queued.pop_front() else {
                break;
            };
            state.queued_total = state.queued_total.saturating_sub(1);
            let line = format!("MSG {} {} {}", msg.id, msg.from, msg.text);
            match session.tx.try_send(line) {
                Ok(()) => {
                    tracing::info!(app = %self.app, user, peer = %session.peer, id = msg.id,
                        from = %msg.from, "chat message delivered");
                    entry.in_flight.insert(msg.id, msg);
                }
                Err(e) => {
                    entry.queued.push_front(msg);
                    state.queued_total += 1;
                    self.drop_session(entry, user, &e, &mut state.queued_total);
                    break;
                }
            }
        }
        forget_if_idle(state, user);
    }

    /// Drops `user`'s session after its queue refused a line: a full queue means a peer that does
    /// not read, a closed one a connection that is ending anyway.
    fn drop_session<T>(
        &self,
        entry: &mut User,
        user: &str,
        why: &TrySendError<T>,
        queued_total: &mut usize,
    ) {
        if let Some(session) = entry.session.take() {
            let reason = match why {
                TrySendError::Full(_) => "outgoing queue full",
                TrySendError::Closed(_) => "connection closed",
            };
            tracing::info!(app = %self.app, user, peer = %session.peer, reason,
                "chat session dropped");
            session.kill.notify_one();
        }
        self.requeue_in_flight(entry, user, queued_total);
    }

    /// Puts messages that were sent but not acknowledged back at the front of the mailbox, in id
    /// order, so that they are delivered again at the next login.
    fn requeue_in_flight(&self, entry: &mut User, user: &str, queued_total: &mut usize) {
        let in_flight = std::mem::take(&mut entry.in_flight);
        *queued_total += in_flight.len();
        for (_, msg) in in_flight.into_iter().rev() {
            entry.queued.push_front(msg);
        }
        self.enforce_capacity(entry, user, queued_total);
    }

    /// Drops the oldest waiting messages beyond the mailbox capacity.
    fn enforce_capacity(&self, entry: &mut User, user: &str, queued_total: &mut usize) {
        while entry.queued.len() > MAILBOX_CAPACITY {
            if let Some(old) = entry.queued.pop_front() {
                *queued_total = queued_total.saturating_sub(1);
                tracing::info!(app = %self.app, user, id = old.id, from = %old.from,
                    "chat mailbox full, oldest message dropped");
            }
        }
    }
}

/// Forgets `user` if nothing refers to it any more, so that the user table stays small.
fn forget_if_idle(state: &mut HubState, user: &str) {
    if state
        .users
        .get(user)
        .is_some_and(|u| u.session.is_none() && u.queued.is_empty() && u.in_flight.is_empty())
    {
        state.users.remove(user);
    }
}
