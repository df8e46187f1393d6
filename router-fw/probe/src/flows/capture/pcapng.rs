//! The pcapng file format: sections (SHB, either byte order), interfaces (IDB with
//! `if_tsresol`/`if_tsoffset`), packets (EPB, SPB, the obsolete PB); other blocks are skipped
//! without buffering them, whatever length they claim.

use super::buffer::ByteSource;
use super::{ticks_to_ns, CaptureError, LinkType, Packet, TsResolution, MAX_PACKET_LEN};
use std::io::Read;

/// The Section Header Block type, the same in both byte orders.
pub(super) const SHB_TYPE_BYTES: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const IDB: u32 = 1;
const OBSOLETE_PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
/// Interface descriptions are small; a longer one is taken as corruption.
const MAX_IDB_LEN: usize = 1 << 16;
/// Packet data plus room for options.
const MAX_PACKET_BLOCK_LEN: usize = MAX_PACKET_LEN + (1 << 16);
/// More interfaces than any capture has; bounds what a hostile file can make us keep.
const MAX_INTERFACES: usize = 4096;
const OPT_END: u16 = 0;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// What a section says about one capture interface.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    resolution: TsResolution,
    offset_s: i64,
}

/// Reads packets from a pcapng file.
pub struct PcapngReader<R> {
    src: ByteSource<R>,
    big_endian: bool,
    interfaces: Vec<Interface>,
    pending: usize,
    skipped: u64,
}

impl<R: Read> PcapngReader<R> {
    /// Opens a pcapng stream; the first block must be a section header.
    pub fn new(inner: R) -> Result<Self, CaptureError> {
        Self::from_source(ByteSource::new(inner))
    }

    pub(super) fn from_source(mut src: ByteSource<R>) -> Result<Self, CaptureError> {
        if src.fill(4)? < 4 || src.available()[..4] != SHB_TYPE_BYTES {
            return Err(CaptureError::NoHeader);
        }
        Ok(PcapngReader {
            src,
            big_endian: false,
            interfaces: Vec::new(),
            pending: 0,
            skipped: 0,
        })
    }

    /// Blocks skipped: packets of unknown interfaces or over the size limit.
    pub fn skipped_records(&self) -> u64 {
        self.skipped
    }

    /// The next packet, `None` at a clean end of file.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        loop {
            self.src.consume(self.pending);
            self.pending = 0;
            let got = self.src.fill(12)?;
            if got == 0 {
                return Ok(None);
            }
            if got < 12 {
                return Err(self.cut_short());
            }
            let head = self.src.available();
            let kind = [head[0], head[1], head[2], head[3]];
            if kind == SHB_TYPE_BYTES {
                self.section_header()?;
                continue;
            }
            let kind = self.u32_at(head, 0);
            let len = self.u32_at(head, 4) as usize;
            if len < 12 || len % 4 != 0 {
                return Err(self.corrupt(format!("block length {len}")));
            }
            match kind {
                IDB => self.interface_description(len)?,
                EPB | SPB | OBSOLETE_PB if len <= MAX_PACKET_BLOCK_LEN => {
                    if self.packet_block(kind, len)? {
                        return self.packet(kind, len).map(Some);
                    }
                }
                _ => {
                    if matches!(kind, EPB | SPB | OBSOLETE_PB) {
                        self.skipped += 1;
                    }
                    self.skip_block(len)?;
                }
            }
        }
    }

    fn section_header(&mut self) -> Result<(), CaptureError> {
        let head = self.src.available();
        let bom = [head[8], head[9], head[10], head[11]];
        self.big_endian = match (u32::from_le_bytes(bom), u32::from_be_bytes(bom)) {
            (BYTE_ORDER_MAGIC, _) => false,
            (_, BYTE_ORDER_MAGIC) => true,
            _ => return Err(self.corrupt(format!("section byte-order magic {bom:02x?}"))),
        };
        let len = self.u32_at(head, 4) as usize;
        if len < 28 || len % 4 != 0 {
            return Err(self.corrupt(format!("section header length {len}")));
        }
        // A new section starts a new interface list.
        self.interfaces.clear();
        self.skip_block(len)
    }

    fn interface_description(&mut self, len: usize) -> Result<(), CaptureError> {
        if !(20..=MAX_IDB_LEN).contains(&len) {
            return Err(self.corrupt(format!("interface description of {len} bytes")));
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(self.corrupt(format!("more than {MAX_INTERFACES} interfaces")));
        }
        self.whole_block(len)?;
        let b = &self.src.available()[..len];
        let mut iface = Interface {
            link: LinkType(self.u16_at(b, 8)),
            snaplen: self.u32_at(b, 12),
            resolution: TsResolution::Decimal(6),
            offset_s: 0,
        };
        for (code, value) in Options::new(&b[16..len - 4], self.big_endian) {
            match (code, value) {
                (IF_TSRESOL, [v, ..]) if v & 0x80 != 0 => {
                    iface.resolution = TsResolution::Binary(v & 0x7f)
                }
                (IF_TSRESOL, [v, ..]) => iface.resolution = TsResolution::Decimal(*v),
                (IF_TSOFFSET, [a, b, c, d, e, f, g, h, ..]) => {
                    let raw = [*a, *b, *c, *d, *e, *f, *g, *h];
                    iface.offset_s = if self.big_endian {
                        i64::from_be_bytes(raw)
                    } else {
                        i64::from_le_bytes(raw)
                    };
                }
                _ => {}
            }
        }
        self.interfaces.push(iface);
        self.pending = len;
        Ok(())
    }

    /// Buffers a packet block and checks it; false when it is to be skipped.
    fn packet_block(&mut self, kind: u32, len: usize) -> Result<bool, CaptureError> {
        self.whole_block(len)?;
        let b = &self.src.available()[..len];
        let fixed = match kind {
            SPB => 16,
            _ => 32,
        };
        let iface = match kind {
            EPB if len >= fixed => self.u32_at(b, 8) as usize,
            OBSOLETE_PB if len >= fixed => usize::from(self.u16_at(b, 8)),
            SPB if len >= fixed => 0,
            _ => return Err(self.corrupt(format!("packet block of {len} bytes"))),
        };
        if kind != SPB {
            let captured = self.u32_at(b, 20) as usize;
            if captured > len - fixed {
                return Err(
                    self.corrupt(format!("{captured} captured bytes in a {len}-byte block"))
                );
            }
        }
        if iface >= self.interfaces.len() {
            self.skipped += 1;
            self.pending = len;
            return Ok(false);
        }
        Ok(true)
    }

    /// The packet of a block `packet_block` has checked.
    fn packet(&mut self, kind: u32, len: usize) -> Result<Packet<'_>, CaptureError> {
        let b = &self.src.available()[..len];
        self.pending = len;
        if kind == SPB {
            let iface = self.interfaces[0];
            let wire_len = self.u32_at(b, 8);
            let mut captured = (wire_len as usize).min(len - 16);
            if iface.snaplen != 0 {
                captured = captured.min(iface.snaplen as usize);
            }
            return Ok(Packet {
                // The simple block carries no time.
                timestamp_ns: 0,
                link: iface.link,
                wire_len,
                data: &b[12..12 + captured],
            });
        }
        let iface = if kind == EPB {
            self.interfaces[self.u32_at(b, 8) as usize]
        } else {
            self.interfaces[usize::from(self.u16_at(b, 8))]
        };
        let ticks = (u64::from(self.u32_at(b, 12)) << 32) | u64::from(self.u32_at(b, 16));
        let captured = self.u32_at(b, 20) as usize;
        let wire_len = self.u32_at(b, 24).max(captured as u32);
        let offset_ns = iface.offset_s.saturating_mul(1_000_000_000);
        let ns = ticks_to_ns(ticks, iface.resolution).saturating_add_signed(offset_ns);
        Ok(Packet {
            timestamp_ns: ns,
            link: iface.link,
            wire_len,
            data: &b[28..28 + captured],
        })
    }

    /// Buffers a whole block of `len` bytes and checks its trailing length copy.
    fn whole_block(&mut self, len: usize) -> Result<(), CaptureError> {
        if self.src.fill(len)? < len {
            return Err(self.cut_short());
        }
        let b = self.src.available();
        let trailer = self.u32_at(b, len - 4) as usize;
        if trailer != len {
            return Err(self.corrupt(format!("block length {len} but trailer says {trailer}")));
        }
        Ok(())
    }

    /// Skips a block by streaming through it, then checks its trailing length copy.
    fn skip_block(&mut self, len: usize) -> Result<(), CaptureError> {
        let offset = self.src.offset();
        let body = (len - 4) as u64;
        if self.src.skip(body)? < body || self.src.fill(4)? < 4 {
            return Err(CaptureError::CutShort { offset });
        }
        let trailer = self.u32_at(self.src.available(), 0) as usize;
        if trailer != len {
            return Err(CaptureError::Corrupt {
                offset,
                what: format!("block length {len} but trailer says {trailer}"),
            });
        }
        self.src.consume(4);
        Ok(())
    }

    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    fn u16_at(&self, b: &[u8], at: usize) -> u16 {
        let a = [b[at], b[at + 1]];
        if self.big_endian {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }

    fn corrupt(&self, what: String) -> CaptureError {
        CaptureError::Corrupt {
            offset: self.src.offset(),
            what,
        }
    }

    fn cut_short(&self) -> CaptureError {
        CaptureError::CutShort {
            offset: self.src.offset(),
        }
    }
}

/// The options of a block: (code, value) pairs up to `opt_endofopt` or the end.
struct Options<'a> {
    rest: &'a [u8],
    big_endian: bool,
}

impl<'a> Options<'a> {
    fn new(rest: &'a [u8], big_endian: bool) -> Self {
        Options { rest, big_endian }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (code, len) = match self.rest {
            [a, b, c, d, ..] if self.big_endian => {
                (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d]))
            }
            [a, b, c, d, ..] => (u16::from_le_bytes([*a, *b]), u16::from_le_bytes([*c, *d])),
            _ => return None,
        };
        let len = usize::from(len);
        let padded = len.div_ceil(4) * 4;
        if code == OPT_END || self.rest.len() < 4 + padded {
            self.rest = &[];
            return None;
        }
        let value = &self.rest[4..4 + len];
        self.rest = &self.rest[4 + padded..];
        Some((code, value))
    }
}

#[cfg(test)]
#[path = "pcapng_tests.rs"]
mod tests;
