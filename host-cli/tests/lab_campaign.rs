//! Lab test of `matador-host campaign`: two apps over six vantage-node pairs on the lab's two
//! router pairs in parallel. The host is killed in the middle of a measurement and resumed;
//! during the resumed run a phone drops off ADB mid-measurement and comes back. The campaign
//! ends with every measurement done, none twice, the cut one retried, and each with flows,
//! endpoints, application paths of both phones, the network path and screenshots in SQLite.

mod common;

use common::adb::AdbServer;
use common::{host_ok, Lab};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The six vantage-node pairs.
const PAIRS: &str = "    - [vp-ch, vp-de]
    - [vp-gb, vp-us]
    - [vp-br, vp-ar]
    - [vp-il, vp-sg]
    - [vp-pl, vp-au]
    - [vp-nz, vp-cn]
";

/// The demo campaign, cut to two apps over six pairs with two retries, with the inventory
/// by absolute path.
fn spec(dir: &Path) -> PathBuf {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let demo = std::fs::read_to_string(examples.join("demo.yaml")).expect("demo spec");
    let pairs_start = demo.find("pairs:").expect("pairs");
    let pairs_end = demo[pairs_start..]
        .find("repetitions:")
        .expect("repetitions")
        + pairs_start;
    let text = format!(
        "{}pairs:\n  explicit:\n{PAIRS}{}",
        &demo[..pairs_start],
        &demo[pairs_end..]
    )
    .replace("name: demo", "name: resume-test")
    .replace("retries: 1", "retries: 2")
    .replace(
        "inventory: lab-inventory.yaml",
        &format!(
            "inventory: {}",
            examples.join("lab-inventory.yaml").display()
        ),
    )
    .replace(
        "policy: demo-policy.yaml",
        &format!("policy: {}", examples.join("demo-policy.yaml").display()),
    )
    .replace(
        "apps: [global-messenger, swiss-messenger, geo-messenger]",
        "apps: [global-messenger, swiss-messenger]",
    );
    assert!(text.contains("retries: 2"), "the demo spec changed: {text}");
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

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Rows of `query` as text.
fn one(dir: &Path, query: &str) -> String {
    sql(dir, query).into_iter().next().unwrap_or_default()
}

fn count(dir: &Path, state: &str) -> usize {
    if !dir.join("results.sqlite").exists() {
        return 0;
    }
    one(
        dir,
        &format!("SELECT count(*) FROM campaign_runs WHERE state = '{state}'"),
    )
    .parse()
    .unwrap_or(0)
}

/// Waits for `done` while `run` is still going.
fn wait_while_running(
    run: &mut Child,
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        assert!(
            run.try_wait().ok().flatten().is_none(),
            "{what}: the campaign ended first"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A measurement started after `since` (Unix time) and running on router pair `pair`
/// whose phones have begun the conversation (its attempt's first screenshot is there).
fn conversing_on(dir: &Path, pair: &str, since: f64) -> Option<String> {
    let rows = sql(
        dir,
        &format!(
            "SELECT r.id || '|' || r.screenshots FROM campaign_runs r JOIN campaign_attempts a \
             ON a.run_id = r.id AND a.attempt = r.attempts \
             WHERE r.state = 'running' AND a.outcome = 'running' AND a.pair = '{pair}' \
             AND a.started > {since}"
        ),
    );
    rows.into_iter().find_map(|row| {
        let (id, shots) = row.split_once('|')?;
        let n = std::fs::read_dir(shots).map(|d| d.count()).unwrap_or(0);
        (n > 0).then(|| id.to_string())
    })
}

#[test]
fn a_campaign_on_two_router_pairs_survives_a_host_kill_and_a_phone_drop() {
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
    // Kill it once both pairs have finished a measurement and are in the middle of others.
    wait_while_running(
        &mut run.0,
        "two measurements done",
        Duration::from_secs(240),
        || count(dir, "done") >= 2,
    );
    wait_while_running(
        &mut run.0,
        "both pairs busy",
        Duration::from_secs(60),
        || count(dir, "running") == 2,
    );
    std::thread::sleep(Duration::from_secs(5));
    drop(run);
    let first = sql(dir, "SELECT id FROM campaign_runs WHERE state = 'done'");
    let killed = sql(dir, "SELECT id FROM campaign_runs WHERE state = 'running'");
    assert!(!killed.is_empty(), "killed in the middle of a measurement");
    let pairs_used = sql(
        dir,
        "SELECT DISTINCT pair FROM campaign_attempts ORDER BY 1",
    );
    assert_eq!(
        pairs_used,
        ["lr-a+lr-b", "lr-c+lr-d"],
        "both router pairs ran"
    );

    // Resume; phone C (the sender on lr-c) drops off mid-conversation, back 3 s later.
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let mut resumed = Killed(
        campaign(dir, &adb, &["resume", "--out"])
            .arg(&out)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("resume runs"),
    );
    let mut cut = None;
    wait_while_running(
        &mut resumed.0,
        "a conversation on lr-c+lr-d",
        Duration::from_secs(180),
        || {
            cut = conversing_on(dir, "lr-c+lr-d", since);
            cut.is_some()
        },
    );
    let cut = cut.unwrap_or_default();
    host_ok(&["lab", "unplug", "phone-c"]);
    std::thread::sleep(Duration::from_secs(3));
    host_ok(&["lab", "plug", "phone-c"]);
    let output = {
        let child = std::mem::replace(
            &mut resumed.0,
            Command::new("true").spawn().expect("true runs"),
        );
        child.wait_with_output().expect("resume ends")
    };
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{log}");
    assert_eq!((count(dir, "done"), count(dir, "failed")), (12, 0), "{log}");

    // What was finished was not run again; the interrupted ones ran once more; the one the
    // phone drop cut failed that attempt on lr-c+lr-d and was done by the next.
    for id in &first {
        assert_eq!(
            one(
                dir,
                &format!("SELECT attempts FROM campaign_runs WHERE id = '{id}'")
            ),
            "1",
            "{id}"
        );
    }
    for id in &killed {
        let outcomes = sql(
            dir,
            &format!(
                "SELECT outcome FROM campaign_attempts WHERE run_id = '{id}' ORDER BY attempt"
            ),
        );
        assert_eq!(
            outcomes.first().map(String::as_str),
            Some("interrupted"),
            "{id}: {outcomes:?}"
        );
        assert_eq!(
            outcomes.last().map(String::as_str),
            Some("done"),
            "{id}: {outcomes:?}"
        );
    }
    let cut_attempts = sql(
        dir,
        &format!(
            "SELECT outcome || ' ' || pair || ' ' || coalesce(error, '') FROM campaign_attempts \
         WHERE run_id = '{cut}' ORDER BY attempt"
        ),
    );
    let failed: Vec<_> = cut_attempts
        .iter()
        .filter(|a| a.starts_with("failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{cut}: {cut_attempts:?}");
    assert!(
        failed[0].starts_with("failed lr-c+lr-d") && failed[0].contains("phone of lr-c"),
        "{cut}: {cut_attempts:?}"
    );
    assert!(
        cut_attempts.last().is_some_and(|a| a.starts_with("done")),
        "{cut_attempts:?}"
    );
    // No other attempt than those: nothing done twice, nothing else retried.
    let attempts: usize = one(dir, "SELECT sum(attempts) FROM campaign_runs")
        .parse()
        .unwrap_or(0);
    let expected = 12 + killed.len() + 1;
    assert_eq!(attempts, expected, "{:?}", sql(dir, "SELECT run_id || ' ' || attempt || ' ' || outcome || ' ' || coalesce(error, '') FROM campaign_attempts ORDER BY 1"));

    assert_eq!(sql(dir, "SELECT count(*) FROM measurements"), ["12"]);
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
    assert_eq!(sides, vec!["2"; 12], "application paths of both phones");
    let network = sql(dir, "SELECT count(*) FROM measurements WHERE json_extract(record, '$.network_path') IS NOT NULL");
    assert_eq!(network, ["12"], "every measurement has the network path");
}
