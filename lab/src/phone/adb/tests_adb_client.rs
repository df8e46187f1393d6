//! End-to-end tests with the adb_client crate as the host, straight to the device over TCP.

use std::path::PathBuf;
use std::time::Duration;

use adb_client::tcp::ADBTcpDevice;
use adb_client::{ADBDeviceExt, ADBListItemType};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

use super::tests_support::{binary_blob, test_key, within, Server};
use super::AuthPolicy;

/// adb_client blocks forever on a lost message; a hung test should fail instead.
const LIMIT: Duration = Duration::from_secs(60);

/// adb_client reads its private key as PKCS#8 PEM, like ~/.android/adbkey.
fn write_key(dir: &tempfile::TempDir, which: usize) -> PathBuf {
    let path = dir.path().join(format!("adbkey{which}"));
    let pem = test_key(which).to_pkcs8_pem(LineEnding::LF).expect("pem");
    std::fs::write(&path, pem.as_bytes()).expect("write key");
    path
}

#[test]
fn adb_client_shell_push_stat_pull_list() {
    within(LIMIT, adb_client_shell_push_stat_pull_list_body);
}

fn adb_client_shell_push_stat_pull_list_body() {
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

    // adb_client's `exec` reads and discards whatever arrives in its first ~20 ms while its
    // reader thread starts, so its output is lost at random under load; binary-exact `exec:`
    // is checked with the real adb client (`exec-out`) instead.
}

#[test]
fn adb_client_reconnects_with_a_signature() {
    within(LIMIT, adb_client_reconnects_with_a_signature_body);
}

fn adb_client_reconnects_with_a_signature_body() {
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
    within(
        LIMIT,
        adb_client_gets_known_keys_only_when_policy_says_so_body,
    );
}

fn adb_client_gets_known_keys_only_when_policy_says_so_body() {
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
