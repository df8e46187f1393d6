//! `am broadcast` and the shell of a cellular phone, without a namespace: argument handling,
//! the WireGuard app's answers when it cannot bring a tunnel up, Wi-Fi commands refused.

use super::*;
use crate::phone::shell::run_line;
use crate::phone::vpn::tests::cellular_phone;
use std::sync::Arc;

fn sh(phone: &Arc<Phone>, line: &str) -> (String, String, u8) {
    let out = run_line(phone, line);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.code,
    )
}

const UP: &str = "am broadcast -a com.wireguard.android.action.SET_TUNNEL_UP";

#[test]
fn intents_parse_as_am_reads_them() {
    let i = parse_intent(&["-a", "x.Y", "-e", "tunnel", "lab", "--user", "0"]).expect("parses");
    assert_eq!(i.action.as_deref(), Some("x.Y"));
    assert_eq!(i.extra("tunnel"), Some("lab"));
    assert_eq!(i.describe(), "Intent { act=x.Y flg=0x400000 (has extras) }");
    assert_eq!(
        parse_intent(&["-a", "x", "-e", "tunnel"]).expect_err("no value"),
        "Argument expected after \"-e\""
    );
    assert_eq!(
        parse_intent(&["-z"]).expect_err("option"),
        "Unknown option: -z"
    );
}

#[test]
fn bad_arguments_are_an_exception_with_exit_code_255() {
    let (p, _d) = cellular_phone();
    let (out, err, code) = sh(&p, "am broadcast -a");
    assert_eq!((out.as_str(), code), ("", 255));
    assert_eq!(
        err,
        "Exception occurred while executing 'broadcast':\njava.lang.IllegalArgumentException: \
         Argument expected after \"-a\"\n"
    );
}

#[test]
fn an_action_nobody_receives_completes_with_result_0() {
    let (p, _d) = cellular_phone();
    let (out, _, code) = sh(&p, "am broadcast -a org.example.NOTHING -e tunnel lab");
    assert_eq!(
        out,
        "Broadcasting: Intent { act=org.example.NOTHING flg=0x400000 (has extras) }\n\
         Broadcast completed: result=0\n"
    );
    assert_eq!(code, 0);
    assert!(p.state().vpn.is_none());
}

#[test]
fn the_wireguard_app_reports_a_missing_extra_or_file() {
    let (p, _d) = cellular_phone();
    let (out, _, code) = sh(&p, UP);
    assert_eq!(code, 1);
    assert!(
        out.ends_with(
            "Broadcast completed: result=1, data=\"missing string extra 'tunnel' (-e tunnel NAME)\"\n"
        ),
        "{out}"
    );
    let (out, _, code) = sh(&p, &format!("{UP} -e tunnel lab"));
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "Broadcasting: Intent { act=com.wireguard.android.action.SET_TUNNEL_UP flg=0x400000 \
         (has extras) }\nBroadcast completed: result=1, data=\"Unable to import tunnel: \
         /sdcard/Download/lab.conf: No such file or directory\"\n"
    );
    // Down of a tunnel that is not up changes nothing.
    let down = "am broadcast -a com.wireguard.android.action.SET_TUNNEL_DOWN -e tunnel lab";
    assert_eq!(sh(&p, down).2, 0);
    assert!(p.state().vpn.is_none());
}

#[test]
fn a_cellular_phone_has_the_app_and_no_wifi() {
    let (p, _d) = cellular_phone();
    assert!(sh(&p, "pm list packages wireguard")
        .0
        .contains("package:com.wireguard.android\n"));
    let no_wifi = "no Wi-Fi on this phone: it is on cellular";
    assert_eq!(
        sh(&p, "svc wifi enable"),
        (String::new(), format!("{no_wifi}\n"), 1)
    );
    let (_, err, code) = sh(
        &p,
        "cmd wifi connect-network matador-f wpa2 lab-passphrase-f",
    );
    assert_eq!((err, code), (format!("Error: {no_wifi}\n"), 255));
    assert!(sh(&p, "cmd wifi status")
        .0
        .starts_with("Wifi is disabled\n"));
    let net = sh(&p, "dumpsys connectivity").0;
    assert!(net.contains("ni{MOBILE[LTE] CONNECTED"), "{net}");
    assert!(net.contains("InterfaceName: t-de-fra"), "{net}");
    assert!(!net.contains("VPN CONNECTED"), "{net}");
}

#[test]
fn a_wifi_phone_has_no_wireguard_app() {
    let plan = crate::plan::Plan::build(
        &crate::topology::parse(crate::topology::DEFAULT_TOPOLOGY, "d").expect("topology"),
    )
    .expect("plan");
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Phone::from_plan(&plan, "phone-a", dir.path().join("p"), dir.path().into())
        .map(Arc::new)
        .expect("phone-a");
    assert!(!sh(&p, "pm list packages").0.contains("wireguard"));
    let (out, _, code) = sh(&p, &format!("{UP} -e tunnel lab"));
    assert!(out.ends_with("Broadcast completed: result=0\n"), "{out}");
    assert_eq!(code, 0);
    assert!(sh(&p, "dumpsys connectivity")
        .0
        .contains("Active default network: none"));
}
