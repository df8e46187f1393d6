//! `GET /v1/status`: the router, its access points, their stations, tunnels and counters.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::MeasurementStatus;

/// The whole router at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterStatus {
    /// The router's name from its config.
    pub router: String,
    /// The daemon's version.
    pub version: String,
    /// Seconds since the daemon started.
    pub uptime_s: u64,
    /// Every managed access point.
    pub aps: Vec<ApStatus>,
    /// The measurement running now, if any.
    pub measurement: Option<MeasurementStatus>,
    /// What a field router must report rather than ignore: crash loops, a full disk, a
    /// wrong clock, an upload backlog.
    #[serde(default)]
    pub health: RouterHealth,
    /// Whether enrolled phones' results are stored encrypted to the researcher's key
    /// (`at_rest` in the router's configuration).
    #[serde(default)]
    pub encrypted_at_rest: bool,
}

/// The router's own health, for a router nobody watches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterHealth {
    /// One line per problem, for humans and alerts; empty when all is well.
    pub warnings: Vec<String>,
    /// Daemon starts in the last ten minutes of this boot (a crash loop shows as many).
    pub recent_starts: u32,
    /// What ended the previous run, if it crashed (its panic message).
    pub last_crash: Option<String>,
    /// Free bytes on the state directory's file system.
    pub disk_free_bytes: u64,
    /// The kernel says the clock is synchronised (NTP ran).
    pub clock_synchronized: bool,
    /// The clock is not before the daemon was built: results' times can be trusted.
    pub clock_plausible: bool,
    /// The router's clock, Unix seconds, to compare with the host's.
    pub clock_unix: u64,
    /// Results waiting to be uploaded or fetched.
    pub spooled_results: u64,
    /// Bytes they take.
    pub spooled_bytes: u64,
    /// Store-and-forward, when configured.
    pub upload: Option<UploadHealth>,
}

/// The uploader's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadHealth {
    /// Results uploaded (and deleted) since the daemon started.
    pub uploaded: u64,
    /// Failed attempts in a row.
    pub failures: u32,
    /// The last failure, while failing.
    pub last_error: Option<String>,
    /// When the collector last acknowledged a result, Unix seconds.
    pub last_success: Option<u64>,
}

/// One managed access point and what hangs off it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApStatus {
    /// The AP's name from the config (used in `/v1/aps/{ap}/...`).
    pub name: String,
    /// The network name the phone joins.
    pub ssid: String,
    /// The radio (or, in the lab, veth) interface.
    pub interface: String,
    /// The subnet handed out to phones, with the router's address on it.
    pub subnet: IpNet,
    /// The vantage node this AP tunnels to; `None` until one is set (traffic is dropped).
    pub vantage: Option<VantageSummary>,
    /// Stations associated now.
    pub stations: Vec<Station>,
    /// The tunnel to the vantage node, if it exists.
    pub tunnel: Option<TunnelHealth>,
    /// nftables counters of this AP's subnet.
    pub counters: ApCounters,
}

/// The public face of a vantage node: never its keys beyond the public one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VantageSummary {
    /// The vantage node's name.
    pub name: String,
    /// `host:port` of its WireGuard endpoint.
    pub endpoint: String,
    /// Its WireGuard public key (base64).
    pub public_key: String,
}

/// A phone (or any station) associated with an AP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Station {
    /// MAC address, lowercase `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Its DHCP lease, once it has one.
    pub ip: Option<IpAddr>,
    /// When it associated, Unix seconds (the router's clock).
    pub since: u64,
}

/// Health of an AP's WireGuard tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelHealth {
    /// The WireGuard interface.
    pub interface: String,
    /// Seconds since the last handshake with the peer; `None` if there never was one.
    pub last_handshake_s_ago: Option<u64>,
    /// Bytes received from the peer.
    pub rx_bytes: u64,
    /// Bytes sent to the peer.
    pub tx_bytes: u64,
    /// Whether the tunnel counts as up (a recent handshake).
    pub up: bool,
}

/// nftables counters for one AP's subnet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApCounters {
    /// Packets from the subnet forwarded into its tunnel.
    pub forwarded_packets: u64,
    /// Bytes of those packets.
    pub forwarded_bytes: u64,
    /// Packets from the subnet dropped (fail closed, or toward the management side).
    pub dropped_packets: u64,
    /// Bytes of those packets.
    pub dropped_bytes: u64,
}
