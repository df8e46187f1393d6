//! Agreement with tshark: every capture of the corpus is read by tshark (`-T fields`) and by
//! us, and compared field by field: per packet (addresses, ports, lengths, DNS questions and
//! answers), per flow (packets, bytes and TCP flags each way, first/last time, direction),
//! and names (TLS/QUIC SNI, HTTP Host and User-Agent, the DNS name of each flow by the
//! MobiScope rule applied to tshark's DNS answers). tshark is required: without it the test
//! fails, it does not skip.

mod fields;
#[path = "../support/mod.rs"]
mod support;

use fields::{tshark, Row};

use matador_probe::flows::decode::{decode, Fragment, Transport};
use matador_probe::flows::names::dns::{DnsMessage, DnsName, RecordData};
use matador_probe::flows::{extract, CaptureReader, ExtractConfig, Flow, Protocol};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::Command;

/// A flow as tshark's packets add up to it.
#[derive(Debug, PartialEq)]
struct Summary {
    initiator: (IpAddr, u16),
    packets: (u64, u64),
    bytes: (u64, u64),
    flags: (u8, u8),
    first_ns: u64,
    last_ns: u64,
    sni: Option<String>,
    host: Option<String>,
    user_agent: Option<String>,
    dns: Option<String>,
}

type Key = (Protocol, (IpAddr, u16), (IpAddr, u16));

fn key(protocol: Protocol, a: (IpAddr, u16), b: (IpAddr, u16)) -> Key {
    if a <= b {
        (protocol, a, b)
    } else {
        (protocol, b, a)
    }
}

/// tshark's packets summed into flows; DNS names by the MobiScope rule over tshark's answers.
fn tshark_flows(rows: &[Row]) -> BTreeMap<Key, Summary> {
    let mut flows: BTreeMap<Key, Summary> = BTreeMap::new();
    let mut resolved: BTreeMap<IpAddr, String> = BTreeMap::new();
    for r in rows {
        let (Some(protocol), Some(src), Some(dst)) = (r.protocol, r.src, r.dst) else {
            continue;
        };
        let (s, d) = ((src, r.ports.0), (dst, r.ports.1));
        let f = flows.entry(key(protocol, s, d)).or_insert_with(|| {
            let syn_ack = protocol == Protocol::TCP && r.tcp_flags & 0x12 == 0x12;
            let (initiator, responder) = if syn_ack { (d, s) } else { (s, d) };
            Summary {
                initiator,
                packets: (0, 0),
                bytes: (0, 0),
                flags: (0, 0),
                first_ns: r.time_ns,
                last_ns: r.time_ns,
                sni: None,
                host: None,
                user_agent: None,
                dns: resolved.get(&responder.0).cloned(),
            }
        });
        let forward = s == f.initiator;
        if forward {
            f.packets.0 += 1;
            f.bytes.0 += r.len;
            f.flags.0 |= r.tcp_flags;
        } else {
            f.packets.1 += 1;
            f.bytes.1 += r.len;
            f.flags.1 |= r.tcp_flags;
        }
        f.first_ns = f.first_ns.min(r.time_ns);
        f.last_ns = f.last_ns.max(r.time_ns);
        if forward {
            f.sni = f.sni.take().or(r.sni.clone());
            f.host = f.host.take().or(r.host.clone());
            f.user_agent = f.user_agent.take().or(r.user_agent.clone());
        }
        if r.dns_response && r.ports.0 == 53 {
            if let (Some(q), Some(first)) = (&r.dns_query, r.dns_addresses.first()) {
                resolved.insert(*first, q.clone());
            }
        }
    }
    flows
}

fn our_flows(flows: &[Flow]) -> BTreeMap<Key, Summary> {
    flows
        .iter()
        .filter(|f| f.protocol == Protocol::TCP || f.protocol == Protocol::UDP)
        .map(|f| {
            let (i, r) = (&f.initiator, &f.responder);
            let k = key(f.protocol, (i.address, i.port), (r.address, r.port));
            (
                k,
                Summary {
                    initiator: (i.address, i.port),
                    packets: (i.packets, r.packets),
                    bytes: (i.bytes, r.bytes),
                    flags: (i.tcp_flags.0, r.tcp_flags.0),
                    first_ns: f.first_ns,
                    last_ns: f.last_ns,
                    sni: f.names.sni.clone(),
                    host: f.names.http_host.clone(),
                    user_agent: f.names.user_agent.clone(),
                    dns: f.names.dns.clone(),
                },
            )
        })
        .collect()
}

/// Per packet: what our decoder and DNS reader say, next to tshark's row.
fn compare_packets(name: &str, bytes: &[u8], rows: &[Row]) {
    let mut reader = CaptureReader::open(bytes).unwrap();
    let mut n = 0;
    while let Some(p) = reader.next_packet().unwrap() {
        let row = &rows[n];
        n += 1;
        assert_eq!(u64::from(p.wire_len), row.len, "{name} frame {n}: length");
        assert_eq!(p.timestamp_ns, row.time_ns, "{name} frame {n}: time");
        let d = decode(p.link, p.data).unwrap_or_else(|e| panic!("{name} frame {n}: {e}"));
        assert_eq!(
            (Some(d.src), Some(d.dst)),
            (row.src, row.dst),
            "{name} frame {n}: addresses"
        );
        let (protocol, ports, payload) = match d.transport {
            Transport::Tcp(t) => (Some(Protocol::TCP), (t.src_port, t.dst_port), None),
            Transport::Udp(u) => (
                Some(Protocol::UDP),
                (u.src_port, u.dst_port),
                Some(u.payload),
            ),
            Transport::Other(_) => (None, (0, 0), None),
        };
        assert_eq!(
            d.fragment == Fragment::Later,
            protocol.is_none(),
            "{name} frame {n}"
        );
        assert_eq!(
            (protocol, ports),
            (row.protocol, row.ports),
            "{name} frame {n}: transport"
        );
        let Some(payload) = payload.filter(|_| ports.0 == 53 || ports.1 == 53) else {
            continue;
        };
        let msg = DnsMessage::parse(payload).unwrap();
        let mut q = DnsName::new();
        assert!(msg.question(&mut q).unwrap());
        assert_eq!(
            Some(q.to_string()),
            row.dns_query,
            "{name} frame {n}: DNS question"
        );
        assert_eq!(
            msg.is_response, row.dns_response,
            "{name} frame {n}: DNS QR"
        );
        let (mut addresses, mut cnames) = (Vec::new(), Vec::new());
        for record in msg.answers().unwrap().map_while(Result::ok) {
            match record.data {
                RecordData::A(a) => addresses.push(IpAddr::V4(a)),
                RecordData::Aaaa(a) => addresses.push(IpAddr::V6(a)),
                RecordData::Cname(at) => {
                    let mut c = DnsName::new();
                    msg.name_at(at, &mut c).unwrap();
                    cnames.push(c.to_string());
                }
                RecordData::Other(_) => {}
            }
        }
        assert_eq!(
            addresses, row.dns_addresses,
            "{name} frame {n}: DNS addresses"
        );
        assert_eq!(cnames, row.dns_cnames, "{name} frame {n}: DNS CNAMEs");
        if msg.is_response {
            let first = msg.first_address(&mut q).unwrap();
            assert_eq!(
                first,
                row.dns_addresses.first().copied(),
                "{name} frame {n}: first address"
            );
        }
    }
    assert_eq!(n, rows.len(), "{name}: packet count");
}

#[test]
fn flows_names_and_dns_agree_with_tshark() {
    let version = Command::new("tshark")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!("tshark is required for the agreement test (apt-get install tshark): {e}")
        });
    assert!(version.status.success(), "tshark --version failed");
    // MATADOR_CORPUS_DIR keeps the corpus somewhere to look at (and is not removed).
    let keep = std::env::var_os("MATADOR_CORPUS_DIR");
    let dir = keep.clone().map(Into::into).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("matador-probe-tshark-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).unwrap();
    let mut checked = Vec::new();
    let mut names = Vec::new();
    for case in support::corpus::all() {
        let path = dir.join(case.name);
        std::fs::write(&path, &case.bytes).unwrap();
        let rows = tshark(&path);
        assert!(!rows.is_empty(), "{}: tshark read no packets", case.name);
        compare_packets(case.name, &case.bytes, &rows);

        let ours = extract(&case.bytes[..], &ExtractConfig::default()).unwrap();
        assert!(!ours.stats.cut_short);
        let expected = tshark_flows(&rows);
        let got = our_flows(&ours.flows);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{}: flows",
            case.name
        );
        for (k, want) in &expected {
            assert_eq!(&got[k], want, "{}: flow {k:?}", case.name);
        }
        for s in expected.values() {
            for (source, name) in [("sni", &s.sni), ("http.host", &s.host), ("dns", &s.dns)] {
                if let Some(name) = name {
                    names.push(format!("{source} {name}"));
                }
            }
        }
        checked.push(format!(
            "{}: {} packets, {} flows",
            case.name,
            rows.len(),
            expected.len()
        ));
    }
    if keep.is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
    for line in &checked {
        eprintln!("agrees with tshark: {line}");
    }
    names.sort();
    names.dedup();
    // Both sides missing a name would agree too: the corpus's names must all be there.
    assert_eq!(
        names,
        [
            "dns api.messenger.example",
            "dns cdn.messenger.example",
            "dns chat.messenger.example",
            "dns many.messenger.example",
            "dns media.messenger.example",
            "dns sync.messenger.example",
            "http.host api.messenger.example",
            "http.host cdn.messenger.example",
            "sni auth.messenger.example",
            "sni chat.messenger.example",
            "sni example.com",
            "sni media.messenger.example",
            "sni push.messenger.example",
            "sni sync.messenger.example",
        ]
    );
}
