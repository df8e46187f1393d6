//! Encryption at rest in the store: a device's results are age files on disk (checked with the
//! `age` crate), everything else stays plain, and the cap counts what is stored.

use std::io::Write as _;

use super::*;

const MIB: u64 = 1024 * 1024;
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";

/// A recipient of ours and the `age` crate's identity for it.
fn keys() -> (Recipient, age::x25519::Identity) {
    let identity = age::x25519::Identity::generate();
    let recipient = Recipient::parse(&identity.to_public().to_string()).expect("age's recipient");
    (recipient, identity)
}

fn stored(dir: &Path, id: &str) -> Vec<u8> {
    fs::read(dir.join(format!("{id}{DATA}"))).expect("data file")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A store encrypting to a fresh key, with measurement `m1` a device's.
fn device_store(dir: &Path, cap: u64) -> (Arc<Store>, age::x25519::Identity) {
    let (to, identity) = keys();
    let store = Store::open(dir, cap).expect("open");
    store.set_recipient(Some(to));
    store.set_device("m1", Some("pixel".into()));
    (store, identity)
}

#[test]
fn a_devices_results_are_stored_encrypted_and_decrypt_to_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let (store, identity) = device_store(dir.path(), 16 * MIB);
    let flows = br#"{"flows":[{"dst":"chat.example.org","port":443}]}"#;
    let put = store.put("m1", ResultKind::Flows, flows).unwrap();

    // A capture streamed in pieces across several 64 KiB chunks.
    let capture: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let mut writer = store.create("m1", ResultKind::Capture).unwrap();
    for piece in capture.chunks(10_000) {
        writer.write_all(piece).unwrap();
    }
    let streamed = writer.commit().unwrap();

    for (summary, plain) in [(&put, &flows[..]), (&streamed, &capture[..])] {
        let on_disk = stored(dir.path(), &summary.id);
        assert!(on_disk.starts_with(AGE_MAGIC), "{}", summary.id);
        assert!(!contains(&on_disk, &plain[..40]), "{} leaks", summary.id);
        assert_eq!(age::decrypt(&identity, &on_disk).unwrap(), plain);
        assert!(summary.encrypted);
        assert_eq!(summary.device.as_deref(), Some("pixel"));
        assert_eq!(summary.size, on_disk.len() as u64);
        assert_eq!(
            summary.sha256,
            hex(ring::digest::digest(&ring::digest::SHA256, &on_disk).as_ref())
        );
        // What GET /v1/results/{id} sends is the stored file.
        let (_, mut file) = store.open_result(&summary.id).unwrap();
        let mut sent = Vec::new();
        file.read_to_end(&mut sent).unwrap();
        assert_eq!(sent, on_disk);
    }
    assert!(!contains(
        &stored(dir.path(), "m1.flows"),
        b"chat.example.org"
    ));
    assert_eq!(store.used_bytes(), put.size + streamed.size);

    // The flag is in the sidecar, so it survives a restart; old sidecars lack it.
    let sidecar = fs::read_to_string(dir.path().join("m1.flows.json")).unwrap();
    assert!(sidecar.contains("\"encrypted\": true"), "{sidecar}");
    drop(store);
    let store = Store::open(dir.path(), 16 * MIB).unwrap();
    assert_eq!(store.get("m1.flows"), Some(put.clone()));
    assert_eq!(store.get("m1.capture"), Some(streamed));
    // The host acknowledges the hash of the bytes it received: the encrypted ones.
    store.acknowledge("m1.flows", Some(&put.sha256)).unwrap();
    assert_eq!(store.list().len(), 1);
}

#[test]
fn results_without_a_device_or_without_a_recipient_stay_plain() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = device_store(dir.path(), MIB);
    // A lab phone on an AP: no device, so plain even though a recipient is set.
    let lab = store
        .put("lab1", ResultKind::Log, b"lab log line\n")
        .unwrap();
    assert!(!lab.encrypted);
    assert_eq!(lab.device, None);
    assert_eq!(stored(dir.path(), "lab1.log"), b"lab log line\n");
    let sidecar = fs::read_to_string(dir.path().join("lab1.log.json")).unwrap();
    assert!(
        !sidecar.contains("encrypted"),
        "old hosts see what they know: {sidecar}"
    );

    // A device's measurement on a router without a recipient: plain, and says so.
    store.set_recipient(None);
    let plain = store.put("m1", ResultKind::Log, b"device log\n").unwrap();
    assert!(!plain.encrypted);
    assert_eq!(plain.device.as_deref(), Some("pixel"));
    assert_eq!(stored(dir.path(), "m1.log"), b"device log\n");
}

#[test]
fn the_cap_counts_the_encrypted_size_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (store, identity) = device_store(dir.path(), 1000);
    // An empty result is still a whole age file (header and one sealed, empty chunk).
    let empty = store.put("m1", ResultKind::Log, b"").unwrap();
    assert!(empty.size > 0);
    assert_eq!(
        age::decrypt(&identity, &stored(dir.path(), "m1.log")).unwrap(),
        b""
    );
    let header = empty.size - crate::at_rest::sealed_len(0);
    // What fits in plain text may not fit once encrypted: the header and tag count too.
    let room = 1000 - empty.size;
    let err = store
        .put("m1", ResultKind::Flows, &vec![b'x'; room as usize])
        .unwrap_err();
    assert!(matches!(err, StoreError::Full { .. }), "{err}");
    assert_eq!(store.used_bytes(), empty.size);
    let fits = room - header - crate::at_rest::sealed_len(0);
    let full = store
        .put("m1", ResultKind::Flows, &vec![b'x'; fits as usize])
        .unwrap();
    assert_eq!(full.size, stored(dir.path(), "m1.flows").len() as u64);
    assert_eq!(store.used_bytes(), 1000);
    // Nothing half-written is left by the refused result.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(atomic::TEMP_PREFIX))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}
