//! Lab test of a measurement in `matador-routerd`: the router captures phone A's traffic
//! while the global messenger sends messages, finds the messenger's backend as the one
//! messaging endpoint (NTP and analytics as background), and traces it — and the other
//! vantage node — through the tunnel: the vantage node is the first hop.

mod common;

use common::adb::{device, join_wifi, shell, type_and_send, wait_for, AdbServer};
use common::api::{now, RouterApi};
use common::Lab;
use serde_json::{json, Value};
use std::time::Duration;

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|x| x[key] == value))
        .unwrap_or_else(|| panic!("no {key}={value} in {list}"))
}

#[test]
fn a_measurement_finds_the_messenger_backend_and_traces_it_through_the_tunnel() {
    let lab = Lab::up();
    let status = lab.status();
    let backend = find(&status["services"], "name", "msg-global")["address"]
        .as_str()
        .expect("backend address")
        .to_string();
    let vp_gb = find(&status["vantage_nodes"], "name", "vp-gb").clone();
    let vp_us = find(&status["vantage_nodes"], "name", "vp-us").clone();
    let peer = vp_us["endpoint"]
        .as_str()
        .expect("endpoint")
        .split(':')
        .next()
        .expect("address")
        .to_string();
    let gb_lon = find(&status["routers"], "name", "gb-lon")["addresses"].clone();
    let api = RouterApi::of(&lab, "lr-a");

    let server = AdbServer::start();
    let mut a = device(&lab, "phone-a", &server.key());
    let mut b = device(&lab, "phone-b", &server.key());
    join_wifi(&mut a, "matador-a", "lab-passphrase-a");
    join_wifi(&mut b, "matador-b", "lab-passphrase-b");
    shell(
        &mut b,
        "am start -n com.globalmessenger.android/.HomeActivity",
    );

    let start = json!({"id": "m-global-1", "ap": "lr-a", "app": "com.globalmessenger.android",
        "capture": true, "traces": true, "duration_s": 300, "trace_peer": peer});
    let (code, m) = api.call("POST", "/v1/measurements", Some(&start));
    assert_eq!(code, 201, "{m}");
    assert_eq!(m["state"], "running");
    let (code, again) = api.call("POST", "/v1/measurements", Some(&start));
    assert_eq!(code, 409, "the same id twice: {again}");

    let launched = now();
    shell(
        &mut a,
        "am start -n com.globalmessenger.android/.HomeActivity",
    );
    wait_for("the messenger to log in", || {
        shell(&mut a, "logcat -d -s GlobalMessenger").contains("login ok")
    });
    std::thread::sleep(Duration::from_secs(4));
    let mut messages = Vec::new();
    for i in 1..=3 {
        messages.push(now());
        type_and_send(&mut a, &format!("m{i}"));
        wait_for("the message to be delivered", || {
            shell(&mut a, "logcat -d -s GlobalMessenger").contains(&format!("delivered id={i}"))
        });
        std::thread::sleep(Duration::from_secs(9));
    }
    let stop = json!({"launched": launched, "messages": messages});
    let (code, m) = api.call("POST", "/v1/measurements/m-global-1/stop", Some(&stop));
    assert_eq!(code, 200, "{m}");
    let m = api.wait_measurement("m-global-1", Duration::from_secs(180));
    assert_eq!(m["state"], "done", "{m}");
    assert_eq!(
        m["results"],
        json!([
            "m-global-1.capture",
            "m-global-1.flows",
            "m-global-1.traces",
            "m-global-1.log"
        ])
    );

    let flows: Value = serde_json::from_slice(&api.result("m-global-1.flows")).expect("flows JSON");
    let endpoints = flows["endpoints"].as_array().expect("endpoints");
    let messaging: Vec<_> = endpoints
        .iter()
        .filter(|e| e["phase"] == "messaging" && e["verdict"] == "kept")
        .map(|e| {
            (
                e["address"].as_str().unwrap_or(""),
                e["protocol"].as_str().unwrap_or(""),
                e["port"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        messaging,
        [(backend.as_str(), "tcp", 443)],
        "{endpoints:#?}"
    );
    let backend_e = find(&flows["endpoints"], "address", &backend);
    assert_eq!(backend_e["name"], "chat.global-messenger.example");
    let ntp = endpoints
        .iter()
        .find(|e| e["protocol"] == "udp" && e["port"] == 123)
        .expect("an NTP endpoint");
    assert_eq!(ntp["phase"], "background", "{ntp}");
    let analytics = endpoints
        .iter()
        .find(|e| e["name"] == "analytics.tracker.example")
        .expect("the analytics endpoint");
    assert_eq!(analytics["phase"], "background", "{analytics}");

    // The capture opens in tshark, on the AP's interface.
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("m.pcapng");
    std::fs::write(&pcap, api.result("m-global-1.capture")).expect("write capture");
    let out = std::process::Command::new("tshark")
        .args(["-r"])
        .arg(&pcap)
        .args(["-T", "fields", "-e", "frame.interface_name", "-c", "1"])
        .output()
        .expect("tshark runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "wlan0",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Traced through the tunnel: the vantage node first, then its own path (London), not
    // the lab router's (Zurich).
    let traces: Value =
        serde_json::from_slice(&api.result("m-global-1.traces")).expect("traces JSON");
    let app = find(&traces["application"], "dst_addr", &backend);
    let network = find(&traces["network"], "dst_addr", &peer);
    let tunnel_net: ipnet::Ipv4Net = vp_gb["tunnel_net"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .expect("tunnel net");
    for t in [app, network] {
        let hop = |i: usize| {
            t["result"][i]["result"][0]["from"]
                .as_str()
                .unwrap_or("*")
                .to_string()
        };
        let first: std::net::Ipv4Addr = hop(0)
            .parse()
            .unwrap_or_else(|_| panic!("first hop answers: {t}"));
        assert!(
            tunnel_net.contains(&first),
            "first hop {first} is the vantage node ({tunnel_net}): {t}"
        );
        assert!(
            gb_lon
                .as_array()
                .is_some_and(|l| l.iter().any(|a| a.as_str() == Some(hop(1).as_str()))),
            "second hop is London: {t}"
        );
        assert_eq!(t["destination_reached"], true, "{t}");
    }
    assert_eq!(app["proto"], "TCP");
    assert_eq!(app["dst_port"], 443);
}
