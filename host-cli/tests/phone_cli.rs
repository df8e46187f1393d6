//! `matador-host phone …` through the real `adb_client` against a small fake adb server
//! (the smart-socket protocol and shell v2 on a local port), so the CLI and the ADB edge are
//! tested without phones, the lab or a real adb server.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\nfake screen";

/// Devices the fake server lists: serial and state.
const DEVICES: &[(&str, &str)] = &[("emu-1", "device"), ("emu-2", "unauthorized")];

fn read_request(s: &mut TcpStream) -> Option<String> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let len = usize::from_str_radix(std::str::from_utf8(&len).ok()?, 16).ok()?;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}

fn okay_with(s: &mut TcpStream, body: &[u8]) {
    let _ = s.write_all(format!("OKAY{:04x}", body.len()).as_bytes());
    let _ = s.write_all(body);
}

fn packet(id: u8, data: &[u8]) -> Vec<u8> {
    let mut p = vec![id];
    p.extend_from_slice(&(data.len() as u32).to_le_bytes());
    p.extend_from_slice(data);
    p
}

/// What the fake phone's shell answers: stdout, stderr, exit code.
fn answer(command: &str) -> (Vec<u8>, Vec<u8>, u8) {
    match command {
        "getprop ro.product.model" => (b"Pixel 7\n".to_vec(), vec![], 0),
        "getprop ro.build.version.release" => (b"14\n".to_vec(), vec![], 0),
        "screencap -p" => (PNG.to_vec(), vec![], 0),
        "false" => (vec![], b"nope\n".to_vec(), 1),
        other => match other.strip_prefix("echo ") {
            Some(rest) => (format!("{rest}\n").into_bytes(), vec![], 0),
            None => (
                vec![],
                format!("/system/bin/sh: {other}: not found\n").into_bytes(),
                127,
            ),
        },
    }
}

fn serve(mut s: TcpStream) {
    while let Some(request) = read_request(&mut s) {
        if request == "host:devices" {
            let list: String = DEVICES
                .iter()
                .map(|(d, st)| format!("{d}\t{st}\n"))
                .collect();
            return okay_with(&mut s, list.as_bytes());
        } else if let Some(serial) = request.strip_prefix("host:transport:") {
            if DEVICES
                .iter()
                .any(|(d, st)| *d == serial && *st == "device")
            {
                let _ = s.write_all(b"OKAY");
                continue;
            }
            let why = format!("device '{serial}' not found");
            let _ = s.write_all(format!("FAIL{:04x}{why}", why.len()).as_bytes());
            return;
        } else if request == "host:features" {
            return okay_with(&mut s, b"shell_v2,cmd");
        } else if let Some(addr) = request.strip_prefix("host:connect:") {
            return okay_with(&mut s, format!("connected to {addr}").as_bytes());
        } else if let Some(rest) = request.strip_prefix("shell,") {
            let command = rest.split_once(":").map(|(_, c)| c).unwrap_or_default();
            let (out, err, code) = answer(command);
            let _ = s.write_all(b"OKAY");
            let mut reply = packet(1, &out);
            if !err.is_empty() {
                reply.extend(packet(2, &err));
            }
            reply.extend(packet(3, &[code]));
            let _ = s.write_all(&reply);
            return;
        } else {
            let why = format!("unknown request {request}");
            let _ = s.write_all(format!("FAIL{:04x}{why}", why.len()).as_bytes());
            return;
        }
    }
}

/// Starts the fake server; its port.
fn fake_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || serve(s));
        }
    });
    port
}

/// `matador-host phone --adb 127.0.0.1:PORT ARGS…`, never starting a real adb server.
fn phone(port: u16, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_matador-host"))
        .args([
            "phone",
            "--adb",
            &format!("127.0.0.1:{port}"),
            "--adb-bin",
            "true",
        ])
        .args(args)
        .output()
        .expect("matador-host runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn list_shows_model_android_and_state() {
    let port = fake_server();
    let out = phone(port, &["list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        list,
        serde_json::json!([
            { "serial": "emu-1", "state": "device", "model": "Pixel 7", "android": "14" },
            { "serial": "emu-2", "state": "unauthorized", "model": null, "android": null }
        ])
    );
    let table = text(&phone(port, &["list"]).stdout);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["SERIAL", "MODEL", "ANDROID", "STATE"]);
    assert_eq!(lines[1], ["emu-1", "Pixel", "7", "14", "device"]);
    assert_eq!(lines[2], ["emu-2", "-", "-", "unauthorized"]);
}

#[test]
fn shell_passes_output_and_exit_code_through() {
    let port = fake_server();
    let out = phone(port, &["shell", "emu-1", "--", "echo", "hi", "there"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi there\n");
    // Standard error comes apart from standard output (shell v2); the exit code does not:
    // adb_client 3.2.3 reads the exit packet and then drops it when the stream ends.
    let out = phone(port, &["shell", "emu-1", "--", "false"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr), "nope\n");
    let out = phone(port, &["shell", "emu-2", "--", "echo"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("phone `emu-2` is unauthorized"),
        "{}",
        text(&out.stderr)
    );
    let out = phone(port, &["shell", "emu-9", "--", "echo"]);
    assert!(
        text(&out.stderr).contains("phone `emu-9` is not on the adb server"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn screenshot_writes_the_png_and_connect_asks_the_server() {
    let port = fake_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("shot.png");
    let out = phone(port, &["screenshot", "emu-1", &png.to_string_lossy()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&png).expect("written"), PNG);
    let out = phone(port, &["connect", "127.0.0.1:25550"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "connected to 127.0.0.1:25550\n");
}

#[test]
fn bad_addresses_and_absent_servers_are_clear_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_matador-host"))
        .args(["phone", "--adb", "adb-host", "list"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--adb adb-host: expected an IPv4 address and port"),
        "{}",
        text(&out.stderr)
    );
    // Nothing listens on port 1.
    let out = phone(1, &["list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("listing phones: adb: "),
        "{}",
        text(&out.stderr)
    );
}
