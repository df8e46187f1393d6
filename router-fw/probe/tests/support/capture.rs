//! Capture file writers for tests and the benchmark: pcap (either byte order, µs or ns) and
//! pcapng (either byte order, several interfaces, `if_tsresol`).
#![allow(dead_code)]

use std::io::{self, Write};

/// LINKTYPE_ETHERNET.
pub const ETHERNET: u16 = 1;
/// LINKTYPE_RAW.
pub const RAW: u16 = 101;
/// LINKTYPE_LINUX_SLL.
pub const SLL: u16 = 113;
/// LINKTYPE_LINUX_SLL2.
pub const SLL2: u16 = 276;

/// A pcap file being written.
pub struct PcapWriter<W: Write> {
    out: W,
    big_endian: bool,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut out: W, link: u16, big_endian: bool, nanos: bool) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let w = PcapWriter {
            out: io::sink(),
            big_endian,
            nanos,
        };
        let mut h = Vec::new();
        h.extend(w.u32(magic));
        h.extend(w.u16(2));
        h.extend(w.u16(4));
        h.extend(w.u32(0));
        h.extend(w.u32(0));
        h.extend(w.u32(262_144));
        h.extend(w.u32(u32::from(link)));
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            big_endian,
            nanos,
        })
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// Writes one packet record.
    pub fn packet(&mut self, ts_ns: u64, data: &[u8]) -> io::Result<()> {
        let frac = if self.nanos {
            ts_ns % 1_000_000_000
        } else {
            (ts_ns % 1_000_000_000) / 1_000
        };
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&self.u32((ts_ns / 1_000_000_000) as u32));
        h[4..8].copy_from_slice(&self.u32(frac as u32));
        h[8..12].copy_from_slice(&self.u32(data.len() as u32));
        h[12..16].copy_from_slice(&self.u32(data.len() as u32));
        self.out.write_all(&h)?;
        self.out.write_all(data)
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A whole pcap file in memory.
pub fn pcap(link: u16, big_endian: bool, nanos: bool, packets: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), link, big_endian, nanos).unwrap();
    for (ts, data) in packets {
        w.packet(*ts, data).unwrap();
    }
    w.into_inner()
}

/// A whole pcapng file in memory: one section, the given interfaces (link type, optional
/// `if_tsresol`), and enhanced packet blocks (interface, ns timestamp, data).
pub fn pcapng(
    big_endian: bool,
    interfaces: &[(u16, Option<u8>)],
    packets: &[(u32, u64, Vec<u8>)],
) -> Vec<u8> {
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    let block = |out: &mut Vec<u8>, kind: u32, body: &[u8]| {
        let len = (12 + body.len().div_ceil(4) * 4) as u32;
        out.extend(u32b(kind));
        out.extend(u32b(len));
        out.extend(body);
        out.resize(out.len() + (body.len().div_ceil(4) * 4 - body.len()), 0);
        out.extend(u32b(len));
    };
    let mut shb = Vec::new();
    shb.extend(u32b(0x1a2b_3c4d));
    shb.extend(u16b(1));
    shb.extend(u16b(0));
    shb.extend([0xff; 8]);
    block(&mut out, 0x0a0d_0d0a, &shb);
    for (link, tsresol) in interfaces {
        let mut idb = Vec::new();
        idb.extend(u16b(*link));
        idb.extend(u16b(0));
        idb.extend(u32b(262_144));
        if let Some(r) = tsresol {
            idb.extend(u16b(9));
            idb.extend(u16b(1));
            idb.extend([*r, 0, 0, 0]);
            idb.extend(u16b(0));
            idb.extend(u16b(0));
        }
        block(&mut out, 1, &idb);
    }
    for (iface, ts_ns, data) in packets {
        let ticks = match interfaces[*iface as usize].1 {
            Some(9) => *ts_ns,
            Some(r) if r < 9 => ts_ns / 10u64.pow(9 - u32::from(r)),
            None => ts_ns / 1_000,
            Some(other) => panic!("unsupported test resolution {other}"),
        };
        let mut epb = Vec::new();
        epb.extend(u32b(*iface));
        epb.extend(u32b((ticks >> 32) as u32));
        epb.extend(u32b(ticks as u32));
        epb.extend(u32b(data.len() as u32));
        epb.extend(u32b(data.len() as u32));
        epb.extend(data);
        block(&mut out, 6, &epb);
    }
    out
}
