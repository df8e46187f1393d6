//! The data plane as the API sees it: status read from the live system (stations from the
//! DHCP leases, tunnel health from WireGuard, counters from the nftables table), and the
//! vantage node of an AP changed at run time by the supervision loop.

use super::config::RouterConfig;
use super::wireguard::{self, TunnelPeer};
use crate::api::{Control, ControlError, ControlFuture};
use base64::Engine as _;
use matador_api::{
    render_wg_quick, ApCounters, ApStatus, MeasurementStatus, RouterStatus, StartMeasurement,
    Station, StopMeasurement, TunnelHealth, VantageSummary, WgPeer,
};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// A change the supervision loop carries out (it owns the tunnels and helpers).
pub enum PlaneCommand {
    /// Replace AP `ap`'s blocklist (checked and normalised).
    SetBlocklist {
        /// Index of the AP.
        ap: usize,
        /// The domains, normalised.
        domains: Vec<String>,
        /// Outcome.
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Set (or, with `None`, remove) AP `ap`'s TLS interception redirect.
    SetInterception {
        /// Index of the AP.
        ap: usize,
        /// Whose TLS goes to which proxy.
        redirect: Option<super::firewall_intercept::Redirect>,
        /// Outcome.
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Point AP `ap` at a new vantage node.
    SetVantage {
        /// Index of the AP.
        ap: usize,
        /// The new peer.
        peer: TunnelPeer,
        /// Outcome.
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// What the API reads and asks of the running data plane.
pub struct RouterControl {
    /// The configuration the daemon runs.
    pub config: RouterConfig,
    /// When the daemon started.
    pub started: Instant,
    /// Each AP's vantage node (name and peer), if any.
    pub vantage: Mutex<Vec<Option<(String, TunnelPeer)>>>,
    /// Channel to the supervision loop.
    pub commands: mpsc::Sender<PlaneCommand>,
    /// Stations hostapd reports associated, per AP (radio `hostapd` only).
    pub associated: Vec<Arc<super::stations::Associated>>,
    /// Each AP's ingress peers (empty for Wi-Fi APs), index for index with the APs.
    pub ingress: Vec<super::ingress::Peers>,
    /// Each AP's blocked domains, index for index with the APs.
    pub blocklists: super::blocklist::Blocklists,
    /// Measurements, running and finished.
    pub measurements: Arc<crate::measure::Measurements>,
    /// The result store (the upload spool).
    pub store: Arc<crate::store::Store>,
    /// This start, and what the previous run left.
    pub starts: crate::health::Starts,
    /// The uploader's state, when results are uploaded.
    pub upload: Option<Arc<Mutex<matador_api::UploadHealth>>>,
}

impl RouterControl {
    /// The health report: crash loop, disk, clock, spool, uploads.
    pub fn health(&self) -> matador_api::RouterHealth {
        use crate::health;
        let dir = self.config.capture_dir();
        let dir = if dir.exists() {
            dir
        } else {
            self.config.state_dir.clone()
        };
        let upload = self
            .upload
            .as_ref()
            .map(|u| u.lock().map(|s| s.clone()).unwrap_or_default());
        health::report(&health::Readings {
            starts: self.starts.clone(),
            disk_free_bytes: crate::capture::statvfs_free_bytes(&dir).unwrap_or(0),
            disk_min_free_bytes: self.config.capture.min_free_mib << 20,
            clock_synchronized: health::clock_synchronized(),
            clock_unix: wireguard::unix_now(),
            spooled: (self.store.list().len() as u64, self.store.used_bytes()),
            spool_capacity: self.store.capacity_bytes(),
            upload,
        })
    }
}

/// A `wg-quick` peer as the tunnel needs it; the router's own key is not used yet, so the
/// peer must carry a private key (as a commercial VPN exit's config does).
pub fn tunnel_peer(peer: &WgPeer) -> Result<TunnelPeer, String> {
    let key =
        |k: &str, what: &'static str| wireguard::decode_key(k, what).map_err(|e| e.to_string());
    let private = peer
        .private_key
        .as_deref()
        .ok_or("the peer needs PrivateKey: the router's own key is not supported yet")?;
    let address = peer
        .address
        .iter()
        .find_map(|a| match a {
            ipnet::IpNet::V4(v4) => Some(*v4),
            ipnet::IpNet::V6(_) => None,
        })
        .ok_or("Address needs an IPv4 prefix")?;
    let dns = peer.dns.iter().find_map(|d| match d {
        std::net::IpAddr::V4(v4) => Some(*v4),
        std::net::IpAddr::V6(_) => None,
    });
    Ok(TunnelPeer {
        private_key: key(private, "PrivateKey")?,
        address,
        dns,
        public_key: key(&peer.public_key, "PublicKey")?,
        preshared_key: match &peer.preshared_key {
            Some(p) => Some(key(p, "PresharedKey")?),
            None => None,
        },
        endpoint: peer.endpoint.parse().map_err(|_| {
            format!(
                "endpoint {:?}: the router needs ADDRESS:PORT",
                peer.endpoint
            )
        })?,
        allowed_ips: peer.allowed_ips.clone(),
        keepalive: peer.persistent_keepalive,
    })
}

/// Stations from a dnsmasq lease file (`expiry mac ip name client-id` per line).
pub fn stations(leases: &str) -> Vec<Station> {
    leases
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let expiry: u64 = f.next()?.parse().ok()?;
            let mac = f.next()?.to_string();
            let ip = f.next()?.parse().ok();
            // Leases last an hour (dhcp-range …,1h): the lease began an hour before expiry.
            Some(Station {
                mac,
                ip,
                since: expiry.saturating_sub(3600),
            })
        })
        .collect()
}

/// Per-AP counters out of `nft -j list table inet matador`: packets the AP forwarded into
/// its tunnel, and packets dropped from it (fail-closed and fence rules).
pub fn counters(nft_json: &str, interface: &str) -> ApCounters {
    let mut c = ApCounters::default();
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(nft_json) else {
        return c;
    };
    for item in doc["nftables"].as_array().into_iter().flatten() {
        let Some(exprs) = item["rule"]["expr"].as_array() else {
            continue;
        };
        let from_ap = exprs.iter().any(|e| {
            e["match"]["left"]["meta"]["key"] == "iifname" && e["match"]["right"] == interface
        });
        let counter = exprs.iter().find_map(|e| e.get("counter"));
        let (Some(counter), true) = (counter, from_ap) else {
            continue;
        };
        let (p, b) = (
            counter["packets"].as_u64().unwrap_or(0),
            counter["bytes"].as_u64().unwrap_or(0),
        );
        if exprs.iter().any(|e| e.get("accept").is_some()) {
            c.forwarded_packets += p;
            c.forwarded_bytes += b;
        } else if exprs.iter().any(|e| e.get("drop").is_some()) {
            c.dropped_packets += p;
            c.dropped_bytes += b;
        }
    }
    c
}

impl RouterControl {
    async fn read_status(&self) -> RouterStatus {
        let nft = tokio::process::Command::new("nft")
            .args(["-j", "list", "table", "inet", "matador"])
            .output()
            .await
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let vantage = self.vantage.lock().map(|v| v.clone()).unwrap_or_default();
        let now = wireguard::unix_now();
        let mut aps = Vec::new();
        let backend = self.config.wireguard;
        for (i, ap) in self.config.aps.iter().enumerate() {
            let ifname = ap.tunnel_interface();
            let tunnel = backend.health(&ifname).await.ok().map(|h| TunnelHealth {
                last_handshake_s_ago: h.handshake_age(now),
                up: h.is_up(now),
                rx_bytes: h.rx_bytes,
                tx_bytes: h.tx_bytes,
                interface: ifname,
            });
            let leases = std::fs::read_to_string(self.config.run_dir.join(&ap.name).join("leases"))
                .unwrap_or_default();
            let summary = vantage
                .get(i)
                .cloned()
                .flatten()
                .map(|(name, p)| VantageSummary {
                    name,
                    endpoint: p.endpoint.to_string(),
                    public_key: base64::engine::general_purpose::STANDARD.encode(p.public_key),
                });
            aps.push(ApStatus {
                name: ap.name.clone(),
                ssid: ap.ssid.clone(),
                interface: ap.interface.clone(),
                subnet: ipnet::IpNet::V4(ap.subnet),
                vantage: summary,
                stations: match (self.config.radio, self.associated.get(i)) {
                    // hostapd knows who is associated; the leases add their addresses.
                    (super::config::Radio::Hostapd, Some(a)) => {
                        let leased = stations(&leases);
                        a.macs()
                            .into_iter()
                            .map(|mac| {
                                let lease =
                                    leased.iter().find(|s| s.mac.eq_ignore_ascii_case(&mac));
                                Station {
                                    ip: lease.and_then(|s| s.ip),
                                    since: lease.map_or(0, |s| s.since),
                                    mac,
                                }
                            })
                            .collect()
                    }
                    _ => stations(&leases),
                },
                tunnel,
                counters: counters(&nft, &ap.interface),
            });
        }
        RouterStatus {
            router: self.config.router.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_s: self.started.elapsed().as_secs(),
            aps,
            measurement: self.measurements.current(),
            health: {
                let mut health = self.health();
                let in_ram = crate::capture::in_ram(&self.config.capture_dir()).ok();
                health
                    .warnings
                    .extend(crate::health::at_rest_warnings(&self.config, in_ram));
                health
            },
            encrypted_at_rest: self.config.at_rest.is_some(),
        }
    }

    /// The index of AP `ap` in the configuration.
    fn ap_index(&self, ap: &str) -> Result<usize, ControlError> {
        self.config
            .aps
            .iter()
            .position(|a| a.name == ap)
            .ok_or_else(|| ControlError::UnknownAp(ap.to_string()))
    }

    async fn change_vantage(&self, ap: String, peer: WgPeer) -> Result<(), ControlError> {
        let index = self.ap_index(&ap)?;
        let tunnel = tunnel_peer(&peer).map_err(ControlError::Invalid)?;
        // Kept on disk so a restart after a crash tunnels to the same vantage node.
        let path = self.config.state_dir.join(format!("vantage-{ap}.conf"));
        std::fs::create_dir_all(&self.config.state_dir)
            .and_then(|()| std::fs::write(&path, render_wg_quick(&peer)))
            .map_err(|e| ControlError::Internal(format!("{}: {e}", path.display())))?;
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(PlaneCommand::SetVantage {
                ap: index,
                peer: tunnel.clone(),
                reply,
            })
            .await
            .map_err(|_| ControlError::Unavailable("the daemon is stopping".into()))?;
        answer
            .await
            .map_err(|_| ControlError::Unavailable("the daemon is stopping".into()))?
            .map_err(ControlError::Internal)?;
        if let Ok(mut v) = self.vantage.lock() {
            if let Some(slot) = v.get_mut(index) {
                *slot = Some((peer.name.clone(), tunnel));
            }
        }
        Ok(())
    }
}

impl Control for RouterControl {
    fn status(&self) -> ControlFuture<'_, RouterStatus> {
        Box::pin(async move { Ok(self.read_status().await) })
    }

    fn set_vantage(&self, ap: String, peer: WgPeer) -> ControlFuture<'_, ()> {
        Box::pin(self.change_vantage(ap, peer))
    }

    fn start_measurement(&self, request: StartMeasurement) -> ControlFuture<'_, MeasurementStatus> {
        let m = Arc::clone(&self.measurements);
        Box::pin(async move {
            // Opening the capture socket and writing the record touch the disk and kernel.
            tokio::task::spawn_blocking(move || m.start(request))
                .await
                .map_err(|e| ControlError::Internal(e.to_string()))?
        })
    }

    fn stop_measurement(
        &self,
        id: String,
        request: StopMeasurement,
    ) -> ControlFuture<'_, MeasurementStatus> {
        let m = Arc::clone(&self.measurements);
        Box::pin(async move { m.stop(id, request) })
    }

    fn measurement(&self, id: String) -> ControlFuture<'_, MeasurementStatus> {
        Box::pin(async move { self.measurements.get(&id) })
    }

    fn ingress(&self) -> ControlFuture<'_, Vec<matador_api::Ingress>> {
        Box::pin(self.list_ingress())
    }

    fn add_ingress_peer(
        &self,
        ap: String,
        device: String,
        peer: matador_api::AddPeer,
    ) -> ControlFuture<'_, matador_api::IngressPeer> {
        Box::pin(async move { self.enrol(&ap, device, peer).await })
    }

    fn remove_ingress_peer(&self, ap: String, device: String) -> ControlFuture<'_, ()> {
        Box::pin(async move { self.unenrol(&ap, &device).await })
    }

    fn blocklist(&self, ap: String) -> ControlFuture<'_, Vec<String>> {
        Box::pin(async move {
            let i = self.ap_index(&ap)?;
            Ok(super::blocklist::lock(&self.blocklists)
                .get(i)
                .cloned()
                .unwrap_or_default())
        })
    }

    fn set_blocklist(&self, ap: String, domains: Vec<String>) -> ControlFuture<'_, ()> {
        Box::pin(async move {
            let i = self.ap_index(&ap)?;
            let (reply, answer) = oneshot::channel();
            let stopping = || ControlError::Unavailable("the daemon is stopping".into());
            self.commands
                .send(PlaneCommand::SetBlocklist {
                    ap: i,
                    domains,
                    reply,
                })
                .await
                .map_err(|_| stopping())?;
            answer
                .await
                .map_err(|_| stopping())?
                .map_err(ControlError::Internal)
        })
    }

    fn interception_ca(&self) -> ControlFuture<'_, String> {
        // Made on first use: running the proxy binary blocks.
        let m = Arc::clone(&self.measurements);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || m.interception_ca())
                .await
                .map_err(|e| ControlError::Internal(e.to_string()))?
        })
    }
}

/// Shares the control with the API server.
pub fn shared(control: RouterControl) -> Arc<dyn Control> {
    Arc::new(control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_come_from_the_rules_of_the_ap() {
        let json = r#"{"nftables":[{"metainfo":{}},
          {"rule":{"chain":"forward","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"wlan0"}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"wg-lr-a"}},{"counter":{"packets":7,"bytes":700}},{"accept":null}]}},
          {"rule":{"chain":"forward","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"wlan0"}},{"counter":{"packets":3,"bytes":180}},{"drop":null}]}},
          {"rule":{"chain":"input","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"wlan1"}},{"counter":{"packets":9,"bytes":9}},{"drop":null}]}}]}"#;
        let c = counters(json, "wlan0");
        assert_eq!(
            (
                c.forwarded_packets,
                c.forwarded_bytes,
                c.dropped_packets,
                c.dropped_bytes
            ),
            (7, 700, 3, 180)
        );
        assert_eq!(counters("not json", "wlan0").dropped_packets, 0);
    }

    #[test]
    fn leases_become_stations_and_garbage_is_skipped() {
        let s = stations("1763720000 02:00:00:00:00:02 10.77.1.200 phone-a *\nbroken line\n");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].mac, "02:00:00:00:00:02");
        assert_eq!(s[0].since, 1_763_716_400);
    }
}
