//! WireGuard tunnels to vantage nodes: the seam between the two backends (`Backend`:
//! configure a peer, read its health), and the userspace one over the UAPI (wireguard-go's
//! socket in /var/run/wireguard). The kernel backend (generic netlink) is `wg_kernel`.

use base64::Engine as _;
use ipnet::{IpNet, Ipv4Net};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Where userspace WireGuard keeps its control sockets.
pub const UAPI_DIR: &str = "/var/run/wireguard";

/// The vantage node side of a tunnel, as a `wg-quick` file describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelPeer {
    /// This router's private key.
    pub private_key: [u8; 32],
    /// This router's address inside the tunnel.
    pub address: Ipv4Net,
    /// The resolver handed to phones (the vantage node's).
    pub dns: Option<Ipv4Addr>,
    /// The vantage node's public key.
    pub public_key: [u8; 32],
    /// Optional preshared key.
    pub preshared_key: Option<[u8; 32]>,
    /// The vantage node's endpoint.
    pub endpoint: SocketAddr,
    /// What is routed into the tunnel.
    pub allowed_ips: Vec<IpNet>,
    /// Keepalive in seconds.
    pub keepalive: Option<u16>,
}

/// What the UAPI reports about a tunnel's peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Seconds since the Unix epoch of the last handshake (0: never).
    pub last_handshake: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

/// A UAPI exchange that failed.
#[derive(Debug, thiserror::Error)]
pub enum WireguardError {
    /// The socket could not be reached or broke.
    #[error("WireGuard UAPI {socket}: {source}")]
    Io {
        /// The socket.
        socket: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// wireguard-go refused the configuration.
    #[error("WireGuard UAPI {socket}: errno={errno}")]
    Refused {
        /// The socket.
        socket: String,
        /// Its error number.
        errno: i64,
    },
    /// A key that is not 32 bytes of base64.
    #[error("{0} is not a WireGuard key (32 bytes, base64)")]
    BadKey(&'static str),
    /// `wireguard: kernel` on a kernel without WireGuard (no link kind, no netlink family).
    #[error("the kernel has no WireGuard support (module wireguard): install kmod-wireguard, or set `wireguard: userspace`")]
    NoKernelSupport,
    /// A netlink request of the kernel backend failed.
    #[error("WireGuard netlink: {what}: {message}")]
    Netlink {
        /// What the daemon was doing.
        what: String,
        /// The kernel's or the library's error.
        message: String,
    },
}

/// Which WireGuard carries the tunnels (the configuration's `wireguard:`).
pub use super::config::WireguardBackend as Backend;

impl Backend {
    /// Makes `peer` the only peer of tunnel `ifname`. Userspace: wireguard-go must already
    /// serve the interface's UAPI socket. Kernel: the link is (re)created here, and removed
    /// again if it cannot be configured.
    pub async fn configure(
        self,
        h: &rtnetlink::Handle,
        ifname: &str,
        peer: &TunnelPeer,
    ) -> Result<(), WireguardError> {
        match self {
            Backend::Userspace => exchange(&socket_path(ifname), &set_request(peer))
                .await
                .map(|_| ()),
            Backend::Kernel => super::wg_kernel::configure(h, ifname, peer).await,
        }
    }

    /// The tunnel's health (last handshake, bytes).
    pub async fn health(self, ifname: &str) -> Result<Health, WireguardError> {
        match self {
            Backend::Userspace => health(ifname).await,
            Backend::Kernel => super::wg_kernel::health(ifname).await,
        }
    }
}

/// Decodes a base64 WireGuard key.
pub fn decode_key(text: &str, what: &'static str) -> Result<[u8; 32], WireguardError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or(WireguardError::BadKey(what))
}

pub(super) fn hex(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// The UAPI `set` request that makes `peer` the tunnel's only peer.
pub fn set_request(peer: &TunnelPeer) -> String {
    let mut r = String::from("set=1\n");
    let _ = writeln!(r, "private_key={}", hex(&peer.private_key));
    r.push_str("replace_peers=true\n");
    let _ = writeln!(r, "public_key={}", hex(&peer.public_key));
    if let Some(psk) = &peer.preshared_key {
        let _ = writeln!(r, "preshared_key={}", hex(psk));
    }
    let _ = writeln!(r, "endpoint={}", peer.endpoint);
    if let Some(k) = peer.keepalive {
        let _ = writeln!(r, "persistent_keepalive_interval={k}");
    }
    r.push_str("replace_allowed_ips=true\n");
    for ip in &peer.allowed_ips {
        let _ = writeln!(r, "allowed_ip={ip}");
    }
    r.push('\n');
    r
}

/// A tunnel whose last handshake is older than this is down (WireGuard rekeys every 2 min).
pub const HANDSHAKE_STALE_S: u64 = 180;

impl Health {
    /// Seconds between the last handshake and `now` (Unix seconds); `None` if never.
    pub fn handshake_age(&self, now: u64) -> Option<u64> {
        (self.last_handshake > 0).then(|| now.saturating_sub(self.last_handshake))
    }

    /// Whether the tunnel counts as up at `now`.
    pub fn is_up(&self, now: u64) -> bool {
        self.handshake_age(now)
            .is_some_and(|a| a < HANDSHAKE_STALE_S)
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Asks a userspace tunnel's UAPI socket for its health.
pub async fn health(ifname: &str) -> Result<Health, WireguardError> {
    exchange(&socket_path(ifname), "get=1\n\n")
        .await
        .map(|a| parse_get(&a))
}

/// Reads the health of the first peer out of a UAPI `get` answer.
pub fn parse_get(answer: &str) -> Health {
    let mut h = Health::default();
    for line in answer.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v: u64 = v.parse().unwrap_or(0);
        match k {
            "last_handshake_time_sec" => h.last_handshake = v,
            "rx_bytes" => h.rx_bytes = h.rx_bytes.saturating_add(v),
            "tx_bytes" => h.tx_bytes = h.tx_bytes.saturating_add(v),
            _ => {}
        }
    }
    h
}

/// The control socket of a userspace tunnel interface.
pub fn socket_path(ifname: &str) -> PathBuf {
    Path::new(UAPI_DIR).join(format!("{ifname}.sock"))
}

/// Sends one request and returns the answer up to its blank line; checks `errno=0`.
pub async fn exchange(socket: &Path, request: &str) -> Result<String, WireguardError> {
    let shown = socket.display().to_string();
    let io = |source| WireguardError::Io {
        socket: shown.clone(),
        source,
    };
    let talk = async {
        let mut s = tokio::net::UnixStream::connect(socket).await?;
        s.write_all(request.as_bytes()).await?;
        let mut lines = BufReader::new(s).lines();
        let mut answer = String::new();
        while let Some(line) = lines.next_line().await? {
            if line.is_empty() {
                break;
            }
            answer.push_str(&line);
            answer.push('\n');
            if answer.len() > 64 * 1024 {
                break;
            }
        }
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(5), talk)
        .await
        .map_err(|_| {
            io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer",
            ))
        })?
        .map_err(io)?;
    let errno = answer
        .lines()
        .find_map(|l| l.strip_prefix("errno="))
        .and_then(|e| e.parse::<i64>().ok())
        .unwrap_or(0);
    if errno != 0 {
        return Err(WireguardError::Refused {
            socket: shown,
            errno,
        });
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> TunnelPeer {
        TunnelPeer {
            private_key: [1; 32],
            address: "100.64.3.2/32".parse().expect("net"),
            dns: Some(Ipv4Addr::new(100, 64, 3, 1)),
            public_key: [0xab; 32],
            preshared_key: None,
            endpoint: "192.0.2.5:51820".parse().expect("addr"),
            allowed_ips: vec!["0.0.0.0/0".parse().expect("net")],
            keepalive: Some(25),
        }
    }

    #[test]
    fn the_set_request_is_uapi_text_with_hex_keys() {
        let r = set_request(&peer());
        assert!(r.starts_with("set=1\nprivate_key=0101"), "{r}");
        assert!(r.contains(&format!("public_key={}\n", "ab".repeat(32))));
        assert!(r.contains("endpoint=192.0.2.5:51820\npersistent_keepalive_interval=25\n"));
        assert!(r.ends_with("allowed_ip=0.0.0.0/0\n\n"));
    }

    #[test]
    fn health_and_keys_parse_and_bad_keys_are_refused() {
        let h = parse_get("private_key=00\npublic_key=ab\nlast_handshake_time_sec=1700000000\nrx_bytes=10\ntx_bytes=20\nerrno=0\n");
        assert_eq!(
            h,
            Health {
                last_handshake: 1_700_000_000,
                rx_bytes: 10,
                tx_bytes: 20
            }
        );
        assert!(decode_key("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "key").is_ok());
        assert!(decode_key("short", "key").is_err());
        assert_eq!(h.handshake_age(1_700_000_100), Some(100));
        assert!(h.is_up(1_700_000_000 + HANDSHAKE_STALE_S - 1));
        assert!(!h.is_up(1_700_000_000 + HANDSHAKE_STALE_S));
        assert!(!Health::default().is_up(1), "never shaken hands: down");
    }
}
