//! Joining and leaving Wi-Fi: the network's SSID and WPA2 passphrase are checked against
//! the hostapd configuration of the router in front of the phone, then the link comes up
//! and a real DHCP client (udhcpc) configures it from the router's lease.

use super::device::{Lease, Phone};
use super::logcat::Priority;
use crate::control::{hostapd_conf_path, read_hostapd_credentials};
use crate::plan::RADIO_IFNAME;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a connection may take to get its DHCP lease.
const LEASE_TIMEOUT: Duration = Duration::from_secs(15);
const TAG: &str = "WifiService";
/// What Wi-Fi commands answer on a cellular phone, which has no Wi-Fi radio.
pub const NO_WIFI: &str = "no Wi-Fi on this phone: it is on cellular";

/// udhcpc's hook: configures the link in the phone's namespace and writes the lease where
/// the phone reads it. Never touches the host's /etc/resolv.conf (Debian's default script
/// would).
fn hook_script(lease_file: &std::path::Path) -> String {
    format!(
        r#"#!/bin/sh
# udhcpc hook of a MATAdOR emulated phone (generated)
LEASE_FILE='{lease}'
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    rm -f "$LEASE_FILE"
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${{mask:-24}}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    printf 'ip=%s\nmask=%s\nrouter=%s\ndns=%s\n' "$ip" "$mask" "$router" "$dns" > "$LEASE_FILE.tmp"
    mv "$LEASE_FILE.tmp" "$LEASE_FILE"
    ;;
esac
exit 0
"#,
        lease = lease_file.display()
    )
}

/// Parses the lease file the hook writes (`key=value` lines).
pub fn parse_lease(text: &str) -> Option<Lease> {
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
    };
    Some(Lease {
        ip: get("ip")?.trim().parse().ok()?,
        prefix: get("mask")?.trim().parse().ok().filter(|p| *p <= 32)?,
        router: get("router")?.split_whitespace().next()?.parse().ok()?,
        dns: get("dns")?
            .split_whitespace()
            .filter_map(|d| d.parse().ok())
            .collect(),
    })
}

fn lease_file(phone: &Phone) -> PathBuf {
    phone.dir.join("dhcp.lease")
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Connects to a network: refused (and logged as Android does) unless the SSID and the
/// passphrase match the router's access point; then DHCP. Blocks until the lease or failure.
pub fn connect(phone: &Phone, ssid: &str, passphrase: &str) -> Result<Lease, String> {
    if phone.role.is_cellular() {
        return Err(NO_WIFI.to_string());
    }
    disconnect(phone);
    let conf_path = hostapd_conf_path(&phone.lab_dir, &phone.role.router);
    let conf = std::fs::read_to_string(&conf_path).unwrap_or_default();
    let fail = |why: String| {
        phone.log(1000, Priority::Warn, TAG, &why);
        phone.state().wifi.last_failure = Some(why.clone());
        Err(why)
    };
    match read_hostapd_credentials(&conf) {
        Some((s, _)) if s != ssid => {
            return fail(format!("network \"{ssid}\" not found in scan results"))
        }
        Some((_, p)) if p != passphrase => {
            return fail(format!(
                "CTRL-EVENT-SSID-TEMP-DISABLED ssid=\"{ssid}\" auth_failures=1 reason=WRONG_KEY"
            ))
        }
        Some(_) => {}
        None => return fail("no access point in range".to_string()),
    }
    phone.log(
        1000,
        Priority::Info,
        TAG,
        &format!("CTRL-EVENT-CONNECTED ssid=\"{ssid}\""),
    );

    let lease_path = lease_file(phone);
    let script = phone.dir.join("udhcpc.script");
    let write_script = || -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&script, hook_script(&lease_path))?;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
    };
    if let Err(e) = write_script() {
        return fail(format!("DHCP hook: {e}"));
    }
    let _ = std::fs::remove_file(&lease_path);
    if let Err(e) = ip(&["link", "set", RADIO_IFNAME, "up"]) {
        return fail(format!("link up: {e}"));
    }
    let child = Command::new("udhcpc")
        .args([
            "-f",
            "-i",
            RADIO_IFNAME,
            "-t",
            "5",
            "-T",
            "1",
            "-A",
            "2",
            "-s",
        ])
        .arg(&script)
        .args(["-x", &format!("hostname:{}", phone.name)])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot start udhcpc: {e}")),
    };
    phone.state().wifi.dhcp_client = Some(child);

    let deadline = Instant::now() + LEASE_TIMEOUT;
    while Instant::now() < deadline {
        if let Some(lease) = std::fs::read_to_string(&lease_path)
            .ok()
            .and_then(|t| parse_lease(&t))
        {
            let mut s = phone.state();
            s.wifi.connected = Some((ssid.to_string(), lease.clone()));
            s.wifi.saved = Some((ssid.to_string(), passphrase.to_string()));
            s.wifi.last_failure = None;
            s.logcat.log(
                1000,
                Priority::Info,
                "DhcpClient",
                &format!(
                    "lease {}/{} via {} dns {:?}",
                    lease.ip, lease.prefix, lease.router, lease.dns
                ),
            );
            return Ok(lease);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    disconnect(phone);
    fail("no DHCP lease".to_string())
}

/// Leaves the network: stops the DHCP client, removes the address, takes the link down.
pub fn disconnect(phone: &Phone) {
    let child = {
        let mut s = phone.state();
        s.wifi.connected = None;
        s.wifi.dhcp_client.take()
    };
    if let Some(mut c) = child {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = std::fs::remove_file(lease_file(phone));
    let _ = ip(&["-4", "addr", "flush", "dev", RADIO_IFNAME]);
    let _ = ip(&["link", "set", RADIO_IFNAME, "down"]);
}

/// Turns the radio on (reconnecting to the saved network) or off.
pub fn set_enabled(phone: &Phone, enabled: bool) {
    if phone.role.is_cellular() {
        return;
    }
    let saved = {
        let mut s = phone.state();
        s.wifi.enabled = enabled;
        s.settings.insert(
            ("global".into(), "wifi_on".into()),
            u8::from(enabled).to_string(),
        );
        s.wifi.saved.clone()
    };
    if !enabled {
        disconnect(phone);
        phone.log(1000, Priority::Info, TAG, "Wi-Fi disabled");
        return;
    }
    phone.log(1000, Priority::Info, TAG, "Wi-Fi enabled");
    let connected = phone.state().wifi.connected.is_some();
    if let (Some((ssid, psk)), false) = (saved, connected) {
        let _ = connect(phone, &ssid, &psk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_file_parses_and_garbage_does_not() {
        let lease =
            parse_lease("ip=10.77.1.150\nmask=24\nrouter=10.77.1.1\ndns=10.77.1.1 10.77.1.2\n")
                .expect("lease");
        assert_eq!(lease.ip, std::net::Ipv4Addr::new(10, 77, 1, 150));
        assert_eq!(lease.prefix, 24);
        assert_eq!(lease.dns.len(), 2);
        assert_eq!(
            parse_lease("ip=10.77.1.150\nmask=99\nrouter=x\ndns=\n"),
            None
        );
        assert_eq!(parse_lease(""), None);
    }

    #[test]
    fn the_hook_never_writes_resolv_conf() {
        let s = hook_script(std::path::Path::new("/run/x/lease"));
        assert!(!s.contains("resolv.conf"));
        assert!(s.contains("LEASE_FILE='/run/x/lease'"));
    }
}
