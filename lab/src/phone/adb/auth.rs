//! Host authentication: Android's RSA public-key format, the authorised-keys file and token signatures.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use rsa::rand_core::{OsRng, RngCore};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};

/// AUTH arg0: a token from the device for the host to sign.
pub const AUTH_TOKEN: u32 = 1;
/// AUTH arg0: the host's signature of the token.
pub const AUTH_SIGNATURE: u32 = 2;
/// AUTH arg0: the host's public key, offered for approval.
pub const AUTH_RSAPUBLICKEY: u32 = 3;
/// Length of the random token; the host signs it as if it were a SHA-1 digest.
pub const TOKEN_LEN: usize = 20;

/// Android only uses 2048-bit keys: 64 words of 32 bits.
const MODULUS_WORDS: u32 = 64;
const MODULUS_BYTES: usize = 256;
/// u32 len, u32 n0inv, modulus, rr (Montgomery R^2), u32 exponent.
const PUBKEY_LEN: usize = 4 + 4 + MODULUS_BYTES + MODULUS_BYTES + 4;
/// Without rr: the shortest blob we still accept (see `parse_android_pubkey`).
const PUBKEY_MIN_LEN: usize = 4 + 4 + MODULUS_BYTES + 4;
/// Base64 of PUBKEY_LEN bytes plus a generous comment.
const MAX_KEY_LINE: usize = 2048;

/// Why a public key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key text is not base64.
    #[error("public key is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The decoded blob has the wrong size.
    #[error("public key blob has {0} bytes, expected {PUBKEY_LEN}")]
    Length(usize),
    /// The key is not a 2048-bit key.
    #[error("public key has {0} modulus words, expected {MODULUS_WORDS}")]
    ModulusWords(u32),
    /// The numbers do not make an RSA key.
    #[error("public key rejected: {0}")]
    Rsa(#[from] rsa::Error),
    /// The key line is empty or too long.
    #[error("public key line is empty or longer than {MAX_KEY_LINE} bytes")]
    Line,
}

fn le_u32(blob: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(src) = blob.get(at..at + 4) {
        w.copy_from_slice(src);
    }
    u32::from_le_bytes(w)
}

/// Reads Android's binary `RSAPublicKey` struct into an RSA public key.
///
/// adb_client drops leading zero bytes of rr, so about one key in 256 it sends is
/// a few bytes short; the modulus and exponent are still at fixed places from the
/// start and the end, and rr is not needed to verify, so such blobs are accepted.
pub fn parse_android_pubkey(blob: &[u8]) -> Result<RsaPublicKey, KeyError> {
    if !(PUBKEY_MIN_LEN..=PUBKEY_LEN).contains(&blob.len()) {
        return Err(KeyError::Length(blob.len()));
    }
    let words = le_u32(blob, 0);
    if words != MODULUS_WORDS {
        return Err(KeyError::ModulusWords(words));
    }
    let modulus = blob.get(8..8 + MODULUS_BYTES).unwrap_or_default();
    let exponent = le_u32(blob, blob.len() - 4);
    let key = RsaPublicKey::new(BigUint::from_bytes_le(modulus), BigUint::from(exponent))?;
    Ok(key)
}

/// Reads one key line ("BASE64 user@host", maybe NUL-terminated) as sent in AUTH or stored in adb_keys.
pub fn parse_key_line(line: &[u8]) -> Result<RsaPublicKey, KeyError> {
    if line.is_empty() || line.len() > MAX_KEY_LINE {
        return Err(KeyError::Line);
    }
    let text = line.split(|&b| b == 0).next().unwrap_or_default();
    let encoded = text
        .split(|b| b.is_ascii_whitespace())
        .find(|w| !w.is_empty())
        .ok_or(KeyError::Line)?;
    let blob = base64::engine::general_purpose::STANDARD.decode(encoded)?;
    parse_android_pubkey(&blob)
}

/// True if `signature` is the host's PKCS#1 v1.5 signature of `token` taken as a SHA-1 digest.
pub fn verify_token(key: &RsaPublicKey, token: &[u8], signature: &[u8]) -> bool {
    key.verify(Pkcs1v15Sign::new::<sha1::Sha1>(), token, signature)
        .is_ok()
}

/// A fresh random token.
pub fn new_token() -> [u8; TOKEN_LEN] {
    let mut token = [0u8; TOKEN_LEN];
    OsRng.fill_bytes(&mut token);
    token
}

/// The device's authorised host keys, backed by an adb_keys file.
#[derive(Debug)]
pub struct KeyStore {
    path: PathBuf,
    keys: Vec<RsaPublicKey>,
}

impl KeyStore {
    /// Loads the keys in `path`; a missing file is an empty store, bad lines are skipped.
    pub fn load(path: &Path) -> KeyStore {
        let text = std::fs::read(path).unwrap_or_default();
        let keys = text
            .split(|&b| b == b'\n')
            .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
            .filter_map(|line| match parse_key_line(line) {
                Ok(key) => Some(key),
                Err(e) => {
                    tracing::debug!(path = %path.display(), error = %e, "skipping adb key line");
                    None
                }
            })
            .collect();
        KeyStore {
            path: path.to_path_buf(),
            keys,
        }
    }

    /// True if any authorised key signed `token`.
    pub fn verify(&self, token: &[u8], signature: &[u8]) -> bool {
        self.keys.iter().any(|k| verify_token(k, token, signature))
    }

    /// True if `key` is already authorised.
    pub fn contains(&self, key: &RsaPublicKey) -> bool {
        self.keys
            .iter()
            .any(|k| k.n() == key.n() && k.e() == key.e())
    }

    /// Authorises `key` ("Always allow"), appending its line to the file unless already there.
    pub fn authorise(&mut self, line: &[u8], key: RsaPublicKey) -> std::io::Result<()> {
        if self.contains(&key) {
            return Ok(());
        }
        let text = line.split(|&b| b == 0).next().unwrap_or_default();
        // The comment comes from the host: keep it on one line of the file.
        let text: String = String::from_utf8_lossy(text)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        writeln!(file, "{}", text.trim())?;
        self.keys.push(key);
        Ok(())
    }
}
