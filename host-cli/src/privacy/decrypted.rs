//! The router's interception proxy's flow records (matador-mitm's JSON lines, the "decrypted"
//! result) as the privacy pass uses them: read leniently (a bad line is skipped and counted),
//! matched to the capture's TCP flows by (phone's address:port, original destination), and
//! the plaintext of an intercepted connection put in place of the flow's ciphertext.
//!
//! The records are read with matador-mitm's own `FlowRecord`, so the two ends cannot drift
//! apart; the crate adds nothing to the host's build (rustls, rcgen, ring, clap and tokio are
//! already there through matador-api and the CLI).

use base64::Engine as _;
use matador_mitm::record::{FlowRecord as ProxyRecord, Outcome};
use matador_pipeline::{FlowRecord, Payload, PayloadKind};
use std::collections::HashMap;
use std::net::SocketAddr;

/// What the proxy did with one connection, its plaintext decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interception {
    /// What became of the connection.
    pub outcome: Outcome,
    /// The server name the phone asked for, if any.
    pub sni: Option<String>,
    /// When the proxy accepted it (ms since the Unix epoch).
    pub started_unix_ms: u64,
    /// The first bytes the phone sent (plaintext when intercepted).
    pub to_server: Vec<u8>,
    /// The first bytes the server sent back.
    pub to_client: Vec<u8>,
}

/// One capture's proxy records, by connection, and what did not read.
#[derive(Debug, Default)]
pub struct Decrypted {
    by_connection: HashMap<(SocketAddr, SocketAddr), Vec<Interception>>,
    /// Records read.
    pub records: usize,
    /// Non-empty lines that were not a usable record (bad JSON, address or base64).
    pub skipped_lines: usize,
}

/// Reads the proxy's JSON lines; never fails: a line that is not a usable record is counted
/// in [`Decrypted::skipped_lines`] and left out.
pub fn parse(bytes: &[u8]) -> Decrypted {
    let mut out = Decrypted::default();
    for line in bytes.split(|b| *b == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        match read_line(line) {
            Some((key, record)) => {
                out.records += 1;
                out.by_connection.entry(key).or_default().push(record);
            }
            None => out.skipped_lines += 1,
        }
    }
    out
}

/// One line as (client, server) and its interception; `None` when it does not read.
fn read_line(line: &[u8]) -> Option<((SocketAddr, SocketAddr), Interception)> {
    let r: ProxyRecord = serde_json::from_slice(line).ok()?;
    let key = (address(&r.client)?, address(&r.server)?);
    let b64 = base64::engine::general_purpose::STANDARD;
    let interception = Interception {
        outcome: r.outcome,
        sni: r.sni,
        started_unix_ms: r.started_unix_ms,
        to_server: b64.decode(r.to_server_b64.as_bytes()).ok()?,
        to_client: b64.decode(r.to_client_b64.as_bytes()).ok()?,
    };
    Some((key, interception))
}

/// An `ip:port` with an IPv4-mapped IPv6 address (a dual-stack listener's view) made IPv4.
fn address(text: &str) -> Option<SocketAddr> {
    let a: SocketAddr = text.trim().parse().ok()?;
    Some(SocketAddr::new(a.ip().to_canonical(), a.port()))
}

impl Decrypted {
    /// Takes the record of the connection from `client` to `server` (the one that started
    /// closest to `first_unix_ms` if the ports were reused); each record matches one flow.
    pub fn take(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        first_unix_ms: u64,
    ) -> Option<Interception> {
        let key = (canonical(client), canonical(server));
        let list = self.by_connection.get_mut(&key)?;
        let best = list
            .iter()
            .enumerate()
            .min_by_key(|(_, r)| r.started_unix_ms.abs_diff(first_unix_ms))
            .map(|(i, _)| i)?;
        let found = list.swap_remove(best);
        if list.is_empty() {
            self.by_connection.remove(&key);
        }
        Some(found)
    }

    /// Records no flow has taken.
    pub fn unmatched(&self) -> usize {
        self.by_connection.values().map(Vec::len).sum()
    }
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// Puts an intercepted connection's plaintext (at most `max_bytes` each way) in place of the
/// flow's payload, marked decrypted, and its SNI where the capture had none; other outcomes
/// leave the flow as the capture shows it.
pub fn apply(record: &mut FlowRecord, interception: &Interception, max_bytes: usize) {
    if record.names.sni.is_none() {
        record.names.sni.clone_from(&interception.sni);
    }
    if interception.outcome != Outcome::Intercepted {
        return;
    }
    let cut = |b: &[u8]| b[..b.len().min(max_bytes)].to_vec();
    record.payload = Some(Payload {
        kind: PayloadKind::Decrypted,
        to_server: cut(&interception.to_server),
        to_client: cut(&interception.to_client),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(client: &str, server: &str, outcome: &str, started: u64, up: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        format!(
            "{{\"client\":\"{client}\",\"server\":\"{server}\",\"sni\":\"t.example\",\"alpn\":null,\
             \"started_unix_ms\":{started},\"ended_unix_ms\":{started},\"to_server_b64\":\"{}\",\
             \"to_client_b64\":\"\",\"bytes_to_server\":1,\"bytes_to_client\":0,\"outcome\":\"{outcome}\"}}",
            b64.encode(up)
        )
    }

    fn sock(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn bad_lines_are_counted_and_good_ones_match_once_by_connection() {
        let text = [
            line(
                "10.0.0.2:40000",
                "192.0.2.7:443",
                "intercepted",
                1000,
                "GET /a",
            ),
            "{not json".into(),
            String::new(),
            line(
                "10.0.0.2:40000",
                "192.0.2.7:443",
                "intercepted",
                9000,
                "GET /b",
            ),
            line("phone", "192.0.2.7:443", "pinned", 0, ""),
            line("10.0.0.2:1", "192.0.2.7:443", "no_such_outcome", 0, ""),
            line(
                "[::ffff:10.0.0.2]:40001",
                "[::ffff:192.0.2.9]:443",
                "pinned",
                5,
                "",
            ),
        ]
        .join("\n");
        let mut d = parse(text.as_bytes());
        assert_eq!((d.records, d.skipped_lines), (3, 3));
        let (c, s) = (sock("10.0.0.2:40000"), sock("192.0.2.7:443"));
        let late = d.take(c, s, 8000).expect("the later connection");
        assert_eq!(late.to_server, b"GET /b");
        assert_eq!(d.take(c, s, 8000).expect("the other").to_server, b"GET /a");
        assert_eq!(d.take(c, s, 8000), None, "each record matches one flow");
        let mapped = d
            .take(sock("10.0.0.2:40001"), sock("192.0.2.9:443"), 0)
            .expect("IPv4-mapped addresses match IPv4");
        assert_eq!(mapped.outcome, Outcome::Pinned);
        assert_eq!(d.unmatched(), 0);
    }

    #[test]
    fn a_bad_base64_excerpt_skips_the_record() {
        let text = line("10.0.0.2:1", "192.0.2.7:443", "intercepted", 0, "x")
            .replace("\"to_client_b64\":\"\"", "\"to_client_b64\":\"%%%\"");
        let d = parse(text.as_bytes());
        assert_eq!((d.records, d.skipped_lines), (0, 1));
    }

    #[test]
    fn only_an_intercepted_connection_replaces_the_payload() {
        use matador_pipeline::{FlowSide, Protocol};
        let flow = || {
            FlowRecord::new(
                "p",
                Protocol::Tcp,
                FlowSide::new([10, 0, 0, 2].into(), 40000),
                FlowSide::new([192, 0, 2, 7].into(), 443),
            )
        };
        let mut i = Interception {
            outcome: Outcome::Intercepted,
            sni: Some("t.example".into()),
            started_unix_ms: 0,
            to_server: b"POST / HTTP/1.1\r\n".to_vec(),
            to_client: b"HTTP/1.1 200 OK\r\n".to_vec(),
        };
        let mut r = flow();
        apply(&mut r, &i, 4);
        let p = r.payload.expect("decrypted payload");
        assert_eq!(p.kind, PayloadKind::Decrypted);
        assert_eq!(
            (p.to_server.as_slice(), p.to_client.as_slice()),
            (&b"POST"[..], &b"HTTP"[..])
        );
        assert_eq!(r.names.sni.as_deref(), Some("t.example"));
        i.outcome = Outcome::Pinned;
        let mut r = flow();
        apply(&mut r, &i, 4);
        assert!(
            r.payload.is_none(),
            "a pinned flow keeps what the capture had"
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..400 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    // JSON punctuation and newlines, so lines get some way into parsing.
                    let alphabet = b"{}\":,\n0a[]tn\\ \xff";
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let d = parse(&bytes);
            assert_eq!(d.records, 0);
            assert!(d.skipped_lines <= bytes.len());
        }
        for raw in [&b"\xff\xfe\n\x00"[..], b"\n\n\n", b"null\n[]\n\"x\"\n{}"] {
            assert_eq!(parse(raw).records, 0);
        }
    }
}
