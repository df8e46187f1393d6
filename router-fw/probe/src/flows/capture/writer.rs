//! Writing pcapng: one section (SHB naming the writer), one interface (IDB with its name and
//! nanosecond timestamps), then Enhanced Packet Blocks, little-endian, no allocation per packet.

use super::LinkType;
use std::io::{self, Write};

const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const OPT_END: u16 = 0;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_TSRESOL: u16 = 9;
/// `if_tsresol` = 9: timestamps count nanoseconds.
const NANOSECONDS: u8 = 9;
/// What the section header names as the writing application.
pub const USER_APPL: &str = "matador-routerd";
/// Fixed part of an Enhanced Packet Block: type, length, interface, time (2), captured, original,
/// and the trailing length copy.
const EPB_OVERHEAD: u64 = 32;
/// Interface names are short; a longer one is cut so the option stays small.
const MAX_NAME_LEN: usize = 255;

/// Writes one pcapng section with one interface; packets go out as Enhanced Packet Blocks.
///
/// Each writer makes a complete section, so files of several writers concatenated in order are
/// still one valid pcapng file. Wrap files in a `BufWriter`: every packet takes a few writes.
pub struct PcapngWriter<W: Write> {
    out: W,
    snaplen: u32,
    bytes: u64,
    packets: u64,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section and interface headers: `snaplen` 0 means no limit.
    pub fn new(mut out: W, link: LinkType, snaplen: u32, if_name: &str) -> io::Result<Self> {
        let header = header_blocks(link, snaplen, if_name);
        out.write_all(&header)?;
        Ok(PcapngWriter {
            out,
            snaplen,
            bytes: header.len() as u64,
            packets: 0,
        })
    }

    /// Bytes the section and interface headers take for this interface name.
    pub fn header_len(if_name: &str) -> u64 {
        header_blocks(LinkType::ETHERNET, 0, if_name).len() as u64
    }

    /// Bytes the block of a packet with `captured` bytes (before the snaplen cut) will take.
    pub fn packet_block_len(&self, captured: usize) -> u64 {
        EPB_OVERHEAD + padded(self.cut(captured) as u64)
    }

    /// Appends one packet: time in nanoseconds since the Unix epoch, the captured bytes (cut to
    /// the snaplen) and the length it had on the wire (at least the captured length).
    pub fn write_packet(
        &mut self,
        timestamp_ns: u64,
        data: &[u8],
        wire_len: u32,
    ) -> io::Result<()> {
        let captured = self.cut(data.len());
        let data = &data[..captured];
        let captured = captured as u32;
        let block_len = EPB_OVERHEAD + padded(u64::from(captured));
        let total = block_len as u32;
        let mut head = [0u8; 28];
        head[0..4].copy_from_slice(&EPB.to_le_bytes());
        head[4..8].copy_from_slice(&total.to_le_bytes());
        // Interface 0, the only one of the section.
        head[12..16].copy_from_slice(&((timestamp_ns >> 32) as u32).to_le_bytes());
        head[16..20].copy_from_slice(&(timestamp_ns as u32).to_le_bytes());
        head[20..24].copy_from_slice(&captured.to_le_bytes());
        head[24..28].copy_from_slice(&wire_len.max(captured).to_le_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(data)?;
        let pad = (padded(u64::from(captured)) - u64::from(captured)) as usize;
        self.out.write_all(&[0u8; 3][..pad])?;
        self.out.write_all(&total.to_le_bytes())?;
        self.bytes += block_len;
        self.packets += 1;
        Ok(())
    }

    /// Bytes written so far, headers included.
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Packets written so far.
    pub fn packets_written(&self) -> u64 {
        self.packets
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Flushes and gives back the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    /// How many bytes of a `len`-byte packet are kept: the snaplen, and what a block can say.
    fn cut(&self, len: usize) -> usize {
        let limit = match self.snaplen {
            0 => u32::MAX - 64,
            n => n,
        };
        len.min(limit as usize)
    }
}

/// The section header and interface description blocks (allocated once per file).
fn header_blocks(link: LinkType, snaplen: u32, if_name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut body = Vec::with_capacity(64);
    body.extend(BYTE_ORDER_MAGIC.to_le_bytes());
    body.extend(1u16.to_le_bytes());
    body.extend(0u16.to_le_bytes());
    // Section length not given.
    body.extend((-1i64).to_le_bytes());
    option(&mut body, SHB_USERAPPL, USER_APPL.as_bytes());
    option(&mut body, OPT_END, &[]);
    block(&mut out, SHB, &body);

    body.clear();
    body.extend(link.0.to_le_bytes());
    body.extend(0u16.to_le_bytes());
    body.extend(snaplen.to_le_bytes());
    let name = cut_name(if_name);
    if !name.is_empty() {
        option(&mut body, IF_NAME, name.as_bytes());
    }
    option(&mut body, IF_TSRESOL, &[NANOSECONDS]);
    option(&mut body, OPT_END, &[]);
    block(&mut out, IDB, &body);
    out
}

/// The name cut to `MAX_NAME_LEN` bytes at a character boundary.
fn cut_name(name: &str) -> &str {
    let mut end = name.len().min(MAX_NAME_LEN);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Appends one option (code, length, value padded to 32 bits).
fn option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    body.extend(code.to_le_bytes());
    body.extend((value.len() as u16).to_le_bytes());
    body.extend(value);
    body.resize(body.len().div_ceil(4) * 4, 0);
}

/// Appends a block around a body already padded to 32 bits.
fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
    let len = (12 + body.len()) as u32;
    out.extend(kind.to_le_bytes());
    out.extend(len.to_le_bytes());
    out.extend(body);
    out.extend(len.to_le_bytes());
}

/// `len` rounded up to a multiple of 4.
fn padded(len: u64) -> u64 {
    len.div_ceil(4) * 4
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
