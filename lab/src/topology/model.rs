//! The topology file as written by a person: countries, transit routers, vantage nodes,
//! services and links. Unknown keys are rejected; names keep their YAML position so that
//! semantic errors (a link to a missing node) can point at the line.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::net::Ipv4Addr;

/// A whole lab topology, as read from YAML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyFile {
    /// Name of the topology, shown by `lab status`.
    pub name: String,
    /// Countries the lab's nodes live in.
    pub countries: Vec<CountryDef>,
    /// Transit routers: the hops of the emulated Internet.
    pub routers: Vec<RouterDef>,
    /// Vantage nodes: WireGuard exits, each with NAT and a resolver.
    pub vantage_nodes: Vec<VantageNodeDef>,
    /// Network services: messaging backends and background noise.
    pub services: Vec<ServiceDef>,
    /// Links between transit routers (stub nodes attach with `attach`).
    pub links: Vec<LinkDef>,
    /// Lab routers: where `matador-routerd` runs, each serving one access point.
    #[serde(default)]
    pub lab_routers: Vec<LabRouterDef>,
    /// Emulated Android phones, each on a lab router's access point.
    #[serde(default)]
    pub phones: Vec<PhoneDef>,
    /// Emulated messenger apps that phones can have installed.
    #[serde(default)]
    pub apps: Vec<AppDef>,
    /// The vantage node that plays the controller: lab routers dial it with a management
    /// WireGuard tunnel, and their APIs are reached through it.
    #[serde(default)]
    pub controller: Option<Spanned<String>>,
}

/// A country, with the city whose coordinates its nodes use by default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryDef {
    /// ISO 3166-1 alpha-2 code, upper case.
    pub code: Spanned<String>,
    /// Region used by GeoDNS answers (UN M49 region name, e.g. `Europe`, `Asia`).
    pub region: String,
    /// Default city of the country's nodes.
    pub city: City,
}

/// A place on Earth.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct City {
    /// City name, for people.
    pub name: String,
    /// Latitude in degrees, north positive.
    pub lat: f64,
    /// Longitude in degrees, east positive.
    pub lon: f64,
}

/// A transit router (a hop).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterDef {
    /// Node name; the namespace is `mtd-<name>`.
    pub name: Spanned<String>,
    /// Country the router really is in.
    pub country: Spanned<String>,
    /// City, when not the country's default city.
    #[serde(default)]
    pub city: Option<City>,
    /// Silent to probes: sends no ICMP time-exceeded or unreachable.
    #[serde(default)]
    pub silent: bool,
    /// Country the lab's geolocation database claims, when it deliberately lies.
    #[serde(default)]
    pub geo_claim: Option<Spanned<String>>,
}

/// A vantage node: the exit of a WireGuard tunnel, in a given country.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VantageNodeDef {
    /// Node name; the namespace is `mtd-<name>`.
    pub name: Spanned<String>,
    /// Country of the node.
    pub country: Spanned<String>,
    /// City, when not the country's default city.
    #[serde(default)]
    pub city: Option<City>,
    /// Transit router the node's uplink connects to.
    pub attach: Spanned<String>,
    /// Public IPv4 address (else one from the documentation ranges).
    #[serde(default)]
    pub address: Option<Spanned<Ipv4Addr>>,
    /// Whether the uplink also carries IPv6.
    #[serde(default)]
    pub ipv6: bool,
}

/// What a service does.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// Chat relay on TCP 5222 and TLS 443.
    Chat,
    /// NTP server on UDP 123.
    Ntp,
    /// HTTP analytics sink on TCP 80, and the same over TLS on 443.
    Analytics,
    /// HTTP service on TCP 80 answering with the caller's address.
    Whoami,
    /// HTTP-DNS on TCP 80 (`GET /d?dn=NAME`): answers by the caller's region, as some
    /// messengers resolve their servers over HTTP instead of the resolver they were given.
    Httpdns,
}

/// A network service hosted in one country.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDef {
    /// Node name; the namespace is `mtd-<name>`.
    pub name: Spanned<String>,
    /// What the service does.
    pub kind: ServiceKind,
    /// App whose backend this is (chat services of one app share their users).
    #[serde(default)]
    pub app: Option<String>,
    /// DNS names the vantage nodes' resolvers answer with this service's address.
    pub names: Vec<String>,
    /// Resolver regions that get this service for its names (GeoDNS); empty: every other region.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Country of the service.
    pub country: Spanned<String>,
    /// City, when not the country's default city.
    #[serde(default)]
    pub city: Option<City>,
    /// Transit router the service connects to.
    pub attach: Spanned<String>,
    /// Public IPv4 address (else one from the documentation ranges).
    #[serde(default)]
    pub address: Option<Spanned<Ipv4Addr>>,
    /// Whether the uplink also carries IPv6.
    #[serde(default)]
    pub ipv6: bool,
}

/// A link between two transit routers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkDef {
    /// One end.
    pub a: Spanned<String>,
    /// The other end.
    pub b: Spanned<String>,
    /// One-way delay; derived from the great-circle distance when absent.
    #[serde(default)]
    pub delay_ms: Option<f64>,
    /// Routing cost (positive); derived from the delay when absent.
    #[serde(default)]
    pub cost: Option<Spanned<u32>>,
    /// Whether the link also carries IPv6.
    #[serde(default)]
    pub ipv6: bool,
}

/// A lab router: its uplink is a line in its country; its "radio" is a veth to its phone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabRouterDef {
    /// Node name; the namespace is `mtd-<name>`.
    pub name: Spanned<String>,
    /// Country the router stands in.
    pub country: Spanned<String>,
    /// City, when not the country's default city.
    #[serde(default)]
    pub city: Option<City>,
    /// Transit router its uplink connects to.
    pub attach: Spanned<String>,
    /// Public IPv4 address of the uplink (else one from the documentation ranges).
    #[serde(default)]
    pub address: Option<Spanned<Ipv4Addr>>,
    /// The WPA2 access point it serves.
    pub ap: AccessPointDef,
    /// Vantage node its access point tunnels to (none: phones stay offline, fail closed).
    #[serde(default)]
    pub vantage: Option<Spanned<String>>,
}

/// A WPA2-PSK access point.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPointDef {
    /// Network name (1 to 32 bytes).
    pub ssid: Spanned<String>,
    /// WPA2 passphrase (8 to 63 printable ASCII characters).
    pub passphrase: Spanned<String>,
    /// RFC 1918 subnet handed out over DHCP; the router takes its first address.
    pub subnet: Spanned<Ipv4Net>,
    /// A WireGuard ingress beside the Wi-Fi, with this subnet: phones anywhere join it as
    /// peers (`matador-host phone enroll`); it tunnels to the same vantage node.
    #[serde(default)]
    pub ingress: Option<Spanned<Ipv4Net>>,
}

/// An emulated Android phone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneDef {
    /// Node name; the namespace is `mtd-<name>`.
    pub name: Spanned<String>,
    /// Lab router whose access point is in front of the phone (on cellular: whose
    /// WireGuard ingress it joins).
    pub router: Spanned<String>,
    /// On cellular instead of Wi-Fi: the transit router its mobile network attaches to.
    #[serde(default)]
    pub cellular: Option<Spanned<String>>,
    /// `ro.product.model`.
    #[serde(default)]
    pub model: Option<String>,
    /// Port on 127.0.0.1 of the host where its ADB endpoint is published.
    #[serde(default)]
    pub adb_port: Option<Spanned<u16>>,
    /// The phone its apps send messages to.
    #[serde(default)]
    pub contact: Option<Spanned<String>>,
    /// Installed apps (names under `apps`).
    #[serde(default)]
    pub apps: Vec<Spanned<String>>,
    /// IMEI: 15 digits ending in a Luhn check digit (else derived from the phone's index).
    #[serde(default)]
    pub imei: Option<Spanned<String>>,
}

/// An emulated messenger app.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppDef {
    /// Name; chat services with the same `app` are its backend.
    pub name: Spanned<String>,
    /// Label shown on screen.
    #[serde(default)]
    pub label: Option<String>,
    /// Android package name.
    pub package: Spanned<String>,
    /// Linux UID its sockets belong to (Android's app range is 10000-19999).
    pub uid: Spanned<u32>,
    /// Launcher activity (`.Main` or a full class name).
    pub activity: String,
    /// DNS name of its chat server.
    pub server: String,
    /// Chat over TLS on 443 (else plain TCP on 5222).
    #[serde(default)]
    pub tls: bool,
    /// HTTP-DNS name to ask for the server's address first (as WeChat does).
    #[serde(default)]
    pub httpdns: Option<String>,
    /// DNS name of an analytics service it reports the device's identifiers to, as an
    /// analytics SDK inside a messenger does.
    #[serde(default)]
    pub analytics: Option<Spanned<String>>,
    /// Text field: x, y, width, height in screen pixels.
    pub text_field: Spanned<[u32; 4]>,
    /// Send button: x, y, width, height in screen pixels.
    pub send_button: Spanned<[u32; 4]>,
}
