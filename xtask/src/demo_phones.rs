//! The demo's phone part: join both emulated phones to their routers' Wi-Fi with the real
//! `adb` client, open the global messenger on each, type and send a message on phone A, and
//! show it arriving in phone B's log; screenshots go to `target/demo/`.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Port of the demo's own adb server (not the user's 5037).
const ADB_SERVER_PORT: &str = "15036";

/// A private adb server, killed when dropped.
struct Adb {
    home: PathBuf,
}

impl Adb {
    fn run(&self, args: &[&str]) -> Result<Output> {
        Command::new("adb")
            .args(args)
            .env("HOME", &self.home)
            .env("ANDROID_ADB_SERVER_PORT", ADB_SERVER_PORT)
            .output()
            .context("running adb")
    }

    fn shell(&self, serial: &str, command: &str) -> Result<String> {
        let out = self.run(&["-s", serial, "shell", command])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Adb {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done()? {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}

/// Runs the phone part of the demo against the running lab.
pub fn run(status: &Value, out_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(out_dir.join("adb-home"))?;
    let adb = Adb {
        home: std::fs::canonicalize(out_dir.join("adb-home"))?,
    };
    let phones = status["phones"].as_array().cloned().unwrap_or_default();
    let routers = status["lab_routers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let [a, b] = phones.as_slice() else {
        println!("(the topology has no pair of phones; skipping the messenger demo)");
        return Ok(());
    };
    let mut serials = Vec::new();
    for phone in [a, b] {
        let serial = phone["adb"]
            .as_str()
            .context("phone without adb address")?
            .to_string();
        let router = routers
            .iter()
            .find(|r| r["name"] == phone["router"])
            .context("phone without lab router")?;
        let (ssid, psk) = (
            router["ssid"].as_str().unwrap_or_default(),
            router["passphrase"].as_str().unwrap_or_default(),
        );
        let name = phone["name"].as_str().unwrap_or("?");
        println!("\n== {name}: adb connect {serial}; join \"{ssid}\"");
        adb.run(&["connect", &serial])?;
        wait_for("the phone to be an adb device", || {
            Ok(String::from_utf8_lossy(&adb.run(&["devices"])?.stdout)
                .contains(&format!("{serial}\tdevice")))
        })?;
        adb.shell(
            &serial,
            &format!("cmd wifi connect-network {ssid} wpa2 {psk}"),
        )?;
        print!("{}", adb.shell(&serial, "cmd wifi status")?);
        print!(
            "{}",
            adb.shell(
                &serial,
                "am start -n com.globalmessenger.android/.HomeActivity"
            )?
        );
        serials.push(serial);
    }
    for serial in &serials {
        wait_for("the messenger to log in", || {
            Ok(adb
                .shell(serial, "logcat -d -s GlobalMessenger")?
                .contains("login ok"))
        })?;
    }
    println!("\n== phone A types \"hello from the lab\" and taps send");
    adb.shell(
        &serials[0],
        "input tap 100 1500 && input text 'hello%sfrom%sthe%slab' && input tap 640 1520",
    )?;
    wait_for("phone B to receive the message", || {
        Ok(adb
            .shell(&serials[1], "logcat -d -s GlobalMessenger")?
            .contains("received"))
    })?;
    print!(
        "{}",
        adb.shell(&serials[1], "logcat -d -s GlobalMessenger")?
    );
    for (serial, name) in serials.iter().zip(["phone-a", "phone-b"]) {
        let png = adb
            .run(&["-s", serial, "exec-out", "screencap", "-p"])?
            .stdout;
        let path = out_dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        println!("screenshot: {}", path.display());
    }
    Ok(())
}
