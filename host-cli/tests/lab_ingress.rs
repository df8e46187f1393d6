//! Lab test of the WireGuard ingress: a phone that is not on the lab Wi-Fi (a WireGuard
//! client in the controller's namespace, out on the Internet as a phone on cellular is) is
//! enrolled over the router's API, reaches a service through the router's ingress and the
//! vantage node's tunnel, and a measurement of that device captures only its flows and
//! attributes every result to it; a blocklist refuses a tracker and nothing else; its
//! results are listed and deleted by device, and removing its peer stops its traffic at once.

mod common;

use common::api::RouterApi;
use common::Lab;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;

const DEVICE: &str = "pixel-vpn";
const PHONE_IF: &str = "wp-test";

fn wg(args: &[&str], input: Option<&str>) -> String {
    use std::io::Write as _;
    let mut child = Command::new("wg")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("wg runs (apt install wireguard-tools)");
    if let Some(text) = input {
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("wg");
    assert!(out.status.success(), "wg {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn fetch(lab: &Lab, url: &str) -> (bool, String) {
    let out = lab.exec("ctl", &["curl", "-s", "--max-time", "5", url]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

/// The router's DNS answer for `name`, asked through the ingress.
fn dig(lab: &Lab, name: &str) -> String {
    let out = lab.exec(
        "ctl",
        &["dig", "+short", "+time=3", "+tries=2", "@10.78.9.1", name],
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_phone_on_the_wireguard_ingress_is_measured_and_its_data_is_its_own() {
    let lab = Lab::up_topology("lab/topologies/field.yaml");
    let status = lab.status();
    let lr = status["lab_routers"]
        .as_array()
        .and_then(|l| l.iter().find(|r| r["name"] == "lr-f"))
        .cloned()
        .expect("lr-f");
    let ingress = lr["ingress"].clone();
    let ap = ingress["ap"].as_str().expect("ingress AP").to_string();
    let endpoint = ingress["endpoint"].as_str().expect("endpoint").to_string();
    let whoami = status["services"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["name"] == "whoami"))
        .and_then(|s| s["address"].as_str())
        .expect("whoami address")
        .to_string();
    let tracker = status["services"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["name"] == "analytics"))
        .and_then(|s| s["address"].as_str())
        .expect("analytics address")
        .to_string();
    let api = RouterApi::of(&lab, "lr-f");

    let (code, list) = api.call("GET", "/v1/ingress", None);
    assert_eq!(code, 200, "{list}");
    let router_key = list[0]["public_key"]
        .as_str()
        .expect("router key")
        .to_string();
    assert_eq!(list[0]["ap"], ap.as_str(), "{list}");
    assert_eq!(list[0]["peers"], json!([]), "{list}");
    assert_eq!(list[0]["gateway"], "10.78.9.1", "{list}");

    // Enrolment, as `matador-host phone enroll` does it: the phone's key and address.
    let private = wg(&["genkey"], None);
    let public = wg(&["pubkey"], Some(&private));
    let path = format!("/v1/ingress/{ap}/peers/{DEVICE}");
    let add = json!({"public_key": public, "address": "10.78.9.2"});
    let (code, peer) = api.call("PUT", &path, Some(&add));
    assert_eq!(code, 200, "{peer}");
    let (code, again) = api.call("PUT", &path, Some(&add));
    assert_eq!(code, 200, "the same peer twice is no change: {again}");
    let clash = json!({"public_key": public, "address": "10.78.9.3"});
    let (code, e) = api.call(
        "PUT",
        &format!("/v1/ingress/{ap}/peers/other"),
        Some(&clash),
    );
    assert_eq!(code, 409, "a second device with the same key: {e}");

    // The phone: only the service (and the router's DNS) go into its tunnel.
    let script = format!(
        "set -e\nexport WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1\nwireguard-go {PHONE_IF} >/dev/null 2>&1\n\
         umask 077; printf '%s\\n' '{private}' > /tmp/{PHONE_IF}.key\n\
         wg set {PHONE_IF} private-key /tmp/{PHONE_IF}.key peer {router_key} endpoint {endpoint} allowed-ips 0.0.0.0/0 persistent-keepalive 5\n\
         rm -f /tmp/{PHONE_IF}.key\n\
         ip addr add 10.78.9.2/32 dev {PHONE_IF}\nip link set {PHONE_IF} up\n\
         ip route add {whoami}/32 dev {PHONE_IF} src 10.78.9.2\nip route add {tracker}/32 dev {PHONE_IF} src 10.78.9.2\nip route add 10.78.9.1/32 dev {PHONE_IF} src 10.78.9.2\n"
    );
    let out = lab.exec("ctl", &["sh", "-c", &script]);
    assert!(
        out.status.success(),
        "phone tunnel: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let start = json!({"id": "m-vpn-1", "ap": ap, "app": "org.example.vpn",
        "capture": true, "traces": false, "duration_s": 120, "device": DEVICE});
    let (code, m) = api.call("POST", "/v1/measurements", Some(&start));
    assert_eq!(code, 201, "{m}");
    let url = format!("http://{whoami}/");
    let mut reached = (false, String::new());
    for _ in 0..10 {
        reached = fetch(&lab, &url);
        if reached.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(reached.0, "the service through the ingress: {}", reached.1);
    // The router's DNS forwarder answers through the tunnel, from the vantage node's resolver.
    assert_eq!(
        dig(&lab, "whoami.lab.example"),
        whoami,
        "DNS through the ingress"
    );
    // Blocking: the tracker is refused at once (a TCP reset, not a time-out) once its name
    // is resolved through the router; the service next to it is not touched.
    let blocklist = format!("/v1/aps/{ap}/blocklist");
    let (code, kept) = api.call(
        "PUT",
        &blocklist,
        Some(&json!({"domains": ["Tracker.Example."]})),
    );
    assert_eq!(code, 200, "{kept}");
    assert_eq!(kept["domains"], json!(["tracker.example"]));
    let tracker_url = format!("http://{tracker}/collect?imei=490154203237518");
    let resolve = || dig(&lab, "analytics.tracker.example");
    let mut answered = String::new();
    for _ in 0..10 {
        answered = resolve();
        if answered == tracker {
            break;
        }
        // The restarted dnsmasq may take a moment to listen again.
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        answered, tracker,
        "the blocked name still resolves (and fills the set)"
    );
    let refused = lab.exec("ctl", &["curl", "-s", "--max-time", "5", &tracker_url]);
    assert_eq!(
        refused.status.code(),
        Some(7),
        "curl: connection refused by the router's reset: {}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        fetch(&lab, &url).0,
        "the service next to the tracker still works"
    );
    let (code, _) = api.raw("DELETE", &blocklist, None);
    assert_eq!(code, 204);
    assert_eq!(resolve(), tracker);
    assert!(fetch(&lab, &tracker_url).0, "unblocked again");

    let (code, m) = api.call("POST", "/v1/measurements/m-vpn-1/stop", Some(&json!({})));
    assert_eq!(code, 200, "{m}");
    let m = api.wait_measurement("m-vpn-1", Duration::from_secs(60));
    assert_eq!(m["state"], "done", "{m}");

    // Every result is the device's; its flows are its own, seen on the bare-IP interface.
    let (_, results) = api.call("GET", "/v1/results?measurement=m-vpn-1", None);
    let results = results["results"].as_array().cloned().unwrap_or_default();
    assert!(results.len() >= 3, "capture, flows, log: {results:?}");
    assert!(results.iter().all(|r| r["device"] == DEVICE), "{results:?}");
    let flows: Value = serde_json::from_slice(&api.result("m-vpn-1.flows")).expect("flows JSON");
    let text = flows["flows"].to_string();
    assert!(
        text.contains("10.78.9.2") && text.contains(&whoami),
        "{text}"
    );
    assert!(
        !text.contains("192.0.2.201"),
        "only the device's traffic is captured: {text}"
    );

    let (code, data) = api.call("GET", &format!("/v1/devices/{DEVICE}/results"), None);
    assert_eq!(code, 200, "{data}");
    assert_eq!(
        data["results"].as_array().map(Vec::len),
        Some(results.len())
    );
    let (code, none) = api.call("GET", "/v1/devices/nobody/results", None);
    assert_eq!((code, none["results"].clone()), (200, json!([])));

    // Monitoring stops: the peer is gone from the interface at once.
    let (code, body) = api.raw("DELETE", &path, None);
    assert_eq!(code, 204, "{}", String::from_utf8_lossy(&body));
    assert!(!fetch(&lab, &url).0, "no traffic through a removed peer");
    let (_, list) = api.call("GET", "/v1/ingress", None);
    assert_eq!(list[0]["peers"], json!([]), "{list}");

    // Its data is deleted with one request, and nothing of it is left.
    let (code, gone) = api.call("DELETE", &format!("/v1/devices/{DEVICE}/results"), None);
    assert_eq!(code, 200, "{gone}");
    assert_eq!(
        gone["results"].as_array().map(Vec::len),
        Some(results.len())
    );
    let (_, data) = api.call("GET", &format!("/v1/devices/{DEVICE}/results"), None);
    assert_eq!(data["results"], json!([]), "{data}");
}
