//! `flows` subcommand tests over the probe's checked-in captures: tables, JSON lines, rules,
//! timers, baseline, and clear errors for bad input.

use super::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/probe/tests/data");

fn args(file: &str) -> FlowsArgs {
    FlowsArgs {
        file: Path::new(DATA).join(file),
        json: false,
        rules: None,
        timers: None,
        baseline: Vec::new(),
        all: false,
    }
}

fn output(a: &FlowsArgs) -> Result<String> {
    let mut out = Vec::new();
    run_to(a, &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

/// A file in a fresh temporary directory.
fn temp_file(name: &str, content: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("matador-routerd-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn table_shows_flows_endpoints_and_names() {
    let text = output(&args("dns-tls.pcap")).unwrap();
    assert!(text.starts_with("FLOWS (5)"), "{text}");
    assert!(text.contains("198.51.100.30:443"), "{text}");
    assert!(text.contains("chat.messenger.example  sni"), "{text}");
    assert!(text.contains("ENDPOINTS (4 kept, 0 dropped)"), "{text}");
    assert!(text.contains("17 packets"), "{text}");
}

#[test]
fn json_lines_carry_every_record() {
    let mut a = args("quic.pcapng");
    a.json = true;
    let text = output(&a).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["flow", "flow", "endpoint", "endpoint", "stats"]);
    assert_eq!(lines[0]["names"]["sni"], "example.com");
    assert_eq!(lines[0]["name_source"], "sni");
    assert_eq!(lines[0]["protocol"], "udp");
    assert_eq!(lines[1]["name"], "push.messenger.example");
    assert_eq!(lines[2]["verdict"], "kept");
    assert_eq!(lines[4]["quic_initials"], 3);
}

#[test]
fn rules_timers_and_baseline_shape_the_endpoints() {
    let rules = temp_file(
        "rules.yaml",
        b"app: messenger\ndeny:\n  - { protocol: udp, port: 123, reason: NTP }\n  - { port: 53 }\n",
    );
    // The first flow starts at 1700000000.001234 s.
    let timers = temp_file(
        "timers.yaml",
        b"launched: 1700000000.0\nmessages: [1700000000.004]\n",
    );
    let mut a = args("dns-tls.pcap");
    a.rules = Some(rules);
    a.timers = Some(timers);
    a.all = true;
    let text = output(&a).unwrap();
    assert!(text.contains("ENDPOINTS (2 kept, 2 dropped)"), "{text}");
    assert!(text.contains("denied: NTP"), "{text}");
    assert!(text.contains("denied: port 53"), "{text}");
    assert!(
        text.contains("chat.messenger.example  1      2676   messaging"),
        "{text}"
    );

    // The same capture as its own empty run leaves nothing.
    let mut a = args("dns-tls.pcap");
    a.baseline = vec![Path::new(DATA).join("dns-tls.pcap")];
    let text = output(&a).unwrap();
    assert!(text.contains("ENDPOINTS (0 kept, 4 dropped)"), "{text}");
}

#[test]
fn bad_input_gives_clear_errors() {
    let err = |a: &FlowsArgs| format!("{:#}", output(a).unwrap_err());
    assert!(
        err(&args("missing.pcap")).contains("opening capture"),
        "missing"
    );
    let a = FlowsArgs {
        file: Path::new(DATA).join("rfc9001-client-initial.hex"),
        ..args("")
    };
    let e = err(&a);
    assert!(
        e.contains("reading capture") && e.contains("not a pcap or pcapng file"),
        "{e}"
    );
    let mut a = args("dns-tls.pcap");
    a.rules = Some(temp_file("bad-rules.yaml", b"deny:\n  - { port: 99999 }\n"));
    let e = err(&a);
    assert!(e.contains("bad-rules.yaml:2:"), "{e}");
    let mut a = args("dns-tls.pcap");
    a.timers = Some(temp_file("bad-timers.yaml", b"launched: soon\n"));
    assert!(err(&a).contains("bad-timers.yaml"), "timers");
    // A capture that stops in its last record still shows its flows.
    let whole = std::fs::read(Path::new(DATA).join("dns-tls.pcap")).unwrap();
    let cut = temp_file("cut.pcap", &whole[..whole.len() - 10]);
    let mut out = Vec::new();
    assert!(run_to(
        &FlowsArgs {
            file: cut,
            ..args("")
        },
        &mut out
    )
    .unwrap());
    assert!(String::from_utf8(out).unwrap().contains("FLOWS (5)"));
}
