//! Tests of host authentication: the Android key format, signatures, the key file and the handshake.

use base64::Engine;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;

use super::auth::{
    parse_android_pubkey, parse_key_line, verify_token, KeyStore, AUTH_RSAPUBLICKEY,
    AUTH_SIGNATURE, AUTH_TOKEN,
};
use super::handshake::{device_banner, Handshake, HandshakeError};
use super::message::{Command, Message, A_VERSION};
use super::tests_support::{android_pubkey, key_line, sign, test_key, TestDevice};
use super::{AuthPolicy, Device};

#[test]
fn android_pubkey_parses_to_the_same_key() {
    let key = test_key(0).to_public_key();
    let parsed = parse_android_pubkey(&android_pubkey(&key)).unwrap();
    assert_eq!(parsed, key);
}

#[test]
fn blob_without_full_rr_is_accepted() {
    // adb_client drops leading zero bytes of rr; the exponent then sits earlier.
    let key = test_key(0).to_public_key();
    let mut blob = android_pubkey(&key);
    blob.remove(8 + 256 + 255);
    assert_eq!(parse_android_pubkey(&blob).unwrap(), key);
}

#[test]
fn malformed_blobs_are_rejected() {
    let blob = android_pubkey(&test_key(0).to_public_key());
    assert!(parse_android_pubkey(&blob[..100]).is_err());
    assert!(parse_android_pubkey(&[blob.clone(), vec![0]].concat()).is_err());
    let mut words = blob.clone();
    words[0] = 32;
    assert!(parse_android_pubkey(&words).is_err());
    assert!(parse_android_pubkey(&[0u8; 524]).is_err());
    assert!(parse_key_line(b"").is_err());
    assert!(parse_key_line(b"not*base64 user@host").is_err());
    assert!(parse_key_line(&vec![b'A'; 5000]).is_err());
}

#[test]
fn key_line_takes_the_first_word_and_stops_at_nul() {
    let key = test_key(1);
    let line = key_line(key, "someone@somewhere");
    assert_eq!(parse_key_line(&line).unwrap(), key.to_public_key());
}

#[test]
fn token_signature_verifies_only_with_the_signing_key() {
    let token = [7u8; 20];
    let signature = sign(test_key(0), &token);
    assert!(verify_token(
        &test_key(0).to_public_key(),
        &token,
        &signature
    ));
    assert!(!verify_token(
        &test_key(1).to_public_key(),
        &token,
        &signature
    ));
    assert!(!verify_token(
        &test_key(0).to_public_key(),
        &[8u8; 20],
        &signature
    ));
    let mut tampered = signature.clone();
    tampered[0] ^= 1;
    assert!(!verify_token(
        &test_key(0).to_public_key(),
        &token,
        &tampered
    ));
}

#[test]
fn adb_keygen_output_matches_our_format() {
    if !std::path::Path::new("/usr/bin/adb").exists() {
        eprintln!("SKIPPED: /usr/bin/adb is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adbkey");
    let status = std::process::Command::new("/usr/bin/adb")
        .arg("keygen")
        .arg(&path)
        .env("HOME", dir.path())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let private = RsaPrivateKey::from_pkcs8_pem(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let line = std::fs::read(path.with_extension("pub")).unwrap();
    let parsed = parse_key_line(&line).unwrap();
    assert_eq!(parsed, private.to_public_key());
    // Byte-exact, so our test encoder (n0inv, rr) is right too.
    let encoded = line.split(|&b| b == b' ').next().unwrap();
    let blob = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(blob, android_pubkey(&private.to_public_key()));
    let token = [3u8; 20];
    assert!(verify_token(&parsed, &token, &sign(&private, &token)));
}

#[test]
fn key_store_appends_new_keys_once_and_skips_junk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("misc/adb/adb_keys");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "garbage line\n\n").unwrap();
    let mut store = KeyStore::load(&path);
    let key = test_key(0);
    assert!(!store.contains(&key.to_public_key()));
    let line = key_line(key, "evil\ncomment@host");
    store.authorise(&line, key.to_public_key()).unwrap();
    store.authorise(&line, key.to_public_key()).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 3, "{text:?}");
    assert!(text.ends_with(" evil comment@host\n"), "{text:?}");
    let reloaded = KeyStore::load(&path);
    assert!(reloaded.contains(&key.to_public_key()));
    let token = [1u8; 20];
    assert!(reloaded.verify(&token, &sign(key, &token)));
    assert!(!reloaded.verify(&token, &sign(test_key(1), &token)));
}

fn handshake(policy: AuthPolicy, device: &TestDevice) -> Handshake {
    Handshake::new(
        policy,
        KeyStore::load(&device.keys_path()),
        device_banner(&device.properties()),
    )
}

fn host_cnxn(max: u32) -> Message {
    Message::new(Command::Cnxn, A_VERSION, max, b"host::\0".to_vec())
}

fn auth(kind: u32, payload: Vec<u8>) -> Message {
    Message::new(Command::Auth, kind, 0, payload)
}

fn device_knowing_key_0() -> std::sync::Arc<TestDevice> {
    let device = TestDevice::new(AuthPolicy::KnownOnly);
    let line = key_line(test_key(0), "me@host");
    std::fs::write(device.keys_path(), &line[..line.len() - 1]).unwrap();
    device
}

#[test]
fn wrong_signature_gets_a_fresh_token() {
    let device = device_knowing_key_0();
    let mut hs = handshake(AuthPolicy::KnownOnly, &device);
    let token = hs.on_message(&host_cnxn(1 << 20)).unwrap().unwrap();
    assert_eq!(
        (token.command, token.arg0, token.payload.len()),
        (Command::Auth, AUTH_TOKEN, 20)
    );
    let wrong = hs.on_message(&auth(AUTH_SIGNATURE, sign(test_key(1), &token.payload)));
    let second = wrong.unwrap().unwrap();
    assert_eq!((second.command, second.arg0), (Command::Auth, AUTH_TOKEN));
    assert_ne!(second.payload, token.payload);
    // The first token is spent: signing it now does not get in.
    let replay = hs.on_message(&auth(AUTH_SIGNATURE, sign(test_key(0), &token.payload)));
    assert_eq!(replay.unwrap().unwrap().command, Command::Auth);
    assert!(!hs.is_online());
    assert!(hs.checksums_required());
}

#[test]
fn handshake_signs_in_a_known_key() {
    let device = device_knowing_key_0();
    let mut hs = handshake(AuthPolicy::KnownOnly, &device);
    let token = hs.on_message(&host_cnxn(1 << 20)).unwrap().unwrap();
    let reply = hs.on_message(&auth(AUTH_SIGNATURE, sign(test_key(0), &token.payload)));
    let cnxn = reply.unwrap().unwrap();
    assert_eq!(
        (cnxn.command, cnxn.arg0, cnxn.arg1),
        (Command::Cnxn, A_VERSION, 256 * 1024)
    );
    let banner = String::from_utf8(cnxn.payload).unwrap();
    assert_eq!(
        banner,
        "device::ro.product.name=sdk_gphone64_x86_64;ro.product.model=Lab Phone;\
         ro.product.device=emu64xa;features=shell_v2,cmd,fixed_push_mkdir"
    );
    assert!(hs.is_online());
    assert!(!hs.checksums_required());
    assert_eq!(hs.max_payload(), 256 * 1024);
}

#[test]
fn known_only_refuses_an_offered_key() {
    let device = TestDevice::new(AuthPolicy::KnownOnly);
    let mut hs = handshake(AuthPolicy::KnownOnly, &device);
    hs.on_message(&host_cnxn(4096)).unwrap();
    let reply = hs.on_message(&auth(AUTH_RSAPUBLICKEY, key_line(test_key(0), "me@host")));
    assert!(reply.unwrap().is_none());
    assert!(!hs.is_online());
    assert!(device.key_lines().is_empty());
}

#[test]
fn accept_new_stores_an_offered_key() {
    let device = TestDevice::new(AuthPolicy::AcceptNew);
    let mut hs = handshake(AuthPolicy::AcceptNew, &device);
    hs.on_message(&host_cnxn(4096)).unwrap();
    let reply = hs.on_message(&auth(AUTH_RSAPUBLICKEY, key_line(test_key(0), "me@host")));
    assert_eq!(reply.unwrap().unwrap().command, Command::Cnxn);
    assert_eq!(hs.max_payload(), 4096);
    let lines = device.key_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        parse_key_line(lines[0].as_bytes()).unwrap().n(),
        test_key(0).n()
    );
}

#[test]
fn disabled_auth_connects_at_once_and_bad_input_fails() {
    let device = TestDevice::new(AuthPolicy::Disabled);
    let mut hs = handshake(AuthPolicy::Disabled, &device);
    assert!(hs
        .on_message(&auth(AUTH_SIGNATURE, vec![1]))
        .unwrap()
        .is_none());
    assert_eq!(
        hs.on_message(&host_cnxn(4096)).unwrap().unwrap().command,
        Command::Cnxn
    );

    let mut hs = handshake(AuthPolicy::AcceptNew, &device);
    hs.on_message(&host_cnxn(4096)).unwrap();
    assert!(matches!(
        hs.on_message(&auth(9, vec![])),
        Err(HandshakeError::BadAuthType(9))
    ));
    assert!(matches!(
        hs.on_message(&auth(AUTH_RSAPUBLICKEY, b"AAAA x\0".to_vec())),
        Err(HandshakeError::BadKey(_))
    ));
    let mut hs = handshake(AuthPolicy::KnownOnly, &device);
    let mut last = hs.on_message(&host_cnxn(4096));
    for _ in 0..40 {
        last = hs.on_message(&auth(AUTH_SIGNATURE, vec![0; 256]));
        if last.is_err() {
            break;
        }
    }
    assert!(matches!(last, Err(HandshakeError::TooManyFailures(_))));
}
