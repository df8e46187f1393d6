//! Lab test of monitoring beyond the lab Wi-Fi (lab/topologies/privacy.yaml): phone-b is on
//! cellular and joins lr-b's WireGuard ingress with its WireGuard app (`phone enroll
//! --push`); phone-a is on lr-a's Wi-Fi and trusts lr-a's interception CA (`phone
//! install-ca`). Their messenger's analytics SDK sends the phone's IMEI (plain, base64,
//! SHA-1) to a tracker over HTTP and HTTPS. The campaign (examples/privacy.yaml) measures the
//! pair end to end; phone-b's flows are its own; the report shows the HTTP leaks of both, the
//! HTTPS leak of phone-a (decrypted) and says phone-b's HTTPS was not visible. A second run
//! whose policy blocks the tracker stops its flows while the messenger still works.

mod common;

use common::adb::AdbServer;
use common::Lab;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const PHONE_A: &str = "127.0.0.1:25550";
const PHONE_B: &str = "127.0.0.1:25551";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn host(adb: &AdbServer, args: &[&str]) -> String {
    let out = adb
        .env(Command::new(env!("CARGO_BIN_EXE_matador-host")).args(args))
        .output()
        .expect("matador-host runs");
    assert!(
        out.status.success(),
        "matador-host {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the privacy campaign with `policy` into `dir`; the analysis as JSON.
fn campaign(adb: &AdbServer, geo: &str, dir: &Path, name: &str, policy: &str) -> Value {
    let spec = std::fs::read_to_string(examples().join("privacy.yaml")).expect("privacy.yaml");
    let inventory = examples().join("privacy-inventory.yaml");
    let text = spec
        .replace("name: privacy", &format!("name: {name}"))
        .replace(
            "inventory: privacy-inventory.yaml",
            &format!("inventory: {}", inventory.display()),
        )
        .replace("policy: privacy-policy.yaml", "policy: policy.yaml");
    assert!(text.contains("policy: policy.yaml"), "{text}");
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join("policy.yaml"), policy).expect("policy");
    std::fs::write(dir.join("campaign.yaml"), text).expect("spec");
    let db = dir.join("results.sqlite").display().to_string();
    let out = dir.display().to_string();
    let spec = dir.join("campaign.yaml").display().to_string();
    let summary = host(adb, &["campaign", "--db", &db, "run", &spec, "--out", &out]);
    assert!(summary.contains("1 done, 0 failed"), "{summary}");
    let html = dir.join("report.html").display().to_string();
    host(
        adb,
        &[
            "analyze", "--db", &db, "--geo-db", geo, "--format", "html", "--out", &html,
        ],
    );
    let json = host(
        adb,
        &["analyze", "--db", &db, "--geo-db", geo, "--format", "json"],
    );
    serde_json::from_str(&json).expect("analysis JSON")
}

/// The privacy record of one side of the campaign's only measurement.
fn side_record(dir: &Path, side: &str) -> Value {
    let file = walk(dir)
        .into_iter()
        .find(|p| p.ends_with(format!("privacy-{side}.json")))
        .unwrap_or_else(|| panic!("privacy-{side}.json under {}", dir.display()));
    serde_json::from_str(&std::fs::read_to_string(file).expect("read")).expect("JSON")
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The leak rows of the only app: (via, encoding, destination).
fn leaks(analysis: &Value) -> Vec<(String, String, String)> {
    let app = &analysis["privacy"]["apps"][0];
    app["leaks"]
        .as_array()
        .expect("leaks")
        .iter()
        .filter(|l| l["kind"] == "imei")
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap_or_default().to_string();
            (s("via"), s("encoding"), s("destination"))
        })
        .collect()
}

#[test]
fn an_ingress_phone_and_an_intercepted_phone_show_their_leaks_and_blocking_holds() {
    let lab = Lab::up_topology("lab/topologies/privacy.yaml");
    let status = lab.status();
    let phones = status["phones"].as_array().expect("phones");
    let network = |name: &str| {
        phones
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["network"].clone())
    };
    assert_eq!(network("phone-b"), Some("cellular".into()), "{status}");
    assert_eq!(network("phone-a"), Some("wifi".into()), "{status}");
    let geo = status["mmdb"].as_str().expect("lab database").to_string();
    let adb = AdbServer::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let inventory = examples().join("privacy-inventory.yaml");
    let inventory = inventory.display().to_string();

    // phone-b: enrolled on lr-b's ingress, its WireGuard app brings the tunnel up.
    let profiles = tmp.path().join("profiles").display().to_string();
    let enrolled = host(
        &adb,
        &[
            "phone",
            "enroll",
            "--inventory",
            &inventory,
            "--router",
            "lr-b",
            "--device",
            "phone-b",
            "--out",
            &profiles,
            "--push",
            PHONE_B,
            "--json",
        ],
    );
    let enrolled: Value = serde_json::from_str(&enrolled).expect("enroll JSON");
    let vpn_address = enrolled["address"].as_str().expect("address").to_string();
    // phone-a: trusts lr-a's interception CA.
    let ca = tmp.path().join("mitm-ca.pem");
    host(
        &adb,
        &[
            "phone",
            "install-ca",
            PHONE_A,
            "--inventory",
            &inventory,
            "--router",
            "lr-a",
            "--out",
            &ca.display().to_string(),
        ],
    );
    let pem = std::fs::read_to_string(&ca).expect("CA written");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");

    let policy = std::fs::read_to_string(examples().join("privacy-policy.yaml")).expect("policy");
    let dir = tmp.path().join("watch");
    let analysis = campaign(&adb, &geo, &dir, "privacy-watch", &policy);

    // phone-b was measured through the ingress, and every flow of its capture is its own.
    let b = side_record(&dir, "b");
    let flows = b["flows"].as_array().expect("flows");
    assert!(!flows.is_empty(), "{b}");
    for f in flows {
        assert_eq!(f["client"]["address"], vpn_address.as_str(), "{f}");
    }
    assert!(
        flows
            .iter()
            .any(|f| f["destination"] == "chat.global-messenger.example"),
        "phone-b's messenger went through the ingress: {b}"
    );
    // phone-b's TLS to the tracker was not decrypted: encrypted, not searched.
    assert!(flows
        .iter()
        .any(|f| f["destination"] == "analytics.tracker.example" && f["payload"] == "encrypted"));
    // phone-a's was: decrypted by lr-a's proxy and searched.
    let a = side_record(&dir, "a");
    let decrypted = a["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .find(|f| f["destination"] == "analytics.tracker.example" && f["payload"] == "decrypted")
        .unwrap_or_else(|| panic!("a decrypted flow to the tracker: {a}"));
    assert_eq!(decrypted["interception"], "intercepted", "{decrypted}");

    let rows = leaks(&analysis);
    for via in ["cleartext", "decrypted_tls"] {
        for encoding in ["plain", "base64", "sha1"] {
            let row = (
                via.to_string(),
                encoding.to_string(),
                "analytics.tracker.example".to_string(),
            );
            assert!(rows.contains(&row), "{row:?} in {rows:?}");
        }
    }
    let app = &analysis["privacy"]["apps"][0];
    assert!(app["decrypted"].as_u64() >= Some(1), "{app}");
    assert!(app["encrypted_not_inspected"].as_u64() >= Some(1), "{app}");
    let notes = app["notes"].to_string();
    assert!(
        notes.contains("not visible without interception"),
        "{notes}"
    );
    let trackers = app["trackers"].as_array().expect("trackers");
    assert!(
        trackers
            .iter()
            .any(|t| t["domain"] == "analytics.tracker.example" && t["party"] == "third"),
        "{trackers:?}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report");
    assert!(html.contains("analytics.tracker.example"));
    assert!(html.contains("not visible without interception"));
    for imei in ["490154203237518", "352099001761481"] {
        assert!(!html.contains(imei), "the report masks registered values");
    }

    // The intercepted side's capture decrypts in Wireshark with its key log: the HTTPS leak's
    // request shows, which it does not without the key log.
    let run = std::fs::read_dir(&dir)
        .expect("out dir")
        .flatten()
        .find(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .expect("the measurement's folder");
    let files = tmp.path().join("files");
    let db = dir.join("results.sqlite").display().to_string();
    host(
        &adb,
        &[
            "campaign",
            "--db",
            &db,
            "results",
            &run,
            "--out",
            &files.display().to_string(),
        ],
    );
    let capture = files.join("a.capture.pcapng").display().to_string();
    let keylog = format!("tls.keylog_file:{}", files.join("a.keylog.txt").display());
    let uris = |extra: &[&str]| {
        let out = Command::new("tshark")
            .args(["-r", &capture])
            .args(extra)
            .args([
                "-Y",
                "http.request",
                "-T",
                "fields",
                "-e",
                "http.request.uri",
            ])
            .output()
            .expect("tshark runs (apt install tshark)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(uris(&["-o", &keylog]).contains("/v1/events"), "decrypted");
    assert!(!uris(&[]).contains("/v1/events"), "not without the key log");

    // Blocking the tracker: its flows are refused, the messenger still delivers.
    let blocking = policy.replace(
        "plugins: [classification, pii, tracker]\nplugins:",
        "plugins: [classification, pii, tracker, blocking]\nplugins:\n  blocking:\n    categories: [site_analytics]",
    );
    assert!(blocking.contains("blocking]"), "{blocking}");
    let dir = tmp.path().join("block");
    let analysis = campaign(&adb, &geo, &dir, "privacy-block", &blocking);
    let app = &analysis["privacy"]["apps"][0];
    let tracker = app["trackers"]
        .as_array()
        .expect("trackers")
        .iter()
        .find(|t| t["domain"] == "analytics.tracker.example")
        .cloned()
        .unwrap_or_else(|| panic!("the blocked tracker is still reported: {app}"));
    assert!(tracker["blocked"].as_u64() >= Some(1), "{tracker}");
    assert_eq!(tracker["got_through"], 0, "{tracker}");
    for side in ["a", "b"] {
        let record = side_record(&dir, side);
        let flows = record["flows"].as_array().expect("flows");
        assert!(
            flows
                .iter()
                .any(|f| f["destination"] == "chat.global-messenger.example"
                    && f["payload_bytes"].as_u64() > Some(0)),
            "side {side}'s messenger still talks to its server: {record}"
        );
        let to_tracker: Vec<&Value> = flows
            .iter()
            .filter(|f| f["destination"] == "analytics.tracker.example")
            .collect();
        assert!(
            !to_tracker.is_empty(),
            "side {side} tried the tracker: {record}"
        );
        for f in to_tracker {
            assert_eq!(f["blocked"]["answered"], false, "side {side}: {f}");
        }
    }
}
