//! Fuzz-style properties: no plugin panics on arbitrary payload bytes, names, ports and
//! payload kinds, and what they report stays well-formed (printable evidence, the flow's
//! destination, bounded findings).

use matador_pipeline::pii::{RegisteredPii, RegisteredValue, MAX_FINDINGS};
use matador_pipeline::policy::PluginOptions;
use matador_pipeline::{
    builtin, Detail, DeviceContext, FlowRecord, FlowSide, Names, Payload, PayloadKind, PiiKind,
    Pipeline, Plugin, Protocol, BUILTIN_PLUGINS,
};
use proptest::prelude::*;
use std::net::IpAddr;
use std::sync::LazyLock;

const POLICY: &str = "
defaults:
  plugins: [classification, pii, tracker, blocking]
plugins:
  pii:
    scan_responses: true
devices:
  - id: phone
    lab: true
    tls_interception: true
    pii:
      imei: '490154203237518'
      email: alice@lab.example
      phone: '+41 79 123 45 67'
      other:
        - {label: token, value: 'a b%c/d+e'}
";

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::Tcp),
        Just(Protocol::Udp),
        any::<u8>().prop_map(Protocol::Other),
    ]
}

fn kind() -> impl Strategy<Value = PayloadKind> {
    prop_oneof![
        Just(PayloadKind::Cleartext),
        Just(PayloadKind::Encrypted),
        Just(PayloadKind::Decrypted),
    ]
}

/// Bytes that are sometimes random, sometimes text close to what the detectors look for.
fn payload_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        "[ -~]{0,400}".prop_map(String::into_bytes),
        "(lat=|lon=|@|\\+41|%40|4901542032|[A-Za-z0-9+/]{4}|[0-9.]{1,6}|&|\"|:){0,80}"
            .prop_map(String::into_bytes),
    ]
}

fn name() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        any::<String>(),
        "([a-z0-9-]{0,8}\\.){0,4}(doubleclick\\.net|google-analytics\\.com|example)\\.?",
    ])
}

prop_compose! {
    fn flow()(
        device in prop_oneof![Just("phone".to_string()), any::<String>()],
        app in proptest::option::of(any::<String>()),
        protocol in protocol(),
        client in (any::<[u8; 4]>(), any::<u16>()),
        server in (any::<[u8; 16]>(), any::<u16>()),
        sni in name(), http_host in name(), dns in name(),
        user_agent in proptest::option::of(any::<String>()),
        payload in proptest::option::of((kind(), payload_bytes(), payload_bytes())),
    ) -> FlowRecord {
        FlowRecord {
            device,
            app,
            protocol,
            client: FlowSide::new(IpAddr::from(client.0), client.1),
            server: FlowSide::new(IpAddr::from(server.0), server.1),
            names: Names { sni, http_host, dns, user_agent },
            payload: payload.map(|(kind, to_server, to_client)| Payload { kind, to_server, to_client }),
        }
    }
}

/// Built once: the tracker lists and the automaton are the costly part.
static PIPELINE: LazyLock<Pipeline> =
    LazyLock::new(|| Pipeline::from_yaml(POLICY, "robustness.yaml").expect("valid policy"));

/// An advertising ID registered for the plugins run alone.
static REGISTERED: LazyLock<RegisteredPii> = LazyLock::new(|| {
    RegisteredPii::new(vec![RegisteredValue {
        kind: PiiKind::AdvertisingId,
        label: "advertising_id".into(),
        value: "38400000-8cf0-11bd-b23e-10b96e40000d".into(),
    }])
    .expect("compiles")
});

/// Every built-in plugin with default options, built once.
static PLUGINS: LazyLock<Vec<Box<dyn Plugin>>> = LazyLock::new(|| {
    BUILTIN_PLUGINS
        .iter()
        .map(|name| builtin(name, &PluginOptions::default()).expect("builds"))
        .collect()
});

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_pipeline_never_panics_and_reports_well_formed_findings(f in flow()) {
        let result = PIPELINE.run(&f);
        let destination = f.destination();
        prop_assert_eq!(&result.destination, &destination);
        prop_assert!(result.ran.len() + result.skipped.len() == 4);
        let pii = result.findings.iter().filter(|x| matches!(x.detail, Detail::Pii(_))).count();
        prop_assert!(pii <= MAX_FINDINGS);
        for finding in &result.findings {
            prop_assert_eq!(&finding.destination, &destination);
            if let Detail::Pii(leak) = &finding.detail {
                prop_assert!(leak.evidence.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{}", leak.evidence);
                prop_assert!(leak.occurrences >= 1);
            }
        }
    }

    #[test]
    fn each_builtin_plugin_alone_never_panics(f in flow(), lab in any::<bool>()) {
        let registered = &*REGISTERED;
        let first_party = vec!["example".to_string()];
        let mut ctx = DeviceContext::new(&f.device, registered);
        ctx.lab = lab;
        ctx.tls_interception = lab;
        ctx.first_party = &first_party;
        for plugin in PLUGINS.iter() {
            let _ = plugin.inspect(&f, &ctx);
        }
    }
}
