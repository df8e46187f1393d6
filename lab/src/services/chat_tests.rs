//! Tests of the chat relay and client, over real sockets on 127.0.0.1.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// Upper bound for any single step; never a synchronisation device.
const LIMIT: Duration = Duration::from_secs(10);
const SNI: &str = "chat.example.lab";

async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("step did not finish in time")
}

async fn start_tcp(hub: &Arc<ChatHub>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_chat(listener, Arc::clone(hub)));
    addr
}

async fn start_tls(hub: &Arc<ChatHub>, ca: &LabCa) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ca.server_config(&[SNI.to_owned()]).unwrap();
    tokio::spawn(serve_chat_tls(listener, Arc::clone(hub), config));
    addr
}

async fn client(addr: SocketAddr, user: &str) -> ChatClient {
    let mut client = within(ChatClient::connect(addr)).await.unwrap();
    within(client.login(user)).await.unwrap();
    client
}

async fn tls_client(addr: SocketAddr, ca: &LabCa, user: &str) -> ChatClient {
    let config = ca.client_config().unwrap();
    let mut client = within(ChatClient::connect_tls(addr, SNI, config))
        .await
        .unwrap();
    within(client.login(user)).await.unwrap();
    client
}

/// `from` sends to `to`'s user, `to` receives and acks, `from` learns of the delivery.
async fn relay(from: &mut ChatClient, to: &mut ChatClient, text: &str) {
    let sender = from.user().unwrap().to_owned();
    let recipient = to.user().unwrap().to_owned();
    let id = within(from.send(&recipient, text)).await.unwrap();
    let event = within(to.next_event()).await.unwrap();
    assert_eq!(
        event,
        ChatEvent::Msg {
            id,
            from: sender,
            text: text.to_owned()
        }
    );
    within(to.ack(id)).await.unwrap();
    assert_eq!(
        within(from.next_event()).await.unwrap(),
        ChatEvent::Delivered { id }
    );
}

/// A raw protocol connection, for what the client library does not let one send.
struct Raw(BufReader<TcpStream>);

impl Raw {
    async fn connect(addr: SocketAddr) -> Self {
        Raw(BufReader::new(TcpStream::connect(addr).await.unwrap()))
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.0.get_mut().write_all(bytes).await.unwrap();
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        let n = within(self.0.read_line(&mut line)).await.unwrap();
        assert!(n > 0, "connection closed, expected a line");
        line.trim_end_matches('\n').to_owned()
    }

    /// Asserts that the server closed the connection (EOF, or a reset).
    async fn assert_closed(&mut self) {
        let mut rest = Vec::new();
        match within(self.0.read_to_end(&mut rest)).await {
            Ok(_) => assert!(rest.is_empty(), "unexpected data {rest:?}"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        }
    }
}

#[tokio::test]
async fn relays_a_message_over_tcp() {
    let hub = ChatHub::new("testapp");
    let addr = start_tcp(&hub).await;
    let mut alice = client(addr, "alice").await;
    let mut bob = client(addr, "bob").await;
    relay(&mut alice, &mut bob, "hello bob, how are you?").await;
    relay(&mut bob, &mut alice, "fine").await;
}

#[tokio::test]
async fn relays_over_tls_and_verifies_the_lab_ca() {
    let ca = LabCa::generate().unwrap();
    let hub = ChatHub::new("testapp");
    let addr = start_tls(&hub, &ca).await;

    // A client that trusts another CA must refuse the server.
    let stranger = LabCa::generate().unwrap();
    let err = within(ChatClient::connect_tls(
        addr,
        SNI,
        stranger.client_config().unwrap(),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::Tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ),
        "{err:?}"
    );
    // So must a client asking for a name the certificate does not carry.
    let err = within(ChatClient::connect_tls(
        addr,
        "other.example.lab",
        ca.client_config().unwrap(),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(
            &err,
            ServiceError::Tls(rustls::Error::InvalidCertificate(_))
        ) && format!("{err:?}").contains("NotValidForName"),
        "{err:?}"
    );

    let mut alice = tls_client(addr, &ca, "alice").await;
    let mut bob = tls_client(addr, &ca, "bob").await;
    relay(&mut alice, &mut bob, "over TLS").await;
}

#[tokio::test]
async fn delivers_to_an_offline_user_when_it_logs_in() {
    let hub = ChatHub::new("testapp");
    let addr = start_tcp(&hub).await;
    let mut alice = client(addr, "alice").await;
    let first = within(alice.send("carol", "one")).await.unwrap();
    let second = within(alice.send("carol", "two words")).await.unwrap();
    assert_ne!(first, second);

    let mut carol = client(addr, "carol").await;
    for (id, text) in [(first, "one"), (second, "two words")] {
        let event = within(carol.next_event()).await.unwrap();
        assert_eq!(
            event,
            ChatEvent::Msg {
                id,
                from: "alice".into(),
                text: text.into()
            }
        );
        within(carol.ack(id)).await.unwrap();
        assert_eq!(
            within(alice.next_event()).await.unwrap(),
            ChatEvent::Delivered { id }
        );
    }
}

#[tokio::test]
async fn redelivers_unacknowledged_messages_after_reconnect() {
    let hub = ChatHub::new("testapp");
    let addr = start_tcp(&hub).await;
    let mut alice = client(addr, "alice").await;
    let mut bob = client(addr, "bob").await;
    let id = within(alice.send("bob", "are you there?")).await.unwrap();
    assert!(
        matches!(within(bob.next_event()).await.unwrap(), ChatEvent::Msg { id: got, .. } if got == id)
    );
    within(bob.close()).await.unwrap();

    let mut bob = client(addr, "bob").await;
    let again = within(bob.next_event()).await.unwrap();
    assert!(
        matches!(again, ChatEvent::Msg { id: got, .. } if got == id),
        "{again:?}"
    );
    within(bob.ack(id)).await.unwrap();
    assert_eq!(
        within(alice.next_event()).await.unwrap(),
        ChatEvent::Delivered { id }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_sharing_a_hub_relay_between_their_clients() {
    let ca = LabCa::generate().unwrap();
    let hub = ChatHub::new("geoapp");
    let cn = start_tcp(&hub).await;
    let eu = start_tls(&hub, &ca).await;
    let mut wang = client(cn, "wang").await;
    let mut anna = tls_client(eu, &ca, "anna").await;
    relay(&mut wang, &mut anna, "ni hao").await;
    relay(&mut anna, &mut wang, "hallo").await;

    // A separate hub (another app) does not see these users.
    let other = ChatHub::new("otherapp");
    let other_addr = start_tcp(&other).await;
    let mut eve = client(other_addr, "eve").await;
    within(eve.send("anna", "hi")).await.unwrap();
    within(anna.ping()).await.unwrap();
    // Anna's next event is what wang sends now, not eve's message.
    let from_wang = within(wang.send("anna", "still there?")).await.unwrap();
    assert!(
        matches!(within(anna.next_event()).await.unwrap(), ChatEvent::Msg { id, .. } if id == from_wang)
    );
}

#[tokio::test]
async fn a_newer_login_takes_over() {
    let hub = ChatHub::new("testapp");
    let addr = start_tcp(&hub).await;
    let mut alice = client(addr, "alice").await;
    let mut old = client(addr, "bob").await;
    let mut new = client(addr, "bob").await;
    assert!(matches!(
        within(old.next_event()).await,
        Err(ServiceError::Closed | ServiceError::Io(_))
    ));
    relay(&mut alice, &mut new, "to the new session").await;
}

#[tokio::test]
async fn errors_keep_the_connection_open() {
    let hub = ChatHub::new("testapp");
    let addr = start_tcp(&hub).await;
    let mut raw = Raw::connect(addr).await;
    raw.send(b"PING\nSEND bob hi\nACK 1\nHELLO\nHELLO two words\n")
        .await;
    assert_eq!(raw.line().await, "PONG");
    assert_eq!(raw.line().await, "ERR not logged in");
    assert_eq!(raw.line().await, "ERR not logged in");
    assert_eq!(raw.line().await, "ERR invalid user name");
    assert_eq!(raw.line().await, "ERR invalid user name");
    raw.send(b"HELLO dave\r\nFROBNICATE now\nSEND bob\nACK x\nACK 99\nHELLO eve\nPING\n")
        .await;
    assert_eq!(raw.line().await, "OK dave");
    assert_eq!(raw.line().await, "ERR unknown command");
    assert!(raw.line().await.starts_with("ERR usage: SEND"));
    assert!(raw.line().await.starts_with("ERR usage: ACK"));
    assert_eq!(raw.line().await, "ERR no message 99 awaiting ack");
    assert_eq!(raw.line().await, "ERR already logged in as dave");
    assert_eq!(raw.line().await, "PONG");

    // The client library reports a refused ACK at the next round trip.
    let mut frank = client(addr, "frank").await;
    within(frank.ack(12345)).await.unwrap();
    assert!(matches!(
        within(frank.ping()).await,
        Err(ServiceError::Server(_))
    ));
    within(frank.ping()).await.unwrap();
}

#[tokio::test]
async fn an_overlong_line_closes_only_that_connection() {
    let hub = ChatHub::new("testapp");
    let addr = start_tcp(&hub).await;
    let mut alice = client(addr, "alice").await;
    let mut bob = client(addr, "bob").await;

    let mut raw = Raw::connect(addr).await;
    raw.send(b"HELLO mallory\n").await;
    assert_eq!(raw.line().await, "OK mallory");
    let mut long = b"SEND alice ".to_vec();
    long.resize(MAX_LINE_LEN + 100, b'a');
    long.push(b'\n');
    raw.send(&long).await;
    assert!(raw.line().await.starts_with("ERR line longer than"));
    raw.assert_closed().await;

    // A line of exactly the maximum length is fine.
    let text = "b".repeat(MAX_LINE_LEN - "SEND bob ".len());
    relay(&mut alice, &mut bob, &text).await;
}

#[tokio::test]
async fn invalid_utf8_closes_the_connection() {
    let hub = ChatHub::new("testapp");
    let addr = start_tcp(&hub).await;
    let mut raw = Raw::connect(addr).await;
    raw.send(b"PING\nSEND bob \xff\xfe\nPING\n").await;
    assert_eq!(raw.line().await, "PONG");
    assert_eq!(raw.line().await, "ERR invalid UTF-8");
    raw.assert_closed().await;
}

#[tokio::test]
async fn mailboxes_are_bounded_and_drop_the_oldest() {
    let hub = ChatHub::new("testapp");
    let addr = start_tcp(&hub).await;
    let mut alice = client(addr, "alice").await;
    let mut ids = Vec::new();
    for n in 0..MAILBOX_CAPACITY + 5 {
        ids.push(
            within(alice.send("zed", &format!("message {n}")))
                .await
                .unwrap(),
        );
    }

    let mut zed = client(addr, "zed").await;
    for (n, &id) in ids.iter().enumerate().skip(5) {
        let event = within(zed.next_event()).await.unwrap();
        assert_eq!(
            event,
            ChatEvent::Msg {
                id,
                from: "alice".into(),
                text: format!("message {n}")
            }
        );
        within(zed.ack(id)).await.unwrap();
    }
    // Nothing else was waiting: the next message is a new one.
    let last = within(alice.send("zed", "the end")).await.unwrap();
    assert!(
        matches!(within(zed.next_event()).await.unwrap(), ChatEvent::Msg { id, .. } if id == last)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_read_is_dropped() {
    let hub = ChatHub::new("testapp");
    let addr = start_tcp(&hub).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let pings = b"PING\n".repeat(16 * 1024);
    // Each PING queues a PONG that is never read; the server must give up on the connection
    // instead of buffering without bound. Bounded: at most 1 GiB is written.
    let dropped = tokio::time::timeout(Duration::from_secs(60), async {
        for _ in 0..(1 << 30) / pings.len() {
            if stream.write_all(&pings).await.is_err() {
                return true;
            }
        }
        false
    })
    .await
    .expect("writing did not end in time");
    assert!(
        dropped,
        "server kept accepting input from a peer that never reads"
    );

    // The server itself is fine.
    let mut alice = client(addr, "alice").await;
    let mut bob = client(addr, "bob").await;
    relay(&mut alice, &mut bob, "still working").await;
}

#[tokio::test]
async fn the_client_validates_arguments() {
    let hub = ChatHub::new("testapp");
    let addr = start_tcp(&hub).await;
    let mut alice = within(ChatClient::connect(addr)).await.unwrap();
    assert!(matches!(
        within(alice.login("two words")).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    within(alice.login("alice")).await.unwrap();
    assert!(matches!(
        within(alice.send("bob", "line\nbreak")).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    assert!(matches!(
        within(alice.send("bob", &"x".repeat(MAX_LINE_LEN))).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    within(alice.ping()).await.unwrap();
}
