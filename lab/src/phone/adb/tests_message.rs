//! Tests of the message codec: layout, every rejection, and properties over arbitrary input.

use proptest::prelude::*;

use super::message::{
    checksum, fuzz_decode, Command, DecodeError, Decoder, Message, HEADER_LEN, MAX_PAYLOAD,
};

fn decode_all(bytes: &[u8], check: bool) -> Result<Vec<Message>, DecodeError> {
    let mut decoder = Decoder::new(MAX_PAYLOAD);
    decoder.set_check_checksum(check);
    decoder.feed(bytes);
    let mut out = Vec::new();
    while let Some(message) = decoder.next_message()? {
        out.push(message);
    }
    Ok(out)
}

fn header(command: u32, length: u32, sum: u32, magic: u32) -> Vec<u8> {
    [command, 7, 9, length, sum, magic]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
}

#[test]
fn command_codes_are_the_ascii_names() {
    assert_eq!(Command::Cnxn.code(), 0x4e58_4e43);
    assert_eq!(Command::Auth.code(), 0x4854_5541);
    assert_eq!(Command::Open.code(), 0x4e45_504f);
    assert_eq!(Command::Okay.code(), 0x5941_4b4f);
    assert_eq!(Command::Wrte.code(), 0x4554_5257);
    assert_eq!(Command::Clse.code(), 0x4553_4c43);
    assert_eq!(Command::Sync.code(), 0x434e_5953);
    assert_eq!(Command::Stls.code(), 0x534c_5453);
    for command in Command::ALL {
        assert_eq!(Command::from_code(command.code()), Some(command));
    }
    assert_eq!(Command::from_code(0), None);
}

#[test]
fn encoding_lays_out_the_header() {
    let bytes = Message::new(Command::Wrte, 1, 2, b"ab".to_vec()).encode();
    assert_eq!(bytes.len(), HEADER_LEN + 2);
    assert_eq!(&bytes[..4], b"WRTE");
    assert_eq!(&bytes[4..8], &1u32.to_le_bytes());
    assert_eq!(&bytes[8..12], &2u32.to_le_bytes());
    assert_eq!(&bytes[12..16], &2u32.to_le_bytes());
    assert_eq!(
        &bytes[16..20],
        &(u32::from(b'a') + u32::from(b'b')).to_le_bytes()
    );
    assert_eq!(&bytes[20..24], &(!Command::Wrte.code()).to_le_bytes());
    assert_eq!(&bytes[24..], b"ab");
}

#[test]
fn partial_input_needs_more() {
    let bytes = Message::new(Command::Open, 5, 0, b"shell:ls\0".to_vec()).encode();
    let mut decoder = Decoder::new(MAX_PAYLOAD);
    for &b in &bytes[..bytes.len() - 1] {
        decoder.feed(&[b]);
        assert_eq!(decoder.next_message(), Ok(None));
    }
    decoder.feed(&bytes[bytes.len() - 1..]);
    assert_eq!(
        decoder.next_message().unwrap().unwrap().payload,
        b"shell:ls\0"
    );
    assert_eq!(decoder.next_message(), Ok(None));
}

#[test]
fn bad_magic_is_rejected() {
    let code = Command::Okay.code();
    assert_eq!(
        decode_all(&header(code, 0, 0, code), true),
        Err(DecodeError::BadMagic {
            command: code,
            magic: code
        })
    );
}

#[test]
fn unknown_command_is_rejected() {
    let code = u32::from_le_bytes(*b"XXXX");
    assert_eq!(
        decode_all(&header(code, 0, 0, !code), true),
        Err(DecodeError::UnknownCommand(code))
    );
}

#[test]
fn oversized_length_is_rejected_from_the_header_alone() {
    let code = Command::Wrte.code();
    // No payload follows: the decoder must not wait for (or allocate) 4 GiB.
    assert_eq!(
        decode_all(&header(code, u32::MAX, 0, !code), true),
        Err(DecodeError::TooLong {
            length: u32::MAX,
            max: MAX_PAYLOAD
        })
    );
    let just_over = u32::try_from(MAX_PAYLOAD + 1).unwrap();
    assert!(matches!(
        decode_all(&header(code, just_over, 0, !code), true),
        Err(DecodeError::TooLong { .. })
    ));
}

#[test]
fn checksum_is_checked_only_when_required() {
    let mut bytes = Message::new(Command::Wrte, 1, 2, b"hello".to_vec()).encode();
    bytes[16] ^= 1;
    assert_eq!(
        decode_all(&bytes, true),
        Err(DecodeError::BadChecksum {
            announced: checksum(b"hello") ^ 1,
            actual: checksum(b"hello")
        })
    );
    assert_eq!(decode_all(&bytes, false).unwrap().len(), 1);
}

#[test]
fn largest_payload_is_accepted() {
    let message = Message::new(Command::Wrte, 1, 2, vec![0xff; MAX_PAYLOAD]);
    assert_eq!(decode_all(&message.encode(), true).unwrap(), vec![message]);
}

fn arb_message() -> impl Strategy<Value = Message> {
    (
        proptest::sample::select(Command::ALL.to_vec()),
        any::<u32>(),
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(|(c, a, b, p)| Message::new(c, a, b, p))
}

proptest! {
    #[test]
    fn encode_then_decode_round_trips(messages in proptest::collection::vec(arb_message(), 0..8)) {
        let bytes: Vec<u8> = messages.iter().flat_map(Message::encode).collect();
        prop_assert_eq!(decode_all(&bytes, true).unwrap(), messages);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        fuzz_decode(&bytes);
    }

    #[test]
    fn header_like_bytes_never_panic(
        command in proptest::sample::select(Command::ALL.to_vec()),
        words in proptest::array::uniform4(any::<u32>()),
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        // Valid command and magic, so the decoder gets past the first checks.
        let code = command.code();
        let mut bytes = header(code, words[0] % 128, words[1], !code);
        bytes.extend_from_slice(&tail);
        fuzz_decode(&bytes);
    }

    #[test]
    fn any_split_yields_the_same_messages(
        messages in proptest::collection::vec(arb_message(), 1..5),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes: Vec<u8> = messages.iter().flat_map(Message::encode).collect();
        let cut = cut.index(bytes.len() + 1);
        let mut decoder = Decoder::new(MAX_PAYLOAD);
        let mut out = Vec::new();
        for part in [&bytes[..cut], &bytes[cut..]] {
            decoder.feed(part);
            while let Some(message) = decoder.next_message().unwrap() {
                out.push(message);
            }
        }
        prop_assert_eq!(out, messages);
    }
}
