//! Stations of an access point, followed through hostapd's control socket with `wifi-ctrl`:
//! `AP-STA-CONNECTED` / `AP-STA-DISCONNECTED` events keep the set of associated MACs, and
//! STATUS tells whether the AP is enabled.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use wifi_ctrl::ap;

/// The MACs associated with one AP, as hostapd reports them.
#[derive(Debug, Default)]
pub struct Associated {
    macs: Mutex<BTreeSet<String>>,
}

impl Associated {
    /// MACs associated now.
    pub fn macs(&self) -> Vec<String> {
        self.macs
            .lock()
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn apply(&self, event: &ap::Broadcast) {
        let Ok(mut macs) = self.macs.lock() else {
            return;
        };
        match event {
            ap::Broadcast::Connected(mac) => {
                macs.insert(mac.to_ascii_lowercase());
            }
            ap::Broadcast::Disconnected(mac) => {
                macs.remove(&mac.to_ascii_lowercase());
            }
            _ => {}
        }
    }
}

/// hostapd's control socket of an interface, under the configured `ctrl_interface` folder.
pub fn control_socket(ctrl_dir: &Path, interface: &str) -> PathBuf {
    ctrl_dir.join(interface)
}

/// A connection to hostapd's control socket: a request client, and a task that follows
/// station events into `associated` (logged as they come).
pub struct HostapdControl {
    /// Requests (STATUS, …).
    pub requests: ap::RequestClient,
    /// The task running the socket.
    pub task: tokio::task::JoinHandle<()>,
}

/// Attaches to hostapd at `socket` and follows its station events.
pub fn follow(ap_name: &str, socket: &Path, associated: Arc<Associated>) -> HostapdControl {
    let mut setup = ap::WifiSetup::new();
    setup.set_socket_path(socket.to_path_buf());
    let mut events = setup.get_broadcast_receiver();
    let requests = setup.get_request_client();
    let mut runtime = setup.complete();
    let name = ap_name.to_string();
    let task = tokio::spawn(async move {
        let listen = async {
            while let Ok(event) = events.recv().await {
                match &event {
                    ap::Broadcast::Connected(mac) => {
                        tracing::info!(ap = %name, %mac, "station connected")
                    }
                    ap::Broadcast::Disconnected(mac) => {
                        tracing::info!(ap = %name, %mac, "station disconnected")
                    }
                    _ => {}
                }
                associated.apply(&event);
            }
        };
        tokio::select! {
            result = runtime.run() => {
                if let Err(e) = result {
                    tracing::warn!(ap = %name, error = %e, "hostapd control socket closed");
                }
            }
            _ = listen => {}
        }
    });
    HostapdControl { requests, task }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command};
    use std::time::Duration;

    /// A private namespace with a veth pair and a hostapd on it; removed on drop.
    struct WiredHostapd {
        ns: String,
        child: Child,
        dir: PathBuf,
    }

    impl Drop for WiredHostapd {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn start_hostapd() -> WiredHostapd {
        assert_eq!(
            // SAFETY: geteuid has no preconditions.
            unsafe { libc::geteuid() },
            0,
            "this test needs root (CAP_NET_ADMIN) for its own network namespace: run `cargo xtask test` as root"
        );
        // Leftovers of a crashed run go by prefix first.
        let list = Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("ip netns");
        for line in String::from_utf8_lossy(&list.stdout).lines() {
            if let Some(name) = line
                .split_whitespace()
                .next()
                .filter(|n| n.starts_with("mtdh-"))
            {
                let _ = Command::new("ip").args(["netns", "del", name]).status();
            }
        }
        let ns = format!("mtdh-{}", std::process::id());
        let dir = std::env::temp_dir().join(&ns);
        std::fs::create_dir_all(&dir).expect("dir");
        let ip = |args: &[&str]| {
            let ok = Command::new("ip")
                .args(["-n", &ns])
                .args(args)
                .status()
                .expect("ip")
                .success();
            assert!(ok, "ip {args:?}");
        };
        assert!(Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .expect("ip")
            .success());
        ip(&["link", "add", "ap0", "type", "veth", "peer", "name", "sta0"]);
        ip(&["link", "set", "ap0", "up"]);
        ip(&["link", "set", "sta0", "up"]);
        let conf = dir.join("hostapd.conf");
        std::fs::write(
            &conf,
            format!(
                "interface=ap0\ndriver=wired\nctrl_interface={}\nieee8021x=0\n",
                dir.join("ctrl").display()
            ),
        )
        .expect("conf");
        let child = Command::new("ip")
            .args(["netns", "exec", &ns, "hostapd"])
            .arg(&conf)
            .spawn()
            .expect("hostapd runs (apt install hostapd)");
        let guard = WiredHostapd { ns, child, dir };
        let socket = control_socket(&guard.dir.join("ctrl"), "ap0");
        for _ in 0..200 {
            if socket.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(socket.exists(), "hostapd made no control socket");
        guard
    }

    #[tokio::test]
    async fn the_control_socket_client_talks_to_a_real_hostapd() {
        let hostapd = start_hostapd();
        let associated = Arc::new(Associated::default());
        let control = follow(
            "ap0",
            &control_socket(&hostapd.dir.join("ctrl"), "ap0"),
            associated.clone(),
        );
        let status = tokio::time::timeout(Duration::from_secs(10), control.requests.get_status())
            .await
            .expect("STATUS answered in time")
            .expect("STATUS parses");
        assert_eq!(status.state, "ENABLED", "{status:?}");
        assert!(associated.macs().is_empty());
        let _ = control.requests.shutdown().await;
        control.task.abort();
    }

    #[test]
    fn station_events_keep_the_set() {
        let a = Associated::default();
        a.apply(&ap::Broadcast::Connected("02:AA:00:00:00:01".into()));
        a.apply(&ap::Broadcast::Connected("02:aa:00:00:00:02".into()));
        a.apply(&ap::Broadcast::Disconnected("02:aa:00:00:00:01".into()));
        assert_eq!(a.macs(), vec!["02:aa:00:00:00:02".to_string()]);
    }
}
