#![no_main]
//! The pcapng reader over hostile blocks: behind a valid section header (little- or
//! big-endian, by the first byte), every packet then run through the extractor.

use libfuzzer_sys::fuzz_target;
use matador_probe::flows::capture::PcapngReader;
use matador_probe::flows::{ExtractConfig, Extractor};

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let big = first & 1 == 1;
    let u32b = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut file = Vec::with_capacity(28 + rest.len());
    file.extend([0x0a, 0x0d, 0x0d, 0x0a]);
    file.extend(u32b(28));
    file.extend(u32b(0x1a2b_3c4d));
    file.extend([0; 12]);
    file.extend(u32b(28));
    file.extend(rest);
    let Ok(mut reader) = PcapngReader::new(&file[..]) else {
        return;
    };
    let mut extractor = Extractor::new(&ExtractConfig::default());
    while let Ok(Some(packet)) = reader.next_packet() {
        extractor.packet(&packet);
    }
    let _ = extractor.finish();
});
