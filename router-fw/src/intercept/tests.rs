//! Interception without root: the configuration (YAML and UCI), the proxy's command line,
//! the listening check, outcome counting, and the CA and the proxy process with a shell
//! stand-in for `matador-mitm` that records how it was run.

use super::*;
use std::net::SocketAddrV4;
use std::os::unix::fs::PermissionsExt as _;
use std::time::Instant;

const CONFIG: &str = "router: lr-t\nmanagement: 192.0.2.41\ntoken_file: /nonexistent\n\
state_dir: /var/lib/matador\nrun_dir: /run/matador\nuplink: eth0\nradio: simulated\n\
wireguard: userspace\naps:\n  - { name: ap0, ssid: s, passphrase: pass-phrase, \
interface: wlan0, subnet: 10.77.1.0/24 }\n  - { name: ap1, ssid: t, passphrase: \
pass-phrase, interface: wlan1, subnet: 10.77.2.0/24 }\n";

/// Writes an executable shell script.
pub(crate) fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A stand-in for `matador-mitm new-ca`: writes the two files and counts its runs in `calls`.
pub(crate) fn fake_new_ca(calls: &Path) -> String {
    format!(
        r#"[ "$1" = new-ca ] || exit 2
shift
while [ $# -gt 0 ]; do case $1 in --out) out=$2; shift;; --label) label=$2; shift;; esac; shift; done
echo "$label" >> {calls}
printf -- '-----BEGIN CERTIFICATE-----\nFAKE %s\n-----END CERTIFICATE-----\n' "$label" > "$out/mitm-ca.pem"
echo key > "$out/mitm-ca-key.pem"
chmod 600 "$out/mitm-ca-key.pem"
"#,
        calls = calls.display()
    )
}

fn settings(dir: &Path) -> Settings {
    let config = RouterConfig::parse(CONFIG, "t.yaml").unwrap();
    let mut s = Settings::from_config(&config);
    s.ca_dir = dir.join("state").join("interception");
    s.proxy = dir.join("matador-mitm");
    s
}

#[test]
fn the_section_is_optional_and_defaults_as_documented() {
    let plain = RouterConfig::parse(CONFIG, "t.yaml").unwrap();
    assert_eq!(plain.interception, None);
    let s = Settings::from_config(&plain);
    assert_eq!(s.port, 18443);
    assert!(!s.ingress, "ingress devices are not intercepted by default");
    assert_eq!(s.port_of(1), 18444);
    assert_eq!(
        s.upstream_ca,
        Path::new("/etc/ssl/certs/ca-certificates.crt")
    );
    assert_eq!(s.ca_dir, Path::new("/var/lib/matador/interception"));
    assert_eq!(s.proxy.file_name().unwrap(), PROXY_NAME);
    assert_eq!(s.label, "lr-t");
    let set = format!("{CONFIG}interception:\n  proxy: /opt/mitm\n  port: 9000\n");
    let c = RouterConfig::parse(&set, "t.yaml").unwrap();
    let i = c.interception.clone().unwrap();
    assert_eq!(i.proxy.as_deref(), Some(Path::new("/opt/mitm")));
    assert_eq!(i.port, 9000);
    assert_eq!(i.upstream_ca, InterceptionConfig::default().upstream_ca);
    // UCI says the same, and reads back what `to_uci` writes.
    let uci = crate::dataplane::uci::to_uci(&c);
    assert!(uci.contains("option interception_port '9000'"), "{uci}");
    assert_eq!(RouterConfig::parse_uci(&uci, "t").unwrap(), c);
}

#[test]
fn bad_sections_say_what_to_fix() {
    for (section, expect) in [
        ("interception:\n  prot: 1\n", "prot"),
        ("interception:\n  port: 0\n", "interception.port 0"),
        ("interception:\n  port: 65535\n", "must be 1-65535"),
        ("interception:\n  port: 8442\n", "API port 8443"),
        ("interception:\n  upstream_ca: ''\n", "empty"),
    ] {
        let e = RouterConfig::parse(&format!("{CONFIG}{section}"), "t.yaml").unwrap_err();
        assert!(e.to_string().contains(expect), "{expect}: {e}");
    }
}

#[test]
fn the_proxy_gets_its_listen_address_files_and_tunnel() {
    let run = ProxyRun {
        listen: "10.77.1.1:18443".parse().unwrap(),
        ca_cert: "/s/interception/mitm-ca.pem".into(),
        ca_key: "/s/interception/mitm-ca-key.pem".into(),
        upstream_ca: "/etc/lab-ca.pem".into(),
        keylog: "/c/m1/keylog.txt".into(),
        flows: "/c/m1/decrypted.jsonl".into(),
        upstream_device: "wg-ap0".into(),
    };
    let args: Vec<String> = run
        .args()
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        args.join(" "),
        "run --listen 10.77.1.1:18443 --ca-cert /s/interception/mitm-ca.pem \
         --ca-key /s/interception/mitm-ca-key.pem --upstream-ca /etc/lab-ca.pem \
         --keylog /c/m1/keylog.txt --flows /c/m1/decrypted.jsonl --upstream-device wg-ap0"
    );
}

#[test]
fn listening_sockets_are_read_from_proc_net_tcp() {
    let word = |a: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(a));
    let table = format!(
        "  sl  local_address rem_address   st tx_queue rx_queue\n   \
         0: {}:4813 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n   \
         1: {}:4814 {}:C350 01 00000000:00000000 00:00000000 00000000 0 0 2\n",
        word([10, 77, 1, 1]),
        word([10, 77, 2, 1]),
        word([10, 77, 2, 9]),
    );
    let at = |s: &str| s.parse::<SocketAddrV4>().unwrap();
    assert!(listening(&table, at("10.77.1.1:18451")));
    // Established, not listening; another address; another port.
    assert!(!listening(&table, at("10.77.2.1:18452")));
    assert!(!listening(&table, at("10.77.9.1:18451")));
    assert!(!listening(&table, at("10.77.1.1:18443")));
    assert!(!listening("garbage\n0: zz:yy", at("10.77.1.1:18451")));
}

#[test]
fn outcomes_are_counted_and_bad_lines_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("decrypted.jsonl");
    std::fs::write(
        &flows,
        b"{\"client\":\"10.77.1.23:1\",\"outcome\":\"intercepted\"}\n\
          {\"outcome\":\"pinned\",\"alert\":\"unknown_ca\"}\n\nnot json\n\xff\xfe\n\
          {\"outcome\":\"intercepted\"}\n{\"no\":\"outcome\"}\n{\"outcome\":\"passthrough_pinned\"}",
    )
    .unwrap();
    let o = count_outcomes(&flows).unwrap();
    assert_eq!((o.total(), o.unreadable), (4, 3));
    assert_eq!((o.count("intercepted"), o.count("pinned")), (2, 1));
    assert_eq!(
        o.to_string(),
        "4 connection(s): 2 intercepted, 1 passthrough_pinned, 1 pinned (3 unreadable line(s) skipped)"
    );
    assert!(count_outcomes(&dir.path().join("missing")).is_err());
}

#[test]
fn the_ca_is_made_once_by_the_proxy_and_its_key_stays_private() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let e = s.ca_pem().unwrap_err();
    assert!(
        matches!(&e, InterceptError::Missing { path, .. } if path == &s.proxy),
        "{e}"
    );
    assert!(
        e.to_string().contains(&s.proxy.display().to_string()),
        "{e}"
    );
    let calls = dir.path().join("calls");
    script(&s.proxy, &fake_new_ca(&calls));
    let pem = s.ca_pem().unwrap();
    assert!(pem.contains("FAKE lr-t"), "{pem}");
    assert_eq!(s.ca_pem().unwrap(), pem);
    assert_eq!(std::fs::read_to_string(&calls).unwrap(), "lr-t\n");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&s.ca_dir), 0o700);
    assert_eq!(mode(&s.ca_files().1), 0o600);
    // Half a CA is not replaced: phones may trust the certificate.
    std::fs::remove_file(s.ca_files().1).unwrap();
    let e = s.ensure_ca().unwrap_err();
    assert!(e.to_string().contains("only one of"), "{e}");
    // A proxy that fails says so.
    std::fs::remove_file(s.ca_files().0).unwrap();
    script(&s.proxy, "echo 'no entropy' >&2; exit 1\n");
    let e = s.ensure_ca().unwrap_err();
    assert!(e.to_string().contains("no entropy"), "{e}");
}

/// Waits until a stand-in script has set its traps (it then touches `<script>.ready`).
fn ready(script: &Path) {
    let flag = script.with_extension("ready");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !flag.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never got ready",
            script.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn run_in(dir: &Path) -> ProxyRun {
    ProxyRun {
        listen: "127.0.0.1:1".parse().unwrap(),
        ca_cert: dir.join("c"),
        ca_key: dir.join("k"),
        upstream_ca: dir.join("u"),
        keylog: dir.join("keylog.txt"),
        flows: dir.join("decrypted.jsonl"),
        upstream_device: "wg-ap0".into(),
    }
}

#[test]
fn a_proxy_is_stopped_with_sigterm_and_killed_when_it_will_not_end() {
    let dir = tempfile::tempdir().unwrap();
    let polite = dir.path().join("polite");
    script(
        &polite,
        "trap 'echo stopped > \"$0.term\"; exit 0' TERM\ntouch \"$0.ready\"\nwhile :; do sleep 0.05; done\n",
    );
    let pid_file = dir.path().join("pids").join("matador-mitm-ap0.pid");
    let p = Proxy::spawn(&polite, &run_in(dir.path()), pid_file.clone()).unwrap();
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        p.pid().to_string()
    );
    assert!(p.exited().is_none());
    // Nothing listens on port 1: it is reported running but not (yet) listening.
    let waited = Instant::now();
    assert!(!p
        .wait_listening(run_in(dir.path()).listen, Duration::from_millis(100))
        .unwrap());
    assert!(waited.elapsed() >= Duration::from_millis(100));
    ready(&polite);
    let how = p.stop(Duration::from_secs(5));
    assert!(how.starts_with("stopped"), "{how}");
    assert!(dir.path().join("polite.term").exists());
    assert!(!pid_file.exists());

    let stubborn = dir.path().join("stubborn");
    script(
        &stubborn,
        "trap '' TERM\ntouch \"$0.ready\"\nwhile :; do sleep 0.05; done\n",
    );
    let p = Proxy::spawn(&stubborn, &run_in(dir.path()), pid_file.clone()).unwrap();
    ready(&stubborn);
    let how = p.stop(Duration::from_millis(200));
    assert!(how.starts_with("killed after"), "{how}");

    let gone = dir.path().join("gone");
    script(&gone, "echo 'bad CA' >&2; exit 3\n");
    let p = Proxy::spawn(&gone, &run_in(dir.path()), pid_file.clone()).unwrap();
    let e = p
        .wait_listening(run_in(dir.path()).listen, Duration::from_secs(5))
        .unwrap_err();
    assert!(e.to_string().contains("exited at start"), "{e}");
    drop(p);
    assert!(!pid_file.exists());

    let missing = Proxy::spawn(&dir.path().join("nope"), &run_in(dir.path()), pid_file);
    assert!(missing.is_err());
}

#[test]
fn a_dropped_proxy_is_killed_and_a_stale_one_is_killed_by_its_pid_file() {
    let dir = tempfile::tempdir().unwrap();
    let forever = dir.path().join("forever");
    script(&forever, "trap '' TERM\nwhile :; do sleep 0.05; done\n");
    let pid_file = dir.path().join("p.pid");
    let p = Proxy::spawn(&forever, &run_in(dir.path()), pid_file.clone()).unwrap();
    let pid = p.pid() as libc::pid_t;
    drop(p);
    // SAFETY: signal 0 only checks whether the process exists.
    assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "still running after drop");

    // A "stale" one: started outside any guard, its pid in a file.
    let mut child = std::process::Command::new(&forever).spawn().unwrap();
    std::fs::write(&pid_file, child.id().to_string()).unwrap();
    kill_stale(&pid_file);
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(!pid_file.exists());
    kill_stale(&pid_file);
}
