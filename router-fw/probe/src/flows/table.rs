//! Flows and the table that gathers them: one entry per 5-tuple, found from either direction,
//! bounded in the number of flows; entries keep the order in which flows started.

use super::inspect::Inspect;
use super::names::{NameSource, Names};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

/// An IP protocol number, shown by name where it has a common one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Protocol(pub u8);

impl Protocol {
    /// ICMP.
    pub const ICMP: Protocol = Protocol(1);
    /// TCP.
    pub const TCP: Protocol = Protocol(6);
    /// UDP.
    pub const UDP: Protocol = Protocol(17);
    /// ICMPv6.
    pub const ICMPV6: Protocol = Protocol(58);
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Protocol::TCP => f.write_str("tcp"),
            Protocol::UDP => f.write_str("udp"),
            Protocol::ICMP => f.write_str("icmp"),
            Protocol::ICMPV6 => f.write_str("icmpv6"),
            Protocol(n) => write!(f, "ip-{n}"),
        }
    }
}

impl std::str::FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::TCP),
            "udp" => Ok(Protocol::UDP),
            "icmp" => Ok(Protocol::ICMP),
            "icmpv6" => Ok(Protocol::ICMPV6),
            other => other
                .trim_start_matches("ip-")
                .parse()
                .map(Protocol)
                .map_err(|_| {
                    format!("unknown protocol `{s}` (tcp, udp, icmp, icmpv6 or a number)")
                }),
        }
    }
}

impl Serialize for Protocol {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u8),
            Name(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Protocol(n)),
            Raw::Name(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// The TCP flags seen from one side, OR-ed over its segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

impl fmt::Display for TcpFlags {
    /// Letters in bit order: F S R P A U E C.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, letter) in "FSRPAUEC".chars().enumerate() {
            if self.0 & (1 << bit) != 0 {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for TcpFlags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One side of a flow: its address and port, and what it sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowSide {
    /// IP address.
    pub address: IpAddr,
    /// Port (0 for protocols without ports).
    pub port: u16,
    /// Packets this side sent.
    pub packets: u64,
    /// Bytes this side sent, as frames on the wire (Wireshark's conversation bytes).
    pub bytes: u64,
    /// TCP flags seen in this side's segments.
    pub tcp_flags: TcpFlags,
}

/// A flow: the packets of one 5-tuple, both ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flow {
    /// Transport protocol.
    pub protocol: Protocol,
    /// The side that sent the first packet (for TCP: the SYN).
    pub initiator: FlowSide,
    /// The other side.
    pub responder: FlowSide,
    /// Time of the first packet, ns since the Unix epoch.
    pub first_ns: u64,
    /// Time of the last packet, ns since the Unix epoch.
    pub last_ns: u64,
    /// When the flow was active: runs of packets less than [`BURST_GAP_NS`] apart, in order.
    /// A long-lived connection (a messenger's) is told apart from its idle time this way.
    pub bursts: Vec<Burst>,
    /// Names from every source.
    pub names: Names,
    /// The chosen name (SNI > HTTP Host > DNS).
    pub name: Option<String>,
    /// Where the chosen name came from.
    pub name_source: Option<NameSource>,
}

impl Flow {
    /// Fills `name` and `name_source` from `names`.
    pub fn choose_name(&mut self) {
        let chosen = self.names.chosen().map(|(s, n)| (s, n.to_string()));
        self.name_source = chosen.as_ref().map(|c| c.0);
        self.name = chosen.map(|c| c.1);
    }
}

/// A pause longer than this between two packets of a flow starts a new burst.
pub const BURST_GAP_NS: u64 = 1_000_000_000;
/// Most bursts kept per flow; later activity extends the last one, so memory stays bounded.
pub const MAX_BURSTS: usize = 256;

/// A run of a flow's packets, each less than [`BURST_GAP_NS`] after the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Burst {
    /// Time of its first packet, ns since the Unix epoch.
    pub first_ns: u64,
    /// Time of its last packet, ns since the Unix epoch.
    pub last_ns: u64,
}

impl Flow {
    /// Notes a packet at `ts` in the flow's bursts (allocates only when a burst begins).
    #[inline]
    pub fn note_activity(&mut self, ts: u64) {
        let full = self.bursts.len() >= MAX_BURSTS;
        match self.bursts.last_mut() {
            Some(b) if full || ts <= b.last_ns.saturating_add(BURST_GAP_NS) => {
                b.last_ns = b.last_ns.max(ts);
            }
            _ => self.bursts.push(Burst {
                first_ns: ts,
                last_ns: ts,
            }),
        }
    }
}

/// A 5-tuple in canonical order, the same from both directions. Addresses are held as
/// numbers (IPv4 in the low 32 bits, told apart by `v6`) so keys compare and hash fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlowKey {
    lo_address: u128,
    hi_address: u128,
    lo_port: u16,
    hi_port: u16,
    protocol: u8,
    v6: bool,
}

impl FlowKey {
    /// The key of a packet, and whether its source is the key's `lo` end.
    #[inline]
    pub(crate) fn new(protocol: u8, src: (IpAddr, u16), dst: (IpAddr, u16)) -> (Self, bool) {
        let number = |a: IpAddr| match a {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        };
        let v6 = src.0.is_ipv6();
        let (s, d) = ((number(src.0), src.1), (number(dst.0), dst.1));
        let src_is_lo = s <= d;
        let ((lo_address, lo_port), (hi_address, hi_port)) =
            if src_is_lo { (s, d) } else { (d, s) };
        let key = FlowKey {
            lo_address,
            hi_address,
            lo_port,
            hi_port,
            protocol,
            v6,
        };
        (key, src_is_lo)
    }
}

impl Hash for FlowKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.lo_address as u64);
        state.write_u64((self.lo_address >> 64) as u64);
        state.write_u64(self.hi_address as u64);
        state.write_u64((self.hi_address >> 64) as u64);
        let rest = u64::from(self.lo_port) << 32
            | u64::from(self.hi_port) << 16
            | u64::from(self.protocol) << 1;
        state.write_u64(rest | u64::from(self.v6));
    }
}

/// Builds `FoldHasher`s with a seed drawn at random per table, so that crafted 5-tuples
/// cannot be aimed at one bucket without knowing it.
#[derive(Clone)]
pub(crate) struct FlowHash {
    seed: u64,
}

impl FlowHash {
    /// A hasher builder with a fresh random seed.
    pub(crate) fn new() -> Self {
        FlowHash {
            seed: std::collections::hash_map::RandomState::new()
                .hash_one(0x006d_6174_6164_6f72_u64),
        }
    }
}

impl BuildHasher for FlowHash {
    type Hasher = FoldHasher;

    fn build_hasher(&self) -> FoldHasher {
        FoldHasher(self.seed)
    }
}

/// A multiply-fold hash over 64-bit words: a few cycles per key, where SipHash took a tenth
/// of the whole packet loop.
pub(crate) struct FoldHasher(u64);

const FOLD: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = fold(self.0 ^ v, FOLD);
    }

    fn finish(&self) -> u64 {
        fold(self.0, FOLD ^ 0x2545_f491_4f6c_dd1d)
    }
}

/// A flow and the extraction state that goes with it.
pub(crate) struct Entry {
    pub(crate) flow: Flow,
    /// Whether the initiator is the key's `lo` end.
    pub(crate) initiator_is_lo: bool,
    /// Name inspection of the flow's first client bytes.
    pub(crate) inspect: Inspect,
}

/// All flows of a capture, bounded.
pub(crate) struct FlowTable {
    index: HashMap<FlowKey, u32, FlowHash>,
    entries: Vec<Entry>,
    max: usize,
    /// The flow of the previous packet: bulk transfers hit it without hashing.
    last: Option<(FlowKey, u32)>,
}

impl FlowTable {
    /// An empty table of at most `max` flows.
    pub(crate) fn new(max: usize) -> Self {
        FlowTable {
            index: HashMap::with_hasher(FlowHash::new()),
            entries: Vec::new(),
            max: max.min(u32::MAX as usize),
            last: None,
        }
    }

    /// The entry of `key`, if the flow is known.
    #[inline]
    pub(crate) fn get(&mut self, key: &FlowKey) -> Option<usize> {
        if let Some((k, i)) = &self.last {
            if k == key {
                return Some(*i as usize);
            }
        }
        let i = *self.index.get(key)?;
        self.last = Some((*key, i));
        Some(i as usize)
    }

    /// Adds a new flow; `None` when the table is full.
    pub(crate) fn insert(&mut self, key: FlowKey, entry: Entry) -> Option<usize> {
        if self.entries.len() >= self.max {
            return None;
        }
        let i = self.entries.len() as u32;
        self.entries.push(entry);
        self.index.insert(key, i);
        self.last = Some((key, i));
        Some(i as usize)
    }

    /// The entry at `i` (an index `get` or `insert` returned).
    #[inline]
    pub(crate) fn entry(&mut self, i: usize) -> &mut Entry {
        &mut self.entries[i]
    }

    /// Number of flows.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The flows, in the order they started.
    pub(crate) fn into_flows(self) -> Vec<Flow> {
        self.entries.into_iter().map(|e| e.flow).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_from_both_directions() {
        let a = ("10.0.0.2".parse().unwrap(), 40000);
        let b = ("192.0.2.1".parse().unwrap(), 443);
        let (k1, a_lo) = FlowKey::new(6, a, b);
        let (k2, b_lo) = FlowKey::new(6, b, a);
        assert_eq!(k1, k2);
        assert_ne!(a_lo, b_lo);
        assert_ne!(FlowKey::new(17, a, b).0, k1);
    }

    #[test]
    fn protocol_and_flags_read_and_print() {
        assert_eq!("UDP".parse::<Protocol>(), Ok(Protocol::UDP));
        assert_eq!("47".parse::<Protocol>(), Ok(Protocol(47)));
        assert!("bogus".parse::<Protocol>().is_err());
        assert_eq!(Protocol(47).to_string(), "ip-47");
        assert_eq!(TcpFlags(0x13).to_string(), "FSA");
        assert_eq!(serde_json::to_string(&TcpFlags(0x02)).unwrap(), "\"S\"");
    }
}
