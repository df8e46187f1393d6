#![no_main]
//! Capture reading and the whole extraction over hostile bytes: as given (pcap or pcapng by
//! magic), and behind a valid pcap header whose link type the first byte picks, so the
//! mutator reaches packet records and every decoder quickly; there with the payload tap.

use libfuzzer_sys::fuzz_target;
use matador_probe::flows::{extract, extract_with_payloads, ExtractConfig, PayloadConfig};

const LINKS: [u32; 8] = [1, 101, 113, 276, 0, 108, 228, 229];

fuzz_target!(|data: &[u8]| {
    let config = ExtractConfig::default();
    let _ = extract(data, &config);
    if let Some((first, rest)) = data.split_first() {
        let mut file = Vec::with_capacity(24 + rest.len());
        file.extend(0xa1b2_c3d4u32.to_le_bytes());
        file.extend([2, 0, 4, 0]);
        file.extend([0; 8]);
        file.extend(262_144u32.to_le_bytes());
        file.extend(LINKS[usize::from(*first) % LINKS.len()].to_le_bytes());
        file.extend(rest);
        // A small cap, so the tap's limits are reached within a fuzz input.
        let tap = PayloadConfig {
            max_bytes: 64,
            ..PayloadConfig::default()
        };
        let _ = extract_with_payloads(&file[..], &config, &tap);
    }
});
