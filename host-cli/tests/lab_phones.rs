//! Lab tests of the emulated phones, driven the way the host drives real ones: the real
//! `adb` client (through its server) and the `adb_client` crate (straight to the device and
//! through the server) run shell commands, pull files and take PNG screenshots; a message
//! crosses from phone A to phone B through the global messenger; the per-app firewall keeps
//! it on phone A.

mod common;

use adb_client::server::ADBServer;
use adb_client::tcp::ADBTcpDevice;
use adb_client::ADBDeviceExt;
use common::adb::{device, join_wifi, phone_port, shell, text, type_and_send, wait_for, AdbServer};
use common::Lab;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

#[test]
fn real_adb_and_adb_client_run_a_shell_command_pull_a_file_and_take_a_png() {
    let lab = Lab::up();
    let port = phone_port(&lab, "phone-a");
    let serial = format!("127.0.0.1:{port}");
    let server = AdbServer::start();

    // The real adb client, through its server.
    let connect = server.adb(&["connect", &serial]);
    assert!(connect.status.success(), "{}", text(&connect.stderr));
    wait_for("the adb server to see the phone as a device", || {
        text(&server.adb(&["devices"]).stdout).contains(&format!("{serial}\tdevice"))
    });
    let model = server.adb(&["-s", &serial, "shell", "getprop", "ro.product.model"]);
    assert_eq!(text(&model.stdout), "Pixel 7\n");
    let missing = server.adb(&["-s", &serial, "shell", "no-such-tool"]);
    assert_eq!(
        missing.status.code(),
        Some(127),
        "shell v2 carries the exit code"
    );
    assert_eq!(
        text(&missing.stderr),
        "/system/bin/sh: no-such-tool: not found\n"
    );
    let shot = server.adb(&["-s", &serial, "exec-out", "screencap", "-p"]);
    assert!(
        shot.stdout.starts_with(PNG_MAGIC),
        "exec-out screencap -p is a PNG"
    );
    let saved = server.adb(&[
        "-s",
        &serial,
        "shell",
        "screencap",
        "-p",
        "/sdcard/Pictures/home.png",
    ]);
    assert!(saved.status.success(), "{}", text(&saved.stderr));
    let local = server.home.path().join("home.png");
    let pulled = server.adb(&[
        "-s",
        &serial,
        "pull",
        "/sdcard/Pictures/home.png",
        &local.to_string_lossy(),
    ]);
    assert!(pulled.status.success(), "{}", text(&pulled.stderr));
    let png = std::fs::read(&local).expect("pulled file");
    assert!(png.starts_with(PNG_MAGIC));
    assert_eq!(
        matador_lab::phone::screen::png_dimensions(&png),
        Some(matador_lab::topology::SCREEN_SIZE)
    );

    // adb_client straight to the device, with the same key (already authorised).
    let mut device = ADBTcpDevice::new_with_custom_private_key(
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port),
        server.key(),
    )
    .expect("adb_client connects straight to the phone");
    assert_eq!(shell(&mut device, "getprop ro.product.model"), "Pixel 7\n");
    let mut file = Vec::new();
    device
        .pull(&"/sdcard/Pictures/home.png", &mut file)
        .expect("adb_client pulls");
    assert_eq!(file, png, "both clients pull the same bytes");
    let mut shot = Vec::new();
    device
        .shell_command(&"screencap -p", Some(&mut shot), None)
        .expect("screencap");
    assert!(shot.starts_with(PNG_MAGIC), "screencap over adb_client");

    // adb_client through the adb server.
    let mut via_server = ADBServer::new_from_path(
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, server.port),
        Some(server.wrapper()),
    );
    let mut device = via_server
        .get_device_by_name(&serial)
        .expect("the server lists the phone");
    let mut out = Vec::new();
    device
        .shell_command(&"pm list packages -U global", Some(&mut out), None)
        .expect("shell through the server");
    assert_eq!(
        text(&out),
        "package:com.globalmessenger.android uid:10123\n"
    );
    let mut file = Vec::new();
    device
        .pull(&"/sdcard/Pictures/home.png", &mut file)
        .expect("pull through the server");
    assert_eq!(file, png);
}

#[test]
fn a_message_from_phone_a_reaches_phone_b_and_the_per_app_firewall_keeps_it_on_a() {
    let lab = Lab::up();
    let server = AdbServer::start();
    let mut a = device(&lab, "phone-a", &server.key());
    let mut b = device(&lab, "phone-b", &server.key());

    // A wrong passphrase does not connect, as on Android.
    shell(
        &mut a,
        "cmd wifi connect-network matador-a wpa2 not-the-passphrase",
    );
    assert!(shell(&mut a, "cmd wifi status").contains("Wifi is not connected"));
    join_wifi(&mut a, "matador-a", "lab-passphrase-a");
    join_wifi(&mut b, "matador-b", "lab-passphrase-b");
    assert!(shell(&mut a, "ip -4 addr show wlan0").contains("inet 10.77.1."));

    for phone in [&mut a, &mut b] {
        let started = shell(
            phone,
            "am start -n com.globalmessenger.android/.HomeActivity",
        );
        assert!(started.starts_with("Starting: Intent"), "{started}");
    }
    wait_for("both apps to log in", || {
        [&mut a, &mut b]
            .into_iter()
            .all(|p| shell(p, "logcat -d -s GlobalMessenger").contains("login ok"))
    });
    assert!(shell(&mut a, "dumpsys window")
        .contains("mCurrentFocus=Window{7e1a2b u0 com.globalmessenger.android/"));

    type_and_send(&mut a, "hello from A");
    wait_for("phone B to receive the message", || {
        shell(&mut b, "logcat -d -s GlobalMessenger")
            .contains("received id=1 from=phone-a text=\"hello from A\"")
    });
    wait_for("phone A to see it delivered", || {
        shell(&mut a, "logcat -d -s GlobalMessenger").contains("delivered id=1")
    });

    // Per-app firewall: only the Swiss messenger's UID may use Wi-Fi.
    for rule in [
        "iptables -A OUTPUT -o wlan0 -m owner --uid-owner 10124 -j ACCEPT",
        "iptables -A OUTPUT -o wlan0 -j DROP",
    ] {
        shell(&mut a, rule);
    }
    let rules = shell(&mut a, "iptables -S OUTPUT");
    assert!(
        rules.contains(
            "-A OUTPUT -o wlan0 -m owner --uid-owner 10124 -j ACCEPT\n-A OUTPUT -o wlan0 -j DROP"
        ),
        "{rules}"
    );
    shell(&mut a, "am force-stop com.globalmessenger.android");
    shell(
        &mut a,
        "am start -n com.globalmessenger.android/.HomeActivity",
    );
    type_and_send(&mut a, "blocked");
    wait_for("the blocked app to report it is offline", || {
        shell(&mut a, "logcat -d -s GlobalMessenger").contains("offline:")
    });
    std::thread::sleep(Duration::from_secs(3));
    let log_b = shell(&mut b, "logcat -d -s GlobalMessenger");
    assert!(
        !log_b.contains("blocked"),
        "the message left phone A: {log_b}"
    );
    assert!(!shell(&mut a, "logcat -d -s GlobalMessenger").contains("text=\"blocked\""));
    // The allowed app still gets out.
    shell(&mut a, "am start -n ch.swissmessenger.app/.MainActivity");
    wait_for("the allowed app to log in", || {
        shell(&mut a, "logcat -d -s SwissMessenger").contains("login ok")
    });
}

#[test]
fn malformed_adb_input_closes_only_that_connection() {
    use std::io::{Read, Write};
    let lab = Lab::up();
    let port = phone_port(&lab, "phone-b");
    let server = AdbServer::start();
    let mut bad = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    bad.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // A CNXN header with a payload length far above the limit.
    let mut header = Vec::new();
    for word in [
        0x4e58_4e43u32,
        0x0100_0001,
        0x0004_0000,
        0x4000_0000,
        0,
        !0x4e58_4e43u32,
    ] {
        header.extend_from_slice(&word.to_le_bytes());
    }
    bad.write_all(&header).expect("write");
    let mut rest = Vec::new();
    let closed = bad.read_to_end(&mut rest);
    assert!(
        closed.is_ok() && rest.is_empty(),
        "the phone closes the connection: {closed:?}"
    );
    let mut good = device(&lab, "phone-b", &server.key());
    assert_eq!(shell(&mut good, "echo still serving"), "still serving\n");
}

#[test]
fn the_geo_messenger_finds_its_regional_backend_over_http_dns() {
    let lab = Lab::up();
    let server = AdbServer::start();
    let mut a = device(&lab, "phone-a", &server.key());
    join_wifi(&mut a, "matador-a", "lab-passphrase-a");
    shell(&mut a, "monkey -p com.geomessenger.mm 1");
    wait_for("the geo messenger to log in", || {
        shell(&mut a, "logcat -d -s GeoMessenger").contains("login ok")
    });
    // phone-a's router is in CH (Europe): HTTP-DNS answers with the EU backend.
    let status = lab.status();
    let eu = status["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == "msg-geo-eu")
        .and_then(|s| s["address"].as_str())
        .expect("msg-geo-eu address")
        .to_string();
    let log = shell(&mut a, "logcat -d -s GeoMessenger");
    assert!(log.contains(&format!("({eu}:443)")), "{log}");
    let daemon_log =
        std::fs::read_to_string("/run/matador-lab/logs/daemon.log").unwrap_or_default();
    assert!(
        daemon_log.contains("service=\"httpdns\"")
            && daemon_log.contains("target=\"/d?dn=chat.geo-messenger.example\""),
        "the app asked HTTP-DNS: {daemon_log}"
    );
    assert!(
        !daemon_log.contains('\u{1b}'),
        "no terminal colour codes in log files"
    );
}
