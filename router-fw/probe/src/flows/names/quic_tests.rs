//! QUIC Initial tests: the RFC 9001 Appendix A vectors, sealed round trips, hostile bytes.

use super::*;
use crate::flows::messages::{client_hello, crypto_frame, quic_initial, rfc9001_client_initial};
use crate::flows::names::tls::parse_client_hello;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Decrypts one Initial and gathers its CRYPTO data (in order, for these tests).
fn crypto_of(packet: &[u8]) -> Vec<u8> {
    let h = long_header(packet).unwrap();
    assert_eq!(h.kind, PacketType::Initial);
    let mut scratch = Vec::new();
    let range = InitialOpener::client(h.dcid)
        .open(packet, &h, &mut scratch)
        .unwrap();
    let plain = &scratch[range];
    let mut pieces = Vec::new();
    crypto_frames(plain, |o, d| pieces.push((o, d.to_vec()))).unwrap();
    pieces.sort();
    pieces.into_iter().flat_map(|(_, d)| d).collect()
}

#[test]
fn rfc9001_client_keys() {
    let keys = InitialKeys::client(&hex("8394c8f03e515708"));
    assert_eq!(keys.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
    assert_eq!(keys.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
    assert_eq!(keys.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
}

#[test]
fn rfc9001_client_initial_gives_example_com() {
    let packet = rfc9001_client_initial();
    assert_eq!(packet.len(), 1200);
    let h = long_header(&packet).unwrap();
    assert_eq!(
        (h.dcid, h.pn_offset, h.end),
        (&hex("8394c8f03e515708")[..], 18, 1200)
    );
    let hello = crypto_of(&packet);
    let parsed = parse_client_hello(&hello).unwrap();
    assert_eq!(parsed.server_name, Some(&b"example.com"[..]));
}

#[test]
fn sealed_initials_round_trip_with_split_crypto() {
    let ch = client_hello("quic.app.example", 1500, true);
    let dcid = [7u8; 8];
    let (a, b) = ch.split_at(900);
    // Second half first, inside one packet, as Chrome shuffles its CRYPTO frames.
    let mut frames = crypto_frame(900, b);
    frames.push(0x01);
    frames.extend(crypto_frame(0, a));
    let packet = quic_initial(&dcid, &[1, 2, 3], 0, &frames, 1200);
    assert!(packet.len() >= 1200);
    let hello = crypto_of(&packet);
    assert_eq!(
        parse_client_hello(&hello).unwrap().server_name,
        Some(&b"quic.app.example"[..])
    );
}

#[test]
fn wrong_keys_and_other_packets_are_refused() {
    let packet = quic_initial(&[7u8; 8], &[], 0, &crypto_frame(0, b"x"), 1200);
    let h = long_header(&packet).unwrap();
    let mut scratch = Vec::new();
    assert_eq!(
        InitialOpener::client(&[8u8; 8]).open(&packet, &h, &mut scratch),
        Err(QuicError::Decrypt)
    );
    assert_eq!(long_header(&[0x40, 1, 2, 3]), Err(QuicError::ShortHeader));
    assert_eq!(long_header(&[0xc0, 0, 0, 0, 0]), Err(QuicError::Version(0)));
    assert_eq!(
        long_header(&[0xc0, 0, 0, 0, 1, 21]),
        Err(QuicError::Malformed("destination connection ID too long"))
    );
    assert_eq!(
        crypto_frames(&[0x08], |_, _| {}),
        Err(QuicError::Malformed("frame type not allowed in Initial"))
    );
}

#[test]
fn coalesced_packets_are_delimited() {
    let first = quic_initial(&[1u8; 8], &[], 0, &crypto_frame(0, b"abc"), 0);
    let mut datagram = first.clone();
    datagram.extend(quic_initial(&[1u8; 8], &[], 1, &crypto_frame(3, b"def"), 0));
    let h = long_header(&datagram).unwrap();
    assert_eq!(h.end, first.len());
    let h2 = long_header(&datagram[h.end..]).unwrap();
    assert_eq!(h2.end, datagram.len() - first.len());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..1300)) {
        let mut scratch = Vec::new();
        if let Ok(h) = long_header(&data) {
            let _ = InitialOpener::client(h.dcid).open(&data, &h, &mut scratch);
        }
        let _ = crypto_frames(&data, |_, _| {});
    }

    #[test]
    fn arbitrary_frames_in_a_real_initial_never_panic(frames in prop::collection::vec(any::<u8>(), 0..1100)) {
        let packet = quic_initial(&[9u8; 8], &[], 0, &frames, 1200);
        let h = long_header(&packet).unwrap();
        let mut scratch = Vec::new();
        let range = InitialOpener::client(h.dcid).open(&packet, &h, &mut scratch).unwrap();
        let _ = crypto_frames(&scratch[range], |_, d| { let _ = parse_client_hello(d); });
    }

    #[test]
    fn mutated_initials_never_panic(at in 0usize..1200, value in any::<u8>()) {
        let mut packet = rfc9001_client_initial();
        packet[at] = value;
        let mut scratch = Vec::new();
        if let Ok(h) = long_header(&packet) {
            if let Ok(range) = InitialOpener::client(h.dcid).open(&packet, &h, &mut scratch) {
                let _ = crypto_frames(&scratch[range], |_, _| {});
            }
        }
    }
}
