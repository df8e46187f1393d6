//! `matador-host import` and `matador-host analyze` end to end: records in the documented
//! JSON schema, a MaxMind DB written with the lab's writer, every output format.

use matador_lab::mmdb::{CountryRecord, MmdbBuilder};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

fn host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_matador-host"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("matador-host runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One address per country: 198.51.100.<n>.
const COUNTRIES: [&str; 5] = ["DE", "FR", "GB", "US", "PL"];

fn addr(country: &str) -> String {
    let i = COUNTRIES
        .iter()
        .position(|c| *c == country)
        .expect("country");
    format!("198.51.100.{}", i + 1)
}

fn write_geo_db(path: &Path) {
    let mut b = MmdbBuilder::new("Test-Country", "analysis CLI test");
    for c in COUNTRIES {
        let net = format!("{}/32", addr(c)).parse().expect("prefix");
        b.insert(
            net,
            CountryRecord {
                iso_code: c.into(),
                name_en: None,
            },
        )
        .expect("insert");
    }
    b.write_to(path).expect("write mmdb");
}

/// An Atlas trace through countries (`*`: no reply), 5 ms more per hop.
fn trace(hops: &[&str]) -> Value {
    let result: Vec<Value> = hops
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let reply = if *c == "*" {
                json!({"x": "*"})
            } else {
                json!({"from": addr(c), "rtt": 5.0 * (i + 1) as f64, "size": 52, "ttl": 60})
            };
            json!({"hop": i + 1, "result": [reply]})
        })
        .collect();
    let dst = addr(hops.last().expect("hops"));
    json!({"fw": 5080, "af": 4, "dst_addr": dst, "dst_name": dst, "src_addr": "10.0.0.2",
           "proto": "TCP", "paris_id": 0, "size": 52, "timestamp": 0, "endtime": 1,
           "type": "traceroute", "msm_id": 0, "prb_id": 0, "dst_port": 443,
           "destination_reached": true, "result": result})
}

fn record(
    id: &str,
    app: &str,
    a: &str,
    b: &str,
    net: &[&str],
    app_a: &[&str],
    app_b: &[&str],
) -> Value {
    let node = |c: &str| json!({"name": format!("vp-{c}"), "address": addr(c), "country": c});
    let endpoint = |hops: &[&str]| {
        json!({"ip": addr(hops.last().expect("hops")), "protocol": "tcp", "port": 443,
               "name": "<script>alert(1)</script>.example"})
    };
    json!({"version": 1, "id": id, "app": app, "campaign": "cli", "started": 1700000000,
           "a": node(a), "b": node(b), "network_path": trace(net),
           "app_paths": [
               {"from": "a", "endpoint": endpoint(app_a), "trace": trace(app_a)},
               {"from": "b", "endpoint": endpoint(app_b), "trace": trace(app_b)}]})
}

#[test]
fn import_then_analyze_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let geo = dir.path().join("geo.mmdb");
    write_geo_db(&geo);
    let db = dir.path().join("results.sqlite");
    let jsonl = dir.path().join("records.jsonl");
    // m1: DE-FR, the app goes through the US; m2: DE-PL, stays; network paths stay.
    let lines = [
        record(
            "m1",
            "alpha",
            "DE",
            "FR",
            &["DE", "FR"],
            &["DE", "GB", "US"],
            &["FR", "US"],
        ),
        record(
            "m2",
            "alpha",
            "DE",
            "PL",
            &["DE", "*", "PL"],
            &["DE", "DE"],
            &["PL", "DE"],
        ),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&jsonl, text).expect("write jsonl");

    let out = run(host().arg("import").arg(&jsonl).arg("--db").arg(&db));
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("imported 2"));

    let json = ok(&run(host()
        .args(["analyze", "--format", "json", "--geo-db"])
        .arg(&geo)
        .arg("--db")
        .arg(&db)));
    let v: Value = serde_json::from_str(&json).expect("json report");
    let europe = v["tables"]["leaving"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["scope"] == "region" && r["name"] == "Europe")
        .expect("Europe row")
        .clone();
    assert_eq!(europe["measurements"], 2);
    assert_eq!(
        europe["network"],
        json!({"measurements": 2, "hits": 0, "with_unknown": 1})
    );
    assert_eq!(
        europe["apps"]["alpha"],
        json!({"measurements": 2, "hits": 1, "with_unknown": 0})
    );
    assert!(v["geo_sources"][0]
        .as_str()
        .unwrap()
        .starts_with("geo.mmdb (Test-Country"));

    // Five Eyes: neither endpoint is a member; m1's app path crosses GB and US.
    let fe = v["tables"]["access"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["group"] == "Five Eyes" && r["scope"] == "all")
        .expect("Five Eyes row")
        .clone();
    assert_eq!(fe["apps"]["alpha"]["hits"], 1);
    assert_eq!(fe["network"]["hits"], 0);

    let report = dir.path().join("report.html");
    ok(&run(host()
        .args(["analyze", "--format", "html", "--geo-db"])
        .arg(&geo)
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&report)));
    let html = std::fs::read_to_string(&report).expect("report written");
    assert!(!html.contains("<script"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;.example"));

    let csv = ok(&run(host()
        .args([
            "analyze",
            "--format",
            "csv",
            "--groups",
            "paper-2015",
            "--geo-db",
        ])
        .arg(&geo)
        .arg("--db")
        .arg(&db)));
    assert!(
        csv.contains("leaving_region,,region,Europe,2,0,app:alpha,2,1,50.0000,0"),
        "{csv}"
    );

    let table = ok(&run(host()
        .args(["analyze", "--geo-db"])
        .arg(&geo)
        .arg("--db")
        .arg(&db)));
    assert!(table.contains("50.0% (1/2)"), "{table}");
}

#[test]
fn a_bad_line_imports_nothing_and_names_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("results.sqlite");
    let jsonl = dir.path().join("records.jsonl");
    let good = record("g1", "alpha", "DE", "FR", &["DE", "FR"], &["DE"], &["FR"]);
    let mut bad = record("b1", "alpha", "DE", "FR", &["DE", "FR"], &["DE"], &["FR"]);
    bad["a"]["country"] = json!("Germany");
    std::fs::write(&jsonl, format!("{good}\n\n{bad}\n")).expect("write");
    let out = run(host().arg("import").arg(&jsonl).arg("--db").arg(&db));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("records.jsonl:3"), "{err}");
    assert!(err.contains("a.country"), "{err}");
    // Everything is checked before anything is written: no store was even created.
    assert!(!db.exists());
}

#[test]
fn a_missing_default_database_says_how_to_fetch_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("results.sqlite");
    let jsonl = dir.path().join("records.jsonl");
    let good = record("g1", "alpha", "DE", "FR", &["DE", "FR"], &["DE"], &["FR"]);
    std::fs::write(&jsonl, format!("{good}\n")).expect("write");
    ok(&run(host().arg("import").arg(&jsonl).arg("--db").arg(&db)));
    let out = run(host()
        .arg("analyze")
        .arg("--db")
        .arg(&db)
        .env("MATADOR_GEO_DIR", dir.path().join("empty-cache")));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("npm pack @ip-location-db/geo-whois-asn-country-mmdb"),
        "{err}"
    );
    assert!(err.contains("matador-host analyze --fetch-geo-db"), "{err}");

    let out = run(host()
        .args(["analyze", "--groups", "no-such-groups.yaml", "--geo-db"])
        .arg(dir.path().join("nope.mmdb"))
        .arg("--db")
        .arg(&db));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.mmdb"));
}
