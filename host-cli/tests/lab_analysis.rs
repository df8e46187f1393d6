//! Lab test of the analysis on a real lab measurement (ground truth from the topology):
//! every hop with a known place is given its true country or is flagged — the lab's
//! deliberately wrong database entry (Frankfurt claimed to be in Australia) is caught by the
//! RTT check — and the HTML report renders its tables in a headless browser.

mod common;

use common::adb::AdbServer;
use common::Lab;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

fn host(args: &[&str], adb: &AdbServer) -> std::process::Output {
    adb.env(Command::new(env!("CARGO_BIN_EXE_matador-host")).args(args))
        .output()
        .expect("matador-host runs")
}

/// Address -> (country, what the lab's database claims) for every router, vantage node and
/// service of the running lab.
fn truth(status: &Value) -> HashMap<String, (String, String)> {
    let mut map = HashMap::new();
    for r in status["routers"].as_array().into_iter().flatten() {
        for a in r["addresses"].as_array().into_iter().flatten() {
            let c = r["country"].as_str().unwrap_or_default().to_string();
            let g = r["geo_country"].as_str().unwrap_or_default().to_string();
            map.insert(a.as_str().unwrap_or_default().to_string(), (c, g));
        }
    }
    for s in status["services"].as_array().into_iter().flatten() {
        let c = s["country"].as_str().unwrap_or_default().to_string();
        map.insert(
            s["address"].as_str().unwrap_or_default().to_string(),
            (c.clone(), c),
        );
    }
    for v in status["vantage_nodes"].as_array().into_iter().flatten() {
        let c = v["country"].as_str().unwrap_or_default().to_string();
        let ip = v["endpoint"]
            .as_str()
            .unwrap_or_default()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        map.insert(ip, (c.clone(), c));
    }
    map
}

#[test]
fn every_hop_is_right_or_flagged_and_the_report_renders() {
    let lab = Lab::up();
    let status = lab.status();
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let adb = AdbServer::start();
    let db = dir.join("results.sqlite");
    let db_s = db.display().to_string();
    // The demo with its first vantage-node pair only: vp-ch and vp-de, through Frankfurt.
    // (The whole demo with `--limit 1` ran whichever pair's worker started first: a
    // measurement that never crossed Frankfurt half of the time.)
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let demo = std::fs::read_to_string(examples.join("demo.yaml")).expect("demo.yaml");
    let one_pair: String = demo
        .lines()
        .filter(|l| {
            !["[vp-br, vp-ar]", "[vp-il, vp-sg]", "[vp-pl, vp-au]"]
                .iter()
                .any(|p| l.contains(p))
        })
        .map(|l| {
            for key in ["inventory: ", "policy: "] {
                if let Some(file) = l.strip_prefix(key) {
                    return format!("{key}{}\n", examples.join(file).display());
                }
            }
            format!("{l}\n")
        })
        .collect();
    assert!(one_pair.contains("[vp-ch, vp-de]") && !one_pair.contains("vp-br"));
    let spec = dir.join("demo-ch-de.yaml");
    std::fs::write(&spec, one_pair).expect("spec");
    let out = host(
        &[
            "campaign",
            "--db",
            &db_s,
            "run",
            &spec.display().to_string(),
            "--limit",
            "1",
            "--out",
            &dir.join("shots").display().to_string(),
        ],
        &adb,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let geo = status["mmdb"].as_str().expect("lab database").to_string();
    let out = host(
        &[
            "analyze", "--db", &db_s, "--geo-db", &geo, "--format", "json",
        ],
        &adb,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("analysis JSON");

    let truth = truth(&status);
    let (mut checked, mut caught) = (0, 0);
    for m in report["measurements"].as_array().expect("measurements") {
        let traces = ["network", "application"]
            .into_iter()
            .flat_map(|path| m[path]["traces"].as_array().into_iter().flatten());
        for t in traces {
            for hop in t["hops"].as_array().into_iter().flatten() {
                let Some((country, claimed)) = hop["addr"].as_str().and_then(|a| truth.get(a))
                else {
                    continue;
                };
                let geo = &hop["geo"];
                let flagged = geo["flagged"].as_array().is_some_and(|f| !f.is_empty());
                let given = geo["country"].as_str();
                assert!(
                    given == Some(country.as_str()) || flagged,
                    "hop {} is in {country} but analysed as {given:?}, unflagged: {geo}",
                    hop["addr"]
                );
                if claimed != country {
                    assert!(
                        flagged,
                        "the wrong entry for {} ({claimed}) is flagged: {geo}",
                        hop["addr"]
                    );
                    assert!(given.is_none() || given == Some(country.as_str()), "{geo}");
                    caught += 1;
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "hops checked against the topology: {checked}");
    assert!(
        caught >= 1,
        "the path through Frankfurt met the wrong entry; the traces were: {}",
        report["measurements"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|m| ["network", "application"].map(|p| (p, &m[p]["traces"])))
            .map(|(p, t)| format!(
                "\n{p}: {}",
                t.as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| format!(
                        "{} via [{}]",
                        t["dst"],
                        t["hops"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|h| h["addr"].as_str().unwrap_or("*").to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
            .collect::<String>()
    );

    // The HTML report, rendered by a headless browser.
    let html = dir.join("report.html");
    let out = host(
        &[
            "analyze",
            "--db",
            &db_s,
            "--geo-db",
            &geo,
            "--format",
            "html",
            "--out",
            &html.display().to_string(),
        ],
        &adb,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let browser = |extra: &[&str]| {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.join("chromium").display()
            ))
            .args(extra)
            .arg(format!("file://{}", html.display()))
            .output()
            .expect("chromium (installed by the set-up commands) runs")
    };
    let dom = browser(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.matches("<table").count() >= 2, "both tables rendered");
    assert!(
        dom.contains("com.globalmessenger.android"),
        "the app's column"
    );
    let shot = dir.join("report.png");
    browser(&[
        "--window-size=1280,1600",
        &format!("--screenshot={}", shot.display()),
    ]);
    let png = std::fs::read(&shot).expect("a screenshot of the report");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real picture ({} bytes)",
        png.len()
    );
}
