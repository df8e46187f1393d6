//! Output of `flows`: aligned tables for people, JSON lines for programs. Names come from
//! captured traffic, so tables escape control and direction-changing characters.

use anyhow::{Context, Result};
use matador_probe::flows::{Endpoint, Extraction, Flow, Protocol, Verdict};
use serde::Serialize;
use std::io::Write;

/// Longest name shown in a table cell.
const NAME_WIDTH: usize = 48;

/// One JSON line: the record with its kind.
#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    record: &'a T,
}

/// Flows, then endpoints, then the counters, one JSON object per line.
pub fn json_lines(out: &mut impl Write, x: &Extraction, endpoints: &[Endpoint]) -> Result<()> {
    for flow in &x.flows {
        json_line(out, "flow", flow)?;
    }
    for endpoint in endpoints {
        json_line(out, "endpoint", endpoint)?;
    }
    json_line(out, "stats", &x.stats)
}

fn json_line<T: Serialize>(out: &mut impl Write, kind: &'static str, record: &T) -> Result<()> {
    // As an io::Error, a closed pipe is recognised by `main`.
    serde_json::to_writer(&mut *out, &Line { kind, record })
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .context("writing output")
}

/// The flows table, the endpoints table and a summary.
pub fn tables(
    out: &mut impl Write,
    x: &Extraction,
    endpoints: &[Endpoint],
    all: bool,
) -> Result<()> {
    write_tables(out, x, endpoints, all).context("writing output")
}

fn write_tables(
    out: &mut impl Write,
    x: &Extraction,
    endpoints: &[Endpoint],
    all: bool,
) -> std::io::Result<()> {
    let t0 = x.flows.iter().map(|f| f.first_ns).min().unwrap_or(0);
    let mut rows = vec![row(&[
        "start",
        "dur",
        "proto",
        "initiator",
        "responder",
        "pkts →/←",
        "bytes →/←",
        "flags →/←",
        "name",
        "source",
    ])];
    for f in &x.flows {
        rows.push(flow_row(f, t0));
    }
    writeln!(out, "FLOWS ({})", x.flows.len())?;
    write_rows(out, &rows)?;

    let shown: Vec<&Endpoint> = endpoints.iter().filter(|e| all || e.is_kept()).collect();
    let kept = endpoints.iter().filter(|e| e.is_kept()).count();
    let mut rows = vec![row(&[
        "proto", "address", "port", "name", "flows", "bytes", "phase", "verdict",
    ])];
    for e in &shown {
        rows.push(vec![
            e.protocol.to_string(),
            e.address.to_string(),
            e.port.to_string(),
            e.name.as_deref().map(safe).unwrap_or_default(),
            e.flows.to_string(),
            e.bytes.to_string(),
            e.phase
                .map(|p| format!("{p:?}").to_lowercase())
                .unwrap_or_default(),
            verdict(&e.verdict),
        ]);
    }
    writeln!(out)?;
    writeln!(
        out,
        "ENDPOINTS ({kept} kept, {} dropped)",
        endpoints.len() - kept
    )?;
    write_rows(out, &rows)?;

    let s = &x.stats;
    writeln!(out)?;
    writeln!(
        out,
        "{} packets, {} bytes; skipped: {} not IP, {} malformed, {} unsupported link, {} later fragments, {} untracked; {} DNS responses, {} ClientHellos, {} HTTP requests, {} QUIC Initials",
        s.packets, s.bytes, s.not_ip, s.malformed, s.unsupported_link, s.later_fragments, s.untracked,
        s.dns_responses, s.tls_client_hellos, s.http_requests, s.quic_initials
    )
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn flow_row(f: &Flow, t0: u64) -> Vec<String> {
    let secs = |ns: u64| format!("{:.3}", ns as f64 / 1e9);
    let side = |addr: std::net::IpAddr, port: u16| match addr {
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
        a => format!("{a}:{port}"),
    };
    vec![
        format!("+{}", secs(f.first_ns.saturating_sub(t0))),
        secs(f.last_ns.saturating_sub(f.first_ns)),
        f.protocol.to_string(),
        side(f.initiator.address, f.initiator.port),
        side(f.responder.address, f.responder.port),
        format!("{}/{}", f.initiator.packets, f.responder.packets),
        format!("{}/{}", f.initiator.bytes, f.responder.bytes),
        if f.protocol == Protocol::TCP {
            format!("{}/{}", f.initiator.tcp_flags, f.responder.tcp_flags)
        } else {
            String::new()
        },
        f.name.as_deref().map(safe).unwrap_or_default(),
        f.name_source
            .map(|s| format!("{s:?}").to_lowercase())
            .unwrap_or_default(),
    ]
}

fn verdict(v: &Verdict) -> String {
    match v {
        Verdict::Kept => "kept".to_string(),
        Verdict::Denied(why) => format!("denied: {}", safe(why)),
        Verdict::Baseline(why) => format!("baseline: {}", safe(why)),
        Verdict::NotAllowed => "not allowed".to_string(),
    }
}

/// A name from traffic, made safe for a terminal: control and bidirectional-override
/// characters escaped, long names cut.
fn safe(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i >= NAME_WIDTH {
            out.push('…');
            break;
        }
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

fn write_rows(out: &mut impl Write, rows: &[Vec<String>]) -> std::io::Result<()> {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if c + 1 < columns {
                line.extend(std::iter::repeat_n(' ', widths[c] - cell.chars().count()));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_traffic_are_escaped() {
        assert_eq!(safe("a.example"), "a.example");
        assert_eq!(safe("evil\u{1b}[2Jname"), "evil\\u{1b}[2Jname");
        assert_eq!(safe("abc\u{202e}gpj.exe"), "abc\\u{202e}gpj.exe");
        assert_eq!(safe(&"x".repeat(100)).chars().count(), NAME_WIDTH + 1);
    }
}
