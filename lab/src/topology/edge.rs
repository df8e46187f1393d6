//! The lab's edge: lab routers' access points, emulated phones and their messenger apps,
//! checked the way hostapd and Android would refuse them.

use super::cellular::check_cellular;
use super::checks::Positioned;
use super::imei::check_imei;
use super::load::pos;
use super::model::{AccessPointDef, AppDef, PhoneDef, ServiceKind, TopologyFile};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::collections::HashSet;

/// First port on 127.0.0.1 where phones' ADB endpoints are published, one per phone.
pub const DEFAULT_ADB_PORT: u16 = 25550;

/// Width and height of an emulated phone's screen in pixels.
pub const SCREEN_SIZE: (u32, u32) = (720, 1600);

/// A WPA2-PSK access point served by a lab router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessPoint {
    /// Network name.
    pub ssid: String,
    /// WPA2 passphrase.
    pub passphrase: String,
    /// Subnet handed out over DHCP; the router is its first host address.
    pub subnet: Ipv4Net,
    /// Subnet of the router's WireGuard ingress (phones anywhere join as peers), if it has one.
    #[serde(default)]
    pub ingress: Option<Ipv4Net>,
}

/// A rectangle on the phone's screen, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Rect {
    /// Whether a tap at (x, y) lands inside.
    pub fn contains(&self, x: u32, y: u32) -> bool {
        x >= self.x && y >= self.y && x - self.x < self.w && y - self.y < self.h
    }
}

/// A checked messenger app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    /// Name, shared with its chat services' `app`.
    pub name: String,
    /// Label shown on screen.
    pub label: String,
    /// Android package name.
    pub package: String,
    /// Linux UID of its sockets.
    pub uid: u32,
    /// Launcher activity, fully qualified (`package/.Main` form is built from it).
    pub activity: String,
    /// DNS name of its chat server.
    pub server: String,
    /// Chat over TLS on 443, else plain TCP on 5222.
    pub tls: bool,
    /// HTTP-DNS name asked for the server's address first.
    pub httpdns: Option<String>,
    /// DNS name of the analytics service it reports the device's identifiers to.
    #[serde(default)]
    pub analytics: Option<String>,
    /// Where its text field is.
    pub text_field: Rect,
    /// Where its send button is.
    pub send_button: Rect,
}

impl App {
    /// The component name `am start -n` takes: `package/activity`.
    pub fn component(&self) -> String {
        format!("{}/{}", self.package, self.activity)
    }
}

/// What a phone is, beyond its node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneRole {
    /// Lab router whose access point is in front of it.
    pub router: String,
    /// `ro.product.model`.
    pub model: String,
    /// Port on the host's 127.0.0.1 where its ADB endpoint is published.
    pub adb_port: u16,
    /// Phone its apps message.
    pub contact: Option<String>,
    /// Installed apps, by name.
    pub apps: Vec<String>,
    /// IMEI (15 digits, Luhn-checked), unique in the lab.
    #[serde(default)]
    pub imei: String,
    /// On cellular: the transit router its mobile network attaches to (no Wi-Fi radio; it
    /// joins `router`'s WireGuard ingress from the Internet).
    #[serde(default)]
    pub cellular: Option<String>,
}

/// Checks an access point as hostapd would: SSID 1-32 bytes, passphrase 8-63 printable
/// ASCII characters, and an RFC 1918 subnet with room for clients.
pub(super) fn check_ap(ap: &AccessPointDef) -> Result<AccessPoint, Positioned> {
    let ssid = &ap.ssid.value;
    if ssid.is_empty() || ssid.len() > 32 || ssid.chars().any(|c| c.is_control()) {
        return Err((
            pos(&ap.ssid),
            format!("SSID `{ssid}` must be 1 to 32 bytes without control characters"),
        ));
    }
    let psk = &ap.passphrase.value;
    if !(8..=63).contains(&psk.len()) || !psk.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err((
            pos(&ap.passphrase),
            "a WPA2 passphrase is 8 to 63 printable ASCII characters".to_string(),
        ));
    }
    let subnet = ap.subnet.value.trunc();
    if !subnet.addr().is_private() || subnet.prefix_len() > 29 {
        return Err((
            pos(&ap.subnet),
            format!("access point subnet {subnet} must be RFC 1918 (10/8, 172.16/12, 192.168/16) and /29 or larger"),
        ));
    }
    let ingress = match &ap.ingress {
        Some(i) => {
            let net = i.value.trunc();
            if !net.addr().is_private()
                || net.prefix_len() > 29
                || net.contains(&subnet.addr())
                || subnet.contains(&net.addr())
            {
                return Err((
                    pos(i),
                    format!("ingress subnet {net} must be RFC 1918, /29 or larger, and apart from {subnet}"),
                ));
            }
            Some(net)
        }
        None => None,
    };
    Ok(AccessPoint {
        ssid: ssid.clone(),
        passphrase: psk.clone(),
        subnet,
        ingress,
    })
}

/// Checks the apps: unique names, packages and UIDs in Android's app range, sane rectangles.
pub(super) fn check_apps(raw: &TopologyFile) -> Result<Vec<App>, Positioned> {
    let mut apps = Vec::new();
    let (mut names, mut packages, mut uids) = (HashSet::new(), HashSet::new(), HashSet::new());
    for a in &raw.apps {
        let at = pos(&a.name);
        if !names.insert(a.name.value.as_str()) {
            return Err((at, format!("app `{}` is defined twice", a.name.value)));
        }
        if !is_package_name(&a.package.value) {
            return Err((
                pos(&a.package),
                format!(
                    "`{}` is not an Android package name (like com.example.chat)",
                    a.package.value
                ),
            ));
        }
        if !packages.insert(a.package.value.as_str()) {
            return Err((pos(&a.package), "package used by two apps".to_string()));
        }
        if !(10_000..=19_999).contains(&a.uid.value) || !uids.insert(a.uid.value) {
            return Err((
                pos(&a.uid),
                format!(
                    "uid {} must be unique and in Android's app range 10000-19999",
                    a.uid.value
                ),
            ));
        }
        if !serves_chat(raw, a) {
            return Err((
                at,
                format!(
                    "app `{}`: no chat service of this app answers `{}`",
                    a.name.value, a.server
                ),
            ));
        }
        apps.push(App {
            name: a.name.value.clone(),
            label: a.label.clone().unwrap_or_else(|| a.name.value.clone()),
            package: a.package.value.clone(),
            uid: a.uid.value,
            activity: a.activity.clone(),
            server: a.server.clone(),
            tls: a.tls,
            httpdns: a.httpdns.clone(),
            analytics: check_analytics(raw, a)?,
            text_field: rect(&a.text_field)?,
            send_button: rect(&a.send_button)?,
        });
    }
    Ok(apps)
}

/// Checks a phone against the apps and the lab routers already known.
pub(super) fn check_phone(
    p: &PhoneDef,
    index: usize,
    raw: &TopologyFile,
    taken_routers: &mut HashSet<String>,
    taken_ports: &mut HashSet<u16>,
) -> Result<PhoneRole, Positioned> {
    if !raw
        .lab_routers
        .iter()
        .any(|r| r.name.value == p.router.value)
    {
        return Err((
            pos(&p.router),
            format!("`{}` is not a lab router of this topology", p.router.value),
        ));
    }
    let cellular = check_cellular(p, raw)?;
    // A cellular phone joins the router's ingress, not its access point's one Wi-Fi slot.
    if cellular.is_none() && !taken_routers.insert(p.router.value.clone()) {
        return Err((
            pos(&p.router),
            format!(
                "lab router `{}` already has a phone; each serves one",
                p.router.value
            ),
        ));
    }
    if let Some(c) = &p.contact {
        if !raw.phones.iter().any(|q| q.name.value == c.value) || c.value == p.name.value {
            return Err((
                pos(c),
                format!("contact `{}` is not another phone", c.value),
            ));
        }
    }
    for a in &p.apps {
        if !raw.apps.iter().any(|d| d.name.value == a.value) {
            return Err((pos(a), format!("app `{}` is not under `apps`", a.value)));
        }
    }
    let adb_port = match &p.adb_port {
        Some(port) if port.value < 1024 => {
            return Err((pos(port), "adb_port must be 1024 or above".to_string()))
        }
        Some(port) => port.value,
        None => u16::try_from(index)
            .ok()
            .and_then(|i| DEFAULT_ADB_PORT.checked_add(i))
            .ok_or((pos(&p.name), "too many phones".to_string()))?,
    };
    if !taken_ports.insert(adb_port) {
        let at = p.adb_port.as_ref().map_or(pos(&p.name), pos);
        return Err((at, format!("adb_port {adb_port} is taken by another phone")));
    }
    let imei = check_imei(raw, index)?;
    Ok(PhoneRole {
        imei,
        router: p.router.value.clone(),
        model: p
            .model
            .clone()
            .unwrap_or_else(|| "MATAdOR lab phone".into()),
        adb_port,
        contact: p.contact.as_ref().map(|c| c.value.clone()),
        apps: p.apps.iter().map(|a| a.value.clone()).collect(),
        cellular,
    })
}

/// The app's analytics name, which one of the topology's analytics services must answer.
fn check_analytics(raw: &TopologyFile, a: &AppDef) -> Result<Option<String>, Positioned> {
    let Some(name) = &a.analytics else {
        return Ok(None);
    };
    let served = raw
        .services
        .iter()
        .any(|s| s.kind == ServiceKind::Analytics && s.names.contains(&name.value));
    if !served {
        return Err((
            pos(name),
            format!(
                "app `{}`: no analytics service answers `{}`",
                a.name.value, name.value
            ),
        ));
    }
    Ok(Some(name.value.clone()))
}

fn serves_chat(raw: &TopologyFile, a: &AppDef) -> bool {
    raw.services.iter().any(|s| {
        s.app.as_deref() == Some(a.name.value.as_str()) && s.names.iter().any(|n| n == &a.server)
    })
}

fn rect(r: &Spanned<[u32; 4]>) -> Result<Rect, Positioned> {
    let (at, r) = (pos(r), r.value);
    let [x, y, w, h] = r;
    let (sw, sh) = SCREEN_SIZE;
    if w == 0 || h == 0 || x.saturating_add(w) > sw || y.saturating_add(h) > sh {
        return Err((
            at,
            format!("rectangle {r:?} (x, y, width, height) is not inside the {sw}x{sh} screen"),
        ));
    }
    Ok(Rect { x, y, w, h })
}

fn is_package_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            p.starts_with(|c: char| c.is_ascii_alphabetic())
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}
