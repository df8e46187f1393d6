//! Protocol tests with a raw host over TCP: streams, flow control, services, and malformed input.

use std::time::Duration;

use super::auth::{AUTH_RSAPUBLICKEY, AUTH_SIGNATURE, AUTH_TOKEN};
use super::message::{Command, Message, A_VERSION};
use super::shell::{packet, PacketReader, ID_CLOSE_STDIN, ID_EXIT, ID_STDERR, ID_STDIN, ID_STDOUT};
use super::tests_support::{binary_blob, key_line, sign, test_key, RawHost, Server};
use super::AuthPolicy;

const QUIET: Duration = Duration::from_millis(300);

fn online(server: &Server, max_payload: u32) -> RawHost {
    let mut host = RawHost::connect(server.addr);
    host.login(test_key(0), max_payload);
    host
}

fn packets(data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut reader = PacketReader::default();
    reader.feed(data);
    std::iter::from_fn(|| reader.next_packet().unwrap()).collect()
}

#[test]
fn shell_v1_merges_output_and_closes() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let mut host = online(&server, 1 << 20);
    host.open(11, "shell:echo hi");
    assert_eq!(host.read_to_close(11), b"hi\n");
    host.open(12, "shell:fail oops");
    assert_eq!(host.read_to_close(12), b"oops\n");
}

#[test]
fn shell_v2_separates_streams_and_reports_exit_code() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let mut host = online(&server, 1 << 20);
    host.open(3, "shell,v2,TERM=xterm-256color,raw:fail oops");
    let got = packets(&host.read_to_close(3));
    assert_eq!(
        got,
        vec![(ID_STDERR, b"oops\n".to_vec()), (ID_EXIT, vec![3])]
    );
    host.open(4, "shell,v2,raw:echo a b");
    let got = packets(&host.read_to_close(4));
    assert_eq!(
        got,
        vec![(ID_STDOUT, b"a b\n".to_vec()), (ID_EXIT, vec![0])]
    );
}

#[test]
fn interactive_shells_prompt_run_and_exit() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let mut host = online(&server, 1 << 20);
    let dev = host.open(5, "shell:");
    host.send(Message::new(
        Command::Wrte,
        5,
        dev,
        b"echo onf\x7fe\rfail bad\nexit\n".to_vec(),
    ));
    let out = host.read_to_close(5);
    // Pty by default: input is echoed (backspace too), line ends are CRLF, stderr is merged.
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "emu64xa:/ $ echo onf\x08 \x08e\r\none\r\nemu64xa:/ $ fail bad\r\nbad\r\nemu64xa:/ $ exit\r\n"
    );

    let dev = host.open(6, "shell,v2,raw:");
    let mut input = packet(ID_STDIN, b"echo two\n");
    input.extend(packet(ID_CLOSE_STDIN, b""));
    host.send(Message::new(Command::Wrte, 6, dev, input));
    let got = packets(&host.read_to_close(6));
    let stdout: Vec<u8> = got
        .iter()
        .filter(|(id, _)| *id == ID_STDOUT)
        .flat_map(|(_, d)| d.clone())
        .collect();
    assert_eq!(
        String::from_utf8(stdout).unwrap(),
        "emu64xa:/ $ two\nemu64xa:/ $ "
    );
    assert_eq!(got.last(), Some(&(ID_EXIT, vec![0])));
}

#[test]
fn unknown_services_are_closed() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let mut host = online(&server, 1 << 20);
    for service in [
        "framebuffer:",
        "tcpip:5555",
        "exec:",
        "shellfish:",
        "jdwp:1",
    ] {
        host.send(Message::new(
            Command::Open,
            77,
            0,
            format!("{service}\0").into_bytes(),
        ));
        let reply = host.recv();
        assert_eq!(
            (reply.command, reply.arg0, reply.arg1),
            (Command::Clse, 0, 77),
            "{service}"
        );
    }
    host.open(78, "shell:true");
    assert_eq!(host.read_to_close(78), b"");
}

#[test]
fn device_waits_for_okay_before_the_next_write() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let mut host = online(&server, 4096);
    let dev = host.open(9, "exec:big 10000");
    let first = host.recv();
    assert_eq!((first.command, first.payload.len()), (Command::Wrte, 4096));
    assert_eq!(host.try_recv(QUIET), None, "second WRTE sent before OKAY");
    host.send(Message::new(Command::Okay, 9, dev, Vec::new()));
    let second = host.recv();
    assert_eq!(
        (second.command, second.payload.len()),
        (Command::Wrte, 4096)
    );
    host.send(Message::new(Command::Okay, 9, dev, Vec::new()));
    let mut rest = host.read_to_close(9);
    let mut all = [first.payload, second.payload].concat();
    all.append(&mut rest);
    assert_eq!(all, binary_blob(10000));
}

#[test]
fn streams_interleave_on_one_connection() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let mut host = online(&server, 4096);
    let ids = [21u32, 22, 23];
    for id in ids {
        let name = format!("exec:big {}\0", 9000 + id);
        host.send(Message::new(Command::Open, id, 0, name.into_bytes()));
    }
    let mut data = std::collections::HashMap::new();
    let mut open = ids.len();
    while open > 0 {
        let message = host.recv();
        match message.command {
            Command::Wrte => {
                data.entry(message.arg1)
                    .or_insert_with(Vec::new)
                    .extend(message.payload);
                host.send(Message::new(
                    Command::Okay,
                    message.arg1,
                    message.arg0,
                    Vec::new(),
                ));
            }
            Command::Clse => open -= 1,
            Command::Okay => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    for id in ids {
        assert_eq!(data[&id], binary_blob(9000 + id as usize));
    }
}

#[test]
fn reboot_calls_the_hook_and_drops_the_connection() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let mut host = online(&server, 1 << 20);
    host.open(1, "reboot:bootloader");
    assert!(host.closed_within(Duration::from_secs(5)));
    assert_eq!(
        *server.device.reboots.lock().unwrap(),
        vec!["bootloader".to_string()]
    );
}

#[test]
fn known_only_keeps_an_unknown_host_waiting() {
    let server = Server::start(AuthPolicy::KnownOnly);
    let mut host = RawHost::connect(server.addr);
    let token = host.hello(1 << 20);
    assert_eq!((token.command, token.arg0), (Command::Auth, AUTH_TOKEN));
    host.send(Message::new(
        Command::Auth,
        AUTH_SIGNATURE,
        0,
        sign(test_key(1), &token.payload),
    ));
    let again = host.recv();
    assert_eq!((again.command, again.arg0), (Command::Auth, AUTH_TOKEN));
    host.send(Message::new(
        Command::Auth,
        AUTH_RSAPUBLICKEY,
        0,
        key_line(test_key(1), "x@y"),
    ));
    assert_eq!(host.try_recv(QUIET), None);
    // Still unauthorised: streams are not served.
    host.send(Message::new(
        Command::Open,
        1,
        0,
        b"shell:echo hi\0".to_vec(),
    ));
    assert_eq!(host.try_recv(QUIET), None);
    assert!(server.device.key_lines().is_empty());
}

#[test]
fn malformed_input_closes_only_that_connection() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let mut bad_checksum =
        Message::new(Command::Cnxn, A_VERSION, 4096, b"host::\0".to_vec()).encode();
    bad_checksum[16] ^= 0xff;
    // Until the device's CNXN, every message's checksum counts, not just the first.
    let mut bad_auth = Message::new(Command::Cnxn, A_VERSION, 4096, b"host::\0".to_vec()).encode();
    let mut signature = Message::new(Command::Auth, AUTH_SIGNATURE, 0, vec![1; 256]).encode();
    signature[16] ^= 0xff;
    bad_auth.extend(signature);
    let wrte = Command::Wrte.code();
    let huge: Vec<u8> = [wrte, 1, 1, u32::MAX, 0, !wrte]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let unknown = u32::from_le_bytes(*b"BOOM");
    let unknown: Vec<u8> = [unknown, 0, 0, 0, 0, !unknown]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let garbage = b"GET / HTTP/1.1\r\nHost: phone\r\n\r\n".to_vec();
    let mut survivor = online(&server, 1 << 20);
    for bytes in [garbage, bad_checksum, bad_auth, huge, unknown] {
        let mut host = RawHost::connect(server.addr);
        host.send_raw(&bytes);
        assert!(host.closed_within(Duration::from_secs(5)), "{bytes:?}");
    }
    // A write to a stream that was never opened.
    let mut host = online(&server, 1 << 20);
    host.send(Message::new(Command::Wrte, 5, 999, b"x".to_vec()));
    assert!(host.closed_within(Duration::from_secs(5)));
    // The listener and other connections carry on.
    survivor.open(2, "shell:echo still here");
    assert_eq!(survivor.read_to_close(2), b"still here\n");
    let mut fresh = online(&server, 1 << 20);
    fresh.open(1, "exec:echo new");
    assert_eq!(fresh.read_to_close(1), b"new\n");
}

#[test]
fn writes_after_close_are_ignored() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let mut host = online(&server, 1 << 20);
    let dev = host.open(1, "shell:echo x");
    assert_eq!(host.read_to_close(1), b"x\n");
    // Crossing a CLSE is a race every host can lose; adbd drops such writes.
    host.send(Message::new(Command::Wrte, 1, dev, b"late".to_vec()));
    host.send(Message::new(Command::Clse, 1, dev, Vec::new()));
    host.open(2, "exec:echo ok");
    assert_eq!(host.read_to_close(2), b"ok\n");
}

#[test]
fn silent_connections_time_out() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let device = super::tests_support::TestDevice::new(AuthPolicy::AcceptNew);
    runtime.block_on(async {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let peer = "127.0.0.1:1".parse().unwrap();
        let session = super::session::run(ours, peer, device, Duration::from_millis(200));
        let finished = tokio::time::timeout(Duration::from_secs(5), session).await;
        assert!(finished.is_ok(), "session outlived its handshake timeout");
        let mut buf = [0u8; 16];
        let n = tokio::io::AsyncReadExt::read(&mut theirs, &mut buf)
            .await
            .unwrap();
        assert_eq!(n, 0);
    });
}

#[test]
fn checksums_are_ignored_once_negotiated() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let mut host = online(&server, 1 << 20);
    // adb 29 sends data_check = 0 once both sides speak 0x01000001.
    let mut open = Message::new(Command::Open, 1, 0, b"exec:echo sum\0".to_vec()).encode();
    open[16..20].copy_from_slice(&0u32.to_le_bytes());
    host.send_raw(&open);
    assert_eq!(host.recv().command, Command::Okay);
    assert_eq!(host.read_to_close(1), b"sum\n");
}

#[test]
fn a_host_ignoring_flow_control_is_cut_off() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let mut host = online(&server, 4096);
    // exec does not read its input, and waits for an OKAY that never comes.
    let dev = host.open(1, "exec:big 100000");
    for _ in 0..32 {
        host.send(Message::new(Command::Wrte, 1, dev, vec![0; 1000]));
    }
    assert!(host.closed_within(Duration::from_secs(5)));
}
