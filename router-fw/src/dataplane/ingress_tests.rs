//! The ingress's pure parts: checks, UAPI requests, the enrolled-peers file.

use super::config::RouterConfig;
use super::ingress::*;

const KEY_A: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const KEY_B: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

fn config(peers: &str) -> String {
    format!(
        "router: lr-a
management: 192.0.2.41
token_file: /etc/matador/token
state_dir: /var/lib/matador
run_dir: /run/matador
uplink: eth0
radio: simulated
wireguard: userspace
aps:
  - {{ name: ap0, ssid: matador-a, passphrase: lab-passphrase-a, interface: wlan0, subnet: 10.77.1.0/24 }}
  - name: vpn
    interface: wg-in
    subnet: 10.78.0.0/24
    ingress:
      private_key: /etc/matador/ingress.key
      peers: {peers}
"
    )
}

fn peer(device: &str, key: &str, addr: [u8; 4]) -> String {
    format!(
        "{{ device: {device}, public_key: \"{key}\", address: {} }}",
        std::net::Ipv4Addr::from(addr)
    )
}

#[test]
fn an_ingress_loads_without_ssid_and_with_the_default_port() {
    let text = config(&format!("[{}]", peer("pixel-a", KEY_A, [10, 78, 0, 2])));
    let c = RouterConfig::parse(&text, "r.yaml").expect("valid");
    let ap = &c.aps[1];
    assert!(ap.is_ingress() && !c.aps[0].is_ingress());
    let ingress = ap.ingress.as_ref().expect("ingress");
    assert_eq!(ingress.listen_port, 51821);
    assert_eq!(
        device_of(&ingress.peers, [10, 78, 0, 2].into()),
        Some("pixel-a")
    );
    assert_eq!(device_of(&ingress.peers, [10, 78, 0, 3].into()), None);
}

#[test]
fn bad_ingresses_say_what_to_fix() {
    let a = peer("pixel-a", KEY_A, [10, 78, 0, 2]);
    let cases = [
        (
            config(&format!("[{}]", peer("pixel-a", KEY_A, [10, 78, 0, 1]))),
            "not a free host",
        ),
        (
            config(&format!("[{}]", peer("pixel-a", KEY_A, [10, 79, 0, 2]))),
            "not a free host",
        ),
        (
            config(&format!("[{}]", peer("-x", KEY_A, [10, 78, 0, 2]))),
            "device name",
        ),
        (
            config(&format!(
                "[{}]",
                peer("pixel-a", "bm90IGEga2V5", [10, 78, 0, 2])
            )),
            "not a WireGuard key",
        ),
        (
            config(&format!(
                "[{a}, {}]",
                peer("pixel-b", KEY_A, [10, 78, 0, 3])
            )),
            "shares its name, key or address",
        ),
        (
            config(&format!(
                "[{a}, {}]",
                peer("pixel-b", KEY_B, [10, 78, 0, 2])
            )),
            "shares its name, key or address",
        ),
        (
            config("[]").replace("interface: wg-in", "interface: wg-in\n    ssid: nope"),
            "no SSID",
        ),
        (
            config("[]").replace("wireguard: userspace", "wireguard: kernel"),
            "wireguard: userspace",
        ),
        (
            config("[]").replace("private_key:", "listen_port: 0\n      private_key:"),
            "listen_port",
        ),
    ];
    for (text, expect) in cases {
        let e = RouterConfig::parse(&text, "r.yaml").expect_err(expect);
        assert!(e.to_string().contains(expect), "{expect}: {e}");
    }
    // A Wi-Fi AP still needs its SSID and passphrase.
    let wifi = config("[]").replace("ssid: matador-a, passphrase: lab-passphrase-a, ", "");
    let e = RouterConfig::parse(&wifi, "r.yaml").expect_err("no ssid");
    assert!(e.to_string().contains("SSID"), "{e}");
}

#[test]
fn uapi_requests_set_every_peer_to_its_own_address_only() {
    let c = RouterConfig::parse(
        &config(&format!(
            "[{}, {}]",
            peer("pixel-a", KEY_A, [10, 78, 0, 2]),
            peer("pixel-b", KEY_B, [10, 78, 0, 3])
        )),
        "r.yaml",
    )
    .expect("valid");
    let peers = &c.aps[1].ingress.as_ref().expect("ingress").peers;
    let set = set_request(&[7u8; 32], 51821, peers).expect("request");
    assert!(set.starts_with("set=1\nprivate_key=0707"), "{set}");
    assert!(
        set.contains("listen_port=51821\nreplace_peers=true\n"),
        "{set}"
    );
    assert_eq!(set.matches("replace_allowed_ips=true\n").count(), 2);
    assert!(set.contains("allowed_ip=10.78.0.2/32\n") && set.contains("allowed_ip=10.78.0.3/32\n"));
    assert!(set.ends_with("\n\n"));
    let add = add_request(&peers[0]).expect("add");
    assert!(
        !add.contains("replace_peers"),
        "adding leaves the others: {add}"
    );
    assert!(add.contains("allowed_ip=10.78.0.2/32\n"));
    let remove = remove_request(KEY_B).expect("remove");
    assert!(remove.ends_with("remove=true\n\n"), "{remove}");
    assert!(remove_request("garbage").is_err());
}

#[test]
fn enrolled_peers_are_kept_apart_from_configured_ones_and_reloaded() {
    let dir = tempfile::tempdir().expect("dir");
    let c = RouterConfig::parse(
        &config(&format!("[{}]", peer("pixel-a", KEY_A, [10, 78, 0, 2]))),
        "r.yaml",
    )
    .expect("valid");
    let ap = &c.aps[1];
    let mut peers = load_peers(dir.path(), ap).expect("no file yet");
    assert_eq!(peers.len(), 1);
    peers.push(super::config::IngressPeerConfig {
        device: "pixel-b".into(),
        public_key: KEY_B.into(),
        address: [10, 78, 0, 3].into(),
    });
    save_enrolled(dir.path(), ap, &peers).expect("save");
    let saved = std::fs::read_to_string(peers_file(dir.path(), "vpn")).expect("file");
    assert!(
        saved.contains("pixel-b") && !saved.contains("pixel-a"),
        "{saved}"
    );
    let again = load_peers(dir.path(), ap).expect("reload");
    assert_eq!(again, peers);
    // A saved peer that now clashes with the configuration is ignored, not fatal.
    std::fs::write(
        peers_file(dir.path(), "vpn"),
        format!(
            "[{{\"device\":\"pixel-c\",\"public_key\":\"{KEY_B}\",\"address\":\"10.78.0.2\"}}]"
        ),
    )
    .expect("write");
    assert_eq!(load_peers(dir.path(), ap).expect("reload").len(), 1);
    std::fs::write(peers_file(dir.path(), "vpn"), "{not json").expect("write");
    let e = load_peers(dir.path(), ap).expect_err("broken file");
    assert!(format!("{e:#}").contains("enrolled peers"), "{e:#}");
}

#[test]
fn encryption_at_rest_gaps_are_health_warnings() {
    use crate::health::at_rest_warnings;
    let plain = RouterConfig::parse(&config("[]"), "t.yaml").expect("valid");
    let w = at_rest_warnings(&plain, Some(false));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("(vpn)") && w[0].contains("at_rest"), "{w:?}");
    assert_eq!(
        plain.capture_dir(),
        std::path::Path::new("/var/lib/matador/captures")
    );

    let key = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    let sealed = format!("{}at_rest:\n  recipient: {key}\n", config("[]"));
    let sealed = RouterConfig::parse(&sealed, "t.yaml").expect("valid");
    // Encrypted: the spool defaults to RAM, and a spool on disk is a warning.
    assert_eq!(
        sealed.capture_dir(),
        std::path::Path::new("/run/matador/captures")
    );
    assert!(at_rest_warnings(&sealed, Some(true)).is_empty());
    assert!(at_rest_warnings(&sealed, None).is_empty());
    let w = at_rest_warnings(&sealed, Some(false));
    assert!(
        w.len() == 1 && w[0].contains("capture.dir on tmpfs"),
        "{w:?}"
    );

    let wifi_only: String = config("[]")
        .lines()
        .take_while(|l| !l.contains("name: vpn"))
        .map(|l| format!("{l}\n"))
        .collect();
    let wifi_only = RouterConfig::parse(&wifi_only, "t.yaml").expect("valid");
    assert!(at_rest_warnings(&wifi_only, Some(false)).is_empty());
}
