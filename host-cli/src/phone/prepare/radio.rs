//! Radios: airplane mode on (no cellular traffic or cell location) with Wi-Fi back on, then
//! joining the router's WPA2 network until the phone has its address.

use super::super::error::PhoneError;
use super::super::parse::{ipv4_address, printed_error, wifi_enabled, wifi_ssid};
use super::super::shell::{quote, wait_for, Clock, Shell};
use super::{Timing, WifiPlan, WIFI_IFACE};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// Airplane mode on, Wi-Fi on; verified by reading both back.
pub fn airplane_with_wifi(
    shell: &mut dyn Shell,
    clock: &dyn Clock,
    timing: &Timing,
) -> Result<(), PhoneError> {
    const STEP: &str = "airplane mode";
    // Android 11+ has a command that also turns the radios off; older versions (and the
    // lab) only know the setting, so the command may fail and the setting is what counts.
    if let Err(e) = shell.shell("cmd connectivity airplane-mode enable") {
        tracing::debug!("cmd connectivity airplane-mode: {e}; the setting does it");
    }
    shell.shell("settings put global airplane_mode_on 1")?;
    // Airplane mode turns Wi-Fi off; Android lets Wi-Fi alone come back on.
    let out = shell.shell("svc wifi enable")?;
    if let Some(e) = printed_error(&out) {
        return Err(PhoneError::Unexpected {
            command: "svc wifi enable".into(),
            problem: e.to_string(),
        });
    }
    let setting = shell.shell("settings get global airplane_mode_on")?;
    if setting.trim() != "1" {
        return Err(PhoneError::NotVerified {
            step: STEP,
            problem: format!("airplane_mode_on reads {:?}, not 1", setting.trim()),
        });
    }
    wait_for(clock, "wi-fi on", timing.wifi_on, timing.poll, || {
        let status = shell.shell("cmd wifi status")?;
        Ok(if wifi_enabled(&status) {
            Ok(())
        } else {
            Err(first_line(&status))
        })
    })
}

/// Joins the network and waits until `cmd wifi status` names it and the interface has an
/// address (in the expected subnet, when one is given); the address.
pub fn join(
    shell: &mut dyn Shell,
    clock: &dyn Clock,
    wifi: &WifiPlan,
    timing: &Timing,
) -> Result<Ipv4Net, PhoneError> {
    const STEP: &str = "wi-fi";
    // Connecting even when already connected: a fresh DHCP lease brings the resolver of the
    // vantage node the router tunnels to now.
    let command = format!(
        "cmd wifi connect-network {} wpa2 {}",
        quote(&wifi.ssid),
        quote(&wifi.passphrase)
    );
    let out = shell
        .shell(&command)
        .map_err(|e| e.redact(&wifi.passphrase))?;
    if let Some(e) = printed_error(&out) {
        return Err(PhoneError::Unexpected {
            command: format!("cmd wifi connect-network {} wpa2 <passphrase>", wifi.ssid),
            problem: e.replace(&wifi.passphrase, "<passphrase>"),
        });
    }
    let address = wait_for(clock, STEP, timing.connect, timing.poll, || {
        let status = shell.shell("cmd wifi status")?;
        if wifi_ssid(&status) != Some(wifi.ssid.as_str()) {
            let seen = match wifi_enabled(&status) {
                true => last_wifi_line(&status),
                false => first_line(&status),
            };
            return Ok(Err(format!("not connected to {:?}: {seen}", wifi.ssid)));
        }
        let ip = shell.shell(&format!("ip -4 addr show {WIFI_IFACE}"))?;
        Ok(ipv4_address(&ip).ok_or_else(|| format!("connected, no address on {WIFI_IFACE} yet")))
    })?;
    if let Some(subnet) = wifi.subnet {
        if !subnet.contains(&address.addr()) {
            return Err(PhoneError::NotVerified {
                step: STEP,
                problem: format!("address {address} is not in the router's subnet {subnet}"),
            });
        }
    }
    Ok(address)
}

/// Waits until the phone's VPN holds `address` (its WireGuard tunnel to the router's
/// ingress is up); the address as a /32 and the interface holding it.
pub fn vpn_up(
    shell: &mut dyn Shell,
    clock: &dyn Clock,
    address: Ipv4Addr,
    timing: &Timing,
) -> Result<(Ipv4Net, String), PhoneError> {
    wait_for(clock, "vpn", timing.connect, timing.poll, || {
        let out = shell.shell("ip -4 addr")?;
        Ok(interface_holding(&out, address).ok_or_else(|| {
            format!(
                "no interface holds the VPN address {address}: is the phone's WireGuard tunnel up (`phone enroll --push`)?"
            )
        }))
    })
}

/// The address and interface of the `inet` line of `ip -4 addr` that holds `address`
/// (`inet 10.78.2.2/32 scope global wg0`: the interface is the line's last word).
fn interface_holding(listing: &str, address: Ipv4Addr) -> Option<(Ipv4Net, String)> {
    listing.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("inet ")?;
        let net: Ipv4Net = rest.split_whitespace().next()?.parse().ok()?;
        let iface = rest.split_whitespace().last()?;
        let plausible = !iface.is_empty()
            && iface.len() <= 15
            && iface
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        (net.addr() == address && plausible).then(|| (Ipv4Net::from(address), iface.to_string()))
    })
}

#[cfg(test)]
#[test]
fn the_vpn_interface_is_found_by_its_address() {
    let listing = "1: lo: <LOOPBACK,UP> mtu 65536\n    inet 127.0.0.1/8 scope host lo\n\
                   4: wg0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420\n    inet 10.78.2.2/32 scope global wg0\n";
    let (net, iface) = interface_holding(listing, Ipv4Addr::new(10, 78, 2, 2)).expect("found");
    assert_eq!(
        (net.to_string().as_str(), iface.as_str()),
        ("10.78.2.2/32", "wg0")
    );
    assert!(interface_holding(listing, Ipv4Addr::new(10, 78, 2, 3)).is_none());
    assert!(interface_holding(
        "inet 10.78.2.2/32 scope global $(reboot)",
        Ipv4Addr::new(10, 78, 2, 2)
    )
    .is_none());
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("(nothing)")
        .trim()
        .to_string()
}

/// The status line about the connection (`Wifi is connected to …` / `Wifi is not connected`).
fn last_wifi_line(status: &str) -> String {
    status
        .lines()
        .rfind(|l| l.starts_with("Wifi is ") && !l.contains("enabled"))
        .unwrap_or("(no connection line)")
        .trim()
        .to_string()
}
