//! Tests of the pcapng reader over hand-built blocks in both byte orders.

use super::*;

struct Writer {
    be: bool,
    out: Vec<u8>,
}

impl Writer {
    fn new(be: bool) -> Self {
        let mut w = Writer {
            be,
            out: Vec::new(),
        };
        w.section();
        w
    }

    fn u16(&self, v: u16) -> [u8; 2] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn block(&mut self, kind: u32, body: &[u8]) {
        let len = 12 + body.len().div_ceil(4) * 4;
        let kind = self.u32(kind);
        let len_bytes = self.u32(len as u32);
        self.out.extend(kind);
        self.out.extend(len_bytes);
        self.out.extend(body);
        self.out.resize(self.out.len() + (len - 12 - body.len()), 0);
        self.out.extend(len_bytes);
    }

    fn section(&mut self) {
        let mut body = Vec::new();
        body.extend(self.u32(BYTE_ORDER_MAGIC));
        body.extend(self.u16(1));
        body.extend(self.u16(0));
        body.extend((-1i64).to_le_bytes());
        self.block(0x0a0d_0d0a, &body);
    }

    fn interface(&mut self, link: u16, tsresol: Option<u8>) {
        let mut body = Vec::new();
        body.extend(self.u16(link));
        body.extend(self.u16(0));
        body.extend(self.u32(0));
        if let Some(r) = tsresol {
            body.extend(self.u16(IF_TSRESOL));
            body.extend(self.u16(1));
            body.extend([r, 0, 0, 0]);
            body.extend(self.u16(OPT_END));
            body.extend(self.u16(0));
        }
        self.block(IDB, &body);
    }

    fn enhanced(&mut self, iface: u32, ticks: u64, data: &[u8]) {
        let mut body = Vec::new();
        body.extend(self.u32(iface));
        body.extend(self.u32((ticks >> 32) as u32));
        body.extend(self.u32(ticks as u32));
        body.extend(self.u32(data.len() as u32));
        body.extend(self.u32(data.len() as u32));
        body.extend(data);
        body.resize(body.len().div_ceil(4) * 4, 0);
        self.block(EPB, &body);
    }
}

#[test]
fn reads_enhanced_and_simple_packets_in_both_byte_orders() {
    for be in [false, true] {
        let mut w = Writer::new(be);
        w.interface(1, Some(9));
        w.interface(101, None);
        w.block(0x0bad, b"unknown block body");
        w.enhanced(0, 1_500_000_000_123_456_789, b"hello");
        w.enhanced(1, 42, b"raw");
        let mut spb = w.u32(3).to_vec();
        spb.extend(b"abc\0");
        w.block(SPB, &spb);

        let mut r = PcapngReader::new(&w.out[..]).unwrap();
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(
            (p.link, p.data, p.timestamp_ns),
            (LinkType::ETHERNET, &b"hello"[..], 1_500_000_000_123_456_789)
        );
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(
            (p.link, p.data, p.timestamp_ns),
            (LinkType::RAW, &b"raw"[..], 42_000)
        );
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!((p.data, p.wire_len), (&b"abc"[..], 3));
        assert!(r.next_packet().unwrap().is_none());
    }
}

#[test]
fn binary_resolution_and_new_section_reset_interfaces() {
    let mut w = Writer::new(false);
    w.interface(1, Some(0x80 | 10));
    w.enhanced(0, 1024, b"x");
    w.section();
    w.enhanced(0, 1, b"lost");
    let mut r = PcapngReader::new(&w.out[..]).unwrap();
    assert_eq!(
        r.next_packet().unwrap().unwrap().timestamp_ns,
        1_000_000_000
    );
    assert!(r.next_packet().unwrap().is_none());
    assert_eq!(r.skipped_records(), 1);
}

#[test]
fn huge_claimed_lengths_do_not_allocate() {
    let mut w = Writer::new(false);
    w.interface(1, None);
    // An unknown block claiming ~4 GB, then the file ends.
    w.out.extend(0x0badu32.to_le_bytes());
    w.out.extend(0xffff_fffcu32.to_le_bytes());
    w.out.extend([0u8; 64]);
    let mut r = PcapngReader::new(&w.out[..]).unwrap();
    assert!(matches!(
        r.next_packet(),
        Err(CaptureError::CutShort { .. })
    ));

    // A packet block claiming ~4 GB is skipped as a stream too.
    let mut w = Writer::new(false);
    w.interface(1, None);
    w.out.extend(EPB.to_le_bytes());
    w.out.extend(0xffff_fffcu32.to_le_bytes());
    let mut r = PcapngReader::new(&w.out[..]).unwrap();
    assert!(matches!(
        r.next_packet(),
        Err(CaptureError::CutShort { .. })
    ));
}

#[test]
fn bad_lengths_are_corrupt() {
    let mut w = Writer::new(false);
    w.interface(1, None);
    w.enhanced(0, 0, b"abcd");
    let n = w.out.len();
    w.out[n - 4] ^= 0x40;
    let mut r = PcapngReader::new(&w.out[..]).unwrap();
    assert!(matches!(r.next_packet(), Err(CaptureError::Corrupt { .. })));

    let mut w = Writer::new(false);
    w.out.extend(IDB.to_le_bytes());
    w.out.extend(13u32.to_le_bytes());
    w.out.extend([0u8; 8]);
    let mut r = PcapngReader::new(&w.out[..]).unwrap();
    assert!(matches!(r.next_packet(), Err(CaptureError::Corrupt { .. })));
}

#[test]
fn captured_length_beyond_block_is_corrupt() {
    let mut w = Writer::new(false);
    w.interface(1, None);
    let mut body = Vec::new();
    body.extend(0u32.to_le_bytes());
    body.extend([0u8; 8]);
    body.extend(1000u32.to_le_bytes());
    body.extend(1000u32.to_le_bytes());
    body.extend([0u8; 8]);
    w.block(EPB, &body);
    let mut r = PcapngReader::new(&w.out[..]).unwrap();
    assert!(matches!(r.next_packet(), Err(CaptureError::Corrupt { .. })));
}

proptest::proptest! {
    #[test]
    fn packets_round_trip(be in proptest::bool::ANY, packets in proptest::collection::vec((0u64..1 << 60, proptest::collection::vec(proptest::num::u8::ANY, 0..300)), 0..20)) {
        let mut w = Writer::new(be);
        w.interface(1, Some(9));
        for (ts, data) in &packets {
            w.enhanced(0, *ts, data);
        }
        let mut r = PcapngReader::new(&w.out[..]).unwrap();
        for (ts, data) in &packets {
            let p = r.next_packet().unwrap().unwrap();
            proptest::prop_assert_eq!((p.timestamp_ns, p.data), (*ts, &data[..]));
        }
        proptest::prop_assert!(r.next_packet().unwrap().is_none());
    }

    #[test]
    fn arbitrary_blocks_never_panic(be in proptest::bool::ANY, tail in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        let mut w = Writer::new(be);
        w.interface(1, Some(6));
        w.out.extend(tail);
        if let Ok(mut r) = super::super::CaptureReader::open(&w.out[..]) {
            while let Ok(Some(_)) = r.next_packet() {}
        }
    }
}
