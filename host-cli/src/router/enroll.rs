//! `matador-host router enroll`: the flags, and their check into a [`Plan`] before anything
//! is made. Every error names the flag to fix.

use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// Arguments of `matador-host router enroll`.
#[derive(Args, Debug, Clone)]
pub struct EnrollArgs {
    /// The router's name: 1 to 12 characters a-z, 0-9 and '-' (it also names its access point).
    pub name: String,
    /// Where the router dials the controller's WireGuard: HOST:PORT (a name, IPv4 or [IPv6]).
    #[arg(long, value_name = "HOST:PORT")]
    pub controller_endpoint: String,
    /// The controller's WireGuard public key (`wg pubkey` of its private key).
    #[arg(long, value_name = "KEY")]
    pub controller_public_key: String,
    /// The router's address in the management network, ADDR or ADDR/32; the API listens there.
    #[arg(long, value_name = "ADDR/32")]
    pub address: String,
    /// The management network: what the router routes into its tunnel to the controller.
    #[arg(long, value_name = "CIDR", default_value = "10.200.0.0/24")]
    pub controller_subnet: String,
    /// The router's uplink device toward the Internet (eth1 on both image profiles).
    #[arg(long, value_name = "DEV", default_value = "eth1")]
    pub uplink: String,
    /// The access point's SSID [default: matador-NAME].
    #[arg(long)]
    pub ssid: Option<String>,
    /// The access point's WPA2 passphrase, 8 to 63 printable ASCII characters [default: random].
    #[arg(long)]
    pub passphrase: Option<String>,
    /// The access point's radio interface (netifd names it phyN-apM).
    #[arg(long, value_name = "DEV", default_value = "phy0-ap0")]
    pub ap_interface: String,
    /// The access point's RFC 1918 subnet, /29 or larger; the router takes its first address.
    #[arg(long, value_name = "CIDR", default_value = "10.77.1.0/24")]
    pub ap_subnet: String,
    /// The radio's regulatory country, two letters (00: the world domain).
    #[arg(long, value_name = "CC", default_value = "00")]
    pub country: String,
    /// The researcher's age public key (`age1…`, from `matador-host keys new`): the router
    /// then stores its enrolled phones' results encrypted to it (`at_rest_recipient`).
    #[arg(long, value_name = "AGE_RECIPIENT")]
    pub at_rest_recipient: Option<String>,
    /// The overlay directory to write [default: routers/NAME].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the keys, token and certificate of an existing DIR (the router flashed from
    /// the old ones must be flashed again; other files in DIR are kept).
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What to enroll, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The router's name (and its access point's).
    pub name: String,
    /// `HOST:PORT` of the controller's WireGuard.
    pub controller_endpoint: String,
    /// The controller's public key.
    pub controller_public_key: String,
    /// The router's management address.
    pub address: Ipv4Addr,
    /// The management network.
    pub controller_subnet: Ipv4Net,
    /// The uplink device.
    pub uplink: String,
    /// The access point's SSID.
    pub ssid: String,
    /// The passphrase given, `None` to make one.
    pub passphrase: Option<String>,
    /// The radio interface.
    pub ap_interface: String,
    /// The access point's subnet.
    pub ap_subnet: Ipv4Net,
    /// Regulatory country, upper case.
    pub country: String,
    /// The age recipient the router encrypts enrolled phones' results to, if any.
    pub at_rest_recipient: Option<String>,
    /// The overlay directory.
    pub out: PathBuf,
    /// Whether an existing overlay may be replaced.
    pub force: bool,
}

/// A router name: 1 to 12 characters a-z, 0-9, '-', starting with a letter or digit; the
/// access point takes it too, and its tunnel is `wg-<name>` (15 bytes at most).
fn check_router_name(name: &str) -> Result<()> {
    let ok = (1..=12).contains(&name.len())
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ensure!(
        ok,
        "NAME `{name}`: 1 to 12 characters a-z, 0-9 and '-', starting with a letter or digit \
         (it names the router, its access point and the tunnel wg-NAME)"
    );
    Ok(())
}

/// A Linux interface name: 1 to 15 bytes, no '/' and no blanks.
fn check_interface(flag: &str, name: &str) -> Result<()> {
    let ok = (1..=15).contains(&name.len())
        && !name.contains('/')
        && !name
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
    ensure!(
        ok,
        "{flag} `{name}`: an interface name is 1 to 15 bytes without '/' or blanks"
    );
    Ok(())
}

/// `ADDR` or `ADDR/32`.
fn parse_address(text: &str) -> Result<Ipv4Addr> {
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    if prefix.is_some_and(|p| p != "32") {
        bail!("--address {text}: give the router's own address, ADDR or ADDR/32 (the network is --controller-subnet)");
    }
    addr.parse()
        .with_context(|| format!("--address {text}: not an IPv4 address"))
}

/// A subnet written as its network address (`10.200.0.0/24`, not `10.200.0.1/24`).
fn parse_subnet(flag: &str, text: &str) -> Result<Ipv4Net> {
    let net: Ipv4Net = text
        .parse()
        .with_context(|| format!("{flag} {text}: not an IPv4 subnet like 10.200.0.0/24"))?;
    ensure!(
        net == net.trunc(),
        "{flag} {text}: write the network's own address ({})",
        net.trunc()
    );
    Ok(net)
}

impl Plan {
    /// Checks the flags; nothing is read or written.
    pub fn from_args(args: &EnrollArgs) -> Result<Plan> {
        let name = args.name.clone();
        check_router_name(&name)?;
        matador_api::check_endpoint("--controller-endpoint", &args.controller_endpoint)?;
        matador_api::check_key("--controller-public-key", &args.controller_public_key)?;
        let address = parse_address(&args.address)?;
        let controller_subnet = parse_subnet("--controller-subnet", &args.controller_subnet)?;
        ensure!(
            controller_subnet.prefix_len() <= 30,
            "--controller-subnet {controller_subnet}: /30 or larger (the controller and the routers are in it)"
        );
        ensure!(
            controller_subnet.contains(&address)
                && address != controller_subnet.network()
                && address != controller_subnet.broadcast(),
            "--address {address} is not a host address of --controller-subnet {controller_subnet}"
        );
        check_interface("--uplink", &args.uplink)?;
        check_interface("--ap-interface", &args.ap_interface)?;
        ensure!(
            args.uplink != args.ap_interface,
            "--ap-interface {}: that is the uplink (--uplink)",
            args.ap_interface
        );
        let ssid = args
            .ssid
            .clone()
            .unwrap_or_else(|| format!("matador-{name}"));
        ensure!(
            (1..=32).contains(&ssid.len()) && !ssid.chars().any(char::is_control),
            "--ssid {ssid:?}: 1 to 32 bytes without control characters"
        );
        if let Some(p) = &args.passphrase {
            ensure!(
                (8..=63).contains(&p.len()) && p.bytes().all(|b| (0x20..0x7f).contains(&b)),
                "--passphrase: a WPA2 passphrase is 8 to 63 printable ASCII characters"
            );
        }
        let ap_subnet = parse_subnet("--ap-subnet", &args.ap_subnet)?;
        ensure!(
            ap_subnet.addr().is_private() && ap_subnet.prefix_len() <= 29,
            "--ap-subnet {ap_subnet}: RFC 1918 and /29 or larger"
        );
        ensure!(
            !ap_subnet.contains(&controller_subnet.network())
                && !controller_subnet.contains(&ap_subnet.network()),
            "--ap-subnet {ap_subnet} overlaps --controller-subnet {controller_subnet}"
        );
        let country = args.country.to_ascii_uppercase();
        ensure!(
            country.len() == 2 && country.bytes().all(|b| b.is_ascii_alphanumeric()),
            "--country {}: a two-letter code (00 for the world domain)",
            args.country
        );
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("routers").join(&name));
        ensure!(
            out.file_name().is_some(),
            "--out {}: name the overlay directory itself",
            out.display()
        );
        let at_rest_recipient = match &args.at_rest_recipient {
            Some(r) => {
                let r = r.trim();
                r.parse::<age::x25519::Recipient>().map_err(|e| {
                    anyhow::anyhow!(
                        "--at-rest-recipient `{r}`: not an age public key (age1…; `matador-host keys new` makes one): {e}"
                    )
                })?;
                Some(r.to_string())
            }
            None => None,
        };
        Ok(Plan {
            name,
            controller_endpoint: args.controller_endpoint.clone(),
            controller_public_key: args.controller_public_key.clone(),
            address,
            controller_subnet,
            uplink: args.uplink.clone(),
            ssid,
            passphrase: args.passphrase.clone(),
            ap_interface: args.ap_interface.clone(),
            ap_subnet,
            country,
            at_rest_recipient,
            out,
            force: args.force,
        })
    }

    /// `ADDRESS:PORT` of the router's API.
    pub fn api(&self) -> String {
        format!("{}:{}", self.address, super::overlay::API_PORT)
    }
}
