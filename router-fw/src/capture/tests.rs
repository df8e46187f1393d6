//! Capture tests: errors named without root, and (as root) a real capture on a veth pair between
//! two private network namespaces `mtc-<pid>-a` (the router) and `mtc-<pid>-b` (a phone and
//! another device), checked with tshark, our reader and the flow extractor.

use super::*;
use crate::test_host::in_netns;
pub(super) use crate::test_host::tshark_fields;
use matador_probe::flows::capture::PcapngReader;
use matador_probe::flows::{ExtractConfig, Extractor};
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PHONE_MAC: [u8; 6] = [2, 0, 0, 0x5e, 0, 2];
const PHONE_MAC_TEXT: &str = "02:00:00:5e:00:02";
const OTHER_MAC_TEXT: &str = "02:00:00:5e:00:03";
const PHONE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const OTHER: &str = "198.51.100.3";

#[test]
fn a_missing_interface_is_named_before_any_file_is_made() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let config = CaptureConfig::new("mtc-missing0", &dir);
    let err = Capture::start(config, Box::new(|_| {})).err().unwrap();
    assert!(matches!(err, CaptureError::NoSuchInterface { .. }), "{err}");
    assert!(err.to_string().contains("`ip link`"), "{err}");
    assert!(!dir.exists());
}

/// The two namespaces and the capture directory; removed on drop, also when a test fails.
struct Lab {
    router: String,
    phone: String,
    dir: PathBuf,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.router, &self.phone] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Deletes `mtc-*` namespaces (and capture directories) left by runs whose process is gone.
fn remove_leftovers() {
    let ours = std::process::id().to_string();
    let gone = |pid: &str| pid == ours || pid.is_empty() || !Path::new("/proc").join(pid).exists();
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix("mtc-")
                .and_then(|r| r.strip_suffix("-capture"))
            {
                if gone(pid) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }
    let Ok(list) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix("mtc-") else {
            continue;
        };
        if gone(rest.split('-').next().unwrap_or_default()) {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect(args[0]);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `ip -n NS ARGS…` (arguments split at spaces).
fn ip(ns: &str, args: &str) {
    let mut argv = vec!["ip", "-n", ns];
    argv.extend(args.split(' '));
    run(&argv);
}

/// Router `ap0` (192.0.2.1, 198.51.100.1) facing, over a veth pair, the phone `phone0`
/// (192.0.2.2) and another device `other0` (a macvlan on the same link, 198.51.100.3).
fn lab() -> Lab {
    assert_eq!(
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() },
        0,
        "this test needs root (CAP_NET_ADMIN, CAP_NET_RAW) for its own network namespaces: run it as root"
    );
    remove_leftovers();
    let pid = std::process::id();
    let lab = Lab {
        router: format!("mtc-{pid}-a"),
        phone: format!("mtc-{pid}-b"),
        dir: std::env::temp_dir().join(format!("mtc-{pid}-capture")),
    };
    let (a, b) = (lab.router.as_str(), lab.phone.as_str());
    run(&["ip", "netns", "add", a]);
    run(&["ip", "netns", "add", b]);
    ip(
        a,
        &format!("link add ap0 type veth peer name phone0 netns {b}"),
    );
    ip(a, "link set ap0 address 02:00:00:5e:00:01");
    ip(a, "addr add 192.0.2.1/24 dev ap0");
    ip(a, "addr add 198.51.100.1/24 dev ap0");
    ip(a, "link set ap0 up");
    // Only the interface that owns an address answers ARP for it.
    run(&[
        "ip",
        "netns",
        "exec",
        b,
        "sysctl",
        "-qw",
        "net.ipv4.conf.all.arp_ignore=1",
    ]);
    ip(b, &format!("link set phone0 address {PHONE_MAC_TEXT}"));
    ip(b, "addr add 192.0.2.2/24 dev phone0");
    ip(b, "link set phone0 up");
    ip(b, "link add other0 link phone0 type macvlan mode bridge");
    ip(b, &format!("link set other0 address {OTHER_MAC_TEXT}"));
    ip(b, &format!("addr add {OTHER}/24 dev other0"));
    ip(b, "link set other0 up");
    lab
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn captures_the_phone_only_inside_a_namespace() {
    let lab = lab();
    let mut config = CaptureConfig::new("ap0", lab.dir.join("m"));
    config.filter = PhoneFilter {
        mac: Some(PHONE_MAC),
        addresses: vec![IpAddr::V4(PHONE)],
    };
    config.spool.snaplen = 256;
    config.spool.file_limit_bytes = 1024;
    config.spool.min_free_bytes = 1 << 20;
    let seen = Arc::new(Mutex::new(Vec::<(u64, Vec<u8>)>::new()));
    let extractor = Arc::new(Mutex::new(Extractor::new(&ExtractConfig::default())));
    let (s, x) = (seen.clone(), extractor.clone());
    let sink: PacketSink = Box::new(move |p| {
        s.lock().unwrap().push((p.timestamp_ns, p.data.to_vec()));
        x.lock().unwrap().packet(p);
    });
    let start = now_s();
    let capture = in_netns(&lab.router, move || Capture::start(config, sink)).expect("capture");

    run(&[
        "ip",
        "netns",
        "exec",
        &lab.phone,
        "ping",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "2",
        "192.0.2.1",
    ]);
    in_netns(&lab.phone, || {
        let phone = UdpSocket::bind("192.0.2.2:40000").expect("phone socket");
        let other = UdpSocket::bind(format!("{OTHER}:40001")).expect("other socket");
        for _ in 0..3 {
            phone.send_to(b"from the phone", "192.0.2.1:9999").unwrap();
            other
                .send_to(b"from another device", "198.51.100.1:9999")
                .unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let report = capture.stop().expect("stop");
    let end = now_s();

    assert!(report.files.len() >= 2, "1 KB files rotate: {report:?}");
    assert!(report.packets_seen > report.packets_kept, "{report:?}");
    assert_eq!(report.packets_kept, report.packets_written, "{report:?}");
    assert_eq!(
        (report.stopped_writing.as_deref(), report.receive_errors),
        (None, 0)
    );
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"packets_kept\""), "{json}");

    // The files, concatenated, are one capture: the same frames the sink saw.
    let all: Vec<u8> = report
        .files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    let mut reader = PcapngReader::new(&all[..]).unwrap();
    let mut from_files = Vec::new();
    while let Some(p) = reader.next_packet().unwrap() {
        from_files.push((p.timestamp_ns, p.data.to_vec()));
    }
    assert_eq!(from_files, *seen.lock().unwrap());
    assert_eq!(from_files.len() as u64, report.packets_written);

    let joined = lab.dir.join("all.pcapng");
    std::fs::write(&joined, &all).unwrap();
    let fields = [
        "frame.time_epoch",
        "frame.interface_name",
        "eth.src",
        "eth.dst",
        "ip.src",
        "ip.dst",
        "arp.src.proto_ipv4",
        "arp.dst.proto_ipv4",
        "icmp.type",
        "udp.dstport",
    ];
    let rows = tshark_fields(&joined, &fields);
    assert_eq!(rows.len(), from_files.len());
    let (mut requests, mut replies, mut udp) = (0, 0, 0);
    for row in &rows {
        let time: f64 = row[0].parse().unwrap();
        assert!(
            time > start - 2.0 && time < end + 2.0,
            "{time} not in {start}..{end}"
        );
        assert_eq!(row[1], "ap0");
        let phone = PHONE.to_string();
        assert!(
            row[2] == PHONE_MAC_TEXT || row[3] == PHONE_MAC_TEXT || row[4..8].contains(&phone),
            "not the phone's: {row:?}"
        );
        assert!(
            !row.iter().any(|f| f == OTHER || f == OTHER_MAC_TEXT),
            "another device's frame kept: {row:?}"
        );
        match (row[8].as_str(), row[9].as_str(), row[4] == phone) {
            ("8", _, true) => requests += 1,
            ("0", _, false) => replies += 1,
            ("", "9999", true) => udp += 1,
            _ => {}
        }
    }
    assert_eq!((requests, replies, udp), (3, 3, 3), "{rows:?}");

    // Flows were parsed as the packets arrived.
    let extraction = Arc::try_unwrap(extractor)
        .ok()
        .unwrap()
        .into_inner()
        .unwrap()
        .finish();
    let flow = extraction
        .flows
        .iter()
        .find(|f| f.responder.port == 9999)
        .expect("the phone's UDP flow");
    assert_eq!(flow.initiator.address, IpAddr::V4(PHONE));
    assert_eq!(flow.initiator.packets, 3);
    assert!(extraction
        .flows
        .iter()
        .all(|f| f.initiator.address.to_string() != OTHER));
}
