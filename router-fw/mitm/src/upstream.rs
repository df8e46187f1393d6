//! The proxy's side towards the real server: TLS with the SNI and ALPN the client asked
//! for, verified against the configured CA bundle only (in the lab, the lab's CA). No
//! bundle means no roots: every server is untrusted and nothing is intercepted (fail closed).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;

use crate::Error;

/// Reads a PEM bundle of CA certificates; a file without any is an error, not an empty
/// trust store that would quietly refuse every server.
pub fn load_roots(path: &Path) -> Result<RootCertStore, Error> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&text) {
        let cert = cert.map_err(|e| Error::BadFile {
            path: path.to_owned(),
            reason: format!("not a PEM certificate bundle: {e}"),
        })?;
        roots.add(cert).map_err(|e| Error::BadFile {
            path: path.to_owned(),
            reason: format!("a certificate is not usable as a trust anchor: {e}"),
        })?;
    }
    if roots.is_empty() {
        return Err(Error::BadFile {
            path: path.to_owned(),
            reason: "no CA certificate in the file".into(),
        });
    }
    Ok(roots)
}

/// The base client configuration: these roots, TLS 1.2 and 1.3, secrets to `keylog`.
pub fn client_config(
    roots: RootCertStore,
    keylog: Arc<dyn rustls::KeyLog>,
) -> Result<Arc<ClientConfig>, Error> {
    let mut config = ClientConfig::builder_with_provider(crate::provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.key_log = keylog;
    Ok(Arc::new(config))
}

/// How the proxy's own connections to real servers leave the router: so they take the
/// device's path (its AP's tunnel to a vantage node), not the router's default route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamSocket {
    /// SO_MARK for the policy routing rules that send an AP's traffic into its tunnel.
    pub mark: Option<u32>,
    /// SO_BINDTODEVICE: leave through this interface only (e.g. the AP's tunnel).
    pub device: Option<String>,
}

/// Opens a TCP connection to `server` with the socket options.
pub(crate) async fn tcp_connect(
    server: SocketAddr,
    options: &UpstreamSocket,
) -> io::Result<TcpStream> {
    let socket = if server.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(mark) = options.mark {
        set_mark(&socket, mark)?;
    }
    if let Some(device) = &options.device {
        socket.bind_device(Some(device.as_bytes()))?;
    }
    let tcp = socket.connect(server).await?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

fn set_mark(socket: &TcpSocket, mark: u32) -> io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let len = libc::socklen_t::try_from(std::mem::size_of::<u32>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `mark` is a live u32 and `len` its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_MARK,
            std::ptr::addr_of!(mark).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Why the server side failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UpstreamError {
    /// Its certificate is not signed by the upstream CA (or not for this name).
    Untrusted(String),
    /// Anything else: unreachable, reset, another TLS error.
    Failed(String),
}

/// A TLS connection to the real server, and the ALPN protocol it chose.
pub(crate) struct Upstream {
    /// The stream.
    pub tls: TlsStream<TcpStream>,
    /// The protocol the server chose from the client's list.
    pub alpn: Option<Vec<u8>>,
}

/// The name to verify the server by: the client's SNI, else the address it dialled.
pub(crate) fn server_name(
    sni: Option<&str>,
    server: SocketAddr,
) -> Result<ServerName<'static>, UpstreamError> {
    match sni {
        Some(name) => ServerName::try_from(name.to_owned())
            .map_err(|e| UpstreamError::Failed(format!("SNI {name:?} is not a server name: {e}"))),
        None => Ok(ServerName::IpAddress(server.ip().into())),
    }
}

/// Connects to `server` with TLS, offering the client's `alpn` list.
pub(crate) async fn connect(
    base: &Arc<ClientConfig>,
    options: &UpstreamSocket,
    server: SocketAddr,
    sni: Option<&str>,
    alpn: Vec<Vec<u8>>,
) -> Result<Upstream, UpstreamError> {
    let name = server_name(sni, server)?;
    let mut config = ClientConfig::clone(base);
    config.alpn_protocols = alpn;
    let tcp = tcp_connect(server, options)
        .await
        .map_err(|e| UpstreamError::Failed(format!("cannot connect to {server}: {e}")))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| {
            let tls_error = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
            match tls_error {
                Some(rustls::Error::InvalidCertificate(why)) => {
                    UpstreamError::Untrusted(format!("{server}: certificate not trusted: {why:?}"))
                }
                _ => UpstreamError::Failed(format!("{server}: TLS handshake failed: {e}")),
            }
        })?;
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    Ok(Upstream { tls, alpn })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn socket_options_apply_where_permitted_and_fail_clearly_where_not() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let plain = tcp_connect(addr, &UpstreamSocket::default()).await;
        assert!(plain.is_ok(), "{plain:?}");
        // Marks and device binding need CAP_NET_ADMIN / CAP_NET_RAW: fine as root, a
        // permission error otherwise, never a silent default route.
        for options in [
            UpstreamSocket {
                mark: Some(0x4d00),
                device: None,
            },
            UpstreamSocket {
                mark: None,
                device: Some("lo".into()),
            },
        ] {
            match tcp_connect(addr, &options).await {
                Ok(_) => {}
                Err(e) => assert_eq!(
                    e.kind(),
                    io::ErrorKind::PermissionDenied,
                    "{options:?}: {e}"
                ),
            }
        }
        let missing = UpstreamSocket {
            mark: None,
            device: Some("no-such-if0".into()),
        };
        assert!(tcp_connect(addr, &missing).await.is_err());
    }
}
