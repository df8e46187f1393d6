//! Lab test of `matador-host campaign`: a campaign of two apps over two vantage-node pairs,
//! killed in the middle of a measurement and resumed, ends with every measurement done once,
//! each with flows, endpoints, application paths of both phones, the network path and
//! screenshots in SQLite.

mod common;

use common::adb::AdbServer;
use common::Lab;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The demo campaign, cut to two apps over two pairs, with the inventory by absolute path.
fn spec(dir: &Path) -> PathBuf {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let demo = std::fs::read_to_string(examples.join("demo.yaml")).expect("demo spec");
    let pairs_start = demo.find("pairs:").expect("pairs");
    let pairs_end = demo[pairs_start..]
        .find("repetitions:")
        .expect("repetitions")
        + pairs_start;
    let text = format!(
        "{}pairs:\n  explicit:\n    - [vp-ch, vp-de]\n    - [vp-gb, vp-us]\n{}",
        &demo[..pairs_start],
        &demo[pairs_end..]
    )
    .replace("name: demo", "name: resume-test")
    .replace(
        "inventory: lab-inventory.yaml",
        &format!(
            "inventory: {}",
            examples.join("lab-inventory.yaml").display()
        ),
    )
    .replace(
        "apps: [global-messenger, swiss-messenger, geo-messenger]",
        "apps: [global-messenger, swiss-messenger]",
    );
    let path = dir.join("campaign.yaml");
    std::fs::write(&path, text).expect("write spec");
    path
}

fn campaign(dir: &Path, adb: &AdbServer, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_matador-host"));
    cmd.arg("campaign")
        .arg("--db")
        .arg(dir.join("results.sqlite"))
        .args(args);
    adb.env(&mut cmd);
    cmd
}

/// The first column of every row, as text.
fn sql(dir: &Path, query: &str) -> Vec<String> {
    use rusqlite::types::Value;
    let db = rusqlite::Connection::open(dir.join("results.sqlite")).expect("db");
    let mut q = db.prepare(query).expect("query");
    let rows = q
        .query_map([], |r| r.get::<_, Value>(0))
        .expect("rows")
        .filter_map(Result::ok)
        .map(|v| match v {
            Value::Integer(i) => i.to_string(),
            Value::Text(t) => t,
            Value::Real(f) => f.to_string(),
            Value::Null => String::new(),
            Value::Blob(b) => format!("{} bytes", b.len()),
        })
        .collect();
    rows
}

fn done_count(dir: &Path) -> usize {
    if !dir.join("results.sqlite").exists() {
        return 0;
    }
    let db = rusqlite::Connection::open(dir.join("results.sqlite")).expect("db");
    db.query_row(
        "SELECT count(*) FROM campaign_runs WHERE state = 'done'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap_or(0) as usize
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_killed_campaign_resumes_and_does_no_measurement_twice() {
    let _lab = Lab::up();
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let adb = AdbServer::start();
    let spec = spec(dir);
    let out = dir.join("shots");
    let mut run = Killed(
        campaign(dir, &adb, &["run"])
            .arg(&spec)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("campaign runs"),
    );
    // Kill it once the first measurement is done, in the middle of the second.
    let deadline = Instant::now() + Duration::from_secs(180);
    while done_count(dir) < 1 {
        assert!(Instant::now() < deadline, "no measurement finished");
        assert!(
            run.0.try_wait().ok().flatten().is_none(),
            "the campaign ended early"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(8));
    drop(run);
    let first = sql(dir, "SELECT id FROM campaign_runs WHERE state = 'done'");
    let killed = sql(dir, "SELECT id FROM campaign_runs WHERE state = 'running'");
    assert_eq!(killed.len(), 1, "killed in the middle of a measurement");

    let resumed = campaign(dir, &adb, &["resume", "--out"])
        .arg(&out)
        .output()
        .expect("resume runs");
    assert!(
        resumed.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&resumed.stdout),
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(
        done_count(dir),
        4,
        "{}",
        String::from_utf8_lossy(&resumed.stdout)
    );
    // What was finished was not run again; the interrupted one ran once more.
    for id in &first {
        assert_eq!(
            sql(
                dir,
                &format!("SELECT attempts FROM campaign_runs WHERE id = '{id}'")
            ),
            ["1"],
            "{id}"
        );
    }
    assert_eq!(
        sql(
            dir,
            &format!(
                "SELECT attempts FROM campaign_runs WHERE id = '{}'",
                killed[0]
            )
        ),
        ["2"]
    );
    assert_eq!(sql(dir, "SELECT count(*) FROM measurements"), ["4"]);
    for id in sql(dir, "SELECT id FROM campaign_runs") {
        let kinds = sql(
            dir,
            &format!(
                "SELECT side || '.' || kind FROM campaign_results WHERE run_id = '{id}' ORDER BY 1"
            ),
        );
        assert_eq!(
            kinds,
            [
                "a.capture",
                "a.flows",
                "a.log",
                "a.traces",
                "b.capture",
                "b.flows",
                "b.log",
                "b.traces"
            ],
            "{id}"
        );
        let endpoints = sql(dir, &format!(
            "SELECT count(*) FROM campaign_results, json_each(json_extract(CAST(bytes AS TEXT), '$.endpoints')) \
             WHERE run_id = '{id}' AND kind = 'flows'"
        ));
        assert_ne!(endpoints, ["0"], "{id} has endpoints");
        let shots = std::fs::read_dir(out.join(&id))
            .map(|d| d.count())
            .unwrap_or(0);
        assert!(shots >= 1, "{id} has screenshots");
    }
    let sides = sql(
        dir,
        "SELECT count(DISTINCT json_extract(value, '$.from')) FROM measurements, \
         json_each(json_extract(record, '$.app_paths')) GROUP BY measurements.id",
    );
    assert_eq!(
        sides,
        ["2", "2", "2", "2"],
        "application paths of both phones"
    );
    let network = sql(dir, "SELECT count(*) FROM measurements WHERE json_extract(record, '$.network_path') IS NOT NULL");
    assert_eq!(network, ["4"], "every measurement has the network path");
}
