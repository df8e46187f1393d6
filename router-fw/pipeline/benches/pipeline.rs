//! `cargo bench -p matador-pipeline --bench pipeline`: throughput of a whole pipeline run
//! (classification, PII, tracker, blocking) over cleartext payloads of mixed text, for a
//! device with seven registered values, and the one-time cost of building the pipeline.
//!
//! Prints MB/s of payload scanned; the PII scan is one Aho–Corasick pass for every
//! registered form plus linear shape scanners, so the rate must not fall as payloads grow.

use matador_pipeline::{FlowRecord, FlowSide, Payload, PayloadKind, Pipeline, Protocol};
use std::time::{Duration, Instant};

const POLICY: &str = "
defaults:
  plugins: [classification, pii, tracker, blocking]
devices:
  - id: phone
    pii:
      imei: '490154203237518'
      android_id: 9774d56d682e549c
      advertising_id: 38400000-8cf0-11bd-b23e-10b96e40000d
      email: alice@lab.example
      phone: '+41 79 123 45 67'
      password: correct-horse-lab
      other:
        - {label: account name, value: alice-lab-7}
";

/// Text that looks like app traffic: JSON, query strings, base64 blobs, numbers.
fn payload(size: usize) -> Vec<u8> {
    let chunk = b"POST /v2/events?sdk=5.1&lat=47.3769&lon=8.5417&ts=1700000000123 HTTP/1.1\r\n\
Host: collect.example\r\nContent-Type: application/json\r\n\r\n\
{\"events\":[{\"name\":\"screen_view\",\"id\":\"d2hhdCBhIGxvdmVseSBkYXkgZm9yIGEgYmVuY2htYXJr\",\
\"value\":12345.678,\"user\":\"someone@mail.example\",\"hash\":\"3f786850e387550fdab836ed7e6dc881de23001b\"}]}\n";
    chunk.iter().copied().cycle().take(size).collect()
}

fn flow(size: usize) -> FlowRecord {
    let mut f = FlowRecord::new(
        "phone",
        Protocol::Tcp,
        FlowSide::new([10, 0, 0, 2].into(), 40000),
        FlowSide::new([192, 0, 2, 7].into(), 80),
    );
    f.names.http_host = Some("collect.example".into());
    f.payload = Some(Payload {
        kind: PayloadKind::Cleartext,
        to_server: payload(size),
        to_client: Vec::new(),
    });
    f
}

fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let start = Instant::now();
    let pipeline = Pipeline::from_yaml(POLICY, "bench.yaml").expect("valid policy");
    println!(
        "build pipeline: {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    for size in [4 << 10, 256 << 10, 4 << 20] {
        let f = flow(size);
        let mut findings = 0;
        let t = best_of(5, || findings = pipeline.run(&f).findings.len());
        let rate = size as f64 / t.as_secs_f64() / 1e6;
        println!(
            "payload {:>8} B: {:>8.2} ms, {rate:>7.1} MB/s, {findings} findings",
            size,
            t.as_secs_f64() * 1e3
        );
    }
}
