//! Endpoint tests: grouping, rules from YAML, baseline, phases — the lab's "global messenger"
//! measurement in miniature.

use super::*;
use crate::flows::names::Names;
use crate::flows::table::{Burst, FlowSide, TcpFlags};

const S: u64 = 1_000_000_000;

fn flow(protocol: Protocol, addr: &str, port: u16, start_s: u64, names: Names) -> Flow {
    let side = |address: IpAddr, port| FlowSide {
        address,
        port,
        packets: 2,
        bytes: 100,
        tcp_flags: TcpFlags::default(),
    };
    let mut f = Flow {
        protocol,
        initiator: side("10.0.0.2".parse().unwrap(), 40000),
        responder: side(addr.parse().unwrap(), port),
        first_ns: start_s * S,
        last_ns: start_s * S + S,
        bursts: vec![Burst {
            first_ns: start_s * S,
            last_ns: start_s * S + S,
        }],
        names,
        name: None,
        name_source: None,
    };
    f.choose_name();
    f
}

fn sni(n: &str) -> Names {
    Names {
        sni: Some(n.into()),
        ..Names::default()
    }
}

fn dns(n: &str) -> Names {
    Names {
        dns: Some(n.into()),
        ..Names::default()
    }
}

/// A measurement: launch at 100 s, messages at 130 s and 150 s.
fn measurement() -> Vec<Flow> {
    vec![
        flow(Protocol::UDP, "10.0.0.1", 53, 101, Names::default()),
        flow(Protocol::UDP, "192.0.2.123", 123, 102, Names::default()),
        flow(
            Protocol::TCP,
            "198.51.100.10",
            443,
            103,
            dns("login.messenger.example"),
        ),
        flow(
            Protocol::TCP,
            "198.51.100.20",
            443,
            103,
            sni("analytics.example"),
        ),
        flow(
            Protocol::TCP,
            "198.51.100.30",
            443,
            130,
            sni("chat.messenger.example"),
        ),
        flow(
            Protocol::TCP,
            "198.51.100.30",
            443,
            150,
            dns("chat.messenger.example"),
        ),
        flow(
            Protocol::TCP,
            "198.51.100.20",
            443,
            151,
            sni("analytics.example"),
        ),
        flow(Protocol::TCP, "203.0.113.50", 443, 200, Names::default()),
    ]
}

const RULES: &str = r#"
app: global-messenger
deny:
  - { protocol: udp, port: 123, reason: NTP }
  - { port: 53, reason: the local resolver }
baseline:
  - { name: "*.analytics.example" }
  - { name: analytics.example, port: 443 }
"#;

#[test]
fn the_messenger_backend_is_the_messaging_endpoint() {
    let rules = Rules::from_yaml(RULES, "rules.yaml").unwrap();
    let timers = Timers::new(100.0, vec![130.0, 150.0]);
    let all = endpoints(&measurement(), &rules, Some(&timers));
    assert_eq!(all.len(), 6);
    let kept: Vec<_> = all.iter().filter(|e| e.is_kept()).collect();
    let summary: Vec<_> = kept
        .iter()
        .map(|e| (e.address.to_string(), e.name.clone(), e.phase))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "198.51.100.10".to_string(),
                Some("login.messenger.example".to_string()),
                Some(Phase::Authentication)
            ),
            (
                "198.51.100.30".to_string(),
                Some("chat.messenger.example".to_string()),
                Some(Phase::Messaging)
            ),
            ("203.0.113.50".to_string(), None, Some(Phase::Background)),
        ]
    );
    let chat = kept[1];
    assert_eq!((chat.flows, chat.packets, chat.bytes), (2, 8, 400));
    assert_eq!(chat.names, ["chat.messenger.example"]);
    assert_eq!(all[1].verdict, Verdict::Denied("NTP".into()));
    assert_eq!(all[0].verdict, Verdict::Denied("the local resolver".into()));
    assert!(matches!(all[3].verdict, Verdict::Baseline(_)));
    assert_eq!(chat.windows_hit, 2);
    // Analytics started once in authentication and once near one of the two messages: it is
    // not the messaging endpoint, it is background.
    assert_eq!(all[3].phases, [Phase::Messaging, Phase::Authentication]);
    assert_eq!(
        (all[3].windows_hit, all[3].phase),
        (1, Some(Phase::Background))
    );
}

#[test]
fn allow_beats_deny_and_only_allowed_drops_the_rest() {
    let rules = Rules::from_yaml(
        "deny: [{prefix: 198.51.100.0/24}]\nallow: [{name: '*.messenger.example'}]\nonly_allowed: true\n",
        "r.yaml",
    )
    .unwrap();
    let all = endpoints(&measurement(), &rules, None);
    let kept: Vec<_> = all
        .iter()
        .filter(|e| e.is_kept())
        .map(|e| e.address.to_string())
        .collect();
    assert_eq!(kept, ["198.51.100.10", "198.51.100.30"]);
    assert!(all.iter().all(|e| e.phase.is_none()));
    assert_eq!(all.last().unwrap().verdict, Verdict::NotAllowed);
    assert!(matches!(all[3].verdict, Verdict::Denied(ref r) if r == "prefix 198.51.100.0/24"));
}

#[test]
fn an_empty_run_becomes_the_baseline() {
    let empty_run = vec![
        flow(
            Protocol::TCP,
            "198.51.100.20",
            443,
            1,
            sni("analytics.example"),
        ),
        flow(Protocol::UDP, "192.0.2.123", 123, 2, Names::default()),
    ];
    let mut rules = Rules::default();
    rules.add_baseline(&endpoints(&empty_run, &Rules::default(), None));
    // The same service at a new address is still known by its name.
    let run = vec![
        flow(
            Protocol::TCP,
            "198.51.100.99",
            443,
            5,
            sni("Analytics.Example"),
        ),
        flow(Protocol::UDP, "192.0.2.123", 123, 6, Names::default()),
        flow(
            Protocol::TCP,
            "198.51.100.30",
            443,
            7,
            sni("chat.messenger.example"),
        ),
    ];
    let kept: Vec<_> = endpoints(&run, &rules, None)
        .into_iter()
        .filter(|e| e.is_kept())
        .map(|e| e.name)
        .collect();
    assert_eq!(kept, [Some("chat.messenger.example".to_string())]);
}

#[test]
fn bad_rules_are_refused_with_a_place() {
    let err = Rules::from_yaml("deny:\n  - { port: 123, colour: red }\n", "app.yaml").unwrap_err();
    assert!(err.to_string().starts_with("app.yaml:"), "{err}");
    assert!(err.position.is_some());
    let err = Rules::from_yaml("deny:\n  - { reason: everything }\n", "app.yaml").unwrap_err();
    assert!(err.message.contains("deny[0] matches everything"), "{err}");
    let err = Rules::from_yaml("allow: [{prefix: 10.0.0.0/33}]", "app.yaml").unwrap_err();
    assert!(err.position.is_some(), "{err}");
    let err = Rules::from_yaml("deny: [{protocol: sctpx}]", "app.yaml").unwrap_err();
    assert!(err.message.contains("unknown protocol"), "{err}");
}
