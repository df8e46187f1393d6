//! `router enroll` end to end in a temporary directory: what it writes is read back by the
//! router's own parsers and the host's inventory loader.

use super::keys::WgKeyPair;
use super::*;
use clap::Parser;
use matador_router::dataplane::config::RouterConfig;
use std::fs;
use std::os::unix::fs::PermissionsExt;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    enroll: EnrollArgs,
}

const CONTROLLER_KEY: &str = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";

/// The flags of a router `zrh`, with `extra` added or, for a flag already there, replacing it.
fn args(out: &Path, extra: &[&str]) -> EnrollArgs {
    let out = out.to_string_lossy();
    let base = [
        ("--controller-endpoint", "controller.example.org:51820"),
        ("--controller-public-key", CONTROLLER_KEY),
        ("--address", "10.200.0.7/32"),
        ("--out", &out),
    ];
    let mut all = vec!["enroll", "zrh"];
    for (flag, value) in base {
        if !extra.contains(&flag) {
            all.extend([flag, value]);
        }
    }
    all.extend(extra);
    Cli::try_parse_from(all).expect("flags").enroll
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_overlay_is_what_the_router_reads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("routers/zrh");
    // An address, not a name: the daemon, unlike netifd, does not resolve endpoints.
    let flags = [
        "--ssid",
        "Lab's \"ZRH\" #1",
        "--controller-endpoint",
        "192.0.2.1:51820",
    ];
    let done = enroll(&args(&out, &flags)).unwrap();
    assert_eq!(done.out, out);

    // /etc/config/matador, through the daemon's own loader (UCI by its first line).
    let config = RouterConfig::load(&out.join("etc/config/matador")).unwrap();
    assert_eq!(config.router, "zrh");
    assert_eq!(config.management.to_string(), "10.200.0.7");
    assert_eq!(config.token_file, Path::new("/etc/matador/token"));
    assert_eq!(config.state_dir, Path::new("/etc/matador/state"));
    assert_eq!(config.uplink, "eth1");
    assert_eq!(config.aps.len(), 1);
    assert_eq!(
        config.aps[0].ssid, "Lab's \"ZRH\" #1",
        "quoted as UCI quotes"
    );
    assert_eq!(config.aps[0].name, "zrh");
    let tunnel = config
        .management_tunnel
        .as_ref()
        .expect("management tunnel");
    assert_eq!(
        (tunnel.interface.as_str(), tunnel.config.as_ref()),
        ("mgmt", None)
    );
    assert_eq!(config.upload, None);
    let uci = fs::read_to_string(out.join("etc/config/matador")).unwrap();
    assert!(uci.contains("option enabled '1'"), "{uci}");

    // The token, private.
    let token = fs::read_to_string(out.join("etc/matador/token")).unwrap();
    assert_eq!(token.trim().len(), 48, "{token}");
    assert!(token.trim().len() >= matador_router::api::MIN_TOKEN_LEN);

    // mgmt.conf, through the router's reader of management tunnels (the daemon's, for a
    // router that brings the tunnel up itself; on OpenWrt netifd does, see openwrt/tests).
    let mgmt = fs::read_to_string(out.join("etc/matador/mgmt.conf")).unwrap();
    let peer = matador_api::parse_management_wg_quick(&mgmt).unwrap();
    assert_eq!(peer.public_key, CONTROLLER_KEY);
    assert_eq!(peer.endpoint, "192.0.2.1:51820");
    assert_eq!(peer.allowed_ips, vec!["10.200.0.0/24".parse().unwrap()]);
    assert_eq!(peer.address, vec!["10.200.0.7/32".parse().unwrap()]);
    assert_eq!(peer.persistent_keepalive, Some(25));
    let mut daemon_managed = config.clone();
    if let Some(m) = daemon_managed.management_tunnel.as_mut() {
        m.config = Some(out.join("etc/matador/mgmt.conf"));
    }
    let tunnel = matador_router::dataplane::management::load(&daemon_managed)
        .unwrap()
        .expect("a management tunnel");
    assert_eq!(tunnel.interface, "mgmt");
    let private = peer.private_key.expect("PrivateKey");
    let mut bytes = [0u8; 32];
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&private)
        .unwrap();
    bytes.copy_from_slice(&decoded);
    let public = WgKeyPair::from_private(bytes).public_key;
    assert_eq!(public, done.enrollment.public_key);
    assert!(done.enrollment.controller_peer.contains(&public));
    assert!(done
        .enrollment
        .controller_peer
        .contains("AllowedIPs = 10.200.0.7/32"));

    // The certificate: the router loads it (does not make a new one) and it is the pinned one.
    let state = out.join("etc/matador/state");
    let cert = fs::read(state.join("api-cert.der")).unwrap();
    let fingerprint = matador_router::api::identity_fingerprint(&state).unwrap();
    assert_eq!(fingerprint, done.enrollment.fingerprint);
    assert_eq!(fs::read(state.join("api-cert.der")).unwrap(), cert);
    assert_eq!(
        fs::read_to_string(state.join("api-fingerprint"))
            .unwrap()
            .trim(),
        fingerprint
    );

    // Modes: secrets owner-only, /etc as on the router.
    for f in &done.enrollment.files {
        assert_eq!(mode(&out.join(f.path)), 0o600, "{}", f.path);
    }
    assert_eq!(mode(&out), 0o700);
    assert_eq!(mode(&out.join("etc")), 0o755);
    assert_eq!(mode(&out.join("etc/config")), 0o755);
    assert_eq!(mode(&out.join("etc/matador")), 0o700);
    assert_eq!(mode(&out.join("etc/matador/state")), 0o700);
    assert_eq!(mode(&done.inventory_file), 0o600);
}

#[test]
fn the_inventory_entry_loads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("zrh");
    let done = enroll(&args(&out, &["--passphrase", "it's a \"pass\": #phrase"])).unwrap();
    assert_eq!(done.inventory_file, dir.path().join("zrh.inventory.yaml"));
    let entry = fs::read_to_string(&done.inventory_file).unwrap();
    assert_eq!(entry, done.enrollment.inventory_entry);
    let text = format!(
        "routers:\n{entry}- {{ name: lr-b, from_lab: true }}\nphones:\n\
         - {{ serial: R58M123ABC, model: Pixel 7, router: zrh }}\n\
         - {{ serial: R58M123ABD, model: Pixel 7, router: lr-b }}\nvantage_nodes: []\n"
    );
    let inventory =
        crate::spec::parse_inventory(&text, "inv.yaml", Path::new("/elsewhere")).unwrap();
    let router = inventory.router("zrh").unwrap();
    assert_eq!(router.ap, "zrh");
    let crate::spec::RouterAccess::Direct {
        api,
        token_file,
        fingerprint,
        wifi,
    } = &router.access
    else {
        panic!("{router:?}");
    };
    assert_eq!(api, "10.200.0.7:8443");
    assert_eq!(token_file, &out.join("etc/matador/token"));
    assert_eq!(fingerprint.resolve().unwrap(), done.enrollment.fingerprint);
    assert_eq!(wifi.ssid, "matador-zrh");
    assert_eq!(
        wifi.passphrase.resolve().unwrap(),
        "it's a \"pass\": #phrase"
    );
    // The same passphrase went to the router.
    let config = RouterConfig::load(&out.join("etc/config/matador")).unwrap();
    assert_eq!(config.aps[0].passphrase, "it's a \"pass\": #phrase");
}

#[test]
fn an_existing_overlay_is_replaced_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("zrh");
    let first = enroll(&args(&out, &[])).unwrap();
    fs::create_dir_all(out.join("etc/dropbear")).unwrap();
    fs::write(
        out.join("etc/dropbear/authorized_keys"),
        "ssh-ed25519 AAAA me",
    )
    .unwrap();

    let err = enroll(&args(&out, &[])).unwrap_err().to_string();
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    let state = out.join("etc/matador/state");
    let kept = matador_router::api::identity_fingerprint(&state).unwrap();
    assert_eq!(
        kept, first.enrollment.fingerprint,
        "untouched without --force"
    );

    let second = enroll(&args(&out, &["--force"])).unwrap();
    assert_ne!(second.enrollment.fingerprint, first.enrollment.fingerprint);
    assert_ne!(second.enrollment.public_key, first.enrollment.public_key);
    let now = matador_router::api::identity_fingerprint(&state).unwrap();
    assert_eq!(now, second.enrollment.fingerprint);
    assert!(
        out.join("etc/dropbear/authorized_keys").exists(),
        "other files are kept"
    );

    // An empty directory is no overlay to lose.
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    enroll(&args(&empty, &[])).unwrap();
}

#[test]
fn bad_flags_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--controller-endpoint", "controller.example.org"],
            "--controller-endpoint",
        ),
        (
            &["--controller-endpoint", "host:0"],
            "--controller-endpoint",
        ),
        (
            &["--controller-public-key", "c2hvcnQ="],
            "--controller-public-key",
        ),
        (&["--address", "10.200.0.7/24"], "--address"),
        (&["--address", "10.200.0"], "--address"),
        (&["--address", "10.201.0.7"], "--controller-subnet"),
        (&["--address", "10.200.0.0"], "--address"),
        (&["--address", "10.200.0.255"], "--address"),
        (
            &["--controller-subnet", "10.200.0.1/24"],
            "--controller-subnet",
        ),
        (
            &["--controller-subnet", "10.200.0.6/31"],
            "--controller-subnet",
        ),
        (&["--uplink", "eth 1"], "--uplink"),
        (&["--ap-interface", "eth1"], "--ap-interface"),
        (
            &["--ap-interface", "a-very-long-interface"],
            "--ap-interface",
        ),
        (&["--ssid", ""], "--ssid"),
        (&["--ssid", &"s".repeat(33)], "--ssid"),
        (&["--passphrase", "short"], "--passphrase"),
        (&["--ap-subnet", "192.0.2.0/24"], "--ap-subnet"),
        (&["--ap-subnet", "10.77.1.0/30"], "--ap-subnet"),
        (&["--ap-subnet", "10.200.0.0/16"], "--ap-subnet"),
        (&["--country", "Switzerland"], "--country"),
    ];
    for (extra, flag) in cases {
        let err = Plan::from_args(&args(&out, extra)).unwrap_err();
        assert!(format!("{err:#}").contains(flag), "{extra:?}: {err:#}");
    }
    for name in ["", "ZRH", "zrh_1", "-zrh", "a-name-too-long"] {
        let mut a = args(&out, &[]);
        a.name = name.into();
        let err = Plan::from_args(&a).unwrap_err().to_string();
        assert!(err.contains("NAME"), "{name}: {err}");
    }
    assert!(!out.exists(), "nothing is written when a flag is wrong");
}

#[test]
fn defaults_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("zrh");
    let plan = Plan::from_args(&args(&out, &["--country", "ch"])).unwrap();
    assert_eq!(plan.controller_subnet.to_string(), "10.200.0.0/24");
    assert_eq!(plan.ssid, "matador-zrh");
    assert_eq!(plan.country, "CH");
    assert_eq!(plan.api(), "10.200.0.7:8443");
    let mut a = args(&out, &["--address", "10.200.0.9"]);
    a.out = None;
    assert_eq!(
        Plan::from_args(&a).unwrap().out,
        Path::new("routers").join("zrh")
    );

    let done = enroll(&args(&out, &[])).unwrap();
    let text = done.text();
    for needle in [
        done.enrollment.fingerprint.as_str(),
        done.enrollment.controller_peer.as_str(),
        done.enrollment.inventory_entry.as_str(),
        "etc/matador/state/api-cert.der",
        "images/build.sh",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }
    let json = done.json();
    assert_eq!(json["fingerprint"], done.enrollment.fingerprint.as_str());
    assert_eq!(json["api"], "10.200.0.7:8443");
    assert_eq!(json["public_key"], done.enrollment.public_key.as_str());
    assert_eq!(json["files"].as_array().unwrap().len(), 6);
    assert!(json["inventory_entry"]
        .as_str()
        .unwrap()
        .contains("fingerprint"));
    assert!(!text.contains(&fs::read_to_string(out.join("etc/matador/token")).unwrap()));
}

#[test]
fn an_at_rest_recipient_goes_into_the_routers_config() {
    let dir = tempfile::tempdir().unwrap();
    let key = age::x25519::Identity::generate().to_public().to_string();
    let out = dir.path().join("routers/zrh");
    enroll(&args(&out, &["--at-rest-recipient", &key])).unwrap();
    let config = RouterConfig::load(&out.join("etc/config/matador")).unwrap();
    assert_eq!(config.at_rest.map(|a| a.recipient), Some(key));

    let plain = dir.path().join("routers/plain");
    enroll(&args(&plain, &[])).unwrap();
    let config = RouterConfig::load(&plain.join("etc/config/matador")).unwrap();
    assert_eq!(config.at_rest, None, "no recipient, no encryption");

    let e = enroll(&args(
        &dir.path().join("routers/bad"),
        &["--at-rest-recipient", "age1notakey"],
    ))
    .expect_err("not a key");
    assert!(e.to_string().contains("--at-rest-recipient"), "{e}");
    assert!(!dir.path().join("routers/bad").exists(), "nothing written");
}
