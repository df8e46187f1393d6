use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use super::*;

const MIB: u64 = 1024 * 1024;

fn names(dir: &Path) -> Vec<String> {
    let mut all: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    all.sort();
    all
}

fn read(store: &Store, id: &str) -> Vec<u8> {
    let (_, mut file) = store.open_result(id).unwrap();
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    bytes
}

#[test]
fn a_result_is_stored_listed_read_and_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), MIB).unwrap();
    let summary = store.put("m1", ResultKind::Flows, b"abc").unwrap();
    assert_eq!(summary.id, "m1.flows");
    assert_eq!(summary.measurement, "m1");
    assert_eq!(summary.kind, ResultKind::Flows);
    assert_eq!(summary.size, 3);
    assert_eq!(
        summary.sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(store.list(), vec![summary.clone()]);
    assert_eq!(store.get("m1.flows"), Some(summary.clone()));
    assert_eq!(store.used_bytes(), 3);
    assert_eq!(read(&store, "m1.flows"), b"abc");
    assert_eq!(names(dir.path()), ["m1.flows.data", "m1.flows.json"]);

    // Reopening finds it again.
    drop(store);
    let store = Store::open(dir.path(), MIB).unwrap();
    assert_eq!(store.list(), vec![summary.clone()]);
    assert_eq!(store.used_bytes(), 3);

    // A wrong hash is not an acknowledgement.
    let wrong = "00".repeat(32);
    assert!(matches!(
        store.acknowledge("m1.flows", Some(&wrong)),
        Err(StoreError::Sha256Mismatch { .. })
    ));
    assert_eq!(store.list().len(), 1);
    store
        .acknowledge("m1.flows", Some(&summary.sha256.to_uppercase()))
        .unwrap();
    assert!(store.list().is_empty());
    assert_eq!(store.used_bytes(), 0);
    assert!(names(dir.path()).is_empty());
    assert!(matches!(
        store.acknowledge("m1.flows", None),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.open_result("m1.flows"),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn ids_are_unique_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), MIB).unwrap();
    store.put("m1", ResultKind::Log, b"x").unwrap();
    assert!(matches!(
        store.put("m1", ResultKind::Log, b"y"),
        Err(StoreError::Exists(_))
    ));
    let pending = store.create("m2", ResultKind::Log).unwrap();
    assert!(matches!(
        store.create("m2", ResultKind::Log),
        Err(StoreError::Exists(_))
    ));
    drop(pending);
    assert!(store.create("m2", ResultKind::Log).is_ok());
    for bad in ["", "../etc", ".hidden", "a/b"] {
        assert!(
            matches!(
                store.put(bad, ResultKind::Log, b"x"),
                Err(StoreError::Invalid(_))
            ),
            "{bad}"
        );
    }
    assert_eq!(read(&store, "m1.log"), b"x");
}

#[test]
fn the_cap_refuses_new_results_and_keeps_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 100).unwrap();
    store.put("a", ResultKind::Flows, &[1; 60]).unwrap();
    let err = store.put("b", ResultKind::Flows, &[2; 41]).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Full {
                needed: 41,
                used: 60,
                capacity: 100
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("acknowledge"), "{err}");
    // Nothing of the refused result is left, and the old one is intact.
    assert_eq!(names(dir.path()), ["a.flows.data", "a.flows.json"]);
    assert_eq!(store.used_bytes(), 60);
    store.put("b", ResultKind::Flows, &[2; 40]).unwrap();
    // Full to the byte: not even a writer starts.
    assert!(matches!(
        store.create("c", ResultKind::Log),
        Err(StoreError::Full { .. })
    ));
    store.acknowledge("a.flows", None).unwrap();
    store.put("c", ResultKind::Log, &[3; 60]).unwrap();
    assert_eq!(store.used_bytes(), 100);
    let ids: Vec<_> = store.list().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["b.flows", "c.log"]);
}

#[test]
fn writers_stream_and_reserve_against_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 3 * MIB).unwrap();
    let mut one = store.create("one", ResultKind::Capture).unwrap();
    let mut two = store.create("two", ResultKind::Capture).unwrap();
    let chunk = vec![7u8; 256 * 1024];
    for _ in 0..4 {
        one.write_all(&chunk).unwrap();
    }
    for _ in 0..4 {
        two.write_all(&chunk).unwrap();
    }
    // 2 MiB written by two writers; a third MiB fits, a fourth does not.
    for _ in 0..4 {
        one.write_all(&chunk).unwrap();
    }
    let err = two.write_all(&chunk).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::StorageFull, "{err}");
    drop(two);
    let summary = one.commit().unwrap();
    assert_eq!(summary.size, 2 * MIB);
    assert_eq!(store.used_bytes(), 2 * MIB);
    assert_eq!(read(&store, "one.capture").len() as u64, 2 * MIB);
    assert_eq!(names(dir.path()), ["one.capture.data", "one.capture.json"]);
    // The abandoned writer's reservation is free again.
    store
        .put("three", ResultKind::Capture, &vec![1; MIB as usize])
        .unwrap();
}

#[test]
fn leftovers_of_a_crash_are_removed_and_never_listed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), MIB).unwrap();
    let kept = store.put("kept", ResultKind::Traces, b"[]").unwrap();
    drop(store);
    // A writer killed mid-write, a commit killed between the data rename and the sidecar,
    // an acknowledgement killed between removing the sidecar and the data, a sidecar temp.
    fs::write(dir.path().join(".tmp-999-0-half.capture.data"), [0; 1000]).unwrap();
    fs::write(
        dir.path().join("renamed.flows.data"),
        b"complete but uncommitted",
    )
    .unwrap();
    fs::write(
        dir.path().join(".tmp-999-1-renamed.flows.json"),
        b"{\"id\":",
    )
    .unwrap();
    let store = Store::open(dir.path(), MIB).unwrap();
    assert_eq!(store.list(), vec![kept]);
    assert_eq!(store.used_bytes(), 2);
    assert_eq!(names(dir.path()), ["kept.traces.data", "kept.traces.json"]);
    // The id of the uncommitted result is free again.
    store.put("renamed", ResultKind::Flows, b"again").unwrap();
}

#[test]
fn an_unreadable_sidecar_is_kept_counted_and_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), MIB).unwrap();
    store.put("odd", ResultKind::Log, b"12345").unwrap();
    drop(store);
    fs::write(dir.path().join("odd.log.json"), b"not json").unwrap();
    let store = Store::open(dir.path(), MIB).unwrap();
    assert!(store.list().is_empty());
    assert_eq!(store.used_bytes(), 5);
    assert_eq!(names(dir.path()), ["odd.log.data", "odd.log.json"]);
}

/// Set to a directory to make [`crash_child`] write into a store there until it is killed.
const CRASH_DIR: &str = "MATADOR_STORE_CRASH_DIR";

/// Run as a child process by `a_writer_killed_mid_write_leaves_nothing_half_written`.
#[test]
#[ignore = "a child process of another test"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR) else {
        return;
    };
    let store = Store::open(PathBuf::from(dir), 1 << 30).unwrap();
    let mut writer = store.create("killed", ResultKind::Capture).unwrap();
    let started = Instant::now();
    // Bounded, in case the parent never kills us.
    while started.elapsed() < Duration::from_secs(60) {
        writer.append(&[0xa5; 16 * 1024]).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_writer_killed_mid_write_leaves_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 30).unwrap();
    let kept = store.put("before", ResultKind::Flows, b"{}").unwrap();
    drop(store);

    let test = concat!(module_path!(), "::crash_child");
    let test = test.split_once("::").map_or(test, |(_, rest)| rest);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--ignored", "--test-threads=1"])
        .env(CRASH_DIR, dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the child is well into its result, then kill -9 it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let temp_size = || -> u64 {
        names(dir.path())
            .iter()
            .filter(|n| n.starts_with(atomic::TEMP_PREFIX))
            .map(|n| fs::metadata(dir.path().join(n)).map_or(0, |m| m.len()))
            .sum()
    };
    while temp_size() < 256 * 1024 {
        assert!(Instant::now() < deadline, "the child never wrote");
        assert!(child.try_wait().unwrap().is_none(), "the child ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        temp_size() > 0,
        "the child's half-written result is on disk"
    );

    let store = Store::open(dir.path(), 1 << 30).unwrap();
    assert_eq!(store.list(), vec![kept]);
    assert_eq!(
        names(dir.path()),
        ["before.flows.data", "before.flows.json"]
    );
    // The measurement can be stored again.
    store.put("killed", ResultKind::Capture, b"retry").unwrap();
}
