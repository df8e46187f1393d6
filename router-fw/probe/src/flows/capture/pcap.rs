//! The classic libpcap file format: a 24-byte header, then 16-byte record headers each
//! followed by the packet; either byte order, microsecond or nanosecond timestamps.

use super::buffer::ByteSource;
use super::{CaptureError, LinkType, Packet, MAX_PACKET_LEN};
use std::io::Read;

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// Whether four bytes open a pcap file, in either byte order.
pub(super) fn is_magic(bytes: [u8; 4]) -> bool {
    let le = u32::from_le_bytes(bytes);
    let be = u32::from_be_bytes(bytes);
    [MAGIC_MICROS, MAGIC_NANOS].contains(&le) || [MAGIC_MICROS, MAGIC_NANOS].contains(&be)
}

/// Reads packets from a pcap file.
pub struct PcapReader<R> {
    src: ByteSource<R>,
    big_endian: bool,
    nanos: bool,
    link: LinkType,
    /// Length of the record handed out last, consumed on the next call.
    pending: usize,
}

impl<R: Read> PcapReader<R> {
    /// Opens a pcap stream, reading its file header.
    pub fn new(inner: R) -> Result<Self, CaptureError> {
        Self::from_source(ByteSource::new(inner))
    }

    pub(super) fn from_source(mut src: ByteSource<R>) -> Result<Self, CaptureError> {
        if src.fill(FILE_HEADER_LEN)? < FILE_HEADER_LEN {
            return Err(CaptureError::NoHeader);
        }
        let h = src.available();
        let magic = [h[0], h[1], h[2], h[3]];
        let (big_endian, nanos) = match (u32::from_le_bytes(magic), u32::from_be_bytes(magic)) {
            (MAGIC_MICROS, _) => (false, false),
            (MAGIC_NANOS, _) => (false, true),
            (_, MAGIC_MICROS) => (true, false),
            (_, MAGIC_NANOS) => (true, true),
            _ => return Err(CaptureError::UnknownFormat(magic)),
        };
        let network = read_u32(&h[20..24], big_endian);
        // The upper 16 bits carry FCS information (pcap spec, "LinkType and additional
        // information"); the link type is the lower 16.
        let link = LinkType((network & 0xffff) as u16);
        src.consume(FILE_HEADER_LEN);
        Ok(PcapReader {
            src,
            big_endian,
            nanos,
            link,
            pending: 0,
        })
    }

    /// The link type of every packet in the file.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// The next packet, `None` at a clean end of file.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        self.src.consume(self.pending);
        self.pending = 0;
        let got = self.src.fill(RECORD_HEADER_LEN)?;
        if got == 0 {
            return Ok(None);
        }
        if got < RECORD_HEADER_LEN {
            return Err(CaptureError::CutShort {
                offset: self.src.offset(),
            });
        }
        let h = self.src.available();
        let be = self.big_endian;
        let secs = u64::from(read_u32(&h[0..4], be));
        let frac = u64::from(read_u32(&h[4..8], be));
        let captured = read_u32(&h[8..12], be) as usize;
        let wire_len = read_u32(&h[12..16], be);
        if captured > MAX_PACKET_LEN {
            return Err(CaptureError::Corrupt {
                offset: self.src.offset(),
                what: format!("record of {captured} bytes (limit {MAX_PACKET_LEN})"),
            });
        }
        let record = RECORD_HEADER_LEN + captured;
        if self.src.fill(record)? < record {
            return Err(CaptureError::CutShort {
                offset: self.src.offset(),
            });
        }
        let frac_ns = if self.nanos { frac } else { frac * 1_000 };
        self.pending = record;
        Ok(Some(Packet {
            timestamp_ns: secs * 1_000_000_000 + frac_ns,
            link: self.link,
            wire_len: wire_len.max(captured as u32),
            data: &self.src.available()[RECORD_HEADER_LEN..record],
        }))
    }
}

#[inline]
fn read_u32(b: &[u8], big_endian: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if big_endian {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(big_endian: bool, magic: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let w16 = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend(w32(magic));
        out.extend(w16(2));
        out.extend(w16(4));
        out.extend(w32(0));
        out.extend(w32(0));
        out.extend(w32(65535));
        out.extend(w32(101));
        for (secs, frac, data) in records {
            out.extend(w32(*secs));
            out.extend(w32(*frac));
            out.extend(w32(data.len() as u32));
            out.extend(w32(data.len() as u32 + 4));
            out.extend(*data);
        }
        out
    }

    #[test]
    fn reads_both_byte_orders_and_resolutions() {
        for (be, magic, ns) in [
            (false, MAGIC_MICROS, 7_000),
            (true, MAGIC_MICROS, 7_000),
            (false, MAGIC_NANOS, 7),
            (true, MAGIC_NANOS, 7),
        ] {
            let bytes = file(be, magic, &[(3, 7, b"abc"), (4, 0, b"")]);
            let mut r = PcapReader::new(&bytes[..]).unwrap();
            assert_eq!(r.link(), LinkType::RAW);
            let p = r.next_packet().unwrap().unwrap();
            assert_eq!(p.timestamp_ns, 3_000_000_000 + ns);
            assert_eq!(p.data, b"abc");
            assert_eq!(p.wire_len, 7);
            let p = r.next_packet().unwrap().unwrap();
            assert_eq!(p.data, b"");
            assert!(r.next_packet().unwrap().is_none());
        }
    }

    #[test]
    fn cut_short_and_huge_records_are_errors() {
        let mut bytes = file(false, MAGIC_MICROS, &[(1, 0, b"abcdef")]);
        bytes.truncate(bytes.len() - 2);
        let mut r = PcapReader::new(&bytes[..]).unwrap();
        assert!(matches!(
            r.next_packet(),
            Err(CaptureError::CutShort { offset: 24 })
        ));

        let mut bytes = file(false, MAGIC_MICROS, &[]);
        bytes.extend([0u8; 8]);
        bytes.extend(u32::MAX.to_le_bytes());
        bytes.extend(u32::MAX.to_le_bytes());
        let mut r = PcapReader::new(&bytes[..]).unwrap();
        assert!(matches!(r.next_packet(), Err(CaptureError::Corrupt { .. })));
    }

    proptest::proptest! {
        #[test]
        fn packets_round_trip(be in proptest::bool::ANY, packets in proptest::collection::vec((0u32..1 << 31, 0u32..1_000_000, proptest::collection::vec(proptest::num::u8::ANY, 0..300)), 0..20)) {
            let records: Vec<(u32, u32, &[u8])> = packets.iter().map(|(s, f, d)| (*s, *f, &d[..])).collect();
            let bytes = file(be, MAGIC_MICROS, &records);
            let mut r = PcapReader::new(&bytes[..]).unwrap();
            for (secs, frac, data) in &packets {
                let p = r.next_packet().unwrap().unwrap();
                let ts = u64::from(*secs) * 1_000_000_000 + u64::from(*frac) * 1_000;
                proptest::prop_assert_eq!((p.timestamp_ns, p.data), (ts, &data[..]));
            }
            proptest::prop_assert!(r.next_packet().unwrap().is_none());
        }

        #[test]
        fn arbitrary_records_never_panic(be in proptest::bool::ANY, tail in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let mut bytes = file(be, MAGIC_NANOS, &[]);
            bytes.extend(tail);
            let mut r = PcapReader::new(&bytes[..]).unwrap();
            while let Ok(Some(_)) = r.next_packet() {}
        }
    }
}
