//! The `wifi-iface` batches, and applying them through stand-ins for OpenWrt's `uci` and
//! `wifi` that record what they were given (neither program exists off OpenWrt).

use super::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn ap(name: &str, ssid: &str) -> ApConfig {
    ApConfig {
        name: name.into(),
        ssid: ssid.into(),
        passphrase: "lab-passphrase-a".into(),
        interface: "phy0-ap1".into(),
        subnet: "10.77.1.0/24".parse().expect("net"),
        country: "CH".into(),
        vantage: None,
        ingress: None,
    }
}

#[test]
fn a_batch_replaces_each_section_and_commits_once() {
    let batch = add_batch(&[ap("lab-a", "it's \"A\""), ap("b", "B")], "radio1");
    let lines: Vec<&str> = batch.lines().collect();
    assert_eq!(
        lines[0], "delete wireless.matador_lab_a",
        "UCI names have no '-'"
    );
    assert_eq!(lines[1], "set wireless.matador_lab_a=wifi-iface");
    assert!(lines.contains(&"set wireless.matador_lab_a.device='radio1'"));
    assert!(lines.contains(&"set wireless.matador_lab_a.ssid='it'\\''s \"A\"'"));
    assert!(lines.contains(&"set wireless.matador_lab_a.encryption='psk2+ccmp'"));
    assert!(lines.contains(&"set wireless.matador_b.ifname='phy0-ap1'"));
    assert!(
        !batch.contains(".network="),
        "netifd must not take the interface"
    );
    assert_eq!(lines.iter().filter(|l| l.starts_with("commit")).count(), 1);
    assert_eq!(lines.last(), Some(&"commit wireless"));
    assert_eq!(
        remove_batch(&[ap("lab-a", "x")]),
        "delete wireless.matador_lab_a\ncommit wireless\n"
    );
}

/// A stand-in program that appends its arguments and standard input to `log`, then exits
/// with `code`.
fn stand_in(dir: &Path, name: &str, log: &Path, code: i32) -> PathBuf {
    let path = dir.join(name);
    let script = format!(
        "#!/bin/sh\necho \"{name} $*\" >> '{log}'\ncat >> '{log}'\necho 'uci: Invalid argument' >&2\nexit {code}\n",
        log = log.display()
    );
    std::fs::write(&path, script).expect("write stand-in");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[test]
fn apply_feeds_the_batch_to_uci_then_reloads_wifi() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log");
    let tools = Tools {
        uci: stand_in(dir.path(), "uci", &log, 0),
        wifi: stand_in(dir.path(), "wifi", &log, 0),
    };
    let batch = add_batch(&[ap("a", "A")], "radio0");
    tools.apply(&batch).expect("applied");
    let seen = std::fs::read_to_string(&log).expect("log");
    assert_eq!(seen, format!("uci batch\n{batch}wifi reload\n"));
}

#[test]
fn a_failing_uci_stops_before_wifi_reload_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log");
    let tools = Tools {
        uci: stand_in(dir.path(), "uci", &log, 1),
        wifi: stand_in(dir.path(), "wifi", &log, 0),
    };
    let e = tools
        .apply("set wireless.x=bogus\n")
        .expect_err("uci failed");
    assert!(e.to_string().contains("uci: Invalid argument"), "{e}");
    let seen = std::fs::read_to_string(&log).expect("log");
    assert!(!seen.contains("wifi reload"), "{seen}");
    let missing = Tools {
        uci: dir.path().join("no-such-uci"),
        wifi: dir.path().join("no-such-wifi"),
    };
    let e = missing.apply("commit wireless\n").expect_err("no uci");
    assert!(e.to_string().contains("needs OpenWrt"), "{e}");
}
