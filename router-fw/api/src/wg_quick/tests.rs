use proptest::prelude::*;

use super::*;

const KEY_A: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const KEY_B: &str = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";

/// A provider-style file: comments, odd case, CRLF, bare addresses, keys we ignore.
const COMMERCIAL: &str = "\u{feff}# exit in DE\r\n\
[interface]\r\n\
PrivateKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\r\n\
Address = 10.64.0.2/32,fc00:bbbb::2/128\r\n\
address = 10.65.0.2\r\n\
DNS = 10.64.0.1  # the exit's resolver\r\n\
MTU = 1420\r\n\
PostUp = iptables -I OUTPUT ! -o %i -j REJECT\r\n\
\r\n\
[Peer]\r\n\
PUBLICKEY=TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=\r\n\
AllowedIPs = 0.0.0.0/0, ::/0\r\n\
Endpoint = de1.vpn.example:51820\r\n\
PersistentKeepalive = off\r\n";

#[test]
fn reads_a_provider_file() {
    let peer = parse_wg_quick("exit-de", COMMERCIAL).unwrap();
    assert_eq!(peer.name, "exit-de");
    assert_eq!(peer.private_key.as_deref(), Some(KEY_A));
    assert_eq!(peer.public_key, KEY_B);
    assert_eq!(peer.endpoint, "de1.vpn.example:51820");
    let nets = |v: &[&str]| v.iter().map(|s| s.parse().unwrap()).collect::<Vec<IpNet>>();
    assert_eq!(
        peer.address,
        nets(&["10.64.0.2/32", "fc00:bbbb::2/128", "10.65.0.2/32"])
    );
    assert_eq!(peer.allowed_ips, nets(&["0.0.0.0/0", "::/0"]));
    assert_eq!(peer.dns, vec!["10.64.0.1".parse::<IpAddr>().unwrap()]);
    assert_eq!(peer.preshared_key, None);
    assert_eq!(peer.persistent_keepalive, None);
}

fn error(text: &str) -> WgQuickError {
    parse_wg_quick("v", text).unwrap_err()
}

fn with(line: &str) -> String {
    format!(
        "[Interface]\nAddress = 10.0.0.2/32\nDNS = 10.0.0.1\n{line}\n[Peer]\nPublicKey = {KEY_B}\n\
         Endpoint = 192.0.2.1:51820\nAllowedIPs = 0.0.0.0/0\n"
    )
}

#[test]
fn errors_point_at_the_line() {
    assert!(parse_wg_quick("v", &with("")).is_ok());
    let cases: &[(&str, &str)] = &[
        ("Adress = 10.0.0.3/32", "unknown key Adress in [Interface]"),
        ("DNS = corp.example", "search domains are not supported"),
        (
            "Address = 10.0.0.300/32",
            "is not an address or address/prefix",
        ),
        ("PrivateKey = nope", "PrivateKey: not a WireGuard key"),
        ("[Interface]", "a second [Interface] section"),
        ("[Interface", "a section header ends with ']'"),
        ("[Wireguard]", "unknown section [Wireguard]"),
        ("just words", "expected Key = Value"),
    ];
    for (line, expected) in cases {
        let e = error(&with(line));
        assert_eq!(e.line, Some(4), "{line}: {e}");
        assert!(e.message.contains(expected), "{line}: {e}");
    }
    let e = error(&with("[Peer]"));
    assert_eq!(e.to_string(), "wg-quick config, line 5: a second [Peer] section: a vantage node is one interface and one peer");
    let e = error("PublicKey = x\n[Peer]\n");
    assert_eq!(
        (e.line, e.message.as_str()),
        (Some(1), "PublicKey before any [Interface] or [Peer]")
    );
    let text = with("").replace("Endpoint = 192.0.2.1:51820", "Endpoint = 2001:db8::1:51820");
    assert!(error(&text).message.contains("[address]:port"));
    let text = with("") + "PersistentKeepalive = 99999\n";
    assert_eq!(error(&text).line, Some(9));
    let text = with("") + "PublicKey = " + KEY_A + "\n";
    assert_eq!(
        error(&text).to_string(),
        "wg-quick config, line 9: PublicKey given twice"
    );
}

#[test]
fn missing_parts_are_named() {
    let cases = [
        ("PublicKey = ", "PublicKey is missing"),
        ("Endpoint = ", "Endpoint is missing"),
        ("AllowedIPs = ", "AllowedIPs is missing"),
        ("Address = ", "Address is missing"),
        ("DNS = ", "DNS (the vantage node's resolver) is missing"),
    ];
    for (prefix, expected) in cases {
        let text: String = with("")
            .lines()
            .filter(|l| !l.starts_with(prefix))
            .map(|l| format!("{l}\n"))
            .collect();
        let e = error(&text);
        assert_eq!(e.line, None, "{prefix}");
        assert!(e.message.contains(expected), "{prefix}: {e}");
    }
    assert_eq!(error("[Interface]\n").message, "no [Peer] section");
    assert_eq!(error("").message, "no [Peer] section");
    // The name is checked as any id.
    assert!(parse_wg_quick("../x", &with("")).is_err());
}

/// Standard base64 with padding, for generated keys.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn key() -> impl Strategy<Value = String> {
    any::<[u8; 32]>().prop_map(|k| base64(&k))
}

fn net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<u32>(), 0u8..=32)
            .prop_map(|(a, p)| IpNet::new(IpAddr::from(a.to_be_bytes()), p).unwrap()),
        (any::<u128>(), 0u8..=128)
            .prop_map(|(a, p)| IpNet::new(IpAddr::from(a.to_be_bytes()), p).unwrap()),
    ]
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|a| IpAddr::from(a.to_be_bytes())),
        any::<u128>().prop_map(|a| IpAddr::from(a.to_be_bytes())),
    ]
}

fn endpoint() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<u32>(), 1u16..).prop_map(|(a, p)| format!("{}:{p}", std::net::Ipv4Addr::from(a))),
        (any::<u128>(), 1u16..).prop_map(|(a, p)| format!("[{}]:{p}", std::net::Ipv6Addr::from(a))),
        (
            "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\\.[a-z]{2,8}){1,3}",
            1u16..
        )
            .prop_map(|(h, p)| format!("{h}:{p}")),
    ]
}

fn peer() -> impl Strategy<Value = WgPeer> {
    (
        "[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}",
        key(),
        endpoint(),
        prop::collection::vec(net(), 1..4),
        prop::collection::vec(net(), 1..3),
        prop::collection::vec(ip(), 1..3),
        prop::option::of(key()),
        prop::option::of(key()),
        prop::option::of(1u16..),
    )
        .prop_map(
            |(
                name,
                public_key,
                endpoint,
                allowed_ips,
                address,
                dns,
                private_key,
                preshared_key,
                keepalive,
            )| {
                WgPeer {
                    name,
                    public_key,
                    endpoint,
                    allowed_ips,
                    address,
                    dns,
                    private_key,
                    preshared_key,
                    persistent_keepalive: keepalive,
                }
            },
        )
}

proptest! {
    #[test]
    fn parse_reads_back_what_render_wrote(peer in peer()) {
        prop_assert_eq!(peer.validate(), Ok(()));
        let text = render_wg_quick(&peer);
        let back = parse_wg_quick(&peer.name, &text);
        prop_assert_eq!(back, Ok(peer), "{}", text);
    }

    #[test]
    fn any_text_is_an_error_or_a_valid_peer(text in "(\\PC{0,40}\n){0,12}") {
        if let Ok(peer) = parse_wg_quick("v", &text) {
            prop_assert_eq!(peer.validate(), Ok(()));
        }
    }
}

#[test]
fn base64_matches_known_keys() {
    assert_eq!(base64(b"Man"), "TWFu");
    assert_eq!(base64(b"Ma"), "TWE=");
    assert_eq!(
        base64(&[0u8; 32]),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    );
}

#[test]
fn a_management_tunnel_needs_no_resolver_but_everything_else() {
    let text = format!(
        "[Interface]\nPrivateKey = {KEY_A}\nAddress = 10.200.0.2/32\n\n[Peer]\nPublicKey = {KEY_B}\n\
         Endpoint = 192.0.2.50:51820\nAllowedIPs = 10.200.0.0/24\nPersistentKeepalive = 25\n"
    );
    let peer = parse_management_wg_quick(&text).expect("no DNS needed");
    assert_eq!(peer.name, "controller");
    assert!(peer.dns.is_empty());
    assert_eq!(peer.persistent_keepalive, Some(25));
    assert!(
        parse_wg_quick("v", &text).is_err(),
        "a vantage node still needs its resolver"
    );
    let no_address = text.replace("Address = 10.200.0.2/32\n", "");
    let e = parse_management_wg_quick(&no_address).expect_err("no address");
    assert!(e.to_string().contains("Address"), "{e}");
}
