//! Running tshark on a capture and reading its `-T fields` output into one row per packet.

use matador_probe::flows::Protocol;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

const FIELDS: &[&str] = &[
    "frame.number",
    "frame.time_epoch",
    "frame.len",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "tcp.flags",
    "tls.handshake.extensions_server_name",
    "http.host",
    "http.user_agent",
    "dns.flags.response",
    "dns.qry.name",
    "dns.a",
    "dns.aaaa",
    "dns.cname",
];

/// One packet as tshark saw it.
#[derive(Debug, Default)]
pub struct Row {
    pub time_ns: u64,
    pub len: u64,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub protocol: Option<Protocol>,
    pub ports: (u16, u16),
    pub tcp_flags: u8,
    pub sni: Option<String>,
    pub host: Option<String>,
    pub user_agent: Option<String>,
    pub dns_response: bool,
    pub dns_query: Option<String>,
    pub dns_addresses: Vec<IpAddr>,
    pub dns_cnames: Vec<String>,
}

pub fn tshark(path: &Path) -> Vec<Row> {
    let mut cmd = Command::new("tshark");
    // No reassembly of IP fragments: a later fragment is not a UDP packet, as for us.
    cmd.args([
        "-n",
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-r",
    ])
    .arg(path)
    .args([
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
    ]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("tshark is required for the agreement test (apt-get install tshark): {e}")
    });
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let c: Vec<&str> = line.split('\t').collect();
            let get = |name: &str| c[FIELDS.iter().position(|f| *f == name).unwrap()];
            let first = |name: &str| {
                get(name)
                    .split('|')
                    .next()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            let list = |name: &str| {
                get(name)
                    .split('|')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            };
            let (secs, frac) = get("frame.time_epoch").split_once('.').unwrap();
            let mut row = Row {
                time_ns: secs.parse::<u64>().unwrap() * 1_000_000_000
                    + format!("{frac:0<9}")[..9].parse::<u64>().unwrap(),
                len: get("frame.len").parse().unwrap(),
                src: first("ip.src")
                    .or(first("ipv6.src"))
                    .map(|a| a.parse().unwrap()),
                dst: first("ip.dst")
                    .or(first("ipv6.dst"))
                    .map(|a| a.parse().unwrap()),
                sni: first("tls.handshake.extensions_server_name"),
                host: first("http.host"),
                user_agent: first("http.user_agent"),
                dns_response: get("dns.flags.response") == "1"
                    || get("dns.flags.response") == "True",
                dns_query: first("dns.qry.name"),
                dns_addresses: list("dns.a")
                    .into_iter()
                    .chain(list("dns.aaaa"))
                    .map(|a| a.parse().unwrap())
                    .collect(),
                dns_cnames: list("dns.cname"),
                ..Row::default()
            };
            if let (Some(s), Some(d)) = (first("tcp.srcport"), first("tcp.dstport")) {
                row.protocol = Some(Protocol::TCP);
                row.ports = (s.parse().unwrap(), d.parse().unwrap());
                let flags = first("tcp.flags").unwrap();
                row.tcp_flags =
                    (u16::from_str_radix(flags.trim_start_matches("0x"), 16).unwrap() & 0xff) as u8;
            } else if let (Some(s), Some(d)) = (first("udp.srcport"), first("udp.dstport")) {
                row.protocol = Some(Protocol::UDP);
                row.ports = (s.parse().unwrap(), d.parse().unwrap());
            }
            row
        })
        .collect()
}
