//! Soak test of a field router (issue 9): `matador-routerd` dials the controller over its
//! management tunnel and uploads every result to the collector there (store-and-forward)
//! while the host drives hundreds of short measurements through the tunnel. The collector
//! is killed and restarted, the router's uplink is cut and restored, repeatedly; at the end
//! every measurement's every result is at the collector, byte for byte, none is left on the
//! router, and the daemon's memory has not grown.
//!
//! `MATADOR_SOAK_MEASUREMENTS` sets how many (default 200).

mod common;

use common::api::RouterApi;
use common::Lab;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A process in a lab namespace, killed when the test ends (also when it fails).
struct Guarded(Child);

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_matador-host"))
        .parent()
        .expect("bin dir")
        .to_path_buf()
}

fn spawn_in(namespace: &str, program: &Path, args: &[&str], log: &Path) -> Guarded {
    let out = std::fs::File::create(log).expect("log file");
    let child = Command::new("ip")
        .args(["netns", "exec", namespace])
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("ip netns exec runs");
    Guarded(child)
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A request that may meet a cut: retried until the router answers (any HTTP status).
fn call(api: &RouterApi, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (code, v) = api.call(method, path, body);
        if code != 0 {
            return (code, v);
        }
        assert!(
            Instant::now() < deadline,
            "{method} {path}: no answer for 90 s"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .expect("VmRSS of the daemon")
}

fn set_link(namespace: &str, ifname: &str, state: &str) {
    let out = Command::new("ip")
        .args(["-n", namespace, "link", "set", ifname, state])
        .output()
        .expect("ip runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_field_router_loses_nothing_through_cuts_and_its_memory_stays_flat() {
    let total: usize = std::env::var("MATADOR_SOAK_MEASUREMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let lab = Lab::up_topology("lab/topologies/field.yaml");
    let status = lab.status();
    let lr = status["lab_routers"][0].clone();
    let router = lr["name"].as_str().expect("name").to_string();
    let node = lab.plan.node(&router).expect("router node").clone();
    let ctl = lab.plan.node("ctl").expect("controller").clone();
    let collector_addr = ctl.vantage.as_ref().expect("controller tunnel").tunnel_addr;
    let token_file = lr["api_token_file"]
        .as_str()
        .expect("token file")
        .to_string();
    let router_dir = Path::new(&token_file)
        .parent()
        .expect("router dir")
        .to_path_buf();
    let work = tempfile::tempdir().expect("tempdir");
    let spool = work.path().join("collected");

    // The transit router's end of the router's uplink: where the line is cut.
    let uplink_addr = lr["address"].as_str().expect("uplink address").to_string();
    let isp = {
        let transit = lab
            .plan
            .nodes
            .iter()
            .find(|n| {
                Command::new("ip")
                    .args([
                        "-n",
                        &n.namespace,
                        "-o",
                        "route",
                        "show",
                        &format!("{uplink_addr}/31"),
                    ])
                    .output()
                    .is_ok_and(|o| !o.stdout.is_empty())
                    && n.name != router
            })
            .expect("the transit router of the uplink");
        let out = Command::new("ip")
            .args(["-n", &transit.namespace, "route", "get", &uplink_addr])
            .output()
            .expect("ip route get");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let dev = text
            .split_whitespace()
            .skip_while(|w| *w != "dev")
            .nth(1)
            .expect("dev in ip route get")
            .to_string();
        (transit.namespace.clone(), dev)
    };
    // Read before the lab's daemon is replaced (`lab status` then reports it gone).
    let api = RouterApi::of(&lab, &router);
    // The lab's daemon gives way to one that also uploads (same files, plus `upload:`).
    let lab_config = router_dir.join("routerd.yaml");
    let pattern = format!("matador-routerd run --config {}", lab_config.display());
    let _ = Command::new("pkill")
        .args(["-TERM", "-f", &pattern])
        .status();
    wait_until("the lab's daemon to stop", Duration::from_secs(20), || {
        !Command::new("pgrep")
            .args(["-f", &pattern])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let config = router_dir.join("routerd-soak.yaml");
    let mut text = std::fs::read_to_string(&lab_config).expect("lab config");
    text.push_str(&format!(
        "upload:\n  url: http://{collector_addr}:8444\n  retry_min_s: 1\n  retry_max_s: 4\n"
    ));
    std::fs::write(&config, text).expect("soak config");
    let ready = router_dir.join("run").join("ready");
    let _ = std::fs::remove_file(&ready);
    let daemon = spawn_in(
        &node.namespace,
        &bin_dir().join("matador-routerd"),
        &["run", "--config", &config.display().to_string()],
        &work.path().join("routerd.log"),
    );
    let pid = daemon.0.id();
    wait_until("the daemon", Duration::from_secs(30), || ready.exists());
    let collector_args = [
        "collector",
        "serve",
        "--listen",
        &format!("{collector_addr}:8444"),
        "--dir",
        &spool.display().to_string(),
        "--router",
        &format!("{router}={token_file}"),
    ]
    .map(str::to_string);
    let args: Vec<&str> = collector_args.iter().map(String::as_str).collect();
    let host_bin = PathBuf::from(env!("CARGO_BIN_EXE_matador-host"));
    let collector_log = |n: usize| work.path().join(format!("collector-{n}.log"));
    let mut collector = Some(spawn_in(
        &ctl.namespace,
        &host_bin,
        &args,
        &collector_log(0),
    ));

    let (mut rss_warm, mut cuts_collector, mut cuts_uplink) = (0, 0, 0);
    for i in 0..total {
        let id = format!("soak-{i:04}");
        let start = json!({
            "id": id, "ap": router, "app": "org.example.soak",
            "capture": true, "traces": false, "duration_s": 30
        });
        let (code, m) = call(&api, "POST", "/v1/measurements", Some(&start));
        // 409: an earlier try got through before the answer was lost in a cut.
        assert!(code == 201 || code == 409, "start {id}: {code} {m}");
        if i % 50 == 45 {
            // The line is cut mid-measurement (the far end goes down, as when the ISP's
            // side fails): the management tunnel goes with it.
            set_link(&isp.0, &isp.1, "down");
            std::thread::sleep(Duration::from_secs(3));
            set_link(&isp.0, &isp.1, "up");
            cuts_uplink += 1;
        }
        let (code, m) = call(&api, "POST", &format!("/v1/measurements/{id}/stop"), None);
        assert!(code == 200 || code == 409, "stop {id}: {code} {m}");
        wait_until(&format!("{id} to finish"), Duration::from_secs(60), || {
            let (code, m) = call(&api, "GET", &format!("/v1/measurements/{id}"), None);
            code == 200 && (m["state"] == "done" || m["state"] == "failed")
        });
        match i % 50 {
            20 => {
                collector = None;
                cuts_collector += 1;
            }
            30 => {
                collector = Some(spawn_in(
                    &ctl.namespace,
                    &host_bin,
                    &args,
                    &collector_log(i),
                ));
            }
            _ => {}
        }
        if i == 30.min(total - 1) {
            rss_warm = rss_kib(pid);
        }
    }
    if collector.is_none() {
        collector = Some(spawn_in(
            &ctl.namespace,
            &host_bin,
            &args,
            &collector_log(total),
        ));
    }

    // Everything drains to the collector once it and the uplink are back.
    wait_until("the spool to drain", Duration::from_secs(120), || {
        let (code, s) = call(&api, "GET", "/v1/status", None);
        code == 200 && s["health"]["spooled_results"] == 0
    });
    let (_, s) = call(&api, "GET", "/v1/status", None);
    let health = &s["health"];
    let rss_end = rss_kib(pid);
    eprintln!(
        "soak: {total} measurements, {cuts_collector} collector cuts, {cuts_uplink} uplink cuts; \
         daemon RSS {rss_warm} KiB after warm-up, {rss_end} KiB at the end; health {health}"
    );
    let out = common::host_ok(&[
        "collector",
        "list",
        "--dir",
        &spool.display().to_string(),
        "--json",
    ]);
    let received: Vec<Value> = serde_json::from_str(&out).expect("list JSON");
    let mut per_measurement: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &received {
        assert_eq!(r["router"], router.as_str());
        let id = r["id"].as_str().expect("id");
        let bytes = std::fs::read(spool.join(&router).join(id)).expect("data file");
        assert_eq!(
            bytes.len() as u64,
            r["size"].as_u64().expect("size"),
            "{id}"
        );
        let sha = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let hex: String = sha.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            r["sha256"].as_str(),
            Some(hex.as_str()),
            "{id} arrived intact"
        );
        per_measurement
            .entry(r["measurement"].as_str().unwrap_or("").to_string())
            .or_default()
            .push(r["kind"].as_str().unwrap_or("").to_string());
    }
    assert_eq!(per_measurement.len(), total, "every measurement arrived");
    for (m, kinds) in &per_measurement {
        for kind in ["capture", "flows", "log"] {
            assert!(
                kinds.iter().any(|k| k == kind),
                "{m}: no {kind} in {kinds:?}"
            );
        }
    }
    assert_eq!(
        health["upload"]["uploaded"].as_u64(),
        Some(received.len() as u64),
        "each result uploaded once, deleted once"
    );
    let leftovers: Vec<_> = std::fs::read_dir(spool.join(&router))
        .expect("router dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "partial files left: {leftovers:?}");
    assert_eq!(health["upload"]["failures"], 0, "{health}");
    // Flat: a few hundred measurements may not grow the daemon beyond allocator noise.
    assert!(
        rss_end <= rss_warm + 3 * 1024,
        "daemon RSS grew from {rss_warm} KiB to {rss_end} KiB"
    );

    // The host's view of the same: `router status` through the management tunnel.
    let inventory = work.path().join("inventory.yaml");
    // The inventory is a campaign's, which wants router pairs and a phone per router; the
    // second router is never asked.
    std::fs::write(
        &inventory,
        format!(
            "routers:\n  - {{ name: {router}, from_lab: true }}\n  - {{ name: lr-x, from_lab: true }}\n\
             router_pairs:\n  - [{router}, lr-x]\nvantage_nodes: []\nphones:\n\
             \x20 - {{ serial: \"127.0.0.1:1\", model: x, router: {router} }}\n\
             \x20 - {{ serial: \"127.0.0.1:2\", model: x, router: lr-x }}\n"
        ),
    )
    .expect("inventory");
    let out = common::host(&[
        "router",
        "status",
        "--inventory",
        &inventory.display().to_string(),
        "--json",
        &router,
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "router status JSON: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(report[0]["router"], router.as_str(), "{report}");
    assert_eq!(
        report[0]["status"]["health"]["upload"]["uploaded"].as_u64(),
        Some(received.len() as u64),
        "{report}"
    );
    drop(collector);
    drop(daemon);
}
