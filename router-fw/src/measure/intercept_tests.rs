//! Measurements with `intercept_tls`, without root: a shell stand-in for `matador-mitm`
//! (makes the CA, writes key log lines and flow records, records one more when SIGTERM stops
//! it) and a redirect hook that records what the firewall was asked; capture and traces off.

use super::tests::config;
use super::*;
use crate::dataplane::firewall_intercept::Redirect;
use crate::intercept::tests::{fake_new_ca, script};
use crate::intercept::Settings;
use matador_api::ResultKind;
use std::net::SocketAddrV4;
use std::path::Path;
use std::time::Duration;

type Asked = Arc<Mutex<Vec<(usize, Option<Redirect>)>>>;

/// The measurement tests' request, asking for interception.
fn request(id: &str) -> StartMeasurement {
    StartMeasurement {
        intercept_tls: true,
        ..super::tests::request(id)
    }
}

/// The stand-in proxy: `new-ca` as the real one, `run` writes its arguments next to itself,
/// two key log lines, three records and a bad line, and one more record on SIGTERM.
fn fake_proxy(dir: &Path) -> PathBuf {
    let proxy = dir.join("matador-mitm");
    let args = dir.join("run-args");
    let body = format!(
        r#"if [ "$1" = run ]; then
echo "$*" > {args}
while [ $# -gt 0 ]; do case $1 in --keylog) k=$2; shift;; --flows) f=$2; shift;; esac; shift; done
trap 'echo "{{\"outcome\":\"intercepted\",\"error\":\"cut short\"}}" >> "$f"; exit 0' TERM
echo 'CLIENT_HANDSHAKE_TRAFFIC_SECRET aa bb' >> "$k"
echo 'SERVER_HANDSHAKE_TRAFFIC_SECRET aa cc' >> "$k"
echo '{{"outcome":"intercepted","sni":"collect.example"}}' >> "$f"
echo '{{"outcome":"pinned","alert":"unknown_ca"}}' >> "$f"
echo 'not a record' >> "$f"
echo '{{"outcome":"upstream_untrusted"}}' >> "$f"
while :; do sleep 0.05; done
fi
{new_ca}"#,
        args = args.display(),
        new_ca = fake_new_ca(&dir.join("new-ca-calls")),
    );
    script(&proxy, &body);
    proxy
}

fn open(state: &Path, proxy: PathBuf) -> (Arc<Store>, Arc<Measurements>, Asked) {
    let cfg = config(state);
    let store = Store::open(state.join("results"), 1 << 20).unwrap();
    let mut s = Settings::from_config(&cfg);
    s.proxy = proxy;
    s.upstream_ca = state.join("lab-ca.pem");
    std::fs::write(&s.upstream_ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
    s.ready_timeout = Duration::from_millis(50);
    let m = Measurements::open_with(&cfg, Arc::clone(&store), Vec::new(), s).unwrap();
    let asked: Asked = Arc::default();
    let log = Arc::clone(&asked);
    m.set_redirector(Arc::new(move |ap, r| {
        log.lock().unwrap().push((ap, r));
        Ok(())
    }));
    (store, m, asked)
}

async fn ended(m: &Measurements, id: &str) -> MeasurementStatus {
    for _ in 0..1000 {
        let s = m.get(id).unwrap();
        if !matches!(
            s.state,
            MeasurementState::Running | MeasurementState::Processing
        ) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("measurement {id} did not end");
}

fn text(store: &Store, id: &str) -> String {
    let (_, mut f) = store.open_result(id).unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut f, &mut s).unwrap();
    s
}

#[tokio::test]
async fn an_intercepted_measurement_stores_the_key_log_and_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let (store, m, asked) = open(dir.path(), fake_proxy(dir.path()));
    m.start(request("m1")).unwrap();
    let proxy_at = SocketAddrV4::new([10, 77, 1, 1].into(), 18443);
    let on = Redirect {
        from: "10.77.1.0/24".parse().unwrap(),
        to: proxy_at,
    };
    assert_eq!(*asked.lock().unwrap(), [(0, Some(on))]);
    let pid_file = dir.path().join("run/pids/matador-mitm-ap0.pid");
    assert!(pid_file.exists());
    let ca = dir.path().join("interception");
    let run_args = std::fs::read_to_string(dir.path().join("run-args")).unwrap();
    let want = format!(
        "run --listen 10.77.1.1:18443 --ca-cert {ca}/mitm-ca.pem --ca-key {ca}/mitm-ca-key.pem \
         --upstream-ca {state}/lab-ca.pem --keylog {state}/captures/m1/keylog.txt \
         --flows {state}/captures/m1/decrypted.jsonl --upstream-device wg-ap0\n",
        ca = ca.display(),
        state = dir.path().display()
    );
    assert_eq!(run_args, want);

    // The stand-in has set its SIGTERM trap once it wrote its records.
    let flows = dir.path().join("captures/m1").join(FLOWS_FILE);
    for _ in 0..1000 {
        let text = std::fs::read_to_string(&flows).unwrap_or_default();
        if text.contains("upstream_untrusted") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    m.stop("m1".into(), StopMeasurement::default()).unwrap();
    let done = ended(&m, "m1").await;
    assert_eq!(done.state, MeasurementState::Done, "{:?}", done.detail);
    assert_eq!(done.results, ["m1.keylog", "m1.decrypted", "m1.log"]);
    assert_eq!(asked.lock().unwrap().last(), Some(&(0, None)));
    assert!(!pid_file.exists());
    assert_eq!(store.get("m1.keylog").unwrap().kind, ResultKind::Keylog);
    assert!(text(&store, "m1.keylog").starts_with("CLIENT_HANDSHAKE_TRAFFIC_SECRET"));
    // The record of the connection the stop cut short is there too.
    assert!(text(&store, "m1.decrypted").contains("cut short"));
    let log = text(&store, "m1.log");
    assert!(
        log.contains("interception: 4 connection(s): 2 intercepted, 1 pinned, 1 upstream_untrusted (1 unreadable line(s) skipped); 2 intercepted, 1 pinned"),
        "{log}"
    );
    assert!(log.contains("TLS redirect removed"), "{log}");
    assert!(!dir.path().join("captures/m1").exists());
}

#[tokio::test]
async fn without_the_proxy_the_start_is_refused_naming_it_and_nothing_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("bin/matador-mitm");
    let (_, m, asked) = open(dir.path(), missing.clone());
    let e = m.start(request("m1")).unwrap_err();
    assert!(
        matches!(&e, ControlError::Unsupported(t) if t.contains(&missing.display().to_string())),
        "{e:?}"
    );
    assert!(asked.lock().unwrap().is_empty());
    assert!(m.get("m1").is_err());
    // The AP is free, and a measurement without interception needs no proxy.
    let plain = StartMeasurement {
        intercept_tls: false,
        ..request("m2")
    };
    m.start(plain).unwrap();
    assert!(asked.lock().unwrap().is_empty());
    assert!(matches!(
        m.interception_ca(),
        Err(ControlError::Unsupported(_))
    ));
}

#[tokio::test]
async fn a_refused_redirect_stops_the_proxy_and_frees_the_ap() {
    let dir = tempfile::tempdir().unwrap();
    let (_, m, _) = open(dir.path(), fake_proxy(dir.path()));
    m.set_redirector(Arc::new(|_, _| Err("nftables: EPERM".into())));
    let e = m.start(request("m1")).unwrap_err();
    assert!(
        matches!(&e, ControlError::Internal(t) if t.contains("EPERM")),
        "{e:?}"
    );
    assert!(!dir.path().join("run/pids/matador-mitm-ap0.pid").exists());
    assert!(m.get("m1").is_err());
    assert!(m.current().is_none());
}

#[tokio::test]
async fn a_crash_during_interception_keeps_the_files_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let records = state.join("measurements");
    std::fs::create_dir_all(&records).unwrap();
    Record::new(request("m7"), 100).save(&records).unwrap();
    let captures = state.join("captures").join("m7");
    std::fs::create_dir_all(&captures).unwrap();
    std::fs::write(captures.join(KEYLOG_FILE), "CLIENT_RANDOM aa bb\n").unwrap();
    std::fs::write(captures.join(FLOWS_FILE), "").unwrap();
    let (store, m, _) = open(state, fake_proxy(state));
    let r = m.get("m7").unwrap();
    assert_eq!(r.state, MeasurementState::Failed);
    assert_eq!(r.results, ["m7.keylog", "m7.log"]);
    let log = text(&store, "m7.log");
    assert!(log.contains("decrypted.jsonl is empty or missing"), "{log}");
    assert!(!captures.exists());
}

#[tokio::test]
async fn an_ingress_device_is_not_intercepted_unless_the_router_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let yaml = format!(
        "router: lr-t\nmanagement: 192.0.2.41\ntoken_file: /nonexistent\nstate_dir: {}\nrun_dir: {}\n\
         uplink: eth0\nradio: simulated\nwireguard: userspace\naps:\n  - name: vpn\n    \
         interface: wg-in\n    subnet: 10.78.0.0/24\n    ingress:\n      private_key: /nonexistent\n",
        state.display(),
        state.join("run").display()
    );
    let cfg = RouterConfig::parse(&yaml, "test.yaml").expect("test config");
    let store = Store::open(state.join("results"), 1 << 20).unwrap();
    let mut s = Settings::from_config(&cfg);
    s.proxy = fake_proxy(state);
    let m = Measurements::open_with(&cfg, Arc::clone(&store), Vec::new(), s).unwrap();
    let mut req = request("m1");
    req.ap = "vpn".into();
    req.device = Some("pixel".into());
    let e = m.start(req).expect_err("refused");
    assert!(matches!(e, ControlError::Invalid(_)), "{e:?}");
    assert!(e.to_string().contains("ingress: true"), "{e}");
    assert!(m.get("m1").is_err(), "nothing was started");
    assert!(!state.join("run-args").exists(), "no proxy ran");
}
