//! Lab tests of `matador-routerd run` in the lab routers: a phone behind the router appears
//! at the vantage node; with the tunnel down nothing leaves through the uplink (fail closed)
//! and traffic resumes when it is back; a kill -9 and restart leaves one copy of everything;
//! the API refuses requests without the token, with a wrong one, and from the AP side.

mod common;

use common::adb::{device, join_wifi, shell, AdbServer};
use common::api::RouterApi;
use common::Lab;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn router(status: &Value, name: &str) -> Value {
    status["lab_routers"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["name"] == name))
        .cloned()
        .expect("lab router in status")
}

fn vantage(status: &Value, name: &str) -> Value {
    status["vantage_nodes"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["name"] == name))
        .cloned()
        .expect("vantage node in status")
}

fn service_address(status: &Value, name: &str) -> String {
    status["services"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["name"] == name))
        .and_then(|s| s["address"].as_str())
        .expect("service address")
        .to_string()
}

/// `nft list chain` output of a lab router: the packets counted by the rule containing `what`.
fn counter(lab: &Lab, node: &str, chain: &str, what: &str) -> u64 {
    let out = lab.exec(node, &["nft", "list", "chain", "inet", "matador", chain]);
    text(&out.stdout)
        .lines()
        .find(|l| l.contains(what) && l.contains("counter"))
        .and_then(|l| l.split("packets ").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter for {what} in {}", text(&out.stdout)))
}

fn curl_whoami(lab: &Lab, whoami: &str) -> Option<String> {
    let out = lab.exec(
        "phone-a",
        &[
            "curl",
            "-s",
            "--max-time",
            "3",
            &format!("http://{whoami}/"),
        ],
    );
    out.status
        .success()
        .then(|| text(&out.stdout).trim().to_string())
}

fn pid_of(pattern: &str) -> Option<i32> {
    let out = Command::new("pgrep").args(["-f", pattern]).output().ok()?;
    text(&out.stdout).lines().next()?.trim().parse().ok()
}

#[test]
fn a_phone_appears_at_its_vantage_node_and_fails_closed_without_the_tunnel() {
    let lab = Lab::up();
    let status = lab.status();
    let lr = router(&status, "lr-a");
    let vp_name = lr["vantage"]
        .as_str()
        .expect("lr-a has a vantage node")
        .to_string();
    let vp = vantage(&status, &vp_name);
    let vp_addr = vp["endpoint"]
        .as_str()
        .and_then(|e| e.split(':').next())
        .expect("endpoint")
        .to_string();
    let whoami = service_address(&status, "whoami");
    let server = AdbServer::start();
    let mut a = device(&lab, "phone-a", &server.key());
    join_wifi(&mut a, "matador-a", "lab-passphrase-a");

    // The lease comes from the router's subnet, with the vantage node's resolver as DNS.
    assert!(shell(&mut a, "ip -4 addr show wlan0").contains("inet 10.77.1."));
    let resolver = vp["resolver"].as_str().expect("resolver");
    let log = shell(&mut a, "logcat -d -s DhcpClient");
    assert!(log.contains(&format!("dns [{resolver}]")), "{log}");
    // To the Internet, the phone is the vantage node.
    assert_eq!(
        curl_whoami(&lab, &whoami).as_deref(),
        Some(vp_addr.as_str())
    );

    // Tunnel down: stop the vantage node's side and freeze the daemon's supervision, then
    // kill the router's WireGuard process (so the tunnel interface is gone).
    let router_key = text(
        &lab.exec("lr-a", &["wg", "show", "wg-lr-a", "public-key"])
            .stdout,
    )
    .trim()
    .to_string();
    let router_addr = text(
        &lab.exec("lr-a", &["ip", "-4", "-br", "addr", "show", "wg-lr-a"])
            .stdout,
    );
    let router_addr = router_addr
        .split_whitespace()
        .nth(2)
        .expect("tunnel address")
        .to_string();
    let vp_if = format!("wg-{vp_name}");
    assert!(lab
        .exec(
            &vp_name,
            &["wg", "set", &vp_if, "peer", &router_key, "remove"]
        )
        .status
        .success());
    let daemon =
        pid_of("matador-routerd run --config /run/matador-lab/routers/lr-a/").expect("daemon");
    let wireguard = pid_of("wireguard-go -f wg-lr-a").expect("router's wireguard-go");
    // SAFETY: signals to processes of this test's lab.
    unsafe { libc::kill(daemon, libc::SIGSTOP) };
    unsafe { libc::kill(wireguard, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(300));
    let uplink = "t-ch-zrh"; // lr-a hangs off ch-zrh in the default topology
    let capture = Command::new(env!("CARGO_BIN_EXE_matador-host"))
        .args([
            "lab",
            "exec",
            "lr-a",
            "--",
            "timeout",
            "4",
            "tcpdump",
            "-n",
            "-i",
            uplink,
            "src",
            "net",
            "10.77.1.0/24",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump");
    std::thread::sleep(Duration::from_millis(700));
    let drops_before = counter(&lab, "lr-a", "forward", "drop");
    assert_eq!(
        curl_whoami(&lab, &whoami),
        None,
        "no way out without the tunnel"
    );
    let out = capture.wait_with_output().expect("tcpdump ends");
    let report = text(&out.stderr);
    assert!(
        report.contains("0 packets captured"),
        "packets from the AP subnet on the uplink: {}{report}",
        text(&out.stdout)
    );
    assert!(
        counter(&lab, "lr-a", "forward", "drop") > drops_before,
        "nftables counted the drops"
    );

    // Back up: the vantage node takes the router again, the daemon rebuilds its tunnel.
    unsafe { libc::kill(daemon, libc::SIGCONT) };
    let allowed = format!(
        "{}/32",
        router_addr.split('/').next().unwrap_or(&router_addr)
    );
    assert!(lab
        .exec(
            &vp_name,
            &[
                "wg",
                "set",
                &vp_if,
                "peer",
                &router_key,
                "allowed-ips",
                &allowed
            ]
        )
        .status
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while curl_whoami(&lab, &whoami).as_deref() != Some(vp_addr.as_str()) {
        assert!(Instant::now() < deadline, "traffic did not resume");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        pid_of("matador-routerd run --config /run/matador-lab/routers/lr-a/"),
        Some(daemon),
        "same daemon"
    );
}

#[test]
fn a_killed_daemon_restarts_with_one_copy_of_everything() {
    let lab = Lab::up();
    // Killed in the middle of a measurement.
    let api = RouterApi::of(&lab, "lr-b");
    let start = serde_json::json!({"id": "m-killed", "ap": "lr-b", "app": "com.globalmessenger.android",
        "capture": true, "traces": true, "duration_s": 600});
    let (code, m) = api.call("POST", "/v1/measurements", Some(&start));
    assert_eq!(code, 201, "{m}");
    std::thread::sleep(Duration::from_millis(500));
    let daemon =
        pid_of("matador-routerd run --config /run/matador-lab/routers/lr-b/").expect("daemon");
    // SAFETY: a signal to a process of this test's lab.
    unsafe { libc::kill(daemon, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(300));
    let routerd = std::env::var("MATADOR_ROUTERD").unwrap_or_else(|_| {
        std::path::Path::new(env!("CARGO_BIN_EXE_matador-host"))
            .with_file_name("matador-routerd")
            .display()
            .to_string()
    });
    let _ = std::fs::remove_file("/run/matador-lab/routers/lr-b/run/ready");
    let restarted = Command::new(env!("CARGO_BIN_EXE_matador-host"))
        .args([
            "lab",
            "exec",
            "lr-b",
            "--",
            "setsid",
            "-f",
            &routerd,
            "run",
            "--config",
            "/run/matador-lab/routers/lr-b/routerd.yaml",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("restart");
    assert!(restarted.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::path::Path::new("/run/matador-lab/routers/lr-b/run/ready").exists() {
        assert!(
            Instant::now() < deadline,
            "the restarted daemon did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let tables = text(&lab.exec("lr-b", &["nft", "list", "tables"]).stdout);
    assert_eq!(tables.matches("table inet matador").count(), 1, "{tables}");
    let rules = text(&lab.exec("lr-b", &["ip", "rule"]).stdout);
    assert_eq!(rules.matches("lookup 1000").count(), 1, "{rules}");
    let routes = text(
        &lab.exec("lr-b", &["ip", "route", "show", "table", "1000"])
            .stdout,
    );
    // The tunnel as default, and the AP's own subnet (the interception proxy's answers to
    // the phone), each once.
    let mut lines: Vec<&str> = routes.lines().map(str::trim).collect();
    assert_eq!(lines.len(), 2, "{routes}");
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(lines.len(), 2, "no route twice: {routes}");
    assert!(routes.contains("default dev wg-lr-b"), "{routes}");
    assert!(routes.contains("10.77.2.0/24 dev wlan0"), "{routes}");
    // The measurement is closed as failed, with what it had; nothing half-written is listed.
    let m = api.wait_measurement("m-killed", Duration::from_secs(30));
    assert_eq!(m["state"], "failed", "{m}");
    assert!(
        m["detail"]
            .as_str()
            .unwrap_or("")
            .contains("daemon stopped"),
        "{m}"
    );
    assert!(
        m["results"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == "m-killed.log")),
        "{m}"
    );
    let (code, list) = api.call("GET", "/v1/results", None);
    assert_eq!(code, 200);
    let listed: Vec<&str> = list["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    let mut unique = listed.clone();
    unique.dedup();
    assert_eq!(listed, unique, "each result once");
    for r in list["results"].as_array().expect("results") {
        let id = r["id"].as_str().expect("id");
        let bytes = api.result(id);
        assert_eq!(
            bytes.len() as u64,
            r["size"].as_u64().expect("size"),
            "{id} whole"
        );
    }
    let (code, _) = api.call(
        "POST",
        "/v1/measurements",
        Some(&serde_json::json!({"id": "m-after", "ap": "lr-b",
        "app": "x", "capture": false, "traces": false, "duration_s": 5})),
    );
    assert_eq!(code, 201, "the AP is free for the next measurement");
    let wg = Command::new("pgrep")
        .args(["-f", "wireguard-go -f wg-lr-b"])
        .output()
        .expect("pgrep");
    assert_eq!(text(&wg.stdout).lines().count(), 1, "one WireGuard process");
    let dnsmasq = Command::new("pgrep")
        .args(["-f", "routers/lr-b/run/lr-b/dnsmasq.conf"])
        .output()
        .expect("pgrep");
    assert_eq!(text(&dnsmasq.stdout).lines().count(), 1, "one dnsmasq");
    // And the phone behind it still gets out.
    let server = AdbServer::start();
    let mut b = device(&lab, "phone-b", &server.key());
    join_wifi(&mut b, "matador-b", "lab-passphrase-b");
    // `lab status` now says degraded (the daemon it started is gone), so ask the plan.
    let i = lab
        .plan
        .nodes
        .iter()
        .position(|n| n.name == "whoami")
        .expect("whoami");
    let whoami = lab.plan.public_addr(i).expect("whoami address").to_string();
    let out = lab.exec(
        "phone-b",
        &[
            "curl",
            "-s",
            "--max-time",
            "5",
            &format!("http://{whoami}/"),
        ],
    );
    assert!(out.status.success(), "phone-b gets out after the restart");
}

#[test]
fn the_api_wants_the_token_and_is_out_of_the_phones_reach() {
    let lab = Lab::up();
    let status = lab.status();
    let lr = router(&status, "lr-a");
    let api = lr["api"].as_str().expect("api").to_string();
    let token =
        std::fs::read_to_string(lr["api_token_file"].as_str().expect("token file")).expect("token");
    let code = |args: &[&str]| {
        let out = Command::new("curl")
            .args([
                "-sk",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "5",
            ])
            .args(args)
            .arg(format!("https://{api}/v1/status"))
            .output()
            .expect("curl");
        text(&out.stdout)
    };
    assert_eq!(code(&[]), "401", "no token");
    assert_eq!(
        code(&["-H", "Authorization: Bearer not-the-router-token-at-all"]),
        "401",
        "wrong token"
    );
    assert_eq!(
        code(&["-H", &format!("Authorization: Bearer {}", token.trim())]),
        "200"
    );
    let body = Command::new("curl")
        .args([
            "-sk",
            "--max-time",
            "5",
            "-H",
            &format!("Authorization: Bearer {}", token.trim()),
        ])
        .arg(format!("https://{api}/v1/status"))
        .output()
        .expect("curl");
    let status: Value = serde_json::from_slice(&body.stdout).expect("status JSON");
    assert_eq!(status["router"], "lr-a");
    assert_eq!(status["aps"][0]["tunnel"]["up"], true, "{status}");
    let log = std::fs::read_to_string("/run/matador-lab/logs/routerd-lr-a.log").unwrap_or_default();
    assert!(
        !log.contains(token.trim()),
        "the token never reaches the log"
    );

    // From the uplink side (the Internet): the API is fenced to the management tunnel. The
    // transit router lr-a hangs off stands for any host out there; it sends to the router's
    // management address through lr-a's uplink.
    let uplink_addr = lr["address"].as_str().expect("uplink address");
    let management = lr["management"].as_str().expect("management address");
    let route = format!("{management}/32");
    let fenced_before = counter(&lab, "lr-a", "input", "tcp dport 8443");
    let out = lab.exec(
        "ch-zrh",
        &["ip", "route", "replace", &route, "via", uplink_addr],
    );
    assert!(out.status.success(), "route: {}", text(&out.stderr));
    let out = lab.exec(
        "ch-zrh",
        &[
            "curl",
            "-sk",
            "--max-time",
            "3",
            &format!("https://{management}:8443/v1/status"),
        ],
    );
    let _ = lab.exec("ch-zrh", &["ip", "route", "del", &route]);
    assert!(
        !out.status.success(),
        "the Internet reached the API: {}",
        text(&out.stdout)
    );
    assert!(
        counter(&lab, "lr-a", "input", "tcp dport 8443") > fenced_before,
        "the API fence counted it"
    );

    // From the AP side: the phone cannot reach the router's management address at all.
    let server = AdbServer::start();
    let mut a = device(&lab, "phone-a", &server.key());
    join_wifi(&mut a, "matador-a", "lab-passphrase-a");
    let fenced_before = counter(&lab, "lr-a", "input", "drop");
    let out = lab.exec(
        "phone-a",
        &[
            "curl",
            "-sk",
            "--max-time",
            "3",
            "-H",
            &format!("Authorization: Bearer {}", token.trim()),
            &format!("https://{management}:8443/v1/status"),
        ],
    );
    assert!(
        !out.status.success(),
        "the phone reached the API: {}",
        text(&out.stdout)
    );
    assert!(
        counter(&lab, "lr-a", "input", "drop") > fenced_before,
        "the fence counted it"
    );
}
