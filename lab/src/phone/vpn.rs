//! The emulated WireGuard app (`com.wireguard.android`) of a cellular phone: its "remote
//! control" intents import `/sdcard/Download/NAME.conf` and bring the tunnel up with the real
//! userspace WireGuard (`wireguard-go` + `wg`) in the phone's namespace, or take it down.
//! The tunnel's routes send everything through it, except the endpoint, which keeps a host
//! route over the cellular uplink.

use super::device::Phone;
use super::logcat::Priority;
use super::wg_quick::{self, WgQuick};
use crate::plan::NextHop;
use ipnet::IpNet;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Package of the WireGuard app.
pub const WIREGUARD_PACKAGE: &str = "com.wireguard.android";
/// Its UID on the emulated phones.
pub const WIREGUARD_UID: u32 = 10_070;
/// Intent action that brings a tunnel up (string extra `tunnel`).
pub const ACTION_UP: &str = "com.wireguard.android.action.SET_TUNNEL_UP";
/// Intent action that takes a tunnel down (string extra `tunnel`).
pub const ACTION_DOWN: &str = "com.wireguard.android.action.SET_TUNNEL_DOWN";
/// Intent action that makes the app re-read its tunnels' states.
pub const ACTION_REFRESH: &str = "com.wireguard.android.action.REFRESH_TUNNEL_STATES";
/// Where a tunnel's file must be pushed before `SET_TUNNEL_UP` (`NAME` is the tunnel).
pub const IMPORT_DIR: &str = "/sdcard/Download";
/// Where userspace WireGuard puts its control sockets (shared by every namespace).
const WG_SOCKET_DIR: &str = "/var/run/wireguard";
const TAG: &str = "WireGuard/GoBackend";
/// How long wireguard-go may take to open its control socket.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// The tunnel interface of a phone: unique in the lab, because wireguard-go's control
/// sockets in `/var/run/wireguard` are shared by all namespaces (a `wg0` per phone would clash).
pub fn ifname(phone: &str) -> String {
    format!("wg-{phone}")
}

/// The control socket of a phone's tunnel interface.
pub fn socket_path(phone: &str) -> PathBuf {
    Path::new(WG_SOCKET_DIR).join(format!("{}.sock", ifname(phone)))
}

/// A tunnel that is up.
#[derive(Debug)]
pub struct Tunnel {
    /// Its name in the app (the file's name without `.conf`).
    pub name: String,
    /// What was imported.
    pub config: WgQuick,
    /// Interface it runs on.
    pub ifname: String,
    /// The endpoint's host route over the uplink, if one was added.
    endpoint_route: Option<IpNet>,
    /// The wireguard-go process.
    child: Child,
    /// Whether set-up has finished (until then, the phone keeps its old resolver).
    ready: bool,
}

impl Tunnel {
    /// The first IPv4 resolver of the tunnel (its `DNS` line).
    pub fn resolver(&self) -> Option<std::net::Ipv4Addr> {
        if !self.ready {
            return None;
        }
        self.config.dns.iter().find_map(|d| match d {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        })
    }
}

/// Whether `name` is a tunnel name the app accepts (`[a-zA-Z0-9_=+.-]{1,15}`).
pub fn valid_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_=+.-".contains(c))
}

/// Reads and parses `/sdcard/Download/NAME.conf` (the user's import tap).
pub fn import(phone: &Phone, name: &str) -> Result<WgQuick, String> {
    if !valid_name(name) {
        return Err(format!("Invalid name: {name:?}"));
    }
    let device = format!("{IMPORT_DIR}/{name}.conf");
    let path = super::lifecycle::device_path(phone, &device)
        .ok_or_else(|| format!("Invalid name: {name:?}"))?;
    let text = std::fs::read_to_string(&path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
            _ => e.to_string(),
        };
        format!("Unable to import tunnel: {device}: {why}")
    })?;
    wg_quick::parse(&text).map_err(|e| format!("Unable to import tunnel: {name}.conf: {e}"))
}

/// One `ip` command of a tunnel's set-up, and whether failing it fails the tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpStep {
    /// Arguments of `ip`.
    pub args: Vec<String>,
    /// IPv4 steps must work; IPv6 ones may fail on a phone without IPv6.
    pub required: bool,
}

/// The `ip` commands that give the tunnel interface its addresses and routes: `0.0.0.0/0`
/// becomes `0.0.0.0/1` + `128.0.0.0/1` (the uplink's default route stays), and an endpoint
/// inside the allowed IPs keeps a host route through the uplink's gateway.
pub fn ip_steps(config: &WgQuick, ifname: &str, uplink: Option<&NextHop>) -> Vec<IpStep> {
    let step = |args: Vec<String>, required: bool| IpStep { args, required };
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let mut steps = Vec::new();
    for a in &config.addresses {
        let v4 = matches!(a, IpNet::V4(_));
        steps.push(step(s(&["addr", "add", &a.to_string(), "dev", ifname]), v4));
    }
    steps.push(step(s(&["link", "set", ifname, "up"]), true));
    if let Some(route) = endpoint_route(config, uplink) {
        if let Some(up) = uplink {
            let gw = up.gateway.to_string();
            let dest = route.to_string();
            steps.push(step(
                s(&["route", "replace", &dest, "via", &gw, "dev", &up.ifname]),
                true,
            ));
        }
    }
    for net in &config.allowed_ips {
        let halves: Vec<String> = match net {
            IpNet::V4(n) if n.prefix_len() == 0 => s(&["0.0.0.0/1", "128.0.0.0/1"]),
            IpNet::V6(n) if n.prefix_len() == 0 => s(&["::/1", "8000::/1"]),
            n => vec![n.trunc().to_string()],
        };
        let v4 = matches!(net, IpNet::V4(_));
        for dest in halves {
            steps.push(step(s(&["route", "replace", &dest, "dev", ifname]), v4));
        }
    }
    steps
}

/// The host route the endpoint needs, when the tunnel's allowed IPs would swallow it.
fn endpoint_route(config: &WgQuick, uplink: Option<&NextHop>) -> Option<IpNet> {
    let ep = config.endpoint.ip();
    let inside = config.allowed_ips.iter().any(|n| n.contains(&ep));
    let same_family = uplink.is_some_and(|u| u.gateway.is_ipv4() == ep.is_ipv4());
    (inside && same_family).then(|| IpNet::from(ep))
}

fn run(program: &str, args: &[String]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Writes a key where only root can read it.
fn write_key(path: &Path, key: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    writeln!(f, "{key}")
}

/// `SET_TUNNEL_UP`: imports the tunnel's file and brings it up (another one goes down first,
/// as the app runs one tunnel at a time).
pub fn up(phone: &Phone, name: &str) -> Result<(), String> {
    let config = import(phone, name)?;
    if phone.state().vpn.as_ref().is_some_and(|t| t.name == name) {
        return Ok(());
    }
    down(phone);
    let dev = ifname(&phone.name);
    // A killed wireguard-go leaves its socket: the new one must not be mistaken for ready.
    let _ = run("ip", &["link".into(), "del".into(), dev.clone()]);
    let _ = std::fs::remove_file(socket_path(&phone.name));
    let log_path = phone.dir.join("wireguard-go.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("wireguard-go log: {e}"))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("wireguard-go log: {e}"))?;
    let child = Command::new("wireguard-go")
        .args(["-f", &dev])
        .env("WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD", "1")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("cannot start wireguard-go: {e}"))?;
    let endpoint_route = endpoint_route(&config, phone.uplink.as_ref());
    let tunnel = Tunnel {
        name: name.to_string(),
        config,
        ifname: dev.clone(),
        endpoint_route,
        child,
        ready: false,
    };
    // From here on the tunnel is the phone's: whatever fails, `down` cleans it up.
    phone.state().vpn = Some(tunnel);
    match configure(phone, &log_path) {
        Ok(()) => {
            if let Some(t) = phone.state().vpn.as_mut() {
                t.ready = true;
            }
            phone.log(
                0,
                Priority::Info,
                TAG,
                &format!("Bringing tunnel {name} UP"),
            );
            phone.log(
                0,
                Priority::Info,
                "Vpn",
                &format!("Established by {WIREGUARD_PACKAGE} on {dev}"),
            );
            Ok(())
        }
        Err(e) => {
            down(phone);
            phone.log(
                0,
                Priority::Error,
                TAG,
                &format!("Unable to bring tunnel {name} up: {e}"),
            );
            Err(e)
        }
    }
}

/// Waits for wireguard-go, gives it the keys and the peer, then addresses and routes.
fn configure(phone: &Phone, log_path: &Path) -> Result<(), String> {
    let sock = socket_path(&phone.name);
    let deadline = Instant::now() + START_TIMEOUT;
    while !sock.exists() {
        let exited = phone
            .state()
            .vpn
            .as_mut()
            .and_then(|t| t.child.try_wait().ok().flatten());
        if exited.is_some() || Instant::now() > deadline {
            let log = std::fs::read_to_string(log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(3).collect();
            return Err(format!(
                "wireguard-go did not start: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let (config, ifname) = match phone.state().vpn.as_ref() {
        Some(t) => (t.config.clone(), t.ifname.clone()),
        None => return Err("the tunnel went down while starting".into()),
    };
    let key = phone.dir.join(format!("{ifname}.key"));
    let psk = phone.dir.join(format!("{ifname}.psk"));
    let result = set_peer(&config, &ifname, &key, &psk);
    let _ = std::fs::remove_file(&key);
    let _ = std::fs::remove_file(&psk);
    result?;
    for s in ip_steps(&config, &ifname, phone.uplink.as_ref()) {
        match run("ip", &s.args) {
            Err(e) if s.required => return Err(e),
            Err(e) => phone.log(0, Priority::Warn, TAG, &e),
            Ok(()) => {}
        }
    }
    Ok(())
}

/// `wg set`: private key, and the one peer.
fn set_peer(config: &WgQuick, ifname: &str, key: &Path, psk: &Path) -> Result<(), String> {
    write_key(key, &config.private_key).map_err(|e| format!("private key file: {e}"))?;
    let mut args: Vec<String> = vec!["set".into(), ifname.into(), "private-key".into()];
    args.push(key.display().to_string());
    args.extend(["peer".into(), config.peer_public_key.clone()]);
    if let Some(p) = &config.preshared_key {
        write_key(psk, p).map_err(|e| format!("preshared key file: {e}"))?;
        args.extend(["preshared-key".into(), psk.display().to_string()]);
    }
    args.extend(["endpoint".into(), config.endpoint.to_string()]);
    if !config.allowed_ips.is_empty() {
        let ips: Vec<String> = config.allowed_ips.iter().map(|n| n.to_string()).collect();
        args.extend(["allowed-ips".into(), ips.join(",")]);
    }
    if let Some(k) = config.persistent_keepalive {
        args.extend(["persistent-keepalive".into(), k.to_string()]);
    }
    run("wg", &args)
}

/// `SET_TUNNEL_DOWN` (and the phone's shut-down): stops wireguard-go, removes the interface
/// and the endpoint's route. Returns the tunnel's name, if one was up.
pub fn down(phone: &Phone) -> Option<String> {
    let mut tunnel = phone.state().vpn.take()?;
    stop(&mut tunnel.child);
    let _ = run("ip", &["link".into(), "del".into(), tunnel.ifname.clone()]);
    if let Some(r) = tunnel.endpoint_route {
        let _ = run("ip", &["route".into(), "del".into(), r.to_string()]);
    }
    let _ = std::fs::remove_file(socket_path(&phone.name));
    phone.log(
        0,
        Priority::Info,
        TAG,
        &format!("Bringing tunnel {} DOWN", tunnel.name),
    );
    Some(tunnel.name)
}

/// Removes what an earlier life of the phone may have left (a killed phone's interface).
pub fn clean_leftovers(phone: &Phone) {
    if phone.role.is_cellular() {
        let _ = run("ip", &["link".into(), "del".into(), ifname(&phone.name)]);
        let _ = std::fs::remove_file(socket_path(&phone.name));
    }
}

/// SIGTERM (wireguard-go then removes its interface and socket), SIGKILL after a second.
fn stop(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill with a valid signal, to our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
#[path = "vpn_tests.rs"]
pub(crate) mod tests;
