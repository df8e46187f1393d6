//! Tests of the pcapng writer: round trips through our reader, and tshark's reading of it.

use super::super::{CaptureReader, PcapngReader};
use super::*;
#[path = "../../../tests/support/host.rs"]
mod host;
use host::tshark_fields;
use std::path::PathBuf;

fn written(packets: &[(u64, Vec<u8>, u32)], snaplen: u32, name: &str) -> Vec<u8> {
    let mut w = PcapngWriter::new(Vec::new(), LinkType::ETHERNET, snaplen, name).unwrap();
    for (ts, data, wire) in packets {
        let before = w.bytes_written();
        let expected = w.packet_block_len(data.len());
        w.write_packet(*ts, data, *wire).unwrap();
        assert_eq!(w.bytes_written() - before, expected);
    }
    assert_eq!(w.packets_written(), packets.len() as u64);
    let bytes = w.into_inner().unwrap();
    assert_eq!(bytes.len() % 4, 0);
    bytes
}

#[test]
fn header_is_a_section_and_one_interface() {
    let bytes = written(&[], 0, "br-lan");
    assert_eq!(
        bytes.len() as u64,
        PcapngWriter::<Vec<u8>>::header_len("br-lan")
    );
    assert_eq!(bytes[..4], [0x0a, 0x0d, 0x0d, 0x0a]);
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(USER_APPL) && text.contains("br-lan"));
    let mut r = PcapngReader::new(&bytes[..]).unwrap();
    assert!(r.next_packet().unwrap().is_none());
}

#[test]
fn snaplen_cuts_and_keeps_wire_length() {
    let bytes = written(&[(7, vec![0xab; 100], 100)], 60, "wlan0");
    let mut r = CaptureReader::open(&bytes[..]).unwrap();
    let p = r.next_packet().unwrap().unwrap();
    assert_eq!((p.data.len(), p.wire_len, p.timestamp_ns), (60, 100, 7));
    assert_eq!(p.link, LinkType::ETHERNET);
}

#[test]
fn long_names_are_cut_at_a_character_boundary() {
    let name = "é".repeat(200);
    let bytes = written(&[(1, vec![1, 2, 3], 3)], 0, &name);
    let mut r = PcapngReader::new(&bytes[..]).unwrap();
    assert_eq!(r.next_packet().unwrap().unwrap().data, [1, 2, 3]);
    assert_eq!(cut_name(&name).len(), 254);
}

proptest::proptest! {
    #[test]
    fn random_packets_round_trip(
        snaplen in proptest::prop_oneof![proptest::strategy::Just(0u32), 1u32..400],
        packets in proptest::collection::vec(
            (proptest::num::u64::ANY, proptest::collection::vec(proptest::num::u8::ANY, 0..300), 0u32..2000),
            0..30,
        ),
    ) {
        let bytes = written(&packets, snaplen, "eth0");
        let mut r = PcapngReader::new(&bytes[..]).unwrap();
        for (ts, data, wire) in &packets {
            let p = r.next_packet().unwrap().unwrap();
            let kept = match snaplen {
                0 => data.len(),
                n => data.len().min(n as usize),
            };
            proptest::prop_assert_eq!(p.timestamp_ns, *ts);
            proptest::prop_assert_eq!(p.data, &data[..kept]);
            proptest::prop_assert_eq!(p.wire_len, (*wire).max(kept as u32));
        }
        proptest::prop_assert!(r.next_packet().unwrap().is_none());
        proptest::prop_assert_eq!(r.skipped_records(), 0);
    }
}

/// A file in the temporary directory, removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn tshark_reads_time_interface_and_length() {
    let packets = vec![
        (1_700_000_000_123_456_789, vec![0x11; 60], 60),
        (1_700_000_001_000_000_001, vec![0x22; 1514], 1514),
        (1_700_000_002_999_999_999, vec![0x33; 64], 9000),
    ];
    let mut bytes = written(&packets, 0, "phy0-ap0");
    // A second section written the same way: concatenated files stay one capture.
    bytes.extend(written(&packets[..1], 0, "phy0-ap0"));
    let file = TempFile(std::env::temp_dir().join(format!(
        "matador-writer-{}-{:?}.pcapng",
        std::process::id(),
        std::thread::current().id()
    )));
    std::fs::write(&file.0, &bytes).unwrap();
    let rows = tshark_fields(
        &file.0,
        &["frame.time_epoch", "frame.interface_name", "frame.len"],
    );
    let want = [
        ("1700000000.123456789", "60"),
        ("1700000001.000000001", "1514"),
        ("1700000002.999999999", "9000"),
        ("1700000000.123456789", "60"),
    ];
    assert_eq!(rows.len(), want.len(), "{rows:?}");
    for (i, (row, (time, len))) in rows.iter().zip(want).enumerate() {
        assert_eq!(row, &[time, "phy0-ap0", len], "frame {}", i + 1);
    }
}
