//! The README's policy example is a valid policy, and means what the README says.

use matador_pipeline::{
    Detail, FlowRecord, FlowSide, Payload, PayloadKind, Pipeline, Protocol, Verdict,
};

const README: &str = include_str!("../README.md");

/// The first fenced YAML block of the README.
fn example() -> &'static str {
    let start = README.find("```yaml\n").map(|i| i + "```yaml\n".len());
    let text = start.map(|s| &README[s..]).unwrap_or_default();
    &text[..text.find("```").unwrap_or(0)]
}

fn flow(device: &str, app: &str, sni: &str) -> FlowRecord {
    let mut f = FlowRecord::new(
        device,
        Protocol::Tcp,
        FlowSide::new([10, 0, 0, 2].into(), 40000),
        FlowSide::new([192, 0, 2, 7].into(), 443),
    );
    f.app = Some(app.to_string());
    f.names.sni = Some(sni.to_string());
    f.payload = Some(Payload {
        kind: PayloadKind::Decrypted,
        to_server: b"POST /v1 HTTP/1.1\r\n\r\nmail=alice.lab%40example.org".to_vec(),
        to_client: Vec::new(),
    });
    f
}

#[test]
fn the_readme_policy_reads_and_runs() {
    assert!(example().contains("devices:"), "no YAML example found");
    let pipeline = Pipeline::from_yaml(example(), "README.md").expect("the example is valid");
    let policy = pipeline.policy();
    assert!(policy
        .device("lab-phone-1")
        .is_some_and(|d| d.lab && d.tls_interception));
    assert!(policy
        .device("field-phone-17")
        .is_some_and(|d| !d.tls_interception));
    assert_eq!(policy.devices[0].registered.len(), 7);

    let r = pipeline.run(&flow(
        "lab-phone-1",
        "com.example.chat",
        "e.analytics.lab.example",
    ));
    assert_eq!(r.blocked_by.as_deref(), Some("blocking"));
    assert!(matches!(r.verdict, Verdict::Block { .. }));
    assert!(r
        .findings
        .iter()
        .any(|f| matches!(&f.detail, Detail::Pii(l) if l.label.as_deref() == Some("email"))));

    let r = pipeline.run(&flow("lab-phone-1", "com.example.maps", "www.google.com"));
    assert_eq!(r.ran, ["classification", "pii"]);
    let r = pipeline.run(&flow(
        "field-phone-17",
        "com.example.chat",
        "www.example.com",
    ));
    assert_eq!(r.ran, ["classification", "pii", "tracker"]);
}
