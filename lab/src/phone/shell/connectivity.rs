//! Network commands: `svc wifi`, `cmd wifi connect-network|status`, `dumpsys connectivity`
//! (Wi-Fi or cellular, and the VPN), and the real `ip`, `ping`, `iptables` and `ip6tables`
//! run in the phone's namespace.

use super::Output;
use crate::phone::device::Phone;
use crate::phone::{vpn, wifi};
use std::sync::Arc;

/// `svc wifi enable|disable` (and `svc data`, accepted: mobile data stays as it is).
pub fn svc(phone: &Arc<Phone>, args: &[&str]) -> Output {
    if phone.role.is_cellular() && args.first() == Some(&"wifi") {
        return Output::fail(1, format!("{}\n", wifi::NO_WIFI));
    }
    match args {
        ["wifi", "enable"] => {
            wifi::set_enabled(phone, true);
            Output::quiet()
        }
        ["wifi", "disable"] => {
            wifi::set_enabled(phone, false);
            Output::quiet()
        }
        ["data", "enable" | "disable"] => Output::quiet(),
        ["wifi", ..] => Output::ok("Control the Wi-Fi manager\n\nusage: svc wifi [enable|disable]\n         Turn Wi-Fi on or off.\n\n"),
        _ => Output::ok("Available commands:\n    help     Show information about the subcommands\n    power    Control the power manager\n    data     Control mobile data connectivity\n    wifi     Control the Wi-Fi manager\n"),
    }
}

/// `cmd wifi connect-network SSID wpa2 PASSPHRASE` and `cmd wifi status`.
pub fn cmd_wifi(phone: &Arc<Phone>, args: &[&str]) -> Output {
    let changes = matches!(
        args.first(),
        Some(&("connect-network" | "set-wifi-enabled"))
    );
    if phone.role.is_cellular() && changes {
        return Output::fail(255, format!("Error: {}\n", wifi::NO_WIFI));
    }
    match args {
        ["status", ..] => Output::ok(status(phone)),
        ["connect-network", ssid, security, rest @ ..] => {
            let psk = match (*security, rest.first()) {
                ("wpa2" | "wpa3", Some(psk)) => *psk,
                ("open" | "owe", _) => "",
                _ => {
                    return Output::fail(
                        255,
                        "Error: Invalid arguments\nusage: cmd wifi connect-network <ssid> open|owe|wpa2|wpa3 [<passphrase>]\n",
                    )
                }
            };
            if !(psk.is_empty() || (8..=63).contains(&psk.len())) {
                return Output::fail(255, "Error: Invalid passphrase: must be 8 to 63 characters\n");
            }
            if !phone.state().wifi.enabled {
                phone.state().wifi.saved = Some((ssid.to_string(), psk.to_string()));
                return Output::ok("Connection initiated with netId 0\n");
            }
            // Android answers at once and connects in the background; the outcome shows in
            // `cmd wifi status`, as here (a wrong passphrase simply never connects).
            let _ = wifi::connect(phone, ssid, psk);
            Output::ok("Connection initiated with netId 0\n")
        }
        ["set-wifi-enabled", v] => {
            wifi::set_enabled(phone, *v == "enabled");
            Output::quiet()
        }
        _ => Output::fail(255, "Unknown command\nusage: cmd wifi status | connect-network <ssid> wpa2 <passphrase> | set-wifi-enabled enabled|disabled\n"),
    }
}

fn status(phone: &Phone) -> String {
    let s = phone.state();
    if !s.wifi.enabled {
        return "Wifi is disabled\nWifi scanning is only available when wifi is enabled\n".into();
    }
    let mut out = String::from(
        "Wifi is enabled\nWifi scanning is always available\n==== Primary ClientModeManager instance ====\n",
    );
    match &s.wifi.connected {
        Some((ssid, lease)) => {
            out.push_str(&format!("Wifi is connected to \"{ssid}\"\n"));
            out.push_str(&format!(
                "WifiInfo: SSID: \"{ssid}\", BSSID: 02:00:00:00:00:01, MAC: 02:00:00:00:00:02, IP: /{}, Security type: 2, Supplicant state: COMPLETED, Wi-Fi standard: 4, RSSI: -50, Link speed: 144Mbps, Frequency: 2437MHz, Net ID: 0\n",
                lease.ip
            ));
        }
        None => out.push_str("Wifi is not connected\n"),
    }
    out
}

/// Runs the real tool in the phone's namespace (the whole phone process lives there).
pub fn passthrough(program: &str, args: &[&str]) -> Output {
    match std::process::Command::new(program).args(args).output() {
        Ok(o) => Output {
            stdout: o.stdout,
            stderr: o.stderr,
            code: o.status.code().map_or(1, |c| c.clamp(0, 255) as u8),
        },
        Err(_) => Output::fail(127, format!("/system/bin/sh: {program}: not found\n")),
    }
}

/// `dumpsys connectivity`: the phone's networks as Android lists them, the VPN included.
pub fn dumpsys(phone: &Phone) -> Output {
    let s = phone.state();
    let mut networks: Vec<String> = Vec::new();
    if let (true, Some(up)) = (phone.role.is_cellular(), &phone.uplink) {
        let own = match up.gateway {
            std::net::IpAddr::V4(g) => format!("{}/31", std::net::Ipv4Addr::from(u32::from(g) ^ 1)),
            g => g.to_string(),
        };
        networks.push(format!(
            "ni{{MOBILE[LTE] CONNECTED extra: internet}}  lp{{{{InterfaceName: {} LinkAddresses: [ {own} ] DnsAddresses: [ ] Routes: [ 0.0.0.0/0 -> {} {} ]}}}}  nc{{[ Transports: CELLULAR Capabilities: INTERNET&NOT_RESTRICTED&TRUSTED&NOT_VPN ]}}",
            up.ifname, up.gateway, up.ifname
        ));
    }
    if let Some((ssid, lease)) = &s.wifi.connected {
        let dns: Vec<String> = lease.dns.iter().map(|d| format!("/{d}")).collect();
        networks.push(format!(
            "ni{{WIFI CONNECTED extra: \"{ssid}\"}}  lp{{{{InterfaceName: {} LinkAddresses: [ {}/{} ] DnsAddresses: [ {} ] Routes: [ 0.0.0.0/0 -> {} {} ]}}}}  nc{{[ Transports: WIFI Capabilities: INTERNET&NOT_RESTRICTED&TRUSTED&NOT_VPN ]}}",
            crate::plan::RADIO_IFNAME, lease.ip, lease.prefix, dns.join(","), lease.router, crate::plan::RADIO_IFNAME
        ));
    }
    if let Some(t) = &s.vpn {
        let addrs: Vec<String> = t.config.addresses.iter().map(|a| a.to_string()).collect();
        let dns: Vec<String> = t.config.dns.iter().map(|d| format!("/{d}")).collect();
        let under = if phone.role.is_cellular() {
            "CELLULAR"
        } else {
            "WIFI"
        };
        networks.push(format!(
            "ni{{VPN CONNECTED extra: VPN:{}}}  lp{{{{InterfaceName: {} LinkAddresses: [ {} ] DnsAddresses: [ {} ]}}}}  nc{{[ Transports: {under}|VPN Capabilities: INTERNET&NOT_RESTRICTED&TRUSTED OwnerUid: {} Tunnel: {} Endpoint: {} ]}}",
            vpn::WIREGUARD_PACKAGE, t.ifname, addrs.join(","), dns.join(","), vpn::WIREGUARD_UID, t.name, t.config.endpoint
        ));
    }
    let mut out = String::from("NetworkFactories for:\n\n");
    match networks.len() {
        0 => out.push_str("Active default network: none\n\nCurrent Networks:\n"),
        n => out.push_str(&format!(
            "Active default network: {}\n\nCurrent Networks:\n",
            99 + n
        )),
    }
    for (i, n) in networks.iter().enumerate() {
        out.push_str(&format!(
            "  NetworkAgentInfo{{network{{{}}}  {n}}}\n",
            100 + i
        ));
    }
    Output::ok(out)
}
