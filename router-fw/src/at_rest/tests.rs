//! Our age writer checked against the reference implementations: the `age` crate (rage) and
//! the `age` CLI (Go, Debian package `age`).

use super::*;
use age::secrecy::ExposeSecret as _;
use proptest::prelude::*;
use std::io::Write as _;

/// A recipient of ours and the `age` crate's identity for it.
fn keys() -> (Recipient, age::x25519::Identity) {
    let identity = age::x25519::Identity::generate();
    let recipient = Recipient::parse(&identity.to_public().to_string()).expect("age's recipient");
    (recipient, identity)
}

/// Deterministic, non-repeating-looking test data (xorshift).
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Encrypts `plain`, handing it to the writer in pieces of the given sizes (cycled).
fn encrypt(plain: &[u8], to: &Recipient, splits: &[usize]) -> Vec<u8> {
    let mut w = AgeWriter::new(Vec::new(), to).expect("writer");
    let (mut at, mut i) = (0, 0);
    while at < plain.len() {
        let step = splits
            .get(i % splits.len().max(1))
            .copied()
            .unwrap_or(plain.len());
        let end = (at + step.max(1)).min(plain.len());
        w.write_all(&plain[at..end]).expect("write");
        at = end;
        i += 1;
    }
    w.finish().expect("finish")
}

fn decrypt(identity: &age::x25519::Identity, file: &[u8]) -> Result<Vec<u8>, age::DecryptError> {
    age::decrypt(identity, file)
}

/// The age file's size: header, nonce, then each chunk (at least one) with its tag.
fn payload_len(plain: usize) -> usize {
    16 + plain + 16 * plain.div_ceil(CHUNK_SIZE).max(1)
}

#[test]
fn round_trips_through_the_age_crate_at_chunk_boundaries() {
    let (to, identity) = keys();
    for len in [0, 1, 65535, 65536, 65537, 200_000] {
        let plain = data(len, len as u64 + 7);
        let file = encrypt(&plain, &to, &[4096]);
        assert_eq!(
            decrypt(&identity, &file).expect("decrypts"),
            plain,
            "size {len}"
        );
        let header_end = file
            .windows(4)
            .position(|w| w == b"\n---")
            .and_then(|at| {
                file[at + 1..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map(|n| at + 2 + n)
            })
            .expect("header ends");
        assert_eq!(file.len() - header_end, payload_len(len), "size {len}");
        // The store reserves space by `sealed_len`: it must be exact, not an estimate.
        assert_eq!(
            payload_len(len) as u64,
            16 + sealed_len(len as u64),
            "size {len}"
        );
    }
}

#[test]
fn header_is_the_age_v1_text() {
    let (to, _) = keys();
    let file = encrypt(b"x", &to, &[1]);
    let text = String::from_utf8_lossy(&file);
    let lines: Vec<&str> = text.splitn(5, '\n').collect();
    assert_eq!(lines[0], "age-encryption.org/v1");
    assert!(
        lines[1].starts_with("-> X25519 ") && lines[1].len() == 10 + 43,
        "{}",
        lines[1]
    );
    assert_eq!(lines[2].len(), 43, "wrapped file key: {}", lines[2]);
    assert!(
        lines[3].starts_with("--- ") && lines[3].len() == 4 + 43,
        "{}",
        lines[3]
    );
}

#[test]
fn a_wrong_identity_cannot_decrypt() {
    let (to, _) = keys();
    let (_, other) = keys();
    let file = encrypt(&data(1000, 1), &to, &[100]);
    assert!(matches!(
        decrypt(&other, &file),
        Err(age::DecryptError::NoMatchingKeys)
    ));
}

#[test]
fn any_tampered_byte_fails() {
    let (to, identity) = keys();
    let plain = data(70_000, 3);
    let file = encrypt(&plain, &to, &[70_000]);
    let payload = file.len() - payload_len(plain.len());
    // The ephemeral share, the wrapped file key, the payload nonce, the first chunk, the
    // last chunk's tag.
    for at in [30, 100, payload + 8, payload + 16 + 5, file.len() - 1] {
        let mut bad = file.clone();
        bad[at] ^= 0x01;
        assert!(
            decrypt(&identity, &bad).is_err(),
            "flipped byte {at} went unnoticed"
        );
    }
    // Truncation (a missing last chunk) is refused too.
    let cut = &file[..file.len() - (70_000 - CHUNK_SIZE) - 16];
    assert!(decrypt(&identity, cut).is_err());
}

#[test]
fn dropped_without_finish_is_refused_as_truncated() {
    let (to, identity) = keys();
    let mut out = Vec::new();
    {
        let mut w = AgeWriter::new(&mut out, &to).expect("writer");
        w.write_all(&data(CHUNK_SIZE * 2 + 5, 9)).expect("write");
    }
    assert!(decrypt(&identity, &out).is_err());
}

#[test]
fn parses_a_known_recipient_and_prints_it_back() {
    // The example recipient of age's README.
    let text = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    let r = Recipient::parse(&format!("  {text}\n")).expect("valid");
    assert_eq!(r.to_string(), text);
    let theirs: age::x25519::Recipient = text.parse().expect("age parses it");
    assert_eq!(theirs.to_string(), r.to_string());
    assert_eq!(text.to_uppercase().parse::<Recipient>().expect("upper"), r);
}

fn refused(s: &str) -> String {
    match Recipient::parse(s) {
        Ok(r) => panic!("{s} was accepted as {r}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn recipient_parse_refuses_bad_input_clearly() {
    let good = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    // One character changed.
    let typo = good.replace("ql3z", "ql4z");
    assert!(
        refused(&typo).contains("checksum is wrong"),
        "{}",
        refused(&typo)
    );
    // Truncated.
    assert!(refused(&good[..50]).contains("checksum"));
    // Vectors from BIP 173's reference code (valid Bech32, other HRP or length).
    let other_hrp = "agf1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0s43wcss";
    assert!(
        refused(other_hrp).contains("HRP is `agf`"),
        "{}",
        refused(other_hrp)
    );
    let short = "age1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc535lh4";
    assert!(refused(short).contains("31 bytes"), "{}", refused(short));
    let long = "age1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0jqtdny4t";
    assert!(refused(long).contains("33 bytes"), "{}", refused(long));
    let exact = "age1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0savhh7m";
    assert_eq!(
        Recipient::parse(exact).expect("32 bytes").public_key()[31],
        31
    );
    // The secret key pasted by mistake.
    let identity = age::x25519::Identity::generate();
    let secret = identity.to_string();
    let e = refused(secret.expose_secret());
    assert!(e.contains("this is the secret key"), "{e}");
    // Errors end in logs: the key itself is not in them.
    assert!(!e.contains(&secret.expose_secret()[16..]), "{e}");
    for (s, why) in [
        ("", "no `1`"),
        ("age1qqqq", "too short"),
        (
            "Age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
            "mixes",
        ),
        (
            "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8b",
            "not a Bech32",
        ),
        (
            "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2élw8zmrj2kg5sfn9aqmcac8p",
            "non-ASCII",
        ),
    ] {
        let e = refused(s);
        assert!(e.contains(why), "{s:?}: {e}");
    }
}

#[test]
fn encrypt_file_is_atomic_and_leaves_the_source() {
    let (to, identity) = keys();
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("capture.pcap");
    let dst = dir.path().join("capture.pcap.age");
    let plain = data(150_000, 5);
    std::fs::write(&src, &plain).expect("write src");
    let n = encrypt_file(&src, &dst, &to).expect("encrypts");
    let file = std::fs::read(&dst).expect("dst");
    assert_eq!(n, file.len() as u64);
    assert_eq!(decrypt(&identity, &file).expect("decrypts"), plain);
    assert_eq!(std::fs::read(&src).expect("src kept"), plain);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&dst).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // A missing source names it, and leaves nothing behind.
    let e = encrypt_file(&dir.path().join("nope"), &dir.path().join("nope.age"), &to)
        .expect_err("no source");
    assert!(e.to_string().contains("nope"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 2);
}

/// The Go reference CLI decrypts our output (`age -d -i identity file`).
#[test]
fn the_age_cli_decrypts_our_files() {
    let (to, identity) = keys();
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("identity.txt");
    std::fs::write(&key, format!("{}\n", identity.to_string().expose_secret())).expect("key");
    for len in [0, 65536, 100_000] {
        let plain = data(len, 11);
        let file = dir.path().join(format!("{len}.age"));
        std::fs::write(&file, encrypt(&plain, &to, &[777])).expect("file");
        let out = match std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&key)
            .arg(&file)
            .output()
        {
            Ok(out) => out,
            Err(e) => panic!(
                "cannot run the `age` CLI ({e}): install it with `apt install age` \
                 (or `cargo xtask setup`)"
            ),
        };
        assert!(
            out.status.success(),
            "age -d failed on {len} bytes: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == plain, "age -d output differs at {len} bytes");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_sizes_and_write_splits_round_trip(
        len in prop_oneof![0usize..300, 0usize..3 * CHUNK_SIZE + 10],
        seed in any::<u64>(),
        splits in proptest::collection::vec(1usize..2 * CHUNK_SIZE, 1..8),
    ) {
        let (to, identity) = keys();
        let plain = data(len, seed);
        let file = encrypt(&plain, &to, &splits);
        prop_assert_eq!(decrypt(&identity, &file).expect("decrypts"), plain);
    }
}

/// A router configuration, YAML, to which an `at_rest` section is appended.
const CONFIG: &str = "router: lr-a
management: 192.0.2.41
token_file: /etc/matador/token
state_dir: /var/lib/matador
run_dir: /run/matador
uplink: eth0
radio: simulated
aps:
  - { name: ap0, ssid: matador-a, passphrase: lab-passphrase-a, interface: wlan0, subnet: 10.77.1.0/24 }
";

#[test]
fn the_configuration_takes_a_recipient_and_names_a_bad_one() {
    use crate::dataplane::config::RouterConfig;
    let (to, _) = keys();
    let good = format!("{CONFIG}at_rest:\n  recipient: {to}\n");
    let config = RouterConfig::parse(&good, "r.yaml").expect("good");
    let at_rest = config.at_rest.clone().expect("at_rest");
    assert_eq!(at_rest.recipient().expect("parses"), to);
    assert_eq!(
        RouterConfig::parse(CONFIG, "r.yaml")
            .expect("plain")
            .at_rest,
        None
    );

    // UCI carries it as `option at_rest_recipient`, both ways.
    let uci = crate::dataplane::uci::to_uci(&config);
    assert!(
        uci.contains(&format!("option at_rest_recipient '{to}'")),
        "{uci}"
    );
    assert_eq!(
        RouterConfig::parse_uci(&uci, "matador").expect("uci"),
        config
    );

    // A typo (the last character changed) breaks the Bech32 checksum.
    let text = to.to_string();
    let last = if text.ends_with('q') { "p" } else { "q" };
    let typo = format!("{}{last}", &text[..text.len() - 1]);
    let secret = {
        use age::secrecy::ExposeSecret as _;
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret()
            .to_string()
    };
    let cases = [
        (
            format!("{CONFIG}at_rest:\n  recipient: {typo}\n"),
            "checksum",
        ),
        (
            format!("{CONFIG}at_rest:\n  recipient: {secret}\n"),
            "secret key",
        ),
        (
            format!("{CONFIG}at_rest:\n  recipients: {to}\n"),
            "recipients",
        ),
    ];
    for (yaml, why) in cases {
        let e = RouterConfig::parse(&yaml, "r.yaml")
            .expect_err(why)
            .to_string();
        assert!(e.contains(why), "{why}: {e}");
        assert!(
            !e.contains(&secret[16..]),
            "the secret key is not echoed: {e}"
        );
        if why != "recipients" {
            assert!(e.contains("at_rest.recipient"), "{e}");
        }
    }
    let bad_uci = uci.replace(&text, &typo);
    let e = RouterConfig::parse_uci(&bad_uci, "matador").expect_err("typo");
    assert!(e.to_string().contains("at_rest.recipient"), "{e}");
}
