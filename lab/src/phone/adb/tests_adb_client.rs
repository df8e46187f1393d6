//! End-to-end tests with the adb_client crate as the host, straight to the device over TCP.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adb_client::tcp::ADBTcpDevice;
use adb_client::{ADBDeviceExt, ADBListItemType};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

use super::tests_support::{binary_blob, test_key, Server};
use super::AuthPolicy;

/// adb_client reads its private key as PKCS#8 PEM, like ~/.android/adbkey.
fn write_key(dir: &tempfile::TempDir, which: usize) -> PathBuf {
    let path = dir.path().join(format!("adbkey{which}"));
    let pem = test_key(which).to_pkcs8_pem(LineEnding::LF).expect("pem");
    std::fs::write(&path, pem.as_bytes()).expect("write key");
    path
}

/// A `Write` the test can read while adb_client's reader thread fills it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn adb_client_shell_push_stat_pull_list_exec() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let keys = tempfile::tempdir().unwrap();
    let key = write_key(&keys, 0);
    let mut device = ADBTcpDevice::new_with_custom_private_key(server.addr, &key).expect("connect");
    // The first connection offered the public key; "Always allow" stored it.
    assert_eq!(server.device.key_lines().len(), 1);

    let mut out = Vec::new();
    device
        .shell_command(&"echo hello phone", Some(&mut out), None)
        .unwrap();
    assert_eq!(out, b"hello phone\n");

    let payload = binary_blob(200_000);
    device
        .push(&mut payload.as_slice(), &"/sdcard/Download/up.bin")
        .unwrap();
    let stored = server.device.root().join("sdcard/Download/up.bin");
    assert_eq!(std::fs::read(&stored).unwrap(), payload);

    let stat = device.stat(&"/sdcard/Download/up.bin").unwrap();
    assert_eq!(stat.file_size, 200_000);
    assert_eq!(
        stat.file_perm & 0o170_000,
        0o100_000,
        "mode {:o}",
        stat.file_perm
    );
    let missing = device.stat(&"/sdcard/nothing").unwrap();
    assert_eq!(missing.file_perm, 0);

    let mut pulled = Vec::new();
    device
        .pull(&"/sdcard/Download/up.bin", &mut pulled)
        .unwrap();
    assert_eq!(pulled.len(), payload.len());
    assert!(pulled == payload, "pulled bytes differ");

    let listing = device.list(&"/sdcard").unwrap();
    assert!(
        matches!(listing.as_slice(), [ADBListItemType::Directory(d)] if d.name == "Download"),
        "{listing:?}"
    );

    let sink = Shared::default();
    device
        .exec("blob", &mut std::io::empty(), Box::new(sink.clone()))
        .unwrap();
    let expected = binary_blob(70_000);
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.0.lock().unwrap().len() < expected.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = sink.0.lock().unwrap().clone();
    let first_diff = got.iter().zip(&expected).position(|(a, b)| a != b);
    assert!(
        got == expected,
        "exec output differs: {} bytes, first difference at {first_diff:?}",
        got.len()
    );
}

#[test]
fn adb_client_reconnects_with_a_signature() {
    let server = Server::start(AuthPolicy::AcceptNew);
    let keys = tempfile::tempdir().unwrap();
    let key = write_key(&keys, 1);
    drop(ADBTcpDevice::new_with_custom_private_key(server.addr, &key).expect("first"));
    let mut device = ADBTcpDevice::new_with_custom_private_key(server.addr, &key).expect("second");
    assert_eq!(server.device.key_lines().len(), 1, "known key stored twice");
    let mut out = Vec::new();
    device
        .shell_command(&"echo again", Some(&mut out), None)
        .unwrap();
    assert_eq!(out, b"again\n");
}

#[test]
fn adb_client_gets_known_keys_only_when_policy_says_so() {
    let server = Server::start(AuthPolicy::KnownOnly);
    let keys = tempfile::tempdir().unwrap();
    let key = write_key(&keys, 0);
    let mut line = super::tests_support::key_line(test_key(0), "ci@lab");
    line.pop();
    std::fs::write(server.device.keys_path(), line).unwrap();
    let mut device = ADBTcpDevice::new_with_custom_private_key(server.addr, &key).expect("connect");
    let mut out = Vec::new();
    device
        .shell_command(&"echo known", Some(&mut out), None)
        .unwrap();
    assert_eq!(out, b"known\n");
}
