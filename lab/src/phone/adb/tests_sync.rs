//! Tests of the sync service with a raw host: framing across writes, limits, and escaping paths.

use super::message::{Command, Message};
use super::sync::{resolve, SYNC_DATA_MAX};
use super::tests_support::{test_key, RawHost, Server};
use super::AuthPolicy;

fn request(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn word(id: &[u8; 4], value: u32) -> Vec<u8> {
    [&id[..], &value.to_le_bytes()].concat()
}

/// A logged-in host with a `sync:` stream open as host stream 1.
fn sync_session(server: &Server) -> (RawHost, u32) {
    let mut host = RawHost::connect(server.addr);
    host.login(test_key(0), 1 << 20);
    let dev = host.open(1, "sync:");
    (host, dev)
}

/// Sends `bytes` as WRTEs of `piece` bytes, waiting for each OKAY as a host must.
fn send(host: &mut RawHost, dev: u32, bytes: &[u8], piece: usize) {
    for chunk in bytes.chunks(piece) {
        host.send(Message::new(Command::Wrte, 1, dev, chunk.to_vec()));
        let ack = host.recv();
        assert_eq!(ack.command, Command::Okay);
    }
}

/// The device's sync replies up to and including its CLSE.
fn replies(host: &mut RawHost) -> Vec<u8> {
    host.read_to_close(1)
}

#[test]
fn resolve_maps_into_root_and_refuses_dot_dot() {
    let root = std::path::Path::new("/lab/phone");
    assert_eq!(resolve(root, b"/sdcard/x").unwrap(), root.join("sdcard/x"));
    assert_eq!(
        resolve(root, b"sdcard//./x/").unwrap(),
        root.join("sdcard/x")
    );
    assert_eq!(resolve(root, b"/").unwrap(), root);
    assert_eq!(resolve(root, b"/sdcard/../../etc/passwd"), None);
    assert_eq!(resolve(root, b"/sdcard/a\0b"), None);
}

#[test]
fn send_survives_any_write_boundaries_then_stat_and_list() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let (mut host, dev) = sync_session(&server);
    let content: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
    let mut stream = request(b"SEND", b"/sdcard/a/b/f.bin,33188");
    for part in content.chunks(3000) {
        stream.extend(request(b"DATA", part));
    }
    stream.extend(word(b"DONE", 1_600_000_000));
    // Byte-sized writes split every header and path.
    send(&mut host, dev, &stream[..40], 1);
    send(&mut host, dev, &stream[40..], 777);
    let status = host.recv();
    assert_eq!(status.payload, word(b"OKAY", 0));
    host.send(Message::new(Command::Okay, 1, dev, Vec::new()));
    let stored = server.device.root().join("sdcard/a/b/f.bin");
    assert_eq!(std::fs::read(&stored).unwrap(), content);
    let mtime = std::fs::metadata(&stored).unwrap().modified().unwrap();
    assert_eq!(
        mtime,
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000)
    );

    send(
        &mut host,
        dev,
        &request(b"STAT", b"/sdcard/a/b/f.bin"),
        1 << 20,
    );
    let stat = host.recv().payload;
    assert_eq!(&stat[..4], b"STAT");
    assert_eq!(u32::from_le_bytes(stat[8..12].try_into().unwrap()), 5000);
    assert_eq!(
        u32::from_le_bytes(stat[12..16].try_into().unwrap()),
        1_600_000_000
    );
    host.send(Message::new(Command::Okay, 1, dev, Vec::new()));

    send(&mut host, dev, &request(b"LIST", b"/sdcard/a/b"), 1 << 20);
    let list = host.recv().payload;
    assert_eq!(&list[..4], b"DENT");
    assert_eq!(&list[20..], b"f.bin");
    host.send(Message::new(Command::Okay, 1, dev, Vec::new()));
    assert_eq!(host.recv().payload, [&b"DONE"[..], &[0; 16]].concat());
    host.send(Message::new(Command::Okay, 1, dev, Vec::new()));

    send(&mut host, dev, &request(b"STAT", b"/"), 1 << 20);
    let stat = host.recv().payload;
    let mode = u32::from_le_bytes(stat[4..8].try_into().unwrap());
    assert_eq!(mode & 0o170_000, 0o040_000, "root is a directory: {stat:?}");
    host.send(Message::new(Command::Okay, 1, dev, Vec::new()));

    send(&mut host, dev, &word(b"QUIT", 0), 1 << 20);
    assert_eq!(replies(&mut host), b"");
}

#[test]
fn escaping_paths_fail_and_end_the_session() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let outside = server.device.dir.path().join("secret");
    std::fs::write(&outside, b"no").unwrap();
    std::os::unix::fs::symlink(&outside, server.device.root().join("sdcard/link")).unwrap();
    for (id, path) in [
        (b"RECV", &b"/../secret"[..]),
        (b"RECV", b"/sdcard/link"),
        (b"SEND", b"/sdcard/link,33188"),
        (b"LIST", b"/sdcard/../.."),
    ] {
        let (mut host, dev) = sync_session(&server);
        let mut stream = request(id, path);
        if id == b"SEND" {
            stream.extend(request(b"DATA", b"overwrite"));
            stream.extend(word(b"DONE", 0));
        }
        send(&mut host, dev, &stream, 1 << 20);
        let got = replies(&mut host);
        assert_eq!(&got[..4], b"FAIL", "{}", String::from_utf8_lossy(path));
        assert!(String::from_utf8_lossy(&got).contains("escapes"));
    }
    assert_eq!(std::fs::read(&outside).unwrap(), b"no");
}

#[test]
fn bad_requests_fail() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let too_big = u32::try_from(SYNC_DATA_MAX + 1).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (request(b"RECV", b"/sdcard/missing"), "open failed"),
        (word(b"STAT", 5000), "path too long"),
        (word(b"WHAT", 0), "unknown command"),
        (
            [request(b"SEND", b"/sdcard/f,420"), word(b"DATA", too_big)].concat(),
            "invalid data",
        ),
    ];
    for (stream, expected) in cases {
        let (mut host, dev) = sync_session(&server);
        send(&mut host, dev, &stream, 1 << 20);
        let got = replies(&mut host);
        assert_eq!(&got[..4], b"FAIL");
        assert!(
            String::from_utf8_lossy(&got[8..]).contains(expected),
            "{got:?}"
        );
    }
    assert!(
        !server.device.root().join("sdcard/f").exists(),
        "partial file left behind"
    );
}

#[test]
fn recv_sends_bounded_chunks_then_done() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let content = vec![0x5a; SYNC_DATA_MAX * 2 + 10];
    std::fs::write(server.device.root().join("sdcard/big"), &content).unwrap();
    let (mut host, dev) = sync_session(&server);
    send(&mut host, dev, &request(b"RECV", b"/sdcard/big"), 1 << 20);
    let mut got = Vec::new();
    loop {
        let message = host.recv();
        host.send(Message::new(Command::Okay, 1, dev, Vec::new()));
        let p = message.payload;
        if &p[..4] == b"DONE" {
            break;
        }
        assert_eq!(&p[..4], b"DATA");
        let len = u32::from_le_bytes(p[4..8].try_into().unwrap()) as usize;
        assert!(len <= SYNC_DATA_MAX && len == p.len() - 8);
        got.extend_from_slice(&p[8..]);
    }
    assert!(got == content);
}
