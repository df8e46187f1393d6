//! Test pieces: a real TLS server with its own CA (the "Internet"), the proxy in front of it
//! on 127.0.0.1 with a fixed original destination, and phone-like clients.

#![allow(dead_code)] // each test file uses a different part

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use matador_mitm::{ca, FixedOriginalDst, FlowRecord, InterceptionCa, Limits, Proxy, ProxyConfig};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{RootCertStore, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

pub const IMEI: &str = "490154203237518";
pub const SNI: &str = "collect.example";
pub const REQUEST: &str =
    "GET /collect?imei=490154203237518 HTTP/1.1\r\nHost: collect.example\r\nConnection: close\r\n\r\n";
pub const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A CA of the test "Internet", independent of the interception CA.
pub struct TestCa {
    pub der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("CA");
        Self {
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).expect("root");
        roots
    }

    /// A server configuration for `collect.example` and 127.0.0.1, offering http/1.1.
    fn server_config(
        &self,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Arc<rustls::ServerConfig> {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(vec![SNI.to_owned()]).expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .expect("config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// The real server: answers one HTTP request per connection, then closes.
pub struct Upstream {
    pub addr: SocketAddr,
    pub ca: TestCa,
    /// Handshakes it completed.
    pub handshakes: Arc<AtomicUsize>,
}

pub async fn upstream(versions: &[&'static SupportedProtocolVersion]) -> Upstream {
    let ca = TestCa::new("Test Internet CA");
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config(versions));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handshakes = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&handshakes);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls.write_all(RESPONSE).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Upstream {
        addr,
        ca,
        handshakes,
    }
}

/// The proxy, running, with its files in a private directory.
pub struct Harness {
    pub addr: SocketAddr,
    pub flows: PathBuf,
    pub keylog: PathBuf,
    /// The interception CA (what a phone with the CA installed trusts).
    pub ca_der: CertificateDer<'static>,
    _dir: tempfile::TempDir,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), matador_mitm::Error>>,
}

pub async fn start_proxy(
    original_dst: SocketAddr,
    upstream_roots: Option<RootCertStore>,
) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let made = ca::generate("tests").expect("CA");
    let ca = InterceptionCa::from_pem(&made.cert_pem, &made.key_pem).expect("load CA");
    let ca_der = ca.cert_der().clone();
    let flows = dir.path().join("flows.jsonl");
    let keylog = dir.path().join("keylog.txt");
    let config = ProxyConfig {
        ca,
        upstream_roots,
        upstream_socket: Default::default(),
        keylog: keylog.clone(),
        flows: flows.clone(),
        limits: Limits {
            handshake_timeout: Duration::from_secs(5),
            ..Limits::default()
        },
    };
    let proxy = Proxy::new(config, Arc::new(FixedOriginalDst(original_dst))).expect("proxy");
    let listeners = matador_mitm::proxy::bind(&["127.0.0.1:0".parse().expect("addr")])
        .await
        .expect("bind");
    let addr = listeners[0].local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(proxy.serve(listeners, async move {
        let _ = stopped.await;
    }));
    Harness {
        addr,
        flows,
        keylog,
        ca_der,
        _dir: dir,
        stop,
        task,
    }
}

impl Harness {
    /// Waits (up to 5 s) until the flows file has `n` records, and returns them.
    pub async fn records(&self, n: usize) -> Vec<FlowRecord> {
        for _ in 0..100 {
            if let Ok(records) = matador_mitm::record::read_flows(&self.flows) {
                if records.len() >= n {
                    return records;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "fewer than {n} records: {:?}",
            std::fs::read_to_string(&self.flows)
        );
    }

    /// Stops the proxy as SIGTERM would, waits for it, and returns the records it wrote.
    pub async fn stop(self) -> Vec<FlowRecord> {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("stops in time")
            .expect("join")
            .expect("serve");
        matador_mitm::record::read_flows(&self.flows).expect("flows file")
    }
}

/// A phone's TLS client that trusts `roots` only.
pub fn client(
    roots: RootCertStore,
    versions: &[&'static SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

pub fn trusting(ca: &CertificateDer<'static>) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).expect("root");
    roots
}

/// Connects through the proxy, sends [`REQUEST`] and reads the answer to the end.
pub async fn fetch(
    proxy: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
) -> std::io::Result<Vec<u8>> {
    let tcp = TcpStream::connect(proxy).await?;
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    tls.write_all(REQUEST.as_bytes()).await?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await?;
    Ok(answer)
}

pub fn sni() -> ServerName<'static> {
    ServerName::try_from(SNI).expect("name")
}

/// The TLS error inside an I/O error, if any.
pub fn tls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
}
