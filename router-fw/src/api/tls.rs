//! The API's TLS identity: a self-signed certificate generated once and kept in the state
//! directory, so that the host can pin its SHA-256 fingerprint.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use matador_api::identity::ApiIdentity;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::store::atomic;

use super::ApiServerError;

/// The certificate, DER, in the state directory.
pub const CERT_FILE: &str = matador_api::identity::CERT_FILE;
/// Its private key, PKCS#8 DER, owner-only.
pub const KEY_FILE: &str = matador_api::identity::KEY_FILE;

/// The certificate and key the API serves.
pub struct TlsIdentity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

fn tls_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ApiServerError {
    let context = context.into();
    move |source| ApiServerError::Io { context, source }
}

impl TlsIdentity {
    /// Loads the identity from `dir`, or generates and stores one if there is no certificate
    /// yet (a key without a certificate is what a crash during generation leaves: it was never
    /// served, so it is replaced). A certificate without its key, or files that do not parse,
    /// are an error: the host has pinned this certificate, and a silent new one would lock it
    /// out. Delete both files to start over.
    pub fn load_or_generate(dir: &Path) -> Result<Self, ApiServerError> {
        let shown = dir.display();
        fs::create_dir_all(dir).map_err(tls_err(format!("creating {shown}")))?;
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        if !cert_path.exists() {
            return Self::generate(dir);
        }
        let cert =
            fs::read(&cert_path).map_err(tls_err(format!("reading {}", cert_path.display())))?;
        let key = fs::read(&key_path).map_err(tls_err(format!(
            "reading {} (the key of {}; delete both to make a new identity, then re-pin)",
            key_path.display(),
            cert_path.display()
        )))?;
        let identity = Self {
            cert: CertificateDer::from(cert),
            key: PrivatePkcs8KeyDer::from(key),
        };
        identity.server_config().map_err(|e| {
            ApiServerError::Tls(format!(
                "{} and {} are not a usable certificate and key ({e}); delete both to make a \
                 new identity, then re-pin",
                cert_path.display(),
                key_path.display()
            ))
        })?;
        Ok(identity)
    }

    /// A new identity ([`ApiIdentity::generate`], the same the host makes when it enrolls a
    /// router), stored in `dir` (key first, certificate last).
    fn generate(dir: &Path) -> Result<Self, ApiServerError> {
        let made = ApiIdentity::generate().map_err(|e| ApiServerError::Tls(e.0))?;
        let identity = Self {
            cert: CertificateDer::from(made.cert_der),
            key: PrivatePkcs8KeyDer::from(made.key_der),
        };
        atomic::write_file(dir, KEY_FILE, identity.key.secret_pkcs8_der())
            .map_err(tls_err(format!("writing {}", dir.join(KEY_FILE).display())))?;
        atomic::write_file(dir, CERT_FILE, &identity.cert).map_err(tls_err(format!(
            "writing {}",
            dir.join(CERT_FILE).display()
        )))?;
        tracing::info!(fingerprint = %identity.fingerprint(), "generated the API's TLS certificate");
        Ok(identity)
    }

    /// SHA-256 of the certificate (DER), lowercase hex: what the host pins.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.cert)
    }

    /// A rustls server config serving this identity: TLS 1.3 only (both ends are ours),
    /// HTTP/1.1 by ALPN.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// SHA-256 of a certificate's DER, lowercase hex.
pub fn fingerprint(cert_der: &[u8]) -> String {
    crate::store::hex(ring::digest::digest(&ring::digest::SHA256, cert_der).as_ref())
}

/// The fingerprint of the identity kept in `state_dir`, generating it if there is none yet
/// (for `matador-routerd` to print at provisioning time).
pub fn identity_fingerprint(state_dir: &Path) -> Result<String, ApiServerError> {
    Ok(TlsIdentity::load_or_generate(state_dir)?.fingerprint())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = TlsIdentity::load_or_generate(dir.path()).unwrap();
        let again = TlsIdentity::load_or_generate(dir.path()).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        assert_eq!(first.fingerprint().len(), 64);
        assert_eq!(
            identity_fingerprint(dir.path()).unwrap(),
            first.fingerprint()
        );
        let mode = |name| {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(KEY_FILE), 0o600);
    }

    #[test]
    fn a_lost_key_is_an_error_and_a_lost_certificate_a_new_identity() {
        let dir = tempfile::tempdir().unwrap();
        let first = TlsIdentity::load_or_generate(dir.path())
            .unwrap()
            .fingerprint();
        fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let err = TlsIdentity::load_or_generate(dir.path()).unwrap_err();
        assert!(err.to_string().contains("delete both"), "{err}");
        fs::write(dir.path().join(KEY_FILE), b"garbage").unwrap();
        let err = TlsIdentity::load_or_generate(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("not a usable certificate and key"),
            "{err}"
        );
        fs::remove_file(dir.path().join(CERT_FILE)).unwrap();
        let second = TlsIdentity::load_or_generate(dir.path())
            .unwrap()
            .fingerprint();
        assert_ne!(first, second);
    }
}
