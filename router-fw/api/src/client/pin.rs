//! Certificate pinning: the host trusts exactly the router's self-signed certificate, named by
//! the SHA-256 of its DER, and nothing else (no CA, no names, no dates).

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use super::ClientError;
pub use crate::digest::{fingerprint, sha256_hex};

/// A SHA-256 in the one spelling the router uses (64 lowercase hex digits), from what a
/// person may paste: upper case, `openssl`'s colons, surrounding spaces. `None` if it is not
/// a SHA-256 at all.
pub fn normalize_sha256(given: &str) -> Option<String> {
    let digits: String = given
        .trim()
        .chars()
        .filter(|&c| c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let ok = digits.len() == 64 && digits.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(digits)
}

/// The router presented a certificate other than the pinned one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinMismatch {
    /// The pinned fingerprint.
    pub expected: String,
    /// The fingerprint of the certificate the router presented.
    pub got: String,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the router's certificate is not the pinned one: expected {}, got {}",
            self.expected, self.got
        )
    }
}

impl std::error::Error for PinMismatch {}

impl PinMismatch {
    /// The mismatch behind a failed TLS handshake, if that was why it failed (tokio-rustls
    /// wraps the rustls error in an `io::Error`).
    pub fn find(error: &std::io::Error) -> Option<Self> {
        let rustls_error = error.get_ref()?.downcast_ref::<rustls::Error>()?;
        match rustls_error {
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
                inner.downcast_ref::<Self>().cloned()
            }
            _ => None,
        }
    }
}

/// Accepts exactly the certificate with this SHA-256; names and dates do not matter (the
/// router's clock may be far off and its name is whatever the lab calls it). The handshake
/// signature is still verified, so only the holder of the certificate's key passes.
#[derive(Debug)]
pub struct PinnedVerifier {
    sha256: String,
    provider: Arc<CryptoProvider>,
}

impl PinnedVerifier {
    /// A verifier for this fingerprint (any spelling [`normalize_sha256`] takes).
    pub fn new(sha256: &str) -> Result<Self, ClientError> {
        let sha256 = normalize_sha256(sha256).ok_or_else(|| ClientError::BadFingerprint {
            given: sha256.to_owned(),
        })?;
        Ok(Self {
            sha256,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        })
    }

    /// The pinned fingerprint, normalised.
    pub fn fingerprint(&self) -> &str {
        &self.sha256
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = fingerprint(end_entity);
        if got == self.sha256 {
            return Ok(ServerCertVerified::assertion());
        }
        // Typed, so that the client can tell the person both fingerprints; as an invalid
        // certificate, so that the router is sent a bad_certificate alert and logs it.
        let mismatch = PinMismatch {
            expected: self.sha256.clone(),
            got,
        };
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(mismatch)),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client config that trusts only the certificate with this fingerprint: TLS 1.3
/// (the router serves nothing else), ring, ALPN `http/1.1`.
pub fn pinned_config(sha256: &str) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let verifier = Arc::new(PinnedVerifier::new(sha256)?);
    let provider = Arc::clone(&verifier.provider);
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| ClientError::TlsSetup(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_fingerprints_are_normalised() {
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let colons = hex
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).to_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(normalize_sha256(hex).as_deref(), Some(hex));
        assert_eq!(normalize_sha256(&colons).as_deref(), Some(hex));
        assert_eq!(normalize_sha256(&format!(" {hex}\n")).as_deref(), Some(hex));
        for bad in ["", &hex[1..], &format!("{hex}0"), &hex.replace('a', "g")] {
            assert_eq!(normalize_sha256(bad), None, "{bad}");
        }
        let err = PinnedVerifier::new("nope").unwrap_err();
        assert!(matches!(err, ClientError::BadFingerprint { .. }), "{err}");
    }

    #[test]
    fn a_mismatch_is_found_again_in_the_io_error() {
        let verifier = PinnedVerifier::new(&"ab".repeat(32)).unwrap();
        let cert = CertificateDer::from(b"not really a certificate".to_vec());
        let name = ServerName::try_from("matador-router").unwrap();
        let err = verifier
            .verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
            .unwrap_err();
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, err);
        let mismatch = PinMismatch::find(&io).unwrap();
        assert_eq!(mismatch.expected, "ab".repeat(32));
        assert_eq!(mismatch.got, fingerprint(b"not really a certificate"));
        assert!(
            mismatch.to_string().contains("not the pinned one"),
            "{mismatch}"
        );
        let other = std::io::Error::other("unrelated");
        assert_eq!(PinMismatch::find(&other), None);
    }
}
