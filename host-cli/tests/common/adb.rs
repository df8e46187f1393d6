//! Driving the emulated phones from tests: a private adb server (its key is the tests'),
//! adb_client connections straight to a phone, and the few shell steps tests repeat.

use super::Lab;
use adb_client::tcp::ADBTcpDevice;
use adb_client::ADBDeviceExt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A private adb server (its own port and HOME, so its key is the test's), killed on drop.
pub struct AdbServer {
    pub home: tempfile::TempDir,
    pub port: u16,
}

impl AdbServer {
    pub fn start() -> AdbServer {
        let home = tempfile::tempdir().expect("tempdir");
        let port = 15_037 + (std::process::id() % 1000) as u16;
        let s = AdbServer { home, port };
        let out = s.adb(&["start-server"]);
        assert!(
            out.status.success(),
            "adb start-server: {}",
            text(&out.stderr)
        );
        s
    }

    pub fn adb(&self, args: &[&str]) -> Output {
        Command::new("adb")
            .args(args)
            .env("HOME", self.home.path())
            .env("ANDROID_ADB_SERVER_PORT", self.port.to_string())
            .output()
            .expect("the adb client runs (apt install adb)")
    }

    /// Points a command (a `matador-host` that starts adb itself) at this server.
    pub fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("HOME", self.home.path())
            .env("ANDROID_ADB_SERVER_PORT", self.port.to_string())
    }

    pub fn key(&self) -> PathBuf {
        self.home.path().join(".android/adbkey")
    }

    /// adb_client runs `adb start-server` itself; this wrapper points it at our server.
    pub fn wrapper(&self) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = self.home.path().join("adb-wrapper");
        let script = format!(
            "#!/bin/sh\nexport HOME='{}' ANDROID_ADB_SERVER_PORT={}\nexec adb \"$@\"\n",
            self.home.path().display(),
            self.port
        );
        std::fs::write(&path, script).expect("wrapper");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path.to_string_lossy().into_owned()
    }
}

impl Drop for AdbServer {
    fn drop(&mut self) {
        let _ = self.adb(&["kill-server"]);
    }
}

/// Types `text` into the messenger's field and taps send (the default topology's layout).
pub fn type_and_send(device: &mut ADBTcpDevice, text: &str) {
    shell(device, "input tap 100 1500");
    shell(device, &format!("input text '{}'", text.replace(' ', "%s")));
    shell(device, "input tap 640 1520");
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn phone_port(lab: &Lab, name: &str) -> u16 {
    lab.status()["phones"]
        .as_array()
        .expect("phones")
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["adb_port"].as_u64())
        .and_then(|p| u16::try_from(p).ok())
        .expect("the phone's ADB port is in lab status")
}

pub fn shell(device: &mut ADBTcpDevice, command: &str) -> String {
    let mut out = Vec::new();
    device
        .shell_command(&command, Some(&mut out), None)
        .unwrap_or_else(|e| panic!("{command}: {e}"));
    text(&out)
}

pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn join_wifi(device: &mut ADBTcpDevice, ssid: &str, psk: &str) {
    shell(
        device,
        &format!("cmd wifi connect-network {ssid} wpa2 {psk}"),
    );
    let status = shell(device, "cmd wifi status");
    assert!(
        status.contains(&format!("Wifi is connected to \"{ssid}\"")),
        "{status}"
    );
}

pub fn device(lab: &Lab, name: &str, key: &Path) -> ADBTcpDevice {
    // From the plan, not `lab status`: tests that break the lab on purpose still get in.
    let port = match lab.plan.node(name).map(|n| &n.role) {
        Some(matador_lab::topology::NodeRole::Phone(p)) => p.adb_port,
        _ => panic!("{name} is not a phone of the plan"),
    };
    ADBTcpDevice::new_with_custom_private_key(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port), key)
        .expect("adb_client connects")
}
