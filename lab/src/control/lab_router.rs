//! Lab routers until `matador-routerd` runs in them: the simulated radio (a veth to the
//! phone), the access point's hostapd configuration, a dnsmasq for DHCP and DNS on the
//! access point, and NAT out of the uplink. The router daemon (issue 4) takes this over and
//! adds the tunnel; the phone side only ever reads the files written here.

use super::spawn::spawn_in;
use super::state::ProcessRecord;
use super::vantage::{nft, resolver_conf};
use crate::netns::{self, Netns, NetnsError};
use crate::plan::{LabRouterPlan, NodePlan};
use crate::topology::AccessPoint;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a lab router's files live.
pub fn router_dir(lab_dir: &Path, router: &str) -> PathBuf {
    lab_dir.join("routers").join(router)
}

/// The hostapd configuration of a lab router's access point.
pub fn hostapd_conf_path(lab_dir: &Path, router: &str) -> PathBuf {
    router_dir(lab_dir, router).join("hostapd.conf")
}

/// hostapd configuration for a WPA2-PSK access point, as for a real radio (nl80211).
pub fn hostapd_conf(ap: &AccessPoint, ifname: &str, country: &str, ctrl_dir: &Path) -> String {
    let mut c = String::new();
    let _ = writeln!(
        c,
        "# hostapd configuration of a MATAdOR lab router (generated)"
    );
    let _ = writeln!(c, "interface={ifname}");
    let _ = writeln!(c, "driver=nl80211");
    let _ = writeln!(c, "ctrl_interface={}", ctrl_dir.display());
    // ssid2 with a quoted string keeps spaces and punctuation exactly as given.
    let _ = writeln!(c, "ssid2=\"{}\"", ap.ssid);
    let _ = writeln!(c, "utf8_ssid=1");
    let _ = writeln!(c, "country_code={country}");
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

/// Reads the SSID and passphrase back from a hostapd configuration (what a phone joining
/// the network is checked against). `None` if either is missing.
pub fn read_hostapd_credentials(conf: &str) -> Option<(String, String)> {
    let mut ssid = None;
    let mut psk = None;
    for line in conf.lines() {
        if let Some(v) = line.strip_prefix("ssid2=") {
            ssid = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_string);
        } else if let Some(v) = line.strip_prefix("ssid=") {
            ssid = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("wpa_passphrase=") {
            psk = Some(v.to_string());
        }
    }
    Some((ssid?, psk?))
}

/// dnsmasq for the access point: DHCP from the subnet's upper half, the router as gateway
/// and resolver, and the router region's answers for the lab's names.
pub fn dhcp_conf(node: &NodePlan, r: &LabRouterPlan, dir: &Path) -> String {
    let log = dir.join("logs").join(format!("dnsmasq-{}.log", node.name));
    let mut c = resolver_conf(
        &format!("lab router {}", node.name),
        &[r.gateway],
        &r.dns,
        &log,
    );
    let net = r.ap.subnet;
    let hosts: Vec<_> = net.hosts().collect();
    let (first, last) = (hosts[hosts.len() / 2], hosts[hosts.len() - 1]);
    let _ = writeln!(c, "interface={}", r.radio_ifname);
    let _ = writeln!(c, "dhcp-authoritative");
    // dnsmasq would ping each address for 3 s before offering it; the subnet is ours alone.
    let _ = writeln!(c, "no-ping");
    let _ = writeln!(c, "log-dhcp");
    let _ = writeln!(c, "dhcp-range={first},{last},{},1h", net.netmask());
    let _ = writeln!(c, "dhcp-option=option:router,{}", r.gateway);
    let _ = writeln!(c, "dhcp-option=option:dns-server,{}", r.gateway);
    let _ = writeln!(
        c,
        "dhcp-leasefile={}",
        router_dir(dir, &node.name).join("dnsmasq.leases").display()
    );
    c
}

/// Configures a lab router whose radio veth exists: address, hostapd file, NAT, dnsmasq.
pub fn provision(
    node: &NodePlan,
    r: &LabRouterPlan,
    dir: &Path,
) -> Result<ProcessRecord, NetnsError> {
    let rdir = router_dir(dir, &node.name);
    let io = |source| NetnsError::Sys {
        name: node.name.clone(),
        what: "lab router files",
        source,
    };
    std::fs::create_dir_all(&rdir).map_err(io)?;
    let conf = hostapd_conf(&r.ap, &r.radio_ifname, &node.country, &rdir.join("hostapd"));
    crate::atomic::write_atomically(&hostapd_conf_path(dir, &node.name), conf.as_bytes())
        .map_err(io)?;

    netns::run_batch(
        Some(&node.namespace),
        &format!(
            "addr add {}/{} dev {}\nlink set {} up\n",
            r.gateway,
            r.ap.subnet.prefix_len(),
            r.radio_ifname,
            r.radio_ifname
        ),
    )?;
    let ns = Netns::open(&node.namespace)?;
    nft(
        &ns,
        &format!(
            "table ip matador-lab {{\n  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n    ip saddr {} oifname \"{}\" masquerade\n  }}\n}}\n",
            r.ap.subnet, r.uplink
        ),
    )?;
    let conf_path = rdir.join("dnsmasq.conf");
    std::fs::write(&conf_path, dhcp_conf(node, r, dir)).map_err(io)?;
    let mut cmd = Command::new("dnsmasq");
    cmd.arg("--keep-in-foreground")
        .arg(format!("--conf-file={}", conf_path.display()));
    let pid = spawn_in(
        &ns,
        &mut cmd,
        &dir.join("logs").join(format!("dnsmasq-{}.out", node.name)),
    )?;
    Ok(ProcessRecord {
        pid,
        what: format!("dnsmasq {}", node.name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;
    use crate::topology::{parse, DEFAULT_TOPOLOGY};

    fn router() -> (NodePlan, LabRouterPlan) {
        let plan =
            Plan::build(&parse(DEFAULT_TOPOLOGY, "default").expect("topology")).expect("plan");
        let node = plan
            .nodes
            .iter()
            .find(|n| n.lab_router.is_some())
            .expect("a lab router")
            .clone();
        let r = node.lab_router.clone().expect("lab router plan");
        (node, r)
    }

    #[test]
    fn hostapd_credentials_round_trip_even_with_spaces() {
        let mut ap = router().1.ap;
        ap.ssid = "Lab AP \"one\" #1".into();
        let conf = hostapd_conf(&ap, "wlan0", "DE", Path::new("/tmp/x"));
        assert_eq!(
            read_hostapd_credentials(&conf),
            Some((ap.ssid.clone(), ap.passphrase.clone()))
        );
        assert!(conf.contains("wpa=2\n") && conf.contains("rsn_pairwise=CCMP\n"));
    }

    #[test]
    fn dhcp_hands_out_the_upper_half_with_the_router_as_gateway_and_resolver() {
        let (node, r) = router();
        let conf = dhcp_conf(&node, &r, Path::new("/run/x"));
        let gw = r.gateway.to_string();
        assert!(
            conf.contains(&format!("dhcp-option=option:router,{gw}\n")),
            "{conf}"
        );
        assert!(conf.contains(&format!("dhcp-option=option:dns-server,{gw}\n")));
        assert!(conf.contains(&format!("listen-address={gw}\n")));
        let range = conf
            .lines()
            .find_map(|l| l.strip_prefix("dhcp-range="))
            .expect("range");
        let first: std::net::Ipv4Addr = range
            .split(',')
            .next()
            .and_then(|a| a.parse().ok())
            .expect("first");
        assert!(r.ap.subnet.contains(&first) && first != r.gateway);
        assert!(
            conf.contains("no-resolv\n"),
            "never forwards to a real resolver"
        );
    }
}
