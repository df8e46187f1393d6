//! Measurement lifecycle without root: start/stop/conflicts with capture and traces off,
//! and recovery of a measurement a killed daemon left behind (its capture files on disk).

use super::*;
use matador_api::Windows;
use matador_probe::flows::capture::PcapngWriter;
use matador_probe::flows::LinkType;
use std::path::Path;
use std::time::Duration;

#[path = "../../probe/tests/support/packets.rs"]
mod packets;

/// A router with one Wi-Fi AP (`ap0`), its state and run directories under `state`.
pub(super) fn config(state: &Path) -> RouterConfig {
    let yaml = format!(
        "router: lr-t\nmanagement: 192.0.2.41\ntoken_file: /nonexistent\nstate_dir: {}\nrun_dir: {}\n\
         uplink: eth0\nradio: simulated\nwireguard: userspace\naps:\n  - {{ name: ap0, ssid: s, \
         passphrase: pass-phrase, interface: wlan0, subnet: 10.77.1.0/24, country: CH }}\n",
        state.display(),
        state.join("run").display()
    );
    RouterConfig::parse(&yaml, "test.yaml").expect("test config")
}

/// A measurement of `ap0` without capture or traces.
pub(super) fn request(id: &str) -> StartMeasurement {
    StartMeasurement {
        id: id.into(),
        ap: "ap0".into(),
        app: "org.example.chat".into(),
        capture: false,
        traces: false,
        duration_s: 600,
        windows: Windows::default(),
        trace_peer: None,
        rules: None,
        device: None,
        intercept_tls: false,
    }
}

fn open(state: &Path) -> (Arc<Store>, Arc<Measurements>) {
    let store = Store::open(state.join("results"), 1 << 20).unwrap();
    let m = Measurements::open(&config(state), Arc::clone(&store), Vec::new()).unwrap();
    (store, m)
}

async fn ended(m: &Measurements, id: &str) -> MeasurementStatus {
    for _ in 0..500 {
        let s = m.get(id).unwrap();
        if !matches!(
            s.state,
            MeasurementState::Running | MeasurementState::Processing
        ) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("measurement {id} did not end");
}

#[tokio::test]
async fn a_measurement_runs_once_per_id_and_one_at_a_time_per_ap() {
    let dir = tempfile::tempdir().unwrap();
    let (store, m) = open(dir.path());
    let s = m.start(request("m1")).unwrap();
    assert_eq!(s.state, MeasurementState::Running);
    assert_eq!(m.current().map(|c| c.id), Some("m1".into()));
    assert!(matches!(
        m.start(request("m1")),
        Err(ControlError::Conflict(_))
    ));
    let busy = m.start(request("m2")).unwrap_err();
    assert!(
        matches!(&busy, ControlError::Conflict(t) if t.contains("m1")),
        "{busy:?}"
    );
    let other_ap = StartMeasurement {
        ap: "ap9".into(),
        ..request("m3")
    };
    assert!(matches!(m.start(other_ap), Err(ControlError::UnknownAp(_))));
    assert!(matches!(
        m.stop("nope".into(), StopMeasurement::default()),
        Err(ControlError::UnknownMeasurement(_))
    ));

    let s = m.stop("m1".into(), StopMeasurement::default()).unwrap();
    assert_eq!(s.state, MeasurementState::Processing);
    assert!(matches!(
        m.stop("m1".into(), StopMeasurement::default()),
        Err(ControlError::Conflict(_))
    ));
    let done = ended(&m, "m1").await;
    assert_eq!(done.state, MeasurementState::Done, "{:?}", done.detail);
    assert_eq!(done.results, ["m1.log"]);
    assert!(store.get("m1.log").is_some());
    assert!(m.current().is_none());
    // The AP is free again, and the id stays used across a restart.
    m.start(request("m2")).unwrap();
    drop(m);
    let (_, again) = open(dir.path());
    assert!(matches!(
        again.start(request("m1")),
        Err(ControlError::Conflict(_))
    ));
}

#[tokio::test]
async fn bad_rules_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (_, m) = open(dir.path());
    let bad = StartMeasurement {
        rules: Some("deny: [{prot: tcp}]".into()),
        ..request("m1")
    };
    let e = m.start(bad).unwrap_err();
    assert!(
        matches!(&e, ControlError::Invalid(t) if t.contains("prot")),
        "{e:?}"
    );
    assert!(m.get("m1").is_err());
}

/// A pcapng file with a phone's UDP exchange with one server.
fn capture_file(path: &Path) {
    let mut w = PcapngWriter::new(
        std::fs::File::create(path).unwrap(),
        LinkType::ETHERNET,
        65535,
        "wlan0",
    )
    .unwrap();
    let phone = "10.77.1.200".parse().unwrap();
    let server = "198.51.100.30".parse().unwrap();
    let t0 = 1_700_000_000_000_000_000u64;
    for (i, (src, dst)) in [(phone, server), (server, phone)].into_iter().enumerate() {
        let udp = packets::udp(40000, 5222, b"hello");
        let frame = packets::ethernet(&packets::ip(src, dst, 17, &udp));
        w.write_packet(t0 + i as u64 * 1000, &frame, frame.len() as u32)
            .unwrap();
    }
    w.into_inner().unwrap().sync_all().unwrap();
}

#[tokio::test]
async fn a_measurement_interrupted_by_a_crash_is_closed_with_what_it_captured() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let cfg = config(state);
    let records = state.join("measurements");
    std::fs::create_dir_all(&records).unwrap();
    let mut r = Record::new(
        StartMeasurement {
            capture: true,
            ..request("m7")
        },
        100,
    );
    r.save(&records).unwrap();
    let captures = state.join("captures").join("m7");
    std::fs::create_dir_all(&captures).unwrap();
    capture_file(&captures.join("capture-0001.pcapng"));
    // A folder no record owns (a crash before the record was saved) and a torn temp record.
    std::fs::create_dir_all(state.join("captures").join("orphan")).unwrap();
    std::fs::write(
        crate::store::atomic::temp_path(&records, "m8.json"),
        b"{\"half",
    )
    .unwrap();

    let (store, m) = open(state);
    let s = m.get("m7").unwrap();
    assert_eq!(s.state, MeasurementState::Failed);
    assert!(
        s.detail.as_deref().unwrap_or("").contains("daemon stopped"),
        "{:?}",
        s.detail
    );
    assert_eq!(s.results, ["m7.capture", "m7.flows", "m7.log"]);
    let (_, file) = store.open_result("m7.flows").unwrap();
    let flows: serde_json::Value = serde_json::from_reader(file).unwrap();
    assert_eq!(flows["endpoints"][0]["address"], "198.51.100.30");
    assert!(!captures.exists() && !state.join("captures").join("orphan").exists());
    assert_eq!(
        std::fs::read_dir(&records).unwrap().count(),
        1,
        "the temp record is gone"
    );
    // A second restart changes nothing and stores nothing twice.
    drop(m);
    r.status.state = MeasurementState::Failed;
    let (store2, m2) = open(state);
    assert_eq!(m2.get("m7").unwrap().results, s.results);
    assert_eq!(store2.list().len(), 3);
    let _ = cfg;
}
