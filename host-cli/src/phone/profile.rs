//! What `phone enroll` decides before it asks the router anything: which ingress, which
//! address, and the phone's `wg-quick` profile for the WireGuard app. Pure.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use matador_api::{render_wg_quick, Ingress, Invalid, WgPeer};
use std::net::{IpAddr, Ipv4Addr};

/// Seconds between keepalives: a phone behind carrier NAT stays reachable for the router's
/// answers, and 25 s is below every common NAT timeout (the WireGuard apps' own suggestion).
pub const KEEPALIVE_S: u16 = 25;

/// Everything a phone's profile holds.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneProfile {
    /// The device's name.
    pub device: String,
    /// The router it is enrolled on.
    pub router: String,
    /// The phone's private key, base64.
    pub private_key: String,
    /// The phone's tunnel address.
    pub address: Ipv4Addr,
    /// The resolver the phone uses inside the tunnel.
    pub dns: IpAddr,
    /// The router's public key on the ingress.
    pub ingress_public_key: String,
    /// Where the phone reaches the ingress, `host:port`.
    pub endpoint: String,
}

impl std::fmt::Debug for PhoneProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneProfile")
            .field("device", &self.device)
            .field("router", &self.router)
            .field("address", &self.address)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// The profile as a `wg-quick` file, what the WireGuard apps for Android and iOS import from a
/// file or a QR code. Written by the API crate's own `wg-quick` writer (so the router's parser
/// reads it back), under a comment naming the device and router instead of its vantage-node
/// comment. Everything goes into the tunnel, `::/0` too: the phone has no IPv6 address in it,
/// so its IPv6 traffic is dropped instead of leaving unmonitored past the tunnel.
pub fn render_profile(p: &PhoneProfile) -> Result<String, Invalid> {
    let peer = WgPeer {
        name: p.device.clone(),
        public_key: p.ingress_public_key.clone(),
        endpoint: p.endpoint.clone(),
        // 0.0.0.0/0 and ::/0.
        allowed_ips: vec![IpNet::V4(Ipv4Net::default()), IpNet::V6(Ipv6Net::default())],
        address: vec![IpNet::V4(Ipv4Net::from(p.address))],
        dns: vec![p.dns],
        private_key: Some(p.private_key.clone()),
        preshared_key: None,
        persistent_keepalive: Some(KEEPALIVE_S),
    };
    peer.validate()?;
    let text = render_wg_quick(&peer);
    let body = text
        .split_once('\n')
        .map_or(text.as_str(), |(_, rest)| rest);
    Ok(format!(
        "# MATAdOR device {} on router {}\n{body}",
        p.device, p.router
    ))
}

/// The ingress named `ap`, or the router's only one when none is named.
pub fn choose_ingress<'a>(list: &'a [Ingress], ap: Option<&str>) -> Result<&'a Ingress, String> {
    let names = || {
        list.iter()
            .map(|i| i.ap.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (ap, list) {
        (_, []) => Err("the router has no VPN ingress (see docs/monitoring.md)".to_owned()),
        (Some(ap), _) => list
            .iter()
            .find(|i| i.ap == ap)
            .ok_or_else(|| format!("the router has no ingress on AP {ap} (it has: {})", names())),
        (None, [only]) => Ok(only),
        (None, _) => Err(format!(
            "the router has several ingresses: choose one with --ap ({})",
            names()
        )),
    }
}

/// The first host address of `subnet` after `gateway` that no peer holds, else the first
/// before it; an error when none is left.
pub fn first_free_address(
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    taken: &[Ipv4Addr],
) -> Result<Ipv4Addr, String> {
    let free = |a: &Ipv4Addr| *a != gateway && !taken.contains(a);
    let hosts = || subnet.hosts();
    hosts()
        .filter(|a| *a > gateway)
        .chain(hosts().filter(|a| *a < gateway))
        .find(free)
        .ok_or_else(|| {
            format!(
                "the ingress subnet {subnet} is full ({} phones): stop one (`phone stop`) first",
                taken.len()
            )
        })
}

/// Checks an address given with `--address`: a host of the ingress's subnet, neither its
/// gateway nor another phone's.
pub fn check_address(ingress: &Ingress, address: Ipv4Addr) -> Result<(), String> {
    if !ingress.subnet.hosts().any(|a| a == address) {
        return Err(format!(
            "{address} is not a host address of the ingress subnet {}",
            ingress.subnet
        ));
    }
    if address == ingress.gateway {
        return Err(format!("{address} is the ingress's gateway (the router)"));
    }
    if let Some(p) = ingress.peers.iter().find(|p| p.address == address) {
        return Err(format!("{address} is taken by device {}", p.device));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use matador_api::{parse_wg_quick, IngressPeer};

    const KEY_A: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    const KEY_B: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

    fn profile() -> PhoneProfile {
        PhoneProfile {
            device: "pixel-7".into(),
            router: "zrh".into(),
            private_key: KEY_A.into(),
            address: Ipv4Addr::new(10, 99, 0, 2),
            dns: IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1)),
            ingress_public_key: KEY_B.into(),
            endpoint: "router.example.org:51820".into(),
        }
    }

    fn ingress(peers: &[(&str, [u8; 4])]) -> Ingress {
        Ingress {
            ap: "ap0".into(),
            interface: "mtd-in0".into(),
            listen_port: 51820,
            public_key: KEY_B.into(),
            subnet: "10.99.0.0/29".parse().unwrap(),
            gateway: Ipv4Addr::new(10, 99, 0, 1),
            peers: peers
                .iter()
                .map(|(d, a)| IngressPeer {
                    device: (*d).into(),
                    public_key: KEY_A.into(),
                    address: Ipv4Addr::from(*a),
                })
                .collect(),
        }
    }

    #[test]
    fn the_profile_is_the_wireguard_apps_format_and_reads_back() {
        let text = render_profile(&profile()).unwrap();
        assert_eq!(
            text,
            format!(
                "# MATAdOR device pixel-7 on router zrh\n[Interface]\nPrivateKey = {KEY_A}\n\
                 Address = 10.99.0.2/32\nDNS = 10.99.0.1\n\n[Peer]\nPublicKey = {KEY_B}\n\
                 Endpoint = router.example.org:51820\nAllowedIPs = 0.0.0.0/0, ::/0\n\
                 PersistentKeepalive = 25\n"
            )
        );
        let back = parse_wg_quick("pixel-7", &text).unwrap();
        assert_eq!(back.private_key.as_deref(), Some(KEY_A));
        assert_eq!(back.public_key, KEY_B);
        assert_eq!(back.persistent_keepalive, Some(25));
        assert!(!format!("{:?}", profile()).contains(KEY_A));
    }

    #[test]
    fn a_bad_endpoint_or_key_is_refused() {
        let bad = PhoneProfile {
            endpoint: "no-port".into(),
            ..profile()
        };
        assert_eq!(render_profile(&bad).unwrap_err().field, "peer.endpoint");
        let bad = PhoneProfile {
            ingress_public_key: "k".into(),
            ..profile()
        };
        assert_eq!(render_profile(&bad).unwrap_err().field, "peer.public_key");
    }

    #[test]
    fn addresses_skip_the_gateway_and_taken_ones_and_run_out() {
        let net: Ipv4Net = "10.99.0.0/29".parse().unwrap();
        let gw = Ipv4Addr::new(10, 99, 0, 1);
        let a = |last| Ipv4Addr::new(10, 99, 0, last);
        assert_eq!(first_free_address(net, gw, &[]), Ok(a(2)));
        assert_eq!(first_free_address(net, gw, &[a(2), a(4)]), Ok(a(3)));
        // A gateway at the top: the hosts before it.
        assert_eq!(first_free_address(net, a(6), &[a(1)]), Ok(a(2)));
        // Hosts .1 to .6: the gateway and five phones fill a /29.
        let full = [a(2), a(3), a(4), a(5), a(6)];
        let e = first_free_address(net, gw, &full).unwrap_err();
        assert!(e.contains("is full (5 phones)"), "{e}");
    }

    #[test]
    fn given_addresses_are_checked() {
        let i = ingress(&[("ipad", [10, 99, 0, 2])]);
        assert_eq!(check_address(&i, Ipv4Addr::new(10, 99, 0, 3)), Ok(()));
        for (bad, why) in [
            ([10, 99, 0, 2], "taken by device ipad"),
            ([10, 99, 0, 1], "gateway"),
            ([10, 99, 0, 7], "not a host address"),
            ([10, 99, 0, 0], "not a host address"),
            ([10, 98, 0, 3], "not a host address"),
        ] {
            let e = check_address(&i, Ipv4Addr::from(bad)).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_ingress_is_the_named_or_the_only_one() {
        let one = vec![ingress(&[])];
        assert_eq!(choose_ingress(&one, None).unwrap().ap, "ap0");
        assert!(choose_ingress(&one, Some("ap1"))
            .unwrap_err()
            .contains("it has: ap0"));
        let mut two = one.clone();
        two.push(Ingress {
            ap: "ap1".into(),
            ..ingress(&[])
        });
        assert_eq!(choose_ingress(&two, Some("ap1")).unwrap().ap, "ap1");
        assert!(choose_ingress(&two, None)
            .unwrap_err()
            .contains("--ap (ap0, ap1)"));
        assert!(choose_ingress(&[], None)
            .unwrap_err()
            .contains("no VPN ingress"));
    }
}
