//! What the API tests share: a fake daemon, a server on loopback with a fresh store, a log sink.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use matador_api::client::RouterClient;
use matador_api::{
    AddPeer, ApCounters, ApStatus, Ingress, IngressPeer, MeasurementState, MeasurementStatus,
    RouterStatus, StartMeasurement, StopMeasurement, WgPeer,
};
use tokio::sync::oneshot;

use super::client::{request, Reply};
use crate::api::identity_fingerprint;
use crate::api::{
    ApiConfig, ApiLimits, ApiServer, ApiServerError, Control, ControlError, ControlFuture,
};
use crate::store::Store;

pub const TOKEN: &str = "test-token-0123456789";

/// A daemon with one AP, `ap0`, that remembers what it was told.
#[derive(Default)]
pub struct FakeControl {
    pub vantage: Mutex<Vec<(String, WgPeer)>>,
    pub measurements: Mutex<BTreeMap<String, MeasurementStatus>>,
    /// Peers of its one ingress, `vpn`.
    pub peers: Mutex<Vec<IngressPeer>>,
    /// Blocklist of its one Wi-Fi AP, `ap0`.
    pub blocked: Mutex<Vec<String>>,
    /// Has no interception proxy (the CA cannot be made).
    pub no_proxy: std::sync::atomic::AtomicBool,
}

/// The fake daemon's interception CA certificate.
pub const CA_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";

impl FakeControl {
    pub fn router_status() -> RouterStatus {
        RouterStatus {
            router: "lab-router-a".into(),
            version: "0.1.0".into(),
            uptime_s: 42,
            aps: vec![ApStatus {
                name: "ap0".into(),
                ssid: "matador-a".into(),
                interface: "wlan0".into(),
                subnet: "192.168.50.1/24".parse().unwrap(),
                vantage: None,
                stations: vec![],
                tunnel: None,
                counters: ApCounters::default(),
            }],
            measurement: None,
            health: Default::default(),
            encrypted_at_rest: false,
        }
    }
}

fn known_ap(ap: &str) -> Result<(), ControlError> {
    if ap == "ap0" {
        Ok(())
    } else {
        Err(ControlError::UnknownAp(ap.to_owned()))
    }
}

impl Control for FakeControl {
    fn status(&self) -> ControlFuture<'_, RouterStatus> {
        Box::pin(async { Ok(Self::router_status()) })
    }

    fn set_vantage(&self, ap: String, peer: WgPeer) -> ControlFuture<'_, ()> {
        Box::pin(async move {
            known_ap(&ap)?;
            self.vantage.lock().unwrap().push((ap, peer));
            Ok(())
        })
    }

    fn start_measurement(&self, m: StartMeasurement) -> ControlFuture<'_, MeasurementStatus> {
        Box::pin(async move {
            known_ap(&m.ap)?;
            let mut all = self.measurements.lock().unwrap();
            if all.contains_key(&m.id) {
                return Err(ControlError::Conflict(format!(
                    "measurement {} exists",
                    m.id
                )));
            }
            let status = MeasurementStatus {
                id: m.id.clone(),
                ap: m.ap,
                app: m.app,
                state: MeasurementState::Running,
                started: 1_700_000_000,
                ended: None,
                results: vec![],
                detail: None,
            };
            all.insert(m.id, status.clone());
            Ok(status)
        })
    }

    fn stop_measurement(
        &self,
        id: String,
        request: StopMeasurement,
    ) -> ControlFuture<'_, MeasurementStatus> {
        Box::pin(async move {
            let mut all = self.measurements.lock().unwrap();
            let m = all
                .get_mut(&id)
                .ok_or(ControlError::UnknownMeasurement(id))?;
            m.state = MeasurementState::Processing;
            m.detail = Some(format!("{} message times", request.messages.len()));
            Ok(m.clone())
        })
    }

    fn measurement(&self, id: String) -> ControlFuture<'_, MeasurementStatus> {
        Box::pin(async move {
            self.measurements
                .lock()
                .unwrap()
                .get(&id)
                .cloned()
                .ok_or(ControlError::UnknownMeasurement(id))
        })
    }

    fn ingress(&self) -> ControlFuture<'_, Vec<Ingress>> {
        Box::pin(async move {
            Ok(vec![Ingress {
                ap: "vpn".into(),
                interface: "wg-in".into(),
                listen_port: 51821,
                public_key: "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=".into(),
                subnet: "10.78.0.0/24".parse().unwrap(),
                gateway: [10, 78, 0, 1].into(),
                peers: self.peers.lock().unwrap().clone(),
            }])
        })
    }

    fn add_ingress_peer(
        &self,
        ap: String,
        device: String,
        add: AddPeer,
    ) -> ControlFuture<'_, IngressPeer> {
        Box::pin(async move {
            if ap != "vpn" {
                return Err(ControlError::UnknownAp(ap));
            }
            let peer = IngressPeer {
                device,
                public_key: add.public_key,
                address: add.address,
            };
            let mut peers = self.peers.lock().unwrap();
            if peers
                .iter()
                .any(|p| p.device == peer.device || p.address == peer.address)
            {
                return Err(ControlError::Conflict("taken".into()));
            }
            peers.push(peer.clone());
            Ok(peer)
        })
    }

    fn remove_ingress_peer(&self, ap: String, device: String) -> ControlFuture<'_, ()> {
        Box::pin(async move {
            let mut peers = self.peers.lock().unwrap();
            let before = peers.len();
            peers.retain(|p| p.device != device);
            if ap != "vpn" || peers.len() == before {
                return Err(ControlError::UnknownAp(format!("{ap}/peers/{device}")));
            }
            Ok(())
        })
    }

    fn blocklist(&self, ap: String) -> ControlFuture<'_, Vec<String>> {
        Box::pin(async move {
            if ap != "ap0" {
                return Err(ControlError::UnknownAp(ap));
            }
            Ok(self.blocked.lock().unwrap().clone())
        })
    }

    fn set_blocklist(&self, ap: String, domains: Vec<String>) -> ControlFuture<'_, ()> {
        Box::pin(async move {
            if ap != "ap0" {
                return Err(ControlError::UnknownAp(ap));
            }
            *self.blocked.lock().unwrap() = domains;
            Ok(())
        })
    }

    fn interception_ca(&self) -> ControlFuture<'_, String> {
        Box::pin(async move {
            if self.no_proxy.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(ControlError::Unsupported(
                    "TLS interception needs the proxy /usr/bin/matador-mitm: no such file".into(),
                ));
            }
            Ok(CA_PEM.to_owned())
        })
    }
}

/// A running server on 127.0.0.1 with a fresh state directory and store.
pub struct Harness {
    pub addr: std::net::SocketAddr,
    pub pin: String,
    pub control: Arc<FakeControl>,
    pub store: Arc<Store>,
    limits: ApiLimits,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ApiServerError>>,
    dir: tempfile::TempDir,
}

/// A harness whose server was stopped, keeping its address and state for a restart.
pub struct Down {
    pub addr: std::net::SocketAddr,
    limits: ApiLimits,
    dir: tempfile::TempDir,
}

impl Down {
    /// The router again, on the same address with the same certificate and results.
    pub async fn up(self) -> Harness {
        Harness::serve(self.dir, self.addr, self.limits).await
    }
}

impl Harness {
    pub async fn start(limits: ApiLimits) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::serve(dir, "127.0.0.1:0".parse().unwrap(), limits).await
    }

    async fn serve(
        dir: tempfile::TempDir,
        listen: std::net::SocketAddr,
        limits: ApiLimits,
    ) -> Self {
        let store = Store::open(dir.path().join("results"), 1024 * 1024).unwrap();
        let control = Arc::new(FakeControl::default());
        let mut config = ApiConfig::new(listen, TOKEN, dir.path().join("state"));
        config.limits = limits.clone();
        let server = ApiServer::bind(config, control.clone(), Arc::clone(&store))
            .await
            .unwrap();
        let (addr, pin) = (server.local_addr(), server.fingerprint().to_owned());
        assert_eq!(
            identity_fingerprint(&dir.path().join("state")).unwrap(),
            pin
        );
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        Self {
            addr,
            pin,
            control,
            store,
            limits,
            stop: Some(tx),
            task,
            dir,
        }
    }

    /// The host's client of this server, with the right token and pin.
    pub fn client(&self) -> RouterClient {
        RouterClient::new(self.addr, TOKEN, &self.pin).unwrap()
    }

    /// Where the store keeps its files.
    pub fn results_dir(&self) -> PathBuf {
        self.dir.path().join("results")
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        request(
            self.addr,
            &self.pin,
            method,
            path,
            Some(TOKEN),
            body.map(str::as_bytes),
        )
        .await
        .unwrap()
    }

    pub async fn stop(self) {
        self.down().await;
    }

    /// Stops the server (as [`Harness::stop`]) but keeps its state for [`Down::up`].
    pub async fn down(mut self) -> Down {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
        Down {
            addr: self.addr,
            limits: self.limits,
            dir: self.dir,
        }
    }
}

pub fn peer_json(public_key: &str) -> String {
    format!(
        r#"{{"peer":{{"name":"vantage-de","public_key":"{public_key}","endpoint":"203.0.113.5:51820",
        "allowed_ips":["0.0.0.0/0"],"address":["10.64.0.2/32"],"dns":["10.64.0.1"],
        "preshared_key":null,"persistent_keepalive":25}}}}"#
    )
}

pub const KEY: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

/// A log sink for one test.
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
