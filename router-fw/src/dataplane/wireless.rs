//! The OpenWrt Wi-Fi backend (`radio: uci`): each AP's `wifi-iface` goes into UCI's
//! `wireless` package with `uci batch`, and `wifi reload` has netifd start hostapd for it;
//! on stop the sections are deleted and Wi-Fi reloaded again. The batches are plain text
//! built by plain functions; running `uci` and `wifi` is the edge.

use super::config::{ApConfig, Radio};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Running `uci batch` or `wifi reload` failed.
#[derive(Debug, thiserror::Error)]
pub enum WirelessError {
    /// The program could not be started (not OpenWrt?).
    #[error("{program}: {source} (the `uci` radio backend needs OpenWrt's uci and wifi)")]
    Start {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The program ran and failed.
    #[error("`{command}` failed ({status}): {output}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed.
        output: String,
    },
}

/// The UCI section name of an AP's `wifi-iface`: UCI names allow only `[A-Za-z0-9_]`.
pub fn section(ap: &ApConfig) -> String {
    let name: String = ap
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("matador_{name}")
}

/// A value quoted for UCI (file and batch syntax alike): `'…'`, with `'` as `'\''`.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// The options of an AP's `wifi-iface` on radio `device`: WPA2-PSK with CCMP.
pub fn iface_options<'a>(ap: &'a ApConfig, device: &'a str) -> [(&'static str, &'a str); 7] {
    [
        ("device", device),
        ("mode", "ap"),
        ("ifname", ap.interface.as_str()),
        ("ssid", ap.ssid.as_str()),
        ("encryption", "psk2+ccmp"),
        ("key", ap.passphrase.as_str()),
        ("country", ap.country.as_str()),
    ]
}

/// The `uci batch` that (re)creates the APs' `wifi-iface` sections on radio `device` and
/// commits them. No `network` option: the daemon addresses the interface itself, so netifd
/// must neither bridge nor reconfigure it.
pub fn add_batch(aps: &[ApConfig], device: &str) -> String {
    let mut b = String::new();
    // An ingress has no radio.
    for ap in aps.iter().filter(|a| !a.is_ingress()) {
        let s = section(ap);
        // Deleting first drops options an earlier version of the section had.
        b += &format!("delete wireless.{s}\n");
        b += &format!("set wireless.{s}=wifi-iface\n");
        for (option, value) in iface_options(ap, device) {
            b += &format!("set wireless.{s}.{option}={}\n", quote(value));
        }
    }
    b += "commit wireless\n";
    b
}

/// The `uci batch` that removes the APs' sections again.
pub fn remove_batch(aps: &[ApConfig]) -> String {
    let mut b = String::new();
    for ap in aps.iter().filter(|a| !a.is_ingress()) {
        b += &format!("delete wireless.{}\n", section(ap));
    }
    b += "commit wireless\n";
    b
}

/// Where `uci` and `wifi` are (on OpenWrt: on the PATH).
#[derive(Debug, Clone)]
pub struct Tools {
    /// `uci`.
    pub uci: PathBuf,
    /// `wifi`.
    pub wifi: PathBuf,
}

impl Default for Tools {
    fn default() -> Tools {
        Tools {
            uci: "uci".into(),
            wifi: "wifi".into(),
        }
    }
}

impl Tools {
    /// Runs `uci batch` on `batch`, then `wifi reload` so netifd applies it.
    pub fn apply(&self, batch: &str) -> Result<(), WirelessError> {
        let mut uci = Command::new(&self.uci);
        uci.arg("batch");
        run(uci, Some(batch))?;
        let mut wifi = Command::new(&self.wifi);
        wifi.arg("reload");
        run(wifi, None)
    }
}

/// The radio the `uci` backend puts the access points on.
pub const UCI_RADIO: &str = "radio0";

/// The index of an AP's interface. With the `uci` backend netifd makes it after `wifi
/// reload`, so it gets a while to appear; otherwise it must be there already.
pub async fn ap_interface(
    h: &rtnetlink::Handle,
    radio: Radio,
    ap: &ApConfig,
) -> anyhow::Result<u32> {
    let tries = if radio == Radio::Uci { 300 } else { 1 };
    for _ in 0..tries {
        if let Some(index) = super::netlink::link_index(h, &ap.interface).await? {
            return Ok(index);
        }
        if tries > 1 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    anyhow::bail!(
        "AP {}: interface {} does not exist{}",
        ap.name,
        ap.interface,
        if radio == Radio::Uci {
            " 30 s after `wifi reload` (check `logread -e hostapd` and the radio in /etc/config/wireless)"
        } else {
            ""
        }
    )
}

fn run(mut cmd: Command, input: Option<&str>) -> Result<(), WirelessError> {
    let command = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let program = cmd.get_program().to_string_lossy().into_owned();
    let start = |source| WirelessError::Start {
        program: program.clone(),
        source,
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(start)?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(text.as_bytes()).map_err(start)?;
    }
    let out = child.wait_with_output().map_err(start)?;
    if out.status.success() {
        return Ok(());
    }
    Err(WirelessError::Failed {
        command,
        status: out.status,
        output: String::from_utf8_lossy(&[out.stdout, out.stderr].concat())
            .trim()
            .to_string(),
    })
}

#[cfg(test)]
#[path = "wireless_tests.rs"]
mod tests;
