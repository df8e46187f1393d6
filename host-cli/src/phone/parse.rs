//! Reading what Android's shell commands print: `pm list packages -U`, `cmd wifi status`,
//! `ip -4 addr show`, `dumpsys window`, and the error lines commands print instead of failing.

use ipnet::Ipv4Net;

/// The UID of exactly `package` in `pm list packages -U` output (`package:NAME uid:UID`;
/// the filter is a substring match, so other packages may be listed too).
pub fn package_uid(output: &str, package: &str) -> Option<u32> {
    output.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let name = words.next()?.strip_prefix("package:")?;
        if name != package {
            return None;
        }
        words
            .find_map(|w| w.strip_prefix("uid:"))
            // Shared UIDs print as `uid:A,B`; the first is the app's own.
            .and_then(|u| u.split(',').next())
            .and_then(|u| u.parse().ok())
    })
}

/// Whether `cmd wifi status` says Wi-Fi is on.
pub fn wifi_enabled(status: &str) -> bool {
    status.lines().any(|l| l.trim() == "Wifi is enabled")
}

/// The SSID `cmd wifi status` says the phone is connected to.
pub fn wifi_ssid(status: &str) -> Option<&str> {
    status.lines().find_map(|l| {
        l.trim()
            .strip_prefix("Wifi is connected to \"")
            .and_then(|rest| rest.strip_suffix('"'))
    })
}

/// The first IPv4 address with prefix in `ip -4 addr show IFACE` output.
pub fn ipv4_address(output: &str) -> Option<Ipv4Net> {
    output.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("inet ")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The component of the focused window in `dumpsys window` (`mCurrentFocus=Window{… u0
/// PKG/ACTIVITY}`), if an app has the focus.
pub fn focused_component(dumpsys: &str) -> Option<&str> {
    dumpsys.lines().find_map(|l| {
        let window = l.trim().strip_prefix("mCurrentFocus=")?;
        let inner = window.strip_prefix("Window{")?.strip_suffix('}')?;
        inner.split_whitespace().last().filter(|c| c.contains('/'))
    })
}

/// The error lines a command printed instead of failing (Android's `cmd`, `am` and
/// `settings` often exit 0, and over a plain TCP shell there is no exit code at all).
pub fn printed_error(output: &str) -> Option<String> {
    const MARKS: [&str; 8] = [
        "Error",
        "Exception",
        "java.lang.",
        "Unknown command",
        "Can't find service",
        "usage:",
        "Usage:",
        "not found",
    ];
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| {
            MARKS
                .iter()
                .any(|m| l.starts_with(m) || l.contains(&format!(": {m}")))
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn android_outputs_parse() {
        let pm = "package:com.globalmessenger.android.beta uid:10200\npackage:com.globalmessenger.android uid:10123\n";
        assert_eq!(package_uid(pm, "com.globalmessenger.android"), Some(10123));
        assert_eq!(package_uid(pm, "com.other"), None);
        assert_eq!(
            package_uid("package:a.b uid:10001,10002\n", "a.b"),
            Some(10001)
        );
        let status = "Wifi is enabled\nWifi scanning is always available\n==== Primary ClientModeManager instance ====\nWifi is connected to \"matador-a\"\nWifiInfo: SSID: \"matador-a\"\n";
        assert!(wifi_enabled(status));
        assert_eq!(wifi_ssid(status), Some("matador-a"));
        assert!(!wifi_enabled("Wifi is disabled\n"));
        assert_eq!(wifi_ssid("Wifi is enabled\nWifi is not connected\n"), None);
        let ip = "3: wlan0: <BROADCAST,UP> mtu 1500\n    inet 10.77.1.150/24 brd 10.77.1.255 scope global wlan0\n       valid_lft forever\n";
        assert_eq!(ipv4_address(ip), "10.77.1.150/24".parse().ok());
        assert_eq!(ipv4_address("3: wlan0: <BROADCAST> mtu 1500\n"), None);
        let dumpsys = "WINDOW MANAGER WINDOWS (dumpsys window windows)\n  Window #0 Window{7e1a2b u0 com.x/.Home}:\n\n  mCurrentFocus=Window{7e1a2b u0 com.x/.Home}\n";
        assert_eq!(focused_component(dumpsys), Some("com.x/.Home"));
        assert_eq!(focused_component("  mCurrentFocus=null\n"), None);
        assert_eq!(
            printed_error("Exception occurred while executing 'providers':\njava.lang.IllegalArgumentException: gone\n"),
            Some("Exception occurred while executing 'providers':; java.lang.IllegalArgumentException: gone".into())
        );
        assert!(printed_error("Error: Invalid passphrase: must be 8 to 63 characters\n").is_some());
        assert!(printed_error("/system/bin/sh: svc: not found\n").is_some());
        assert_eq!(printed_error("Connection initiated with netId 0\n"), None);
        assert_eq!(printed_error(""), None);
    }
}
