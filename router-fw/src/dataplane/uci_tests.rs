//! UCI tests: the file syntax (quoting, comments, line numbers), the mapping onto
//! `RouterConfig` (equal to the YAML's, the same strictness), the way back, and that no
//! input makes the parser panic.

use super::config::{ApConfig, CaptureLimits, ConfigError, Radio, RouterConfig, WireguardBackend};
use super::uci::{self, UciError};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

const YAML: &str = "router: lr-a
management: 192.0.2.41
token_file: /etc/matador/token
state_dir: /var/lib/matador
run_dir: /run/matador
uplink: eth0
radio: simulated
wireguard: userspace
capture: { dir: /mnt/usb/captures, total_mib: 256 }
aps:
  - { name: ap0, ssid: matador-a, passphrase: lab-passphrase-a, interface: wlan0, subnet: 10.77.1.0/24, country: CH, vantage: /etc/matador/vp-gb.conf }
  - { name: lab-b, ssid: \"it's b\", passphrase: lab-passphrase-b, interface: wlan1, subnet: 10.77.2.0/24 }
";

/// The same configuration as `YAML`, written by hand as an operator would.
const UCI: &str = "# /etc/config/matador
config router 'main'
\toption enabled '1'
\toption router 'lr-a'
\toption management '192.0.2.41'
\toption token_file '/etc/matador/token'
\toption state_dir /var/lib/matador   # unquoted is fine without blanks
\toption run_dir \"/run/matador\"
\toption uplink 'eth0'
\toption radio 'simulated'
\toption wireguard 'userspace'
\toption capture_dir '/mnt/usb/captures'
\toption capture_total_mib '256'

config ap 'ap0'
\toption ssid 'matador-a'
\toption passphrase 'lab-passphrase-a'
\toption interface 'wlan0'
\toption subnet '10.77.1.0/24'
\toption country 'CH'
\toption vantage '/etc/matador/vp-gb.conf'

config ap
\toption name 'lab-b'
\toption ssid 'it'\\''s b'
\toption passphrase 'lab-passphrase-b'
\toption interface 'wlan1'
\toption subnet '10.77.2.0/24'
";

fn one_value(text: &str) -> Result<String, UciError> {
    let file = uci::parse(&format!("config s\noption k {text}\n"))?;
    Ok(file.sections[0].options[0].value.clone())
}

#[test]
fn quoting_as_libuci_reads_it() {
    let cases = [
        ("'a b'", "a b"),
        ("\"a \\\"b\\\" \\\\ c\"", "a \"b\" \\ c"),
        ("'it'\\''s'", "it's"),
        ("ab'c d'\"e\"f", "abc def"),
        ("a\\ b", "a b"),
        ("'back\\slash'", "back\\slash"),
        ("'#not a comment; nor an end'", "#not a comment; nor an end"),
        ("value#comment", "value"),
        ("'two\nlines'", "two\nlines"),
        ("''", ""),
        ("", ""),
        ("'x'   # trailing comment", "x"),
        ("'caf\u{e9} \u{2014}'", "caf\u{e9} \u{2014}"),
    ];
    for (text, value) in cases {
        assert_eq!(one_value(text).as_deref(), Ok(value), "{text}");
    }
}

#[test]
fn structure_lines_and_short_commands() {
    let text = "package matador\n\n# comment\nc router main\r\n  o a 'x\ny'\n\to b 1; l c 2\nconfig ap\nlist c \\\n 3\noption d 4\n";
    let file = uci::parse(text).expect("parses");
    assert_eq!(file.package, Some(("matador".into(), 1)));
    let [main, ap] = &file.sections[..] else {
        panic!("{file:?}")
    };
    assert_eq!(
        (main.kind.as_str(), main.name.as_deref(), main.line),
        ("router", Some("main"), 4)
    );
    let seen: Vec<_> = main
        .options
        .iter()
        .map(|o| (o.key.as_str(), o.value.as_str(), o.list, o.line))
        .collect();
    assert_eq!(
        seen,
        [
            ("a", "x\ny", false, 5),
            ("b", "1", false, 7),
            ("c", "2", true, 7)
        ]
    );
    assert_eq!((ap.name.as_deref(), ap.line), (None, 8));
    assert_eq!(
        (ap.options[0].value.as_str(), ap.options[1].line),
        ("3", 11)
    );
}

#[test]
fn syntax_errors_name_their_line() {
    let cases = [
        ("config a\noption k 'open\n\n", 2, "never closed"),
        ("config a\n\nfrobnicate x\n", 3, "not a UCI command"),
        ("option k v\n", 1, "before any `config`"),
        ("config a\noption bad-key v\n", 2, "option name"),
        ("config a 'bad name'\n", 1, "section name"),
        ("config a\noption k two words\n", 2, "quote a value"),
        ("config\n", 1, "nothing"),
        ("config a\noption k v\\", 2, "end of the file"),
        ("config a\npackage matador\n", 2, "before any section"),
    ];
    for (text, line, what) in cases {
        let e = uci::parse(text).expect_err(what);
        assert_eq!(e.line, line, "{what}: {e}");
        assert!(e.message.contains(what), "{what}: {e}");
    }
}

#[test]
fn the_uci_and_yaml_forms_give_the_same_config() {
    let yaml = RouterConfig::parse(YAML, "r.yaml").expect("yaml");
    let from_uci = RouterConfig::parse_uci(UCI, "matador").expect("uci");
    assert_eq!(from_uci, yaml);
    assert_eq!(from_uci.api_port, 8443);
    assert_eq!(from_uci.aps[1].country, "00");
    assert_eq!(from_uci.capture.file_mib, CaptureLimits::default().file_mib);
    // And the way back: what `matador-routerd config --to-uci` prints reads the same.
    let printed = uci::to_uci(&yaml);
    assert_eq!(
        RouterConfig::parse_uci(&printed, "printed").expect("printed"),
        yaml
    );
    assert!(printed.contains("config ap 'ap0'\n") && printed.contains("option name 'lab-b'"));
}

#[test]
fn the_init_scripts_options_are_accepted_and_ignored() {
    let yaml = RouterConfig::parse(YAML, "r.yaml").expect("yaml");
    let with = UCI.replace(
        "\toption enabled '1'\n",
        "\toption enabled 'yes'\n\toption log_level 'trace'\n\toption uplink_network 'wan6'\n",
    );
    assert_eq!(
        RouterConfig::parse_uci(&with, "matador").expect("uci"),
        yaml
    );
}

#[test]
fn bad_uci_configs_say_file_line_and_what() {
    let cases = [
        (
            UCI.replace("\toption uplink", "\toption colour 'red'\n\toption uplink"),
            "matador:9: unknown option `colour` in `config router`",
        ),
        (
            UCI.replace("config ap\n", "config station\n"),
            "matador:23: unknown section type `station`",
        ),
        (
            UCI.replace("\toption country 'CH'", "\toption ssid 'again'"),
            "matador:20: option `ssid` set twice (first on line 16)",
        ),
        (
            UCI.replace("\toption country", "\tlist country"),
            "matador:20: `list country` takes one value",
        ),
        (
            UCI.replace("\toption uplink 'eth0'\n", ""),
            "matador:2: `config router` has no `option uplink`",
        ),
        (
            UCI.replace("\toption interface 'wlan1'\n", ""),
            "matador:23: `config ap` has no `option interface`",
        ),
        (
            UCI.replace("\toption enabled '1'\n", "\toption api_port 'https'\n"),
            "matador:3: option `api_port`: `https` is not a port number",
        ),
        (
            UCI.replace("\toption enabled '1'\n", "\toption enabled 'maybe'\n"),
            "matador:3: option `enabled`: `maybe` is not 0 or 1",
        ),
        (
            UCI.replace("\toption enabled '1'\n", "\toption log_level 'loud'\n"),
            "matador:3: option `log_level`: `loud` is none of info, debug, trace",
        ),
        (
            UCI.replace(
                "\toption enabled '1'\n",
                "\toption uplink_network 'wan-1'\n",
            ),
            "matador:3: option `uplink_network`: `wan-1` is not a netifd interface name",
        ),
        (
            UCI.replace("'simulated'", "'pigeon'"),
            "option `radio`: `pigeon` is none of hostapd, uci, simulated",
        ),
        (
            UCI.replace("'10.77.1.0/24'", "'10.77.1.0'"),
            "matador:19: option `subnet`",
        ),
        (UCI.replace("'256'", "'-1'"), "option `capture_total_mib`"),
        (
            UCI.replace("\toption name 'lab-b'\n", ""),
            "matador:23: an access point needs a name",
        ),
        (
            UCI.to_string() + "config router\n",
            "matador:29: a second `config router`",
        ),
        (
            "package network\n".to_string() + UCI,
            "matador:1: `package network`",
        ),
        (
            UCI[..UCI.find("config ap").expect("ap")].to_string(),
            "matador: no `config ap` section",
        ),
        // The checks the YAML gets apply to UCI too.
        (
            UCI.replace("lab-passphrase-a", "short"),
            "access point `ap0`: a WPA2 passphrase is 8 to 63",
        ),
        (
            UCI.replace("'wlan1'", "'eth0'"),
            "access point `lab-b`: its interface is the uplink",
        ),
    ];
    for (text, expect) in cases {
        let e = RouterConfig::parse_uci(&text, "matador").expect_err(expect);
        assert!(e.to_string().contains(expect), "want `{expect}`, got `{e}`");
    }
}

#[test]
fn load_picks_uci_by_place_or_first_line() {
    assert!(uci::is_uci(Path::new("/etc/config/matador"), "router: x\n"));
    assert!(uci::is_uci(
        Path::new("m"),
        "\n# header\n  config router 'main'\n"
    ));
    assert!(uci::is_uci(Path::new("m"), "package matador\n"));
    assert!(!uci::is_uci(Path::new("/etc/config.yaml"), "config: x\n"));
    assert!(!uci::is_uci(Path::new("r.yaml"), YAML));
    let dir = tempfile::tempdir().expect("tempdir");
    let (u, y) = (dir.path().join("matador"), dir.path().join("r.yaml"));
    std::fs::write(&u, UCI).expect("write");
    std::fs::write(&y, YAML).expect("write");
    let from_uci = RouterConfig::load(&u).expect("uci file");
    assert_eq!(from_uci, RouterConfig::load(&y).expect("yaml file"));
    std::fs::write(&u, UCI.replace("option run_dir", "option rundir")).expect("write");
    let e = RouterConfig::load(&u).expect_err("unknown option");
    assert!(matches!(&e, ConfigError::Uci { line: 8, .. }), "{e}");
}

fn text() -> impl Strategy<Value = String> {
    // Everything the syntax treats specially, and a little more.
    "[a-z0-9 '\"\\\\#;\t\n\u{e9}-]{0,12}"
}

fn path() -> impl Strategy<Value = PathBuf> {
    "[a-z/ '\"\\\\#;.-]{1,12}".prop_map(PathBuf::from)
}

fn ap_config() -> impl Strategy<Value = ApConfig> {
    let opt_path = proptest::option::of(path());
    (
        text(),
        text(),
        text(),
        text(),
        any::<[u8; 4]>(),
        0..=32u8,
        text(),
        opt_path,
    )
        .prop_map(
            |(name, ssid, passphrase, interface, a, len, country, vantage)| ApConfig {
                name,
                ssid,
                passphrase,
                interface,
                subnet: ipnet::Ipv4Net::new(a.into(), len).expect("prefix length up to 32"),
                country,
                vantage,
                ingress: None,
            },
        )
}

fn router_config() -> impl Strategy<Value = RouterConfig> {
    let names = (
        text(),
        any::<[u8; 4]>(),
        any::<u16>(),
        text(),
        0..3usize,
        any::<bool>(),
    );
    let paths = (path(), path(), path(), proptest::option::of(path()));
    let limits = (any::<u64>(), any::<u64>(), any::<u64>());
    let aps = proptest::collection::vec(ap_config(), 1..3);
    (names, paths, limits, aps).prop_map(
        |(
            (router, ip, api_port, uplink, radio, user),
            (token, state, run, dir),
            (f, t, m),
            aps,
        )| {
            RouterConfig {
                router,
                management: std::net::IpAddr::from(ip),
                api_port,
                token_file: token,
                state_dir: state,
                run_dir: run,
                uplink,
                radio: [Radio::Hostapd, Radio::Uci, Radio::Simulated][radio],
                wireguard: if user {
                    WireguardBackend::Userspace
                } else {
                    WireguardBackend::Kernel
                },
                aps,
                capture: CaptureLimits {
                    dir,
                    file_mib: f,
                    total_mib: t,
                    min_free_mib: m,
                },
                management_tunnel: None,
                upload: None,
                at_rest: None,
                interception: None,
            }
        },
    )
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(s in "\\PC*", t in "(config|option|list|package|[ '\"\\\\#;\n]|[a-z]{1,3}){0,24}") {
        for text in [s, t] {
            if let Ok(file) = uci::parse(&text) {
                let _ = uci::to_config(&file);
            }
            let _ = RouterConfig::parse_uci(&text, "fuzz");
        }
    }

    #[test]
    fn any_value_survives_quoting(v in "\\PC*", w in "['\"\\\\\n#; ]{0,8}") {
        for value in [v, w] {
            prop_assert_eq!(one_value(&uci::quote(&value)), Ok(value));
        }
    }

    #[test]
    fn to_uci_reads_back_unchanged(config in router_config()) {
        let file = uci::parse(&uci::to_uci(&config)).expect("our own output parses");
        prop_assert_eq!(uci::to_config(&file), Ok(config));
    }
}

#[test]
fn management_tunnel_and_upload_round_trip_through_uci() {
    let text = "config router 'main'\n\toption router 'lr-a'\n\toption management '10.200.0.2'\n\
        \toption token_file '/etc/matador/token'\n\toption state_dir '/etc/matador/state'\n\
        \toption run_dir '/var/run/matador'\n\toption uplink 'eth1'\n\
        \toption management_interface 'mgmt'\n\toption upload_url 'http://10.200.0.1:8444'\n\
        \toption upload_retry_max_s '60'\n\
        config ap 'ap0'\n\toption ssid 's'\n\toption passphrase 'pass-phrase'\n\
        \toption interface 'phy0-ap0'\n\toption subnet '10.77.1.0/24'\n";
    let c = RouterConfig::parse_uci(text, "matador").expect("valid");
    let m = c.management_tunnel.as_ref().expect("management");
    assert_eq!(m.interface, "mgmt");
    assert_eq!(m.config, None, "netifd owns the tunnel");
    let u = c.upload.as_ref().expect("upload");
    assert_eq!(
        (u.url.as_str(), u.retry_min_s, u.retry_max_s),
        ("http://10.200.0.1:8444", 2, 60)
    );
    let again = RouterConfig::parse_uci(&uci::to_uci(&c), "again").expect("round trip");
    assert_eq!(again, c);

    let bad = text.replace("http://10.200.0.1:8444", "https://10.200.0.1");
    let e = RouterConfig::parse_uci(&bad, "matador").expect_err("https is not the collector");
    assert!(e.to_string().contains("upload.url"), "{e}");
    let bad = text.replace("'mgmt'", "'eth1'");
    let e = RouterConfig::parse_uci(&bad, "matador").expect_err("uplink as management");
    assert!(e.to_string().contains("management_tunnel.interface"), "{e}");
}

#[test]
fn interception_options_make_the_section_and_read_back() {
    let text = "config router 'main'\n\toption router 'lr-a'\n\toption management '10.200.0.2'\n\
        \toption token_file '/etc/matador/token'\n\toption state_dir '/etc/matador/state'\n\
        \toption run_dir '/var/run/matador'\n\toption uplink 'eth1'\n\
        \toption interception_upstream_ca '/etc/matador/lab-ca.pem'\n\
        \toption interception_ingress 'yes'\n\
        config ap 'ap0'\n\toption ssid 's'\n\toption passphrase 'pass-phrase'\n\
        \toption interface 'phy0-ap0'\n\toption subnet '10.77.1.0/24'\n";
    let c = RouterConfig::parse_uci(text, "matador").expect("valid");
    let i = c.interception.as_ref().expect("section");
    assert!(i.ingress);
    assert_eq!(i.port, 18443);
    assert_eq!(i.upstream_ca, Path::new("/etc/matador/lab-ca.pem"));
    let again = RouterConfig::parse_uci(&uci::to_uci(&c), "again").expect("round trip");
    assert_eq!(again, c);
    let bad = text.replace("ingress 'yes'", "ingress 'maybe'");
    let e = RouterConfig::parse_uci(&bad, "matador").expect_err("not a boolean");
    assert!(e.to_string().contains("`maybe` is not 0 or 1"), "{e}");
}
