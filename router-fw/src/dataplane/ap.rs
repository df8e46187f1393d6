//! The access point as configuration: hostapd's file on plain Linux, a UCI `wifi-iface` on
//! OpenWrt, and the dnsmasq instance that hands out the AP's addresses. Plain text
//! generators; the daemon writes and runs them.

use super::config::ApConfig;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

/// hostapd configuration for a WPA2-PSK (CCMP) access point on an nl80211 radio.
pub fn hostapd_conf(ap: &ApConfig, ctrl_dir: &Path) -> String {
    let mut c = String::new();
    let _ = writeln!(
        c,
        "# hostapd configuration of MATAdOR access point {} (generated)",
        ap.name
    );
    let _ = writeln!(c, "interface={}", ap.interface);
    let _ = writeln!(c, "driver=nl80211");
    let _ = writeln!(c, "ctrl_interface={}", ctrl_dir.display());
    // ssid2 with a quoted string keeps spaces and punctuation exactly as given.
    let _ = writeln!(c, "ssid2=\"{}\"", ap.ssid);
    let _ = writeln!(c, "utf8_ssid=1");
    let _ = writeln!(c, "country_code={}", ap.country);
    for line in [
        "hw_mode=g",
        "channel=6",
        "ieee80211n=1",
        "wmm_enabled=1",
        "auth_algs=1",
        "wpa=2",
        "wpa_key_mgmt=WPA-PSK",
        "rsn_pairwise=CCMP",
    ] {
        let _ = writeln!(c, "{line}");
    }
    let _ = writeln!(c, "wpa_passphrase={}", ap.passphrase);
    c
}

/// The UCI `wifi-iface` section of the same access point (OpenWrt backend), as it stands in
/// `/etc/config/wireless` once [`super::wireless::add_batch`] has been applied.
pub fn uci_wifi_iface(ap: &ApConfig, device: &str) -> String {
    use super::wireless::{iface_options, quote, section};
    let mut c = String::new();
    let _ = writeln!(c, "config wifi-iface '{}'", section(ap));
    for (option, value) in iface_options(ap, device) {
        let _ = writeln!(c, "\toption {option} {}", quote(value));
    }
    c
}

/// dnsmasq for one AP: DHCP from the subnet's upper half with the router as gateway and the
/// vantage node's resolver (reached through the tunnel) as DNS; no DNS service of its own.
pub fn dnsmasq_conf(
    ap: &ApConfig,
    resolver: Option<Ipv4Addr>,
    leases: &Path,
    log: &Path,
    nftset: &str,
) -> String {
    let hosts: Vec<Ipv4Addr> = ap.subnet.hosts().collect();
    let first = hosts.get(hosts.len() / 2).copied().unwrap_or(ap.gateway());
    let last = hosts.last().copied().unwrap_or(ap.gateway());
    // Blocking: the phones' DNS is steered here (firewall_block) and forwarded, uncached,
    // through the tunnel, so that the blocked names' answers fill the AP's set.
    let blocking = !nftset.is_empty();
    let mut c = String::new();
    dnsmasq_preamble(
        &mut c,
        "access point",
        ap,
        blocking,
        &["dhcp-authoritative", "no-ping", "log-dhcp"],
    );
    let _ = writeln!(c, "dhcp-range={first},{last},{},1h", ap.subnet.netmask());
    let _ = writeln!(c, "dhcp-option=option:router,{}", ap.gateway());
    match resolver {
        Some(r) => {
            let _ = writeln!(c, "dhcp-option=option:dns-server,{r}");
        }
        // No vantage node yet: hand out no resolver rather than one that leaks.
        None => {
            let _ = writeln!(c, "dhcp-option=option:dns-server");
        }
    }
    if blocking {
        let _ = writeln!(c, "cache-size=0");
        dnsmasq_forward(&mut c, ap, resolver, nftset);
    }
    let _ = writeln!(c, "dhcp-leasefile={}", leases.display());
    let _ = writeln!(c, "log-facility={}", log.display());
    c
}

/// dnsmasq for a WireGuard ingress: no DHCP (a peer's address is in its profile), only a
/// DNS forwarder on the gateway that sends every query, uncached, to the vantage node's
/// resolver through the AP's tunnel (bound to the tunnel, so it never takes the uplink).
/// The phones' profiles name the gateway, so they need no change when the vantage node does.
pub fn dnsmasq_ingress_conf(
    ap: &ApConfig,
    resolver: Option<Ipv4Addr>,
    log: &Path,
    nftset: &str,
) -> String {
    let mut c = String::new();
    dnsmasq_preamble(&mut c, "ingress", ap, true, &["cache-size=0"]);
    dnsmasq_forward(&mut c, ap, resolver, nftset);
    let _ = writeln!(c, "log-facility={}", log.display());
    c
}

/// The lines every dnsmasq of ours starts with: the header naming `what` (and the AP), no DNS
/// service unless `serves_dns`, no system resolver or hosts, `options`, then bound to the
/// AP's interface and gateway.
fn dnsmasq_preamble(c: &mut String, what: &str, ap: &ApConfig, serves_dns: bool, options: &[&str]) {
    let _ = writeln!(c, "# dnsmasq of MATAdOR {what} {} (generated)", ap.name);
    if !serves_dns {
        let _ = writeln!(c, "port=0");
    }
    let common = ["no-resolv", "no-hosts", "bind-interfaces"];
    let last = ["user=root", "pid-file="];
    for line in common.iter().chain(options).chain(&last) {
        let _ = writeln!(c, "{line}");
    }
    let _ = writeln!(c, "interface={}", ap.interface);
    let _ = writeln!(c, "listen-address={}", ap.gateway());
}

/// DNS forwarded to the vantage node's resolver through the AP's tunnel, and the blocked
/// names' `nftset=` lines.
fn dnsmasq_forward(c: &mut String, ap: &ApConfig, resolver: Option<Ipv4Addr>, nftset: &str) {
    // No vantage node yet: no upstream, so queries are refused rather than leaked.
    if let Some(r) = resolver {
        let _ = writeln!(c, "server={r}@{}", ap.tunnel_interface());
    }
    c.push_str(nftset);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn ap() -> ApConfig {
        ApConfig {
            name: "ap0".into(),
            ssid: "MATAdOR lab \"A\" #1".into(),
            passphrase: "lab-passphrase-a".into(),
            interface: "mtdtest0".into(),
            subnet: "10.77.1.0/24".parse().expect("net"),
            country: "CH".into(),
            vantage: None,
            ingress: None,
        }
    }

    /// The real hostapd reads the file: a configuration error is reported as `Line N: …`
    /// before the driver is touched; without a radio, only driver initialisation may fail.
    #[test]
    fn real_hostapd_accepts_the_generated_configuration() {
        let dir = std::env::temp_dir().join(format!("matador-hostapd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let conf = dir.join("hostapd.conf");
        std::fs::write(&conf, hostapd_conf(&ap(), &dir.join("ctrl"))).expect("write");
        let out = Command::new("timeout")
            .args(["5", "hostapd", "-d"])
            .arg(&conf)
            .output()
            .expect("hostapd runs (apt install hostapd)");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            !text.contains("errors found in configuration file"),
            "{text}"
        );
        assert!(!text.lines().any(|l| l.starts_with("Line ")), "{text}");
        assert!(
            text.contains("nl80211") || text.contains("mtdtest0"),
            "hostapd got to the driver: {text}"
        );
        // A broken file is caught by the same check (the test can fail).
        std::fs::write(
            &conf,
            hostapd_conf(&ap(), &dir.join("ctrl"))
                .replace("rsn_pairwise=CCMP", "rsn_pairwise=BANANA"),
        )
        .expect("write");
        let out = Command::new("timeout")
            .args(["5", "hostapd"])
            .arg(&conf)
            .output()
            .expect("hostapd");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("errors found in configuration file") || text.contains("Line "),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn uci_quotes_survive_hostile_ssids() {
        let mut a = ap();
        a.ssid = "it's 'quoted'".into();
        let uci = uci_wifi_iface(&a, "radio0");
        assert!(
            uci.contains("option ssid 'it'\\''s '\\''quoted'\\'''\n"),
            "{uci}"
        );
        assert!(uci.contains("option encryption 'psk2+ccmp'"));
    }

    #[test]
    fn dhcp_gives_the_vantage_resolver_and_never_serves_dns_itself() {
        let c = dnsmasq_conf(
            &ap(),
            Some(Ipv4Addr::new(100, 64, 3, 1)),
            Path::new("/run/l"),
            Path::new("/run/log"),
            "",
        );
        assert!(c.contains("port=0\n"), "no DNS service on the router");
        assert!(!c.contains("server="), "{c}");
        assert!(c.contains("dhcp-option=option:dns-server,100.64.3.1\n"));
        assert!(c.contains("dhcp-option=option:router,10.77.1.1\n"));
        assert!(
            c.contains("dhcp-range=10.77.1.128,10.77.1.254,255.255.255.0,1h\n"),
            "{c}"
        );
        let none = dnsmasq_conf(&ap(), None, Path::new("/run/l"), Path::new("/run/log"), "");
        assert!(none.contains("dhcp-option=option:dns-server\n"));
    }

    #[test]
    fn a_blocking_ap_answers_dns_itself_through_its_tunnel_and_feeds_its_set() {
        let nftset = "nftset=/doubleclick.net/4#inet#matador#block0\n";
        let c = dnsmasq_conf(
            &ap(),
            Some(Ipv4Addr::new(100, 64, 3, 1)),
            Path::new("/run/l"),
            Path::new("/run/log"),
            nftset,
        );
        assert!(!c.contains("port=0"), "{c}");
        assert!(c.contains("server=100.64.3.1@wg-ap0\n"), "{c}");
        assert!(c.contains("cache-size=0\n"), "{c}");
        assert!(c.contains(nftset), "{c}");
        // The phones keep their resolver: the firewall steers its port 53 to the gateway.
        assert!(c.contains("dhcp-option=option:dns-server,100.64.3.1\n"));
    }

    #[test]
    fn an_ingress_forwards_dns_through_its_tunnel_and_serves_no_dhcp() {
        let mut a = ap();
        a.interface = "wg-in".into();
        let nftset = "nftset=/tracker.example/4#inet#matador#block0\n";
        let c = dnsmasq_ingress_conf(
            &a,
            Some(Ipv4Addr::new(100, 64, 3, 1)),
            Path::new("/l"),
            nftset,
        );
        assert!(c.contains(nftset), "{c}");
        assert!(c.contains("server=100.64.3.1@wg-ap0\n"), "{c}");
        assert!(c.contains("listen-address=10.77.1.1\n"));
        assert!(!c.contains("dhcp"), "{c}");
        assert!(!c.contains("port=0"), "{c}");
        let none = dnsmasq_ingress_conf(&a, None, Path::new("/l"), "");
        assert!(!none.contains("server="), "{none}");
    }

    /// The whole text of both configurations, line by line: the shared preamble must not
    /// drift between them.
    #[test]
    fn the_generated_dnsmasq_files_are_exactly_these() {
        let r = Some(Ipv4Addr::new(100, 64, 3, 1));
        let ap_conf = dnsmasq_conf(&ap(), r, Path::new("/run/l"), Path::new("/run/log"), "");
        let expected_ap = "# dnsmasq of MATAdOR access point ap0 (generated)\n\
            port=0\nno-resolv\nno-hosts\nbind-interfaces\ndhcp-authoritative\nno-ping\n\
            log-dhcp\nuser=root\npid-file=\ninterface=mtdtest0\nlisten-address=10.77.1.1\n\
            dhcp-range=10.77.1.128,10.77.1.254,255.255.255.0,1h\n\
            dhcp-option=option:router,10.77.1.1\ndhcp-option=option:dns-server,100.64.3.1\n\
            dhcp-leasefile=/run/l\nlog-facility=/run/log\n";
        assert_eq!(ap_conf, expected_ap);
        let nftset = "nftset=/x.example/4#inet#matador#block0\n";
        let ingress = dnsmasq_ingress_conf(&ap(), r, Path::new("/run/log"), nftset);
        let expected_ingress = "# dnsmasq of MATAdOR ingress ap0 (generated)\n\
            no-resolv\nno-hosts\nbind-interfaces\ncache-size=0\nuser=root\npid-file=\n\
            interface=mtdtest0\nlisten-address=10.77.1.1\nserver=100.64.3.1@wg-ap0\n\
            nftset=/x.example/4#inet#matador#block0\nlog-facility=/run/log\n";
        assert_eq!(ingress, expected_ingress);
    }
}
