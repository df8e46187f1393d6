//! SHA-256 in the one spelling both ends use: lowercase hex (certificate fingerprints,
//! result hashes).

/// SHA-256 of `bytes`, lowercase hex (certificate fingerprints, result hashes).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// SHA-256 of a certificate's DER, lowercase hex: the router's `api-fingerprint`.
pub fn fingerprint(cert_der: &[u8]) -> String {
    sha256_hex(cert_der)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_lowercase_hex_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(fingerprint(b"abc"), sha256_hex(b"abc"));
    }
}
