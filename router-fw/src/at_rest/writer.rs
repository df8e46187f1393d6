//! A streaming age v1 encryptor (https://age-encryption.org/v1) to one X25519 recipient,
//! built from `ring` alone: the `age` crate would bring its own X25519, ChaCha20-Poly1305,
//! HKDF and HMAC, and i18n, which the router's binary budget cannot carry.

use super::{AtRestError, Recipient};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use std::io::{self, Write};

/// Plaintext bytes per STREAM chunk, as the age format fixes it.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// Poly1305 tag bytes after each chunk.
const TAG_LEN: usize = 16;
/// The file key's length (age v1).
const FILE_KEY_LEN: usize = 16;
/// The payload nonce's length (age v1).
const PAYLOAD_NONCE_LEN: usize = 16;
/// HKDF info of the X25519 stanza's wrapping key.
const X25519_LABEL: &[u8] = b"age-encryption.org/v1/X25519";

/// Encrypts everything written to it into an age file on `W`. Memory is one chunk buffer,
/// allocated once. The output is complete only after [`AgeWriter::finish`]: dropped without
/// it, the file lacks its last chunk, and age refuses it as truncated.
pub struct AgeWriter<W: Write> {
    inner: W,
    key: LessSafeKey,
    /// The chunk being filled; `TAG_LEN` spare bytes at the end hold its tag when sealed.
    buf: Box<[u8]>,
    /// Plaintext bytes in `buf`.
    len: usize,
    /// STREAM chunk counter (age's is 11 bytes; 2^64 chunks cannot be reached).
    counter: u64,
    /// A write to `inner` failed after `buf` was encrypted in place: the stream is broken.
    broken: bool,
}

fn crypto(step: &'static str) -> impl FnOnce(ring::error::Unspecified) -> AtRestError {
    move |_| AtRestError::Crypto(step)
}

impl<W: Write> AgeWriter<W> {
    /// Writes the age header (to `to`) and the payload nonce to `inner`; the plaintext
    /// written next is encrypted to it.
    pub fn new(mut inner: W, to: &Recipient) -> Result<Self, AtRestError> {
        let rng = SystemRandom::new();
        let mut file_key = [0u8; FILE_KEY_LEN];
        rng.fill(&mut file_key).map_err(crypto("random file key"))?;

        // The X25519 stanza: the file key wrapped under HKDF(ECDH(ephemeral, recipient)).
        let ephemeral =
            EphemeralPrivateKey::generate(&X25519, &rng).map_err(crypto("ephemeral key"))?;
        let share = ephemeral
            .compute_public_key()
            .map_err(crypto("ephemeral share"))?;
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(share.as_ref());
        salt[32..].copy_from_slice(to.public_key());
        // ring refuses an all-zero shared secret (a low-order recipient key), as age requires.
        let wrap_key = agreement::agree_ephemeral(
            ephemeral,
            &UnparsedPublicKey::new(&X25519, to.public_key()),
            |shared| aead_key(&salt, shared, X25519_LABEL),
        )
        .map_err(crypto("X25519 agreement (is the recipient a valid key?)"))??;
        let mut body = [0u8; FILE_KEY_LEN + TAG_LEN];
        body[..FILE_KEY_LEN].copy_from_slice(&file_key);
        // The wrapping key is used once, so the all-zero nonce is what age specifies.
        let tag = wrap_key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([0; 12]),
                Aad::empty(),
                &mut body[..FILE_KEY_LEN],
            )
            .map_err(crypto("wrap file key"))?;
        body[FILE_KEY_LEN..].copy_from_slice(tag.as_ref());

        // 32 bytes of body are 43 base64 characters: one line shorter than 64, as age wants.
        let mut header = format!(
            "age-encryption.org/v1\n-> X25519 {}\n{}\n---",
            STANDARD_NO_PAD.encode(share.as_ref()),
            STANDARD_NO_PAD.encode(body)
        );
        let header_prk = Salt::new(HKDF_SHA256, &[]).extract(&file_key);
        let mac_key: hmac::Key = header_prk
            .expand(&[b"header"], hmac::HMAC_SHA256)
            .map_err(crypto("header MAC key"))?
            .into();
        let mac = hmac::sign(&mac_key, header.as_bytes());
        header.push(' ');
        header.push_str(&STANDARD_NO_PAD.encode(mac.as_ref()));
        header.push('\n');

        let mut nonce = [0u8; PAYLOAD_NONCE_LEN];
        rng.fill(&mut nonce)
            .map_err(crypto("random payload nonce"))?;
        let key = aead_key(&nonce, &file_key, b"payload")?;

        let io = |source| AtRestError::Io {
            context: "writing the age header".into(),
            source,
        };
        inner.write_all(header.as_bytes()).map_err(io)?;
        inner.write_all(&nonce).map_err(io)?;
        Ok(Self {
            inner,
            key,
            buf: vec![0u8; CHUNK_SIZE + TAG_LEN].into_boxed_slice(),
            len: 0,
            counter: 0,
            broken: false,
        })
    }

    /// Seals the buffered chunk (the last one if `last`) and writes it with its tag.
    fn seal_chunk(&mut self, last: bool) -> io::Result<()> {
        // STREAM nonce: 11-byte big-endian counter, then the last-chunk flag.
        let mut nonce = [0u8; 12];
        nonce[3..11].copy_from_slice(&self.counter.to_be_bytes());
        nonce[11] = u8::from(last);
        let len = self.len;
        self.broken = true;
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut self.buf[..len],
            )
            .map_err(|_| io::Error::other("ChaCha20-Poly1305 sealing failed"))?;
        self.buf[len..len + TAG_LEN].copy_from_slice(tag.as_ref());
        self.inner.write_all(&self.buf[..len + TAG_LEN])?;
        self.broken = false;
        self.len = 0;
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| io::Error::other("age STREAM counter overflow"))?;
        Ok(())
    }

    fn check(&self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "an earlier write of this age stream failed; its output is unusable",
            ));
        }
        Ok(())
    }

    /// The inner writer (what it has received so far: the header and the sealed chunks).
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Seals the last chunk, flushes, and gives back the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.check()?;
        self.seal_chunk(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for AgeWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check()?;
        if data.is_empty() {
            return Ok(0);
        }
        // A full chunk is sealed only once more data arrives: a file that ends on a chunk
        // boundary must end with that full chunk flagged last, not with an empty one.
        if self.len == CHUNK_SIZE {
            self.seal_chunk(false)?;
        }
        let n = data.len().min(CHUNK_SIZE - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        Ok(n)
    }

    /// Flushes the inner writer. The buffered partial chunk stays: STREAM chunks are sealed
    /// whole, so it reaches the output with the next full chunk or at `finish`.
    fn flush(&mut self) -> io::Result<()> {
        self.check()?;
        self.inner.flush()
    }
}

/// The bytes the payload chunks of `plain` plaintext bytes take after the header and nonce:
/// the plaintext and one tag per chunk, at least one (an empty file still has its last
/// chunk). Exact, because only the last chunk is ever short.
pub fn sealed_len(plain: u64) -> u64 {
    plain + TAG_LEN as u64 * plain.div_ceil(CHUNK_SIZE as u64).max(1)
}

/// A ChaCha20-Poly1305 key: HKDF-SHA256(salt, ikm) expanded with `info`.
fn aead_key(salt: &[u8], ikm: &[u8], info: &[u8]) -> Result<LessSafeKey, AtRestError> {
    let info = [info];
    let prk = Salt::new(HKDF_SHA256, salt).extract(ikm);
    let okm = prk
        .expand(&info, &CHACHA20_POLY1305)
        .map_err(crypto("HKDF"))?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}
