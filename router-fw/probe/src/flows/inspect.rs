//! Naming a flow from its initiator's first bytes: a TLS ClientHello or an HTTP request over
//! TCP (gathered in sequence order when split), or a ClientHello in QUIC Initials. Each flow
//! is looked at until it is named or shown to be something else, within byte and packet limits.

use super::decode::TcpSegment;
use super::extract::Stats;
use super::names::http::{self, HttpError};
use super::names::quic::{self, InitialOpener, PacketType, MAX_CID_LEN};
use super::names::reassembly::Reassembly;
use super::names::tls::{self, TlsError};
use super::names::{name_string, Names};

/// QUIC packets one datagram may coalesce that we look through.
const MAX_COALESCED: usize = 4;
const SYN: u8 = 0x02;

/// Where a flow's name inspection stands.
pub(crate) enum Inspect {
    /// Nothing from the initiator yet.
    Pending,
    /// TCP: the initiator's SYN said its first data byte has this sequence number.
    StreamStart(u32),
    /// TCP: the initiator's first bytes, being gathered.
    Stream(Box<StreamState>),
    /// QUIC: CRYPTO data of the client's Initials, being gathered.
    Quic(Box<QuicState>),
    /// Named, or nothing to learn.
    Done,
}

impl Inspect {
    /// Whether inspection is over for this flow.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self, Inspect::Done)
    }
}

/// The first bytes of a TCP client's stream.
pub(crate) struct StreamState {
    base: u32,
    bytes: Reassembly,
    segments: u16,
}

/// A QUIC client's Initial CRYPTO stream and the keys that open it.
pub(crate) struct QuicState {
    opener: InitialOpener,
    dcid: [u8; MAX_CID_LEN],
    dcid_len: usize,
    crypto: Reassembly,
    packets: u16,
}

/// What the bytes so far tell.
enum Verdict {
    Done,
    NeedMore,
}

/// How much of each flow is looked at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// First bytes gathered per flow.
    pub(crate) max_bytes: usize,
    /// Client packets looked at per flow.
    pub(crate) max_packets: u16,
    /// Flows gathering at once: with `max_bytes`, bounds the memory of all gathering.
    pub(crate) max_active: usize,
}

/// Inspection with buffers shared by all flows (reused, never per packet).
pub(crate) struct Inspector {
    limits: Limits,
    /// Decrypted QUIC Initials.
    scratch: Vec<u8>,
    /// A ClientHello joined from several TLS records.
    tls_scratch: Vec<u8>,
    /// Flows holding gathering buffers now.
    active: usize,
}

impl Inspector {
    pub(crate) fn new(limits: Limits) -> Self {
        Inspector {
            limits,
            scratch: Vec::new(),
            tls_scratch: Vec::new(),
            active: 0,
        }
    }

    /// A TCP segment from the flow's initiator.
    pub(crate) fn tcp(
        &mut self,
        inspect: &mut Inspect,
        names: &mut Names,
        seg: &TcpSegment<'_>,
        stats: &mut Stats,
    ) {
        // The SYN takes one sequence number before the first data byte.
        let syn = seg.flags & SYN != 0;
        let data_seq = seg.seq.wrapping_add(u32::from(syn));
        if syn && matches!(inspect, Inspect::Pending) {
            *inspect = Inspect::StreamStart(data_seq);
        }
        if seg.payload.is_empty() {
            return;
        }
        let base = match inspect {
            Inspect::Pending => data_seq,
            Inspect::StreamStart(base) => *base,
            Inspect::Stream(s) => s.base,
            Inspect::Quic(_) | Inspect::Done => return,
        };
        let offset = data_seq.wrapping_sub(base);
        if offset > i32::MAX as u32 {
            // Before the first byte: an old retransmission; nothing to learn from it.
            return;
        }
        if let Inspect::Pending | Inspect::StreamStart(_) = inspect {
            if offset == 0 {
                // Most first segments hold the whole ClientHello or request: no copy.
                if let Verdict::Done = self.examine_stream(seg.payload, names, stats) {
                    *inspect = Inspect::Done;
                    return;
                }
            }
            if !self.may_gather() {
                *inspect = Inspect::Done;
                return;
            }
            *inspect = Inspect::Stream(Box::new(StreamState {
                base,
                bytes: Reassembly::new(self.limits.max_bytes),
                segments: 0,
            }));
        }
        let Inspect::Stream(state) = inspect else {
            return;
        };
        state.segments += 1;
        let verdict = match state.bytes.insert(u64::from(offset), seg.payload) {
            Err(_) => Verdict::Done,
            Ok(true) => match self.examine_stream(state.bytes.contiguous(), names, stats) {
                Verdict::NeedMore if state.bytes.is_full() => Verdict::Done,
                v => v,
            },
            Ok(false) => Verdict::NeedMore,
        };
        if matches!(verdict, Verdict::Done) || state.segments >= self.limits.max_packets {
            self.finish(inspect);
        }
    }

    /// Looks at a client's first in-order bytes.
    fn examine_stream(&mut self, bytes: &[u8], names: &mut Names, stats: &mut Stats) -> Verdict {
        if tls::looks_like_tls(bytes) {
            return match tls::client_hello_in_records(bytes, &mut self.tls_scratch) {
                Ok(hello) => {
                    stats.tls_client_hellos += 1;
                    names.sni = hello.server_name.map(name_string);
                    Verdict::Done
                }
                Err(TlsError::Incomplete) => Verdict::NeedMore,
                Err(_) => Verdict::Done,
            };
        }
        match http::parse_request(bytes) {
            Ok(request) => {
                stats.http_requests += 1;
                names.http_host = request.host.map(name_string);
                names.user_agent = request.user_agent.map(name_string);
                Verdict::Done
            }
            Err(HttpError::Incomplete) => Verdict::NeedMore,
            // A first segment too short to tell ("GE") is waited on; the packet limit ends it.
            Err(HttpError::NotHttp) if bytes.len() < 8 => Verdict::NeedMore,
            Err(HttpError::NotHttp) => Verdict::Done,
        }
    }

    /// A UDP datagram from the flow's initiator: QUIC client Initials, if that is what it is.
    pub(crate) fn udp(
        &mut self,
        inspect: &mut Inspect,
        names: &mut Names,
        datagram: &[u8],
        stats: &mut Stats,
    ) {
        let mut rest = datagram;
        let mut saw_initial = false;
        for _ in 0..MAX_COALESCED {
            let Ok(header) = quic::long_header(rest) else {
                break;
            };
            if header.kind == PacketType::Initial {
                saw_initial = true;
                if let Verdict::Done =
                    self.initial(inspect, names, &rest[..header.end], &header, stats)
                {
                    self.finish(inspect);
                    return;
                }
            }
            rest = &rest[header.end..];
            if rest.is_empty() {
                break;
            }
        }
        let over = match inspect {
            Inspect::Quic(state) => state.packets >= self.limits.max_packets,
            _ => false,
        };
        // A datagram without an Initial means not QUIC, or a client past its Initials.
        if !saw_initial || over {
            self.finish(inspect);
        }
    }

    /// Ends a flow's inspection, returning its buffers to the budget.
    fn finish(&mut self, inspect: &mut Inspect) {
        if let Inspect::Stream(_) | Inspect::Quic(_) = inspect {
            self.active -= 1;
        }
        *inspect = Inspect::Done;
    }

    /// Whether one more flow may hold gathering buffers.
    fn may_gather(&mut self) -> bool {
        if self.active >= self.limits.max_active {
            return false;
        }
        self.active += 1;
        true
    }

    /// One client Initial packet.
    fn initial(
        &mut self,
        inspect: &mut Inspect,
        names: &mut Names,
        packet: &[u8],
        header: &quic::LongHeader<'_>,
        stats: &mut Stats,
    ) -> Verdict {
        if let Inspect::Pending = inspect {
            if !self.may_gather() {
                return Verdict::Done;
            }
            // Keys come from the DCID of the client's first Initial (RFC 9001 §5.2).
            let mut dcid = [0u8; MAX_CID_LEN];
            dcid[..header.dcid.len()].copy_from_slice(header.dcid);
            *inspect = Inspect::Quic(Box::new(QuicState {
                opener: InitialOpener::client(header.dcid),
                dcid,
                dcid_len: header.dcid.len(),
                crypto: Reassembly::new(self.limits.max_bytes),
                packets: 0,
            }));
        }
        let Inspect::Quic(state) = inspect else {
            return Verdict::Done;
        };
        state.packets += 1;
        let mut opened = state.opener.open(packet, header, &mut self.scratch);
        if opened.is_err() && header.dcid != &state.dcid[..state.dcid_len] {
            // After a Retry the client derives new keys from the DCID the server chose.
            let retry = InitialOpener::client(header.dcid);
            opened = retry.open(packet, header, &mut self.scratch);
            if opened.is_ok() {
                state.opener = retry;
                state.dcid[..header.dcid.len()].copy_from_slice(header.dcid);
                state.dcid_len = header.dcid.len();
            }
        }
        let Ok(plain) = opened else {
            stats.quic_undecryptable += 1;
            return Verdict::NeedMore;
        };
        stats.quic_initials += 1;
        let (mut grew, mut too_fragmented) = (false, false);
        // A frame error after some CRYPTO frames still leaves those frames usable.
        let _ = quic::crypto_frames(&self.scratch[plain], |offset, data| {
            match state.crypto.insert(offset, data) {
                Ok(g) => grew |= g,
                Err(_) => too_fragmented = true,
            }
        });
        if too_fragmented {
            return Verdict::Done;
        }
        if !grew {
            return Verdict::NeedMore;
        }
        match tls::parse_client_hello(state.crypto.contiguous()) {
            Ok(hello) => {
                stats.tls_client_hellos += 1;
                names.sni = hello.server_name.map(name_string);
                Verdict::Done
            }
            Err(TlsError::Incomplete) if !state.crypto.is_full() => Verdict::NeedMore,
            Err(_) => Verdict::Done,
        }
    }
}
