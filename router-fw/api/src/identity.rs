//! The router API's TLS identity (feature `identity`): one self-signed certificate and its
//! key, made by the router on first boot or ahead of time by `matador-host router enroll`,
//! and pinned by the host by the SHA-256 of the certificate. One generator for both, so an
//! enrolled router serves exactly the kind of identity it would have made itself.

use std::fmt;

use rcgen::{CertificateParams, DnType, KeyPair, SanType};

/// The certificate, DER, in the router's state directory.
pub const CERT_FILE: &str = "api-cert.der";
/// Its private key, PKCS#8 DER, owner-only, in the state directory.
pub const KEY_FILE: &str = "api-key.der";
/// The certificate's fingerprint, as the router publishes it in its state directory.
pub const FINGERPRINT_FILE: &str = "api-fingerprint";
/// The DNS name in the certificate (the host pins the key, it does not check names).
pub const NAME: &str = "matador-router";

/// A certificate and key as the router serves them. `Debug` shows the fingerprint only.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiIdentity {
    /// The self-signed certificate, DER.
    pub cert_der: Vec<u8>,
    /// Its ECDSA P-256 private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

impl fmt::Debug for ApiIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiIdentity")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

/// The identity could not be made (rcgen's reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityError(pub String);

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot make the API's TLS certificate: {}", self.0)
    }
}

impl std::error::Error for IdentityError {}

impl From<rcgen::Error> for IdentityError {
    fn from(e: rcgen::Error) -> Self {
        IdentityError(e.to_string())
    }
}

impl ApiIdentity {
    /// A new ECDSA P-256 key and a self-signed certificate for [`NAME`], valid 2020 to 2099.
    pub fn generate() -> Result<Self, IdentityError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![NAME.to_owned()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "MATAdOR router API");
        params.subject_alt_names = vec![SanType::DnsName(NAME.try_into()?)];
        // Fixed and wide: a router's clock may be far off before NTP, and the host pins the
        // certificate instead of checking dates.
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2099, 12, 31);
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        })
    }

    /// SHA-256 of the certificate (DER), lowercase hex: what the host pins.
    pub fn fingerprint(&self) -> String {
        crate::digest::fingerprint(&self.cert_der)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_identity_is_new_and_named_by_its_certificate() {
        let a = ApiIdentity::generate().unwrap();
        let b = ApiIdentity::generate().unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 64);
        assert_eq!(a.fingerprint(), crate::digest::sha256_hex(&a.cert_der));
        // The key is PKCS#8 for P-256 (rcgen reads it back), and Debug keeps it out.
        KeyPair::try_from(a.key_der.as_slice()).unwrap();
        let shown = format!("{a:?}");
        assert!(shown.contains(&a.fingerprint()), "{shown}");
        assert!(!shown.contains("key_der"), "{shown}");
    }
}
