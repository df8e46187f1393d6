//! QUIC v1 client Initial packets (RFC 9000/9001): the long header, Initial keys derived from
//! the client's Destination Connection ID, header protection and AEAD removed, and the CRYPTO
//! frames that carry the ClientHello.

use ring::aead::{self, quic as hp};
use ring::hkdf;
use std::ops::Range;

/// QUIC version 1.
pub const VERSION_1: u32 = 1;
/// The RFC 9001 §5.2 salt of QUIC v1 Initial secrets.
const INITIAL_SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// Longest connection ID QUIC v1 allows.
pub const MAX_CID_LEN: usize = 20;
const TAG_LEN: usize = 16;
const SAMPLE_LEN: usize = 16;

/// Why a datagram gave no Initial plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuicError {
    /// A short-header packet: no more long-header packets in the datagram.
    #[error("not a long-header QUIC packet")]
    ShortHeader,
    /// A version other than v1 (or version negotiation).
    #[error("QUIC version {0:#010x} not supported")]
    Version(u32),
    /// The packet ends before its header or its announced length does.
    #[error("QUIC packet truncated")]
    Truncated,
    /// A field that cannot be right.
    #[error("malformed QUIC packet: {0}")]
    Malformed(&'static str),
    /// The AEAD did not authenticate: not a client Initial of this connection ID.
    #[error("QUIC Initial does not decrypt")]
    Decrypt,
}

/// The kind of a v1 long-header packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// Initial: protected with keys anyone can derive.
    Initial,
    /// 0-RTT.
    ZeroRtt,
    /// Handshake.
    Handshake,
    /// Retry (no length; ends the datagram).
    Retry,
}

/// A long header, read up to the (still protected) packet number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// The kind of packet.
    pub kind: PacketType,
    /// Destination Connection ID.
    pub dcid: &'a [u8],
    /// Source Connection ID.
    pub scid: &'a [u8],
    /// Offset of the packet number.
    pub pn_offset: usize,
    /// Offset just past this packet (the next coalesced one starts there).
    pub end: usize,
}

/// Reads the long header at the start of `packet`.
pub fn long_header(packet: &[u8]) -> Result<LongHeader<'_>, QuicError> {
    let mut r = Cursor { b: packet, at: 0 };
    let first = r.u8()?;
    if first & 0x80 == 0 {
        return Err(QuicError::ShortHeader);
    }
    let version = r.u32()?;
    if version != VERSION_1 {
        return Err(QuicError::Version(version));
    }
    if first & 0x40 == 0 {
        return Err(QuicError::Malformed("fixed bit is zero"));
    }
    let n = usize::from(r.u8()?);
    if n > MAX_CID_LEN {
        return Err(QuicError::Malformed("destination connection ID too long"));
    }
    let dcid = r.take(n)?;
    let n = usize::from(r.u8()?);
    if n > MAX_CID_LEN {
        return Err(QuicError::Malformed("source connection ID too long"));
    }
    let scid = r.take(n)?;
    let kind = match (first >> 4) & 3 {
        0 => PacketType::Initial,
        1 => PacketType::ZeroRtt,
        2 => PacketType::Handshake,
        _ => PacketType::Retry,
    };
    if kind == PacketType::Retry {
        return Ok(LongHeader {
            kind,
            dcid,
            scid,
            pn_offset: packet.len(),
            end: packet.len(),
        });
    }
    if kind == PacketType::Initial {
        let token_len = r.varint()?;
        r.take(usize::try_from(token_len).map_err(|_| QuicError::Truncated)?)?;
    }
    let length = usize::try_from(r.varint()?).map_err(|_| QuicError::Truncated)?;
    let pn_offset = r.at;
    let end = pn_offset.checked_add(length).ok_or(QuicError::Truncated)?;
    if end > packet.len() {
        return Err(QuicError::Truncated);
    }
    Ok(LongHeader {
        kind,
        dcid,
        scid,
        pn_offset,
        end,
    })
}

/// Client Initial keys of QUIC v1 for one Destination Connection ID (RFC 9001 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialKeys {
    /// AEAD_AES_128_GCM key.
    pub key: [u8; 16],
    /// AEAD IV, XORed with the packet number to make the nonce.
    pub iv: [u8; 12],
    /// Header protection key (AES-128-ECB).
    pub hp: [u8; 16],
}

impl InitialKeys {
    /// Derives the client's Initial keys from the DCID of its first Initial.
    pub fn client(dcid: &[u8]) -> Self {
        let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, &INITIAL_SALT_V1).extract(dcid);
        let mut secret = [0u8; 32];
        expand_label(&initial, b"client in", &mut secret);
        let client = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
        let mut keys = InitialKeys {
            key: [0; 16],
            iv: [0; 12],
            hp: [0; 16],
        };
        expand_label(&client, b"quic key", &mut keys.key);
        expand_label(&client, b"quic iv", &mut keys.iv);
        expand_label(&client, b"quic hp", &mut keys.hp);
        keys
    }
}

/// Ready-to-use ciphers for one connection's client Initials.
pub struct InitialOpener {
    aead: aead::LessSafeKey,
    hp: hp::HeaderProtectionKey,
    iv: [u8; 12],
}

impl InitialOpener {
    /// Ciphers for the client Initials of a connection whose first DCID was `dcid`.
    pub fn client(dcid: &[u8]) -> Self {
        let keys = InitialKeys::client(dcid);
        // Both constructors fail only on a key of the wrong length, and ours are fixed-size.
        let aead = aead::UnboundKey::new(&aead::AES_128_GCM, &keys.key)
            .map(aead::LessSafeKey::new)
            .expect("AES-128 key is 16 bytes");
        let hp = hp::HeaderProtectionKey::new(&hp::AES_128, &keys.hp)
            .expect("AES-128 header protection key is 16 bytes");
        InitialOpener {
            aead,
            hp,
            iv: keys.iv,
        }
    }

    /// Removes the protection of the Initial `packet[..header.end]` into `scratch` (reused);
    /// its plaintext frames are `scratch[range]`.
    pub fn open(
        &self,
        packet: &[u8],
        header: &LongHeader<'_>,
        scratch: &mut Vec<u8>,
    ) -> Result<Range<usize>, QuicError> {
        let pn_offset = header.pn_offset;
        if header.end < pn_offset + 4 + SAMPLE_LEN || header.end > packet.len() {
            return Err(QuicError::Truncated);
        }
        scratch.clear();
        scratch.extend_from_slice(&packet[..header.end]);
        let sample = &scratch[pn_offset + 4..pn_offset + 4 + SAMPLE_LEN];
        let mask = self.hp.new_mask(sample).map_err(|_| QuicError::Decrypt)?;
        scratch[0] ^= mask[0] & 0x0f;
        let pn_len = usize::from(scratch[0] & 3) + 1;
        let mut pn: u64 = 0;
        for i in 0..pn_len {
            scratch[pn_offset + i] ^= mask[1 + i];
            pn = pn << 8 | u64::from(scratch[pn_offset + i]);
        }
        // Initial packet numbers start at 0 and stay small, so the truncated number is the
        // full one (RFC 9000 §17.1 decoding needs the largest acknowledged, which is 0 here).
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        let body_at = pn_offset + pn_len;
        if header.end < body_at + TAG_LEN {
            return Err(QuicError::Truncated);
        }
        let (head, body) = scratch.split_at_mut(body_at);
        let plain = self
            .aead
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(&head[..]),
                body,
            )
            .map_err(|_| QuicError::Decrypt)?
            .len();
        Ok(body_at..body_at + plain)
    }
}

/// Walks the frames of an Initial's plaintext, handing each CRYPTO frame's (offset, data) to
/// `on_crypto`. Frames before an error have been handed over.
pub fn crypto_frames(
    plaintext: &[u8],
    mut on_crypto: impl FnMut(u64, &[u8]),
) -> Result<(), QuicError> {
    let mut r = Cursor {
        b: plaintext,
        at: 0,
    };
    while r.at < plaintext.len() {
        match r.varint()? {
            0x00 | 0x01 => {} // PADDING, PING
            kind @ (0x02 | 0x03) => {
                // ACK: largest, delay, range count, first range, ranges, ECN counts.
                r.varint()?;
                r.varint()?;
                let ranges = r.varint()?;
                r.varint()?;
                for _ in 0..ranges {
                    r.varint()?;
                    r.varint()?;
                }
                if kind == 0x03 {
                    for _ in 0..3 {
                        r.varint()?;
                    }
                }
            }
            0x06 => {
                let offset = r.varint()?;
                let len = usize::try_from(r.varint()?).map_err(|_| QuicError::Truncated)?;
                on_crypto(offset, r.take(len)?);
            }
            0x1c => {
                // CONNECTION_CLOSE: error code, frame type, reason.
                r.varint()?;
                r.varint()?;
                let len = usize::try_from(r.varint()?).map_err(|_| QuicError::Truncated)?;
                r.take(len)?;
            }
            _ => return Err(QuicError::Malformed("frame type not allowed in Initial")),
        }
    }
    Ok(())
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label of TLS 1.3 (RFC 8446 §7.1) with an empty context.
fn expand_label(prk: &hkdf::Prk, label: &[u8], out: &mut [u8]) {
    let len = (out.len() as u16).to_be_bytes();
    let label_len = [(6 + label.len()) as u8];
    let info: [&[u8]; 5] = [&len, &label_len, b"tls13 ", label, &[0]];
    // Expansion fails only for outputs over 255 hash lengths; ours are at most 32 bytes.
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .expect("HKDF output of at most 32 bytes");
}

/// A length-checked reader.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], QuicError> {
        let end = self.at.checked_add(n).ok_or(QuicError::Truncated)?;
        let out = self.b.get(self.at..end).ok_or(QuicError::Truncated)?;
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, QuicError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, QuicError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A variable-length integer (RFC 9000 §16).
    fn varint(&mut self) -> Result<u64, QuicError> {
        let first = self.u8()?;
        let extra = (1usize << (first >> 6)) - 1;
        let mut v = u64::from(first & 0x3f);
        for b in self.take(extra)? {
            v = v << 8 | u64::from(*b);
        }
        Ok(v)
    }
}

#[cfg(test)]
#[path = "quic_tests.rs"]
mod tests;
