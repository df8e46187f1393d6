//! Keys made here, files encrypted by the router's own writer, decrypted here.

use super::*;
use matador_router::at_rest::{encrypt_file, Recipient};
use std::os::unix::fs::PermissionsExt as _;

/// Test data that does not repeat within a chunk.
fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn keys_new_then_router_encrypt_then_decrypt_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("researcher.key");
    let key = new_identity(&key_file, false).expect("keys new");
    assert!(key.public_key.starts_with("age1"), "{}", key.public_key);
    assert_eq!(key.identity, key_file);

    let text = std::fs::read_to_string(&key_file).expect("identity");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("# created: 20") && lines[0].ends_with('Z'),
        "{text}"
    );
    assert_eq!(lines[1], format!("# public key: {}", key.public_key));
    assert!(
        lines[2].starts_with("AGE-SECRET-KEY-1") && lines.len() == 3,
        "{}",
        lines.len()
    );
    let mode = std::fs::metadata(&key_file)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let to = Recipient::parse(&key.public_key).expect("the router accepts it");
    for len in [0, 1, 65_536, 150_000] {
        let src = dir.path().join(format!("flows-{len}.jsonl"));
        let enc = dir.path().join(format!("flows-{len}.jsonl.age"));
        let plain = data(len);
        std::fs::write(&src, &plain).expect("src");
        encrypt_file(&src, &enc, &to).expect("router encrypts");
        std::fs::remove_file(&src).expect("rm");

        let dst = decrypted_path(&enc, None).expect("name");
        assert_eq!(dst, src);
        let n = decrypt_to(&key_file, &enc, &dst).expect("decrypts");
        assert_eq!(n, len as u64);
        assert_eq!(std::fs::read(&dst).expect("dst"), plain);
        let mode = std::fs::metadata(&dst).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "plaintext results are private");
    }
    let only_files = std::fs::read_dir(dir.path()).expect("ls").count();
    assert_eq!(only_files, 1 + 2 * 4, "no temporary files left");
}

#[test]
fn keys_new_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("k");
    let first = new_identity(&key_file, false).expect("first");
    let e = new_identity(&key_file, false).expect_err("exists");
    assert!(format!("{e:#}").contains("--force"), "{e:#}");
    let kept = std::fs::read_to_string(&key_file).expect("kept");
    assert!(kept.contains(&first.public_key));
    let second = new_identity(&key_file, true).expect("forced");
    assert_ne!(first.public_key, second.public_key);
    let now = std::fs::read_to_string(&key_file).expect("replaced");
    assert!(now.contains(&second.public_key));
}

#[test]
fn a_wrong_identity_is_named_and_leaves_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let right = new_identity(&dir.path().join("right.key"), false).expect("right");
    let wrong_file = dir.path().join("wrong.key");
    let wrong = new_identity(&wrong_file, false).expect("wrong");
    let src = dir.path().join("capture.pcap");
    std::fs::write(&src, data(1000)).expect("src");
    let enc = dir.path().join("capture.pcap.age");
    let to = Recipient::parse(&right.public_key).expect("recipient");
    encrypt_file(&src, &enc, &to).expect("encrypts");
    std::fs::remove_file(&src).expect("rm");

    let e = decrypt_to(&wrong_file, &enc, &src).expect_err("wrong key");
    let msg = format!("{e:#}");
    assert!(msg.contains("capture.pcap.age"), "{msg}");
    assert!(msg.contains("wrong.key"), "{msg}");
    assert!(msg.contains("was not encrypted to"), "{msg}");
    assert!(msg.contains(&wrong.public_key), "{msg}");
    assert!(!src.exists());
}

#[test]
fn tampered_files_leave_no_partial_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("k");
    let key = new_identity(&key_file, false).expect("key");
    let src = dir.path().join("big");
    std::fs::write(&src, data(200_000)).expect("src");
    let enc = dir.path().join("big.age");
    encrypt_file(&src, &enc, &Recipient::parse(&key.public_key).expect("r")).expect("enc");
    std::fs::remove_file(&src).expect("rm");
    let mut bytes = std::fs::read(&enc).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&enc, bytes).expect("tamper");
    let e = decrypt_to(&key_file, &enc, &src).expect_err("tampered");
    assert!(format!("{e:#}").contains("big.age"), "{e:#}");
    assert!(!src.exists());
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 2);
}

#[test]
fn bad_identity_files_and_names_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.key");
    let e = load_identities(&missing).err().expect("missing");
    assert!(format!("{e:#}").contains("missing.key"), "{e:#}");
    let empty = dir.path().join("empty.key");
    std::fs::write(&empty, "# nothing\n").expect("write");
    let e = load_identities(&empty).err().expect("empty");
    assert!(format!("{e:#}").contains("AGE-SECRET-KEY-1"), "{e:#}");

    assert!(decrypted_path(Path::new("a/results.tar"), None).is_err());
    assert!(decrypted_path(Path::new(".age"), None).is_err());
    assert_eq!(
        decrypted_path(Path::new("a/r.tar.age"), Some(Path::new("out"))).expect("ok"),
        Path::new("out/r.tar")
    );
}

#[test]
fn created_time_is_rfc3339_utc() {
    let t = rfc3339_now();
    assert_eq!(t.len(), 20, "{t}");
    assert_eq!(
        (&t[4..5], &t[7..8], &t[10..11], &t[19..]),
        ("-", "-", "T", "Z")
    );
}

/// What a router's store keeps for a device's result `m1.flows` with `recipient`, as the
/// host fetches it: the stored bytes and the summary's `encrypted` flag.
fn router_stored(dir: &Path, recipient: &str, plain: &[u8]) -> (Vec<u8>, bool) {
    let store = matador_router::store::Store::open(dir, 1 << 20).expect("store");
    store.set_recipient(Some(Recipient::parse(recipient).expect("recipient")));
    store.set_device("m1", Some("pixel".into()));
    let summary = store
        .put("m1", matador_api::ResultKind::Flows, plain)
        .expect("put");
    let (_, mut file) = store.open_result(&summary.id).expect("open");
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut file, &mut bytes).expect("read");
    (bytes, summary.encrypted)
}

#[test]
fn fetched_results_are_decrypted_with_the_identity_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("researcher.key");
    let key = new_identity(&key_file, false).expect("keys new");
    let plain = data(150_000);
    let (bytes, encrypted) = router_stored(&dir.path().join("store"), &key.public_key, &plain);
    assert!(encrypted);
    assert_ne!(bytes, plain);
    let identities = load_identities(&key_file).expect("identity");
    let opened = open_fetched("m1.flows", bytes, true, &identities).expect("decrypts");
    assert_eq!(opened, plain);

    // A plain result is passed through, with or without identities.
    let lab = b"lab log\n".to_vec();
    assert_eq!(
        open_fetched("lab.log", lab.clone(), false, &[]).expect("plain"),
        lab
    );
    assert_eq!(
        open_fetched("lab.log", lab.clone(), false, &identities).expect("plain"),
        lab
    );
}

#[test]
fn an_encrypted_result_without_the_right_identity_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let right = new_identity(&dir.path().join("right.key"), false).expect("right");
    let wrong_file = dir.path().join("wrong.key");
    new_identity(&wrong_file, false).expect("wrong");
    let (bytes, _) = router_stored(&dir.path().join("store"), &right.public_key, b"{}");

    let e = open_fetched("m1.flows", bytes.clone(), true, &[]).expect_err("no identity");
    let msg = format!("{e:#}");
    assert!(msg.contains("result m1.flows is encrypted"), "{msg}");
    assert!(msg.contains("--identity FILE"), "{msg}");

    let wrong = load_identities(&wrong_file).expect("wrong identity");
    let e = open_fetched("m1.flows", bytes.clone(), true, &wrong).expect_err("wrong key");
    let msg = format!("{e:#}");
    assert!(
        msg.contains("m1.flows") && msg.contains("another researcher key"),
        "{msg}"
    );

    let right_ids = load_identities(&dir.path().join("right.key")).expect("right identity");
    let mut damaged = bytes;
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    let e = open_fetched("m1.flows", damaged, true, &right_ids).expect_err("damaged");
    assert!(format!("{e:#}").contains("m1.flows"), "{e:#}");
    let e = open_fetched("m1.flows", b"{}".to_vec(), true, &right_ids).expect_err("not age");
    assert!(format!("{e:#}").contains("not an age file"), "{e:#}");
}
