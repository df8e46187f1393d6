//! Preparing a phone for a measurement, each step verified by reading the state back: the
//! app force-stopped; the per-app firewall (only the app under test reaches the network);
//! airplane mode with Wi-Fi on; the router's WPA2 network joined; the test location at the
//! vantage node's city. Then, once the router captures, the app is started clean; and
//! afterwards everything set is removed again.

mod app;
mod firewall;
mod location;
mod radio;

pub use firewall::FirewallRule;
pub use location::TEST_PROVIDERS;

use super::error::PhoneError;
use super::shell::{Clock, Shell};
use crate::spec::{AppSpec, RootVia, RouterConnection, SpecError, VantageNode};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The Wi-Fi interface of Android phones.
pub const WIFI_IFACE: &str = "wlan0";

/// What to set up on one phone for one measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct PhonePlan {
    /// Package of the app under test.
    pub package: String,
    /// Its launcher activity (`.Main` or a full class name).
    pub activity: String,
    /// Its UID if the phone does not say (`pm list packages -U` wins).
    pub uid: Option<u32>,
    /// The router's network.
    pub wifi: WifiPlan,
    /// The phone reaches its router over the WireGuard ingress with this tunnel address
    /// (an always-on VPN): Wi-Fi is left alone and the VPN's address is checked instead.
    pub vpn: Option<std::net::Ipv4Addr>,
    /// The test location, normally the vantage node's city.
    pub location: Option<Location>,
    /// How iptables gets root.
    pub root: RootVia,
    /// Also firewall IPv6 (`ip6tables`), so nothing else leaves over IPv6.
    pub firewall_ipv6: bool,
    /// Waits and polls.
    pub timing: Timing,
}

/// A WPA2 network to join.
#[derive(Clone, PartialEq)]
pub struct WifiPlan {
    /// SSID.
    pub ssid: String,
    /// Passphrase (never printed).
    pub passphrase: String,
    /// The router's subnet, to check the phone's address against.
    pub subnet: Option<Ipv4Net>,
}

impl std::fmt::Debug for WifiPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WifiPlan")
            .field("ssid", &self.ssid)
            .field("passphrase", &"<passphrase>")
            .field("subnet", &self.subnet)
            .finish()
    }
}

impl WifiPlan {
    /// The network of a router (reading the passphrase file if it is in one).
    pub fn of(router: &RouterConnection) -> Result<WifiPlan, SpecError> {
        Ok(WifiPlan {
            ssid: router.ssid.clone(),
            passphrase: router.passphrase.resolve()?,
            subnet: router.subnet,
        })
    }
}

/// A place, in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Latitude, north positive.
    pub lat: f64,
    /// Longitude, east positive.
    pub lon: f64,
}

/// How long to wait for the phone, and how often to look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Between two reads of a state being waited for.
    pub poll: Duration,
    /// For Wi-Fi to be on after airplane mode.
    pub wifi_on: Duration,
    /// For the network to be joined with an address.
    pub connect: Duration,
    /// For the started app to have the focus.
    pub app_focus: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            poll: Duration::from_millis(500),
            wifi_on: Duration::from_secs(20),
            connect: Duration::from_secs(45),
            app_focus: Duration::from_secs(20),
        }
    }
}

/// What [`prepare`] set, for [`launch`] and [`cleanup`]; serialisable so an orchestrator
/// that crashed can still clean up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prepared {
    /// Package of the app under test.
    pub package: String,
    /// Its launcher activity.
    pub activity: String,
    /// The UID the firewall lets out.
    pub uid: u32,
    /// The phone's address on the router's network.
    pub address: Ipv4Net,
    /// Firewall rules added.
    pub firewall: Vec<FirewallRule>,
    /// Test location providers added.
    pub providers: Vec<String>,
    /// How iptables gets root.
    pub root: RootVia,
}

impl PhonePlan {
    /// The plan for measuring `app` on a phone behind a router with network `wifi`, with
    /// the phone placed at vantage node `node`.
    pub fn new(app: &AppSpec, wifi: WifiPlan, node: &VantageNode, root: RootVia) -> PhonePlan {
        PhonePlan {
            package: app.package.clone(),
            activity: app.activity.clone(),
            uid: app.uid,
            wifi,
            vpn: None,
            location: Some(Location {
                lat: node.lat,
                lon: node.lon,
            }),
            root,
            firewall_ipv6: true,
            timing: Timing::default(),
        }
    }
}

/// Sets the phone up for a measurement, the app stopped: firewall first, so nothing but the
/// app under test ever gets out, then radios, network and location. Each step reads its
/// state back. On failure what was set is removed again (best effort) and the step's error
/// returned.
pub fn prepare(
    shell: &mut dyn Shell,
    clock: &dyn Clock,
    plan: &PhonePlan,
) -> Result<Prepared, PhoneError> {
    app::stop(shell, &plan.package)?;
    let uid = app::uid(shell, &plan.package, plan.uid)?;
    let mut done = Prepared {
        package: plan.package.clone(),
        activity: plan.activity.clone(),
        uid,
        address: Ipv4Net::default(),
        firewall: Vec::new(),
        providers: Vec::new(),
        root: plan.root,
    };
    let result: Result<(), PhoneError> = (|| {
        // A VPN phone's app goes out of the VPN's interface, known once it is up; the app is
        // stopped meanwhile. Airplane mode would take the VPN's own network (cellular) away.
        let vpn = match plan.vpn {
            Some(address) => Some(radio::vpn_up(shell, clock, address, &plan.timing)?),
            None => None,
        };
        let iface = vpn.as_ref().map_or(WIFI_IFACE, |(_, iface)| iface.as_str());
        let rules = firewall::rules_for(uid, plan.firewall_ipv6, iface);
        // Recorded before installing: a half-installed set is removed on failure too.
        done.firewall = rules.clone();
        firewall::install(shell, plan.root, &rules)?;
        done.address = match vpn {
            Some((address, _)) => address,
            None => {
                radio::airplane_with_wifi(shell, clock, &plan.timing)?;
                radio::join(shell, clock, &plan.wifi, &plan.timing)?
            }
        };
        if let Some(at) = plan.location {
            done.providers = TEST_PROVIDERS.iter().map(|p| p.to_string()).collect();
            location::set(shell, at)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(done),
        Err(e) => {
            if let Err(undo) = cleanup(shell, &done) {
                tracing::warn!("undoing a failed preparation: {undo}");
            }
            Err(e.redact(&plan.wifi.passphrase))
        }
    }
}

/// Starts the prepared app clean (force-stopped first) and waits until it is in front;
/// the Unix time just before the start, the measurement's launch time. Separate from
/// [`prepare`] because the router must already capture when the app starts: its login is
/// the measurement's authentication phase.
pub fn launch(
    shell: &mut dyn Shell,
    clock: &dyn Clock,
    prepared: &Prepared,
    timing: &Timing,
) -> Result<f64, PhoneError> {
    app::start(shell, clock, &prepared.package, &prepared.activity, timing)
}

/// Checks that the app [`launch`] started still has the focus (one read, no wait).
pub fn still_in_front(shell: &mut dyn Shell, prepared: &Prepared) -> Result<(), PhoneError> {
    app::in_front(shell, &prepared.package)
}

/// Undoes [`prepare`]: app stopped, firewall rules removed (verified), test providers
/// removed. Every step is tried; the first error is returned.
pub fn cleanup(shell: &mut dyn Shell, prepared: &Prepared) -> Result<(), PhoneError> {
    let results = [
        app::stop(shell, &prepared.package),
        firewall::remove(shell, prepared.root, &prepared.firewall),
        location::clear(shell, &prepared.providers),
    ];
    results
        .into_iter()
        .collect::<Result<Vec<()>, _>>()
        .map(|_| ())
}

#[cfg(test)]
mod tests;
