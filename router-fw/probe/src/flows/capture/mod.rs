//! Capture files as a stream of packets: pcap and pcapng read from any `std::io::Read` in
//! constant memory, the format told from the first bytes; pcapng written as packets arrive.

mod buffer;
mod pcap;
mod pcapng;
mod writer;

pub use pcap::PcapReader;
pub use pcapng::PcapngReader;
pub use writer::PcapngWriter;

use std::io::Read;

/// Largest packet record accepted: above Wireshark's 256 KiB snapshot limit with room for
/// odd link types, small enough that a hostile length cannot make us allocate much.
pub const MAX_PACKET_LEN: usize = 1 << 20;

/// A link-layer header type (LINKTYPE_* of the pcap and pcapng specifications).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the writer's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II / 802.3, with optional 802.1Q tags.
    pub const ETHERNET: LinkType = LinkType(1);
    /// DLT_RAW as BSD numbers it: a bare IPv4 or IPv6 packet.
    pub const RAW_BSD: LinkType = LinkType(12);
    /// DLT_RAW as OpenBSD numbers it: a bare IPv4 or IPv6 packet.
    pub const RAW_OPENBSD: LinkType = LinkType(14);
    /// LINKTYPE_RAW: a bare IPv4 or IPv6 packet.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1 (`tcpdump -i any`).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// A bare IPv4 packet.
    pub const IPV4: LinkType = LinkType(228);
    /// A bare IPv6 packet.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2 (`tcpdump -i any` since libpcap 1.10).
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// One captured packet, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// How `data` starts.
    pub link: LinkType,
    /// Length of the packet on the wire (may exceed `data.len()` when the capture was cut).
    pub wire_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// Why a capture file cannot be read further.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The stream failed underneath.
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
    /// Neither a pcap nor a pcapng file.
    #[error("not a pcap or pcapng file (first bytes {0:02x?})")]
    UnknownFormat([u8; 4]),
    /// A gzip-compressed capture.
    #[error("the capture is gzip-compressed; decompress it first")]
    Compressed,
    /// The file ends before its header does.
    #[error("the file is too short for a capture header")]
    NoHeader,
    /// A record whose length cannot be right.
    #[error("corrupt capture at byte {offset}: {what}")]
    Corrupt {
        /// Stream offset of the record.
        offset: u64,
        /// What is wrong with it.
        what: String,
    },
    /// The file ends in the middle of a record (a capture that was cut short).
    #[error("the capture is cut short in the middle of a record at byte {offset}")]
    CutShort {
        /// Stream offset of the incomplete record.
        offset: u64,
    },
}

/// A capture of either format.
pub enum CaptureReader<R> {
    /// A classic libpcap file.
    Pcap(PcapReader<R>),
    /// A pcapng file.
    Pcapng(PcapngReader<R>),
}

impl<R: Read> CaptureReader<R> {
    /// Opens a capture, telling pcap from pcapng by its first four bytes.
    pub fn open(inner: R) -> Result<Self, CaptureError> {
        let mut src = buffer::ByteSource::new(inner);
        if src.fill(4)? < 4 {
            return Err(CaptureError::NoHeader);
        }
        let head = src.available();
        let magic = [head[0], head[1], head[2], head[3]];
        if magic == pcapng::SHB_TYPE_BYTES {
            return Ok(CaptureReader::Pcapng(PcapngReader::from_source(src)?));
        }
        if pcap::is_magic(magic) {
            return Ok(CaptureReader::Pcap(PcapReader::from_source(src)?));
        }
        if magic[..2] == [0x1f, 0x8b] {
            return Err(CaptureError::Compressed);
        }
        Err(CaptureError::UnknownFormat(magic))
    }

    /// The next packet, `None` at a clean end of file.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        match self {
            CaptureReader::Pcap(r) => r.next_packet(),
            CaptureReader::Pcapng(r) => r.next_packet(),
        }
    }

    /// Records skipped because they were of no use or larger than `MAX_PACKET_LEN`.
    pub fn skipped_records(&self) -> u64 {
        match self {
            CaptureReader::Pcap(_) => 0,
            CaptureReader::Pcapng(r) => r.skipped_records(),
        }
    }
}

/// Converts a count of capture clock ticks to nanoseconds, saturating on absurd values.
pub(crate) fn ticks_to_ns(ticks: u64, resolution: TsResolution) -> u64 {
    match resolution {
        TsResolution::Decimal(digits) if digits <= 9 => {
            ticks.saturating_mul(10u64.pow(9 - u32::from(digits)))
        }
        TsResolution::Decimal(digits) => {
            let div = 10u128.pow(u32::from(digits.min(38)) - 9);
            (u128::from(ticks) / div) as u64
        }
        TsResolution::Binary(bits) => {
            let ns = (u128::from(ticks) * 1_000_000_000) >> bits.min(127);
            u64::try_from(ns).unwrap_or(u64::MAX)
        }
    }
}

/// How finely a capture counts time: 10^-n or 2^-n seconds per tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TsResolution {
    /// 10^-n seconds.
    Decimal(u8),
    /// 2^-n seconds.
    Binary(u8),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_convert_to_nanoseconds() {
        assert_eq!(ticks_to_ns(5, TsResolution::Decimal(6)), 5_000);
        assert_eq!(ticks_to_ns(5, TsResolution::Decimal(9)), 5);
        assert_eq!(ticks_to_ns(5_000, TsResolution::Decimal(12)), 5);
        assert_eq!(
            ticks_to_ns(1 << 20, TsResolution::Binary(20)),
            1_000_000_000
        );
        assert_eq!(ticks_to_ns(u64::MAX, TsResolution::Decimal(0)), u64::MAX);
        assert_eq!(ticks_to_ns(u64::MAX, TsResolution::Decimal(200)), 0);
    }

    #[test]
    fn unknown_and_compressed_files_are_named() {
        let err = CaptureReader::open(&[0x1f, 0x8b, 8, 0][..]).err().unwrap();
        assert!(matches!(err, CaptureError::Compressed));
        let err = CaptureReader::open(&b"hello world"[..]).err().unwrap();
        assert!(err.to_string().contains("not a pcap"));
        let err = CaptureReader::open(&b"ab"[..]).err().unwrap();
        assert!(matches!(err, CaptureError::NoHeader));
    }
}
