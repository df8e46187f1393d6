//! The per-packet loop: decode, find or start the flow, count, hand the payload to name
//! inspection and DNS; and `extract`, which runs it over a capture file.

use super::capture::{CaptureError, CaptureReader, Packet};
use super::decode::{decode, DecodeError, Fragment, Transport, TCP};
use super::inspect::{Inspect, Inspector, Limits};
use super::names::dns::{DnsMessage, DnsName};
use super::names::{Names, Resolutions};
use super::table::{Entry, Flow, FlowKey, FlowSide, FlowTable, Protocol, TcpFlags};
use serde::Serialize;
use std::io::Read;
use std::net::IpAddr;

const DNS_PORT: u16 = 53;
const SYN_ACK: u8 = 0x12;

/// Bounds on what extraction keeps; memory stays flat however long the capture.
#[derive(Debug, Clone)]
pub struct ExtractConfig {
    /// Flows tracked; packets of further flows are counted as untracked. A flow costs
    /// about 400 bytes (more with long names).
    pub max_flows: usize,
    /// First client bytes gathered per flow to find a ClientHello or request.
    pub max_client_bytes: usize,
    /// Client packets looked at per flow before giving up on a name.
    pub max_inspected_packets: u16,
    /// Flows gathering client bytes at once.
    pub max_gathering_flows: usize,
    /// Addresses whose DNS name is remembered.
    pub max_resolutions: usize,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        ExtractConfig {
            // 65536 flows: about 26 MB at worst; with the gathering buffers below, inside the
            // router's 32 MiB budget while parsing.
            max_flows: 1 << 16,
            max_client_bytes: super::names::tls::MAX_CLIENT_HELLO,
            max_inspected_packets: 16,
            // 256 flows × 16 KiB: at most 4 MiB of gathering buffers.
            max_gathering_flows: 256,
            max_resolutions: 1 << 16,
        }
    }
}

/// What happened to the packets of a capture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Packets read.
    pub packets: u64,
    /// Their bytes on the wire.
    pub bytes: u64,
    /// Packets that were not IP (ARP, LLDP, …).
    pub not_ip: u64,
    /// Packets of a link type we do not read.
    pub unsupported_link: u64,
    /// Packets whose headers were truncated or malformed.
    pub malformed: u64,
    /// IP fragments (first and later).
    pub fragments: u64,
    /// Later fragments: counted, not attributed to a flow (no reassembly).
    pub later_fragments: u64,
    /// Packets of flows beyond `max_flows`.
    pub untracked: u64,
    /// DNS responses read.
    pub dns_responses: u64,
    /// DNS responses that did not parse.
    pub dns_malformed: u64,
    /// ClientHellos read (TLS over TCP and QUIC).
    pub tls_client_hellos: u64,
    /// HTTP requests read.
    pub http_requests: u64,
    /// QUIC client Initials decrypted.
    pub quic_initials: u64,
    /// QUIC Initials that did not decrypt.
    pub quic_undecryptable: u64,
    /// Capture records skipped (unknown interface, oversized).
    pub skipped_records: u64,
    /// Whether the capture ended in the middle of a record.
    pub cut_short: bool,
}

/// The flows of a capture and what happened on the way.
#[derive(Debug, Clone)]
pub struct Extraction {
    /// Flows in the order they started.
    pub flows: Vec<Flow>,
    /// Counters.
    pub stats: Stats,
}

/// Turns packets into flows, one packet at a time (so it can run as packets are captured).
pub struct Extractor {
    table: FlowTable,
    resolutions: Resolutions,
    inspector: Inspector,
    stats: Stats,
    query: DnsName,
}

impl Extractor {
    /// An extractor with the given bounds.
    pub fn new(config: &ExtractConfig) -> Self {
        Extractor {
            table: FlowTable::new(config.max_flows),
            resolutions: Resolutions::new(config.max_resolutions),
            inspector: Inspector::new(Limits {
                max_bytes: config.max_client_bytes,
                max_packets: config.max_inspected_packets.max(1),
                max_active: config.max_gathering_flows,
            }),
            stats: Stats::default(),
            query: DnsName::new(),
        }
    }

    /// Flows so far.
    pub fn flow_count(&self) -> usize {
        self.table.len()
    }

    /// Takes one packet into account.
    pub fn packet(&mut self, packet: &Packet<'_>) {
        let wire = u64::from(packet.wire_len);
        let ts = packet.timestamp_ns;
        self.stats.packets += 1;
        self.stats.bytes += wire;
        let d = match decode(packet.link, packet.data) {
            Ok(d) => d,
            Err(e) => {
                match e {
                    DecodeError::UnsupportedLink(_) => self.stats.unsupported_link += 1,
                    DecodeError::NotIp(_) => self.stats.not_ip += 1,
                    _ => self.stats.malformed += 1,
                }
                return;
            }
        };
        match d.fragment {
            Fragment::None => {}
            Fragment::First => self.stats.fragments += 1,
            Fragment::Later => {
                self.stats.fragments += 1;
                self.stats.later_fragments += 1;
                return;
            }
        }
        let (src_port, dst_port, tcp_flags) = match d.transport {
            Transport::Tcp(t) => (t.src_port, t.dst_port, t.flags),
            Transport::Udp(u) => (u.src_port, u.dst_port, 0),
            Transport::Other(_) => (0, 0, 0),
        };
        let (key, src_is_lo) = FlowKey::new(d.protocol, (d.src, src_port), (d.dst, dst_port));
        let index = match self.table.get(&key) {
            Some(i) => i,
            None => {
                // A SYN-ACK seen first: the capture began mid-handshake, the receiver started.
                let receiver_started = d.protocol == TCP && tcp_flags & SYN_ACK == SYN_ACK;
                let (initiator, responder) = if receiver_started {
                    ((d.dst, dst_port), (d.src, src_port))
                } else {
                    ((d.src, src_port), (d.dst, dst_port))
                };
                let entry = self.new_entry(
                    d.protocol,
                    initiator,
                    responder,
                    ts,
                    src_is_lo != receiver_started,
                );
                match self.table.insert(key, entry) {
                    Some(i) => i,
                    None => {
                        self.stats.untracked += 1;
                        return;
                    }
                }
            }
        };
        let entry = self.table.entry(index);
        let from_initiator = src_is_lo == entry.initiator_is_lo;
        let flow = &mut entry.flow;
        flow.first_ns = flow.first_ns.min(ts);
        flow.last_ns = flow.last_ns.max(ts);
        flow.note_activity(ts);
        let side = if from_initiator {
            &mut flow.initiator
        } else {
            &mut flow.responder
        };
        side.packets += 1;
        side.bytes += wire;
        side.tcp_flags.0 |= tcp_flags;
        let inspecting = from_initiator && !entry.inspect.is_done();
        match d.transport {
            Transport::Tcp(seg) if inspecting => {
                self.inspector
                    .tcp(&mut entry.inspect, &mut flow.names, &seg, &mut self.stats)
            }
            Transport::Udp(dgram) => {
                if inspecting && !dgram.payload.is_empty() {
                    self.inspector.udp(
                        &mut entry.inspect,
                        &mut flow.names,
                        dgram.payload,
                        &mut self.stats,
                    );
                }
                if dgram.src_port == DNS_PORT {
                    self.dns_response(dgram.payload);
                }
            }
            _ => {}
        }
    }

    /// A new flow's entry; its DNS name is the one its responder had when it started.
    fn new_entry(
        &self,
        protocol: u8,
        initiator: (IpAddr, u16),
        responder: (IpAddr, u16),
        ts: u64,
        initiator_is_lo: bool,
    ) -> Entry {
        let side = |(address, port): (IpAddr, u16)| FlowSide {
            address,
            port,
            packets: 0,
            bytes: 0,
            tcp_flags: TcpFlags::default(),
        };
        let names = Names {
            dns: self.resolutions.name_of(&responder.0).map(str::to_string),
            ..Names::default()
        };
        Entry {
            flow: Flow {
                protocol: Protocol(protocol),
                initiator: side(initiator),
                responder: side(responder),
                first_ns: ts,
                last_ns: ts,
                bursts: Vec::new(),
                names,
                name: None,
                name_source: None,
            },
            initiator_is_lo,
            inspect: Inspect::Pending,
        }
    }

    /// A datagram from port 53: remember which name its first answer address was for.
    fn dns_response(&mut self, payload: &[u8]) {
        let Ok(msg) = DnsMessage::parse(payload) else {
            self.stats.dns_malformed += 1;
            return;
        };
        if !msg.is_response {
            return;
        }
        self.stats.dns_responses += 1;
        match msg.first_address(&mut self.query) {
            Ok(Some(address)) => self.resolutions.record(address, self.query.as_bytes()),
            Ok(None) => {}
            Err(_) => self.stats.dns_malformed += 1,
        }
    }

    /// Counts capture records the reader skipped.
    pub fn add_skipped_records(&mut self, n: u64) {
        self.stats.skipped_records += n;
    }

    /// Ends extraction: the flows, each with its chosen name, and the counters.
    pub fn finish(self) -> Extraction {
        let mut flows = self.table.into_flows();
        for flow in &mut flows {
            flow.choose_name();
        }
        Extraction {
            flows,
            stats: self.stats,
        }
    }
}

/// Extracts the flows of a pcap or pcapng stream. A capture cut short in its last record is
/// not an error (a router may have lost power): `stats.cut_short` says so.
pub fn extract<R: Read>(reader: R, config: &ExtractConfig) -> Result<Extraction, CaptureError> {
    extract_each(reader, config, |_| {})
}

/// As [`extract`], also handing every packet to `also` (e.g. the payload tap) in the same
/// pass over the capture.
pub(crate) fn extract_each<R: Read>(
    reader: R,
    config: &ExtractConfig,
    mut also: impl FnMut(&Packet<'_>),
) -> Result<Extraction, CaptureError> {
    let mut capture = CaptureReader::open(reader)?;
    let mut extractor = Extractor::new(config);
    let mut cut_short = false;
    loop {
        match capture.next_packet() {
            Ok(Some(packet)) => {
                extractor.packet(&packet);
                also(&packet);
            }
            Ok(None) => break,
            Err(CaptureError::CutShort { .. }) => {
                cut_short = true;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    extractor.add_skipped_records(capture.skipped_records());
    let mut extraction = extractor.finish();
    extraction.stats.cut_short = cut_short;
    Ok(extraction)
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
