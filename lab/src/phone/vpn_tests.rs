//! The WireGuard app's pure parts: tunnel names, imports from `/sdcard/Download`, and the
//! `ip` steps that route everything but the endpoint into the tunnel.

use super::*;
use crate::plan::Plan;
use crate::topology::cellular_tests::{field_with_phones, CELLULAR_PHONE};
use std::sync::Arc;

const KEY_A: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const KEY_B: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

pub(crate) fn profile() -> String {
    format!(
        "[Interface]\nPrivateKey = {KEY_A}\nAddress = 10.78.9.2/32\nDNS = 10.78.9.1\n\n[Peer]\n\
         PublicKey = {KEY_B}\nEndpoint = 192.0.2.5:51821\nAllowedIPs = 0.0.0.0/0, ::/0\n\
         PersistentKeepalive = 25\n"
    )
}

/// The cellular phone-v of the field topology, with its files in a temporary directory.
pub(crate) fn cellular_phone() -> (Arc<Phone>, tempfile::TempDir) {
    let topo = crate::topology::parse(&field_with_phones(CELLULAR_PHONE), "x").expect("parses");
    let plan = Plan::build(&topo).expect("plans");
    let dir = tempfile::tempdir().expect("tempdir");
    let phone = Phone::from_plan(&plan, "phone-v", dir.path().join("p"), dir.path().into())
        .expect("a phone");
    crate::phone::lifecycle::prepare_files(&phone).expect("files");
    (Arc::new(phone), dir)
}

fn args(steps: &[IpStep]) -> Vec<String> {
    steps.iter().map(|s| s.args.join(" ")).collect()
}

#[test]
fn everything_goes_into_the_tunnel_except_the_endpoint() {
    let (phone, _d) = cellular_phone();
    let up = phone
        .uplink
        .clone()
        .expect("a cellular phone knows its uplink");
    assert_eq!(up.ifname, "t-de-fra");
    let config = wg_quick::parse(&profile()).expect("profile");
    let steps = ip_steps(&config, "wg-phone-v", Some(&up));
    assert_eq!(
        args(&steps),
        [
            "addr add 10.78.9.2/32 dev wg-phone-v".to_string(),
            "link set wg-phone-v up".into(),
            format!("route replace 192.0.2.5/32 via {} dev t-de-fra", up.gateway),
            "route replace 0.0.0.0/1 dev wg-phone-v".into(),
            "route replace 128.0.0.0/1 dev wg-phone-v".into(),
            "route replace ::/1 dev wg-phone-v".into(),
            "route replace 8000::/1 dev wg-phone-v".into(),
        ]
    );
    let optional: Vec<&str> = steps
        .iter()
        .filter(|s| !s.required)
        .map(|s| s.args[2].as_str())
        .collect();
    assert_eq!(optional, ["::/1", "8000::/1"], "IPv6 may fail");
}

#[test]
fn split_tunnels_need_no_endpoint_route() {
    let text = profile().replace("0.0.0.0/0, ::/0", "10.78.9.0/24, 198.51.100.7");
    let config = wg_quick::parse(&text).expect("profile");
    let hop = NextHop {
        ifname: "t-x".into(),
        gateway: "192.0.2.0".parse().expect("ip"),
    };
    let routes: Vec<String> = args(&ip_steps(&config, "wg-p", Some(&hop)))
        .into_iter()
        .filter(|a| a.starts_with("route"))
        .collect();
    assert_eq!(
        routes,
        [
            "route replace 10.78.9.0/24 dev wg-p",
            "route replace 198.51.100.7/32 dev wg-p"
        ]
    );
}

#[test]
fn tunnel_names_are_the_apps_and_cannot_leave_the_download_folder() {
    assert!(valid_name("lr-f_1.vpn"));
    for bad in ["", "../etc/passwd", "a/b", "sixteen-chars-xx", "sp ace"] {
        assert!(!valid_name(bad), "{bad}");
    }
    let (phone, _d) = cellular_phone();
    assert_eq!(
        import(&phone, "../x").expect_err("bad name"),
        "Invalid name: \"../x\""
    );
}

#[test]
fn imports_read_the_pushed_file_and_name_what_is_wrong() {
    let (phone, _d) = cellular_phone();
    assert_eq!(
        import(&phone, "lab").expect_err("missing"),
        "Unable to import tunnel: /sdcard/Download/lab.conf: No such file or directory"
    );
    let path = phone.files_root().join("sdcard/Download/lab.conf");
    std::fs::write(&path, profile().replace("10.78.9.2/32", "10.78.9.x")).expect("push");
    let e = import(&phone, "lab").expect_err("bad address");
    assert!(
        e.starts_with("Unable to import tunnel: lab.conf: line 3: Address \"10.78.9.x\""),
        "{e}"
    );
    std::fs::write(&path, profile()).expect("push");
    let t = import(&phone, "lab").expect("imports");
    assert_eq!(t.endpoint.port(), 51821);
}

#[test]
fn a_cellular_phone_has_no_resolver_without_its_vpn() {
    let (phone, _d) = cellular_phone();
    assert_eq!(phone.resolver(), None);
    assert!(!phone.state().wifi.enabled);
    assert_eq!(ifname("phone-v"), "wg-phone-v");
    assert_eq!(
        socket_path("phone-v"),
        std::path::Path::new("/var/run/wireguard/wg-phone-v.sock")
    );
}
