//! `trace` subcommand tests without sockets: flags to settings, targets from files, output.

use super::*;
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: TraceArgs,
}

fn parse(argv: &[&str]) -> Result<TraceArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("trace").chain(argv.iter().copied())).map(|c| c.args)
}

#[test]
fn flags_become_settings() {
    let a = parse(&[
        "--proto",
        "tcp",
        "--port",
        "443",
        "--max-ttl",
        "12",
        "--probes",
        "2",
        "--wait-ms",
        "500",
        "--rate",
        "200",
        "--fwmark",
        "0x2a",
        "192.0.2.1",
    ])
    .unwrap();
    let c = a.config().unwrap();
    assert_eq!(c.proto, Protocol::Tcp);
    assert_eq!(c.port, Some(443));
    assert_eq!((c.max_ttl, c.probes, c.rate_pps), (12, 2, 200));
    assert_eq!(c.wait, Duration::from_millis(500));
    assert_eq!(c.binding.fwmark, Some(42));
    assert_eq!(a.targets, vec!["192.0.2.1"]);
}

#[test]
fn interface_and_fwmark_exclude_each_other() {
    assert!(parse(&["--interface", "wg0", "--fwmark", "1", "192.0.2.1"]).is_err());
    assert!(parse(&["--fwmark", "zz", "192.0.2.1"]).is_err());
}

#[test]
fn bad_ranges_are_clear_errors() {
    let a = parse(&["--max-ttl", "0", "192.0.2.1"]).unwrap();
    assert!(a.config().unwrap_err().to_string().contains("TTL"));
    let a = parse(&["--probes", "11", "192.0.2.1"]).unwrap();
    assert!(a.config().is_err());
}

#[test]
fn target_files_skip_comments_and_duplicates() {
    let dir = std::env::temp_dir().join(format!("matador-trace-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("targets.txt");
    std::fs::write(
        &f,
        "# lab targets\n192.0.2.1\n\n2001:db8::1  # v6\n192.0.2.1\n",
    )
    .unwrap();
    let t = targets::collect(&["198.51.100.7".into()], &[f], targets::Family::Any).unwrap();
    let addrs: Vec<String> = t.iter().map(|t| t.addr.to_string()).collect();
    assert_eq!(addrs, ["198.51.100.7", "192.0.2.1", "2001:db8::1"]);
    assert!(targets::resolve("bad name", targets::Family::Any).is_err());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn json_is_one_object_per_line_and_tables_are_separated() {
    let hop = output::AtlasHop {
        hop: 1,
        result: vec![output::AtlasReply::Timeout { x: "*".into() }],
    };
    let r = output::AtlasTrace {
        fw: output::ATLAS_FW,
        af: 4,
        dst_addr: "192.0.2.1".into(),
        dst_name: "192.0.2.1".into(),
        src_addr: "198.18.0.2".into(),
        proto: "ICMP".into(),
        paris_id: 1,
        size: 60,
        timestamp: 1,
        endtime: 2,
        kind: "traceroute".into(),
        msm_id: 0,
        prb_id: 0,
        dst_port: None,
        destination_reached: false,
        result: vec![hop],
    };
    let mut out = Vec::new();
    print(&mut out, &[r.clone(), r.clone()], true).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 2);
    let back: output::AtlasTrace = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(back, r);
    let mut out = Vec::new();
    print(&mut out, &[r.clone(), r], false).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("   1  *"), "{text}");
    assert_eq!(text.matches("destination not reached").count(), 2);
}
