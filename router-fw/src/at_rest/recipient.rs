//! age X25519 recipients (`age1…`): a Bech32 (BIP 173) decoder of our own, because the
//! `bech32` crate would cost binary size the router does not have, and decoding is short.

use super::AtRestError;

/// Bech32's alphabet: the value of a data character is its index here.
const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
/// The human-readable part of age X25519 recipients.
const HRP: &str = "age";
/// An X25519 public key's length.
const KEY_LEN: usize = 32;
/// Bech32's checksum is six characters.
const CHECKSUM_LEN: usize = 6;
/// How an age X25519 identity (the secret key) starts.
const SECRET_PREFIX: &str = "AGE-SECRET-KEY-";

/// An age X25519 recipient: the researcher's public key files are encrypted to.
#[derive(Clone, PartialEq, Eq)]
pub struct Recipient {
    key: [u8; KEY_LEN],
    text: String,
}

impl Recipient {
    /// Parses `age1…` (surrounding whitespace ignored), checking the Bech32 checksum, the HRP
    /// and the key length.
    pub fn parse(s: &str) -> Result<Recipient, AtRestError> {
        let text = s.trim();
        // A pasted secret key must not reach the error, and so the logs, in full.
        if text.len() >= SECRET_PREFIX.len()
            && text.as_bytes()[..SECRET_PREFIX.len()].eq_ignore_ascii_case(SECRET_PREFIX.as_bytes())
        {
            return Err(AtRestError::Recipient {
                shown: format!("{SECRET_PREFIX}…"),
                reason: "this is the secret key (identity); the router takes the public key \
                         `age1…` that `matador-host keys new` printed, and the secret key \
                         must never be on a router"
                    .into(),
            });
        }
        let bad = |reason: String| AtRestError::Recipient {
            shown: shorten(text),
            reason,
        };
        let (hrp, data) = decode(text).map_err(bad)?;
        if hrp != HRP {
            return Err(bad(format!(
                "its HRP is `{hrp}`, an age X25519 recipient's is `{HRP}` (it starts with `age1`)"
            )));
        }
        let bytes = to_bytes(&data).map_err(bad)?;
        let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            bad(format!(
                "it holds {} bytes, an X25519 public key is {KEY_LEN}",
                bytes.len()
            ))
        })?;
        Ok(Recipient {
            key,
            text: text.to_ascii_lowercase(),
        })
    }

    /// The X25519 public key.
    pub fn public_key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }
}

impl std::str::FromStr for Recipient {
    type Err = AtRestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Recipient::parse(s)
    }
}

impl std::fmt::Display for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::fmt::Debug for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recipient({})", self.text)
    }
}

/// The input as an error shows it: whole if short, else its start (it may be anything).
fn shorten(s: &str) -> String {
    match s.char_indices().nth(70) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// BIP 173's checksum polynomial over the expanded HRP and the data.
fn polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// Splits and checks a Bech32 string: the HRP (lower case) and the 5-bit data values without
/// the checksum. The 90-character limit of BIP 173 is not applied: age does not apply it
/// to its (longer) secret keys either, and our recipients are 62 characters.
fn decode(s: &str) -> Result<(String, Vec<u8>), String> {
    if !s.is_ascii() {
        return Err("it has non-ASCII characters".into());
    }
    let has_lower = s.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = s.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper {
        return Err("it mixes upper and lower case, which Bech32 forbids".into());
    }
    let s = s.to_ascii_lowercase();
    let Some(sep) = s.rfind('1') else {
        return Err("it has no `1` separating the HRP from the data".into());
    };
    let (hrp, data) = (&s[..sep], &s[sep + 1..]);
    if hrp.is_empty() || hrp.bytes().any(|b| !(33..=126).contains(&b)) {
        return Err("its HRP is empty or has invalid characters".into());
    }
    if data.len() < CHECKSUM_LEN {
        return Err("it is too short to hold a Bech32 checksum".into());
    }
    let mut values = Vec::with_capacity(data.len());
    for c in data.chars() {
        let v = CHARSET
            .iter()
            .position(|&x| char::from(x) == c)
            .ok_or_else(|| format!("`{c}` is not a Bech32 character"))?;
        // The position in a 32-entry table fits in a u8.
        values.push(v as u8);
    }
    let expanded = hrp
        .bytes()
        .map(|b| b >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.bytes().map(|b| b & 31));
    if polymod(expanded.chain(values.iter().copied())) != 1 {
        return Err("its Bech32 checksum is wrong (a typo, or a truncated key?)".into());
    }
    values.truncate(values.len() - CHECKSUM_LEN);
    Ok((hrp.to_string(), values))
}

/// 5-bit groups to bytes; the padding must be under 5 bits and zero, as BIP 173 requires.
fn to_bytes(values: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(values.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &v in values {
        // At most 12 bits are pending (7 left over and 5 new): keep only those.
        acc = ((acc << 5) | u32::from(v)) & 0xfff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            // Masked to 8 bits.
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    if bits >= 5 || (acc & ((1 << bits) - 1)) != 0 {
        return Err("its data has invalid padding".into());
    }
    Ok(out)
}
