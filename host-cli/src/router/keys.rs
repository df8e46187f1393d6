//! The secrets a router is enrolled with, from the OS random generator: its WireGuard key pair
//! (as `wg genkey` and `wg pubkey` make them), its API token and a Wi-Fi passphrase.

use anyhow::{anyhow, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use x25519_dalek::{PublicKey, StaticSecret};

/// A WireGuard key pair, each key base64 of 32 bytes. `Debug` never shows the private key.
#[derive(Clone, PartialEq, Eq)]
pub struct WgKeyPair {
    /// `[Interface] PrivateKey` (clamped, as `wg genkey` writes it).
    pub private_key: String,
    /// What `wg pubkey` prints for it.
    pub public_key: String,
}

impl std::fmt::Debug for WgKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WgKeyPair")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// `n` bytes from the OS random generator.
fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow!("the OS random generator failed"))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl WgKeyPair {
    /// A new key pair.
    pub fn generate() -> Result<Self> {
        Ok(Self::from_private(random::<32>()?))
    }

    /// The pair of this private key, clamped as Curve25519 wants (and `wg genkey` writes).
    pub fn from_private(mut private: [u8; 32]) -> Self {
        private[0] &= 248;
        private[31] = (private[31] & 127) | 64;
        let secret = StaticSecret::from(private);
        let public = PublicKey::from(&secret);
        Self {
            private_key: STANDARD.encode(secret.to_bytes()),
            public_key: STANDARD.encode(public.as_bytes()),
        }
    }
}

/// A new API token: 24 random bytes, hex (48 characters, as the router's first boot makes one).
pub fn new_token() -> Result<String> {
    Ok(hex(&random::<24>()?))
}

/// A new WPA2 passphrase: 12 random bytes, hex (24 characters, easy to type on a phone).
pub fn new_passphrase() -> Result<String> {
    Ok(hex(&random::<12>()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    fn unhex(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn the_public_key_is_x25519_of_the_private_one() {
        // RFC 7748, section 6.1: Alice's key pair (her private key is already clamped
        // where it matters: X25519 clamps before multiplying).
        let alice = WgKeyPair::from_private(unhex(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ));
        let public = unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        assert_eq!(alice.public_key, STANDARD.encode(public));
        let private = STANDARD.decode(&alice.private_key).unwrap();
        assert_eq!((private[0] & 7, private[31] & 0xc0), (0, 0x40), "clamped");
        assert!(!format!("{alice:?}").contains(&alice.private_key));
    }

    #[test]
    fn generated_keys_match_wg_pubkey() {
        let pair = WgKeyPair::generate().unwrap();
        matador_api::check_key("private", &pair.private_key).unwrap();
        matador_api::check_key("public", &pair.public_key).unwrap();
        assert_ne!(pair, WgKeyPair::generate().unwrap());
        let child = Command::new("wg")
            .arg("pubkey")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("note: `wg` (wireguard-tools) is not installed; cross-check skipped");
                return;
            }
            Err(e) => panic!("wg pubkey: {e}"),
        };
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{}", pair.private_key).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "wg pubkey: {:?}", out.status);
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            pair.public_key
        );
    }

    #[test]
    fn tokens_and_passphrases_are_fresh_hex() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let p = new_passphrase().unwrap();
        assert_eq!(p.len(), 24);
    }
}
