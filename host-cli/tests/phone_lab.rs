//! Lab test of `matador-host phone`: the lab's emulated phones through a private adb
//! server, driven by the CLI as a researcher would (connect, list, shell, screenshot).

mod common;

use common::adb::{phone_port, text, wait_for, AdbServer};
use common::Lab;
use std::process::{Command, Output};

/// `matador-host phone --adb <the private server> ARGS…`.
fn phone(server: &AdbServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_matador-host"))
        .args(["phone", "--adb", &format!("127.0.0.1:{}", server.port)])
        .args(["--adb-bin", &server.wrapper()])
        .args(args)
        .output()
        .expect("matador-host runs")
}

#[test]
fn phone_commands_reach_a_lab_phone_through_the_adb_server() {
    let lab = Lab::up();
    let server = AdbServer::start();
    let serial = format!("127.0.0.1:{}", phone_port(&lab, "phone-a"));

    let out = phone(&server, &["connect", &serial]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_for("the phone to be listed as ready", || {
        let list: serde_json::Value =
            serde_json::from_slice(&phone(&server, &["list", "--json"]).stdout).unwrap_or_default();
        list.as_array().is_some_and(|l| {
            l.iter().any(|d| {
                d["serial"] == serial.as_str()
                    && d["state"] == "device"
                    && d["model"] == "Pixel 7"
                    && d["android"] == "14"
            })
        })
    });

    let out = phone(
        &server,
        &[
            "shell", &serial, "--", "pm", "list", "packages", "-U", "global",
        ],
    );
    assert_eq!(
        text(&out.stdout),
        "package:com.globalmessenger.android uid:10123\n",
        "{}",
        text(&out.stderr)
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("phone-a.png");
    let out = phone(&server, &["screenshot", &serial, &png.to_string_lossy()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert_eq!(
        matador_lab::phone::screen::png_dimensions(&bytes),
        Some(matador_lab::topology::SCREEN_SIZE)
    );

    let out = phone(&server, &["shell", "no-such-serial", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not on the adb server"),
        "{}",
        text(&out.stderr)
    );
}
