#![no_main]
//! QUIC Initials: hostile datagrams through header parsing and decryption, and hostile frames
//! sealed into a real client Initial (keys from a fixed DCID) so the frame walker, the CRYPTO
//! reassembly and the ClientHello reader behind the AEAD are reached too, through the whole
//! extractor.

#[path = "../../tests/support/messages.rs"]
mod messages;
#[path = "../../tests/support/packets.rs"]
mod packets;

use libfuzzer_sys::fuzz_target;
use matador_probe::flows::names::quic::{crypto_frames, long_header, InitialOpener};
use matador_probe::flows::{ExtractConfig, Extractor, LinkType, Packet};

fuzz_target!(|data: &[u8]| {
    let mut scratch = Vec::new();
    if let Ok(header) = long_header(data) {
        let opener = InitialOpener::client(header.dcid);
        if let Ok(plain) = opener.open(data, &header, &mut scratch) {
            let _ = crypto_frames(&scratch[plain], |_, _| {});
        }
    }
    let (split, frames) = match data.split_first() {
        Some((s, f)) => (usize::from(*s), f),
        None => return,
    };
    // The frames over one or two Initials of the same connection.
    let cut = split * frames.len() / 256;
    let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
    let mut extractor = Extractor::new(&ExtractConfig::default());
    for (pn, part) in [&frames[..cut], &frames[cut..]].into_iter().enumerate() {
        let initial = messages::quic_initial(&dcid, &[1], pn as u32, part, 1200);
        let datagram = packets::udp(50000, 443, &initial);
        let ip = packets::ip([10, 0, 0, 2].into(), [192, 0, 2, 1].into(), 17, &datagram);
        extractor.packet(&Packet {
            timestamp_ns: pn as u64,
            link: LinkType::RAW,
            wire_len: ip.len() as u32,
            data: &ip,
        });
    }
    let _ = extractor.finish();
});
