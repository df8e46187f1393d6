//! The lab's certificate authority and the TLS configurations built on it.

use base64::Engine as _;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::ServiceError;

/// Validity of the lab's certificates: fixed and generous, since labs are short-lived and the
/// emulated clocks may be anywhere near the present.
const NOT_BEFORE: (i32, u8, u8) = (2020, 1, 1);
const NOT_AFTER: (i32, u8, u8) = (2099, 12, 31);

/// The lab's certificate authority: generated per lab, its PEM written to the lab dir so clients trust it.
pub struct LabCa {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
}

impl std::fmt::Debug for LabCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabCa").finish_non_exhaustive()
    }
}

fn validity(params: &mut CertificateParams) {
    let (y, m, d) = NOT_BEFORE;
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = NOT_AFTER;
    params.not_after = rcgen::date_time_ymd(y, m, d);
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl LabCa {
    /// A new CA with a fresh ECDSA P-256 key.
    pub fn generate() -> Result<Self, ServiceError> {
        let key = KeyPair::generate()?;
        // A name unique to this lab's key, so that CAs of different labs are never confused
        // (a verifier looks issuers up by name).
        let tag: String = key
            .public_key_raw()
            .iter()
            .rev()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("MATAdOR lab CA {tag}"));
        params
            .distinguished_name
            .push(DnType::OrganizationName, "MATAdOR virtual lab");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params);
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_der: cert.der().clone(),
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate in PEM, for the clients' trust stores.
    pub fn ca_pem(&self) -> String {
        self.cert_pem.clone()
    }

    /// The CA certificate in DER.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.cert_der.clone()
    }

    /// A rustls server config with a certificate for all these DNS names, signed by this CA.
    /// Names that parse as IP addresses become IP address entries of the certificate.
    pub fn server_config(
        &self,
        names: &[String],
    ) -> Result<Arc<rustls::ServerConfig>, ServiceError> {
        let Some(first) = names.first() else {
            return Err(ServiceError::InvalidArgument(
                "a server certificate needs at least one name".into(),
            ));
        };
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.to_vec())?;
        params
            .distinguished_name
            .push(DnType::CommonName, first.as_str());
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        let cert = params.signed_by(&key, &self.issuer)?;
        let chain = vec![cert.der().clone(), self.cert_der.clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        Ok(Arc::new(config))
    }

    /// A rustls client config that trusts only this CA (for lab clients and tests).
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, ServiceError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert_der.clone())?;
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

/// A rustls client config that trusts the lab CA given as PEM (what an emulated phone has
/// installed as a user CA).
pub fn client_config_from_pem(pem: &str) -> Result<Arc<rustls::ClientConfig>, ServiceError> {
    client_config_from_pems(&[pem])
}

/// A rustls client config that trusts every certificate of these PEM texts (the lab CA and
/// the CAs a user installed on an emulated phone, e.g. a TLS-interception CA).
pub fn client_config_from_pems<S: AsRef<str>>(
    pems: &[S],
) -> Result<Arc<rustls::ClientConfig>, ServiceError> {
    let mut roots = rustls::RootCertStore::empty();
    for pem in pems {
        for der in pem_certificates(pem.as_ref())? {
            roots.add(der)?;
        }
    }
    if roots.is_empty() {
        return Err(ServiceError::InvalidArgument(
            "no CA certificate to trust".into(),
        ));
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificates of a PEM text, in order (other blocks, such as keys, are skipped); an
/// error if a certificate block is not base64 or there is none.
pub fn pem_certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, ServiceError> {
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        match &mut body {
            None if line == "-----BEGIN CERTIFICATE-----" => body = Some(String::new()),
            None => {}
            Some(b) if line == "-----END CERTIFICATE-----" => {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b.as_bytes())
                    .map_err(|e| {
                        ServiceError::InvalidArgument(format!("CA PEM is not base64: {e}"))
                    })?;
                out.push(CertificateDer::from(der));
                body = None;
            }
            Some(b) => b.push_str(line),
        }
    }
    if body.is_some() {
        return Err(ServiceError::InvalidArgument(
            "CA PEM: a certificate has no END line".into(),
        ));
    }
    if out.is_empty() {
        return Err(ServiceError::InvalidArgument(
            "CA PEM holds no certificate".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_pem_is_a_certificate() {
        let ca = LabCa::generate().expect("generate CA");
        let pem = ca.ca_pem();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        assert!(
            pem.trim_end().ends_with("-----END CERTIFICATE-----"),
            "{pem}"
        );
    }

    #[tokio::test]
    async fn a_client_trusting_the_pem_completes_a_handshake_with_a_lab_server() {
        let ca = LabCa::generate().expect("generate CA");
        let server = ca.server_config(&["chat.example".into()]).expect("server");
        let client = client_config_from_pem(&ca.ca_pem()).expect("client config");
        let (a, b) = tokio::io::duplex(64 * 1024);
        let accept =
            tokio::spawn(async move { tokio_rustls::TlsAcceptor::from(server).accept(b).await });
        let name = rustls::pki_types::ServerName::try_from("chat.example").expect("name");
        let connected = tokio_rustls::TlsConnector::from(client)
            .connect(name, a)
            .await;
        assert!(connected.is_ok(), "{:?}", connected.err());
        assert!(accept.await.expect("join").is_ok());
    }

    #[test]
    fn a_pem_that_is_not_base64_is_refused() {
        assert!(client_config_from_pem(
            "-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----"
        )
        .is_err());
    }

    #[tokio::test]
    async fn a_client_trusting_several_cas_accepts_servers_of_each() {
        let (lab, user) = (
            LabCa::generate().expect("lab CA"),
            LabCa::generate().expect("user CA"),
        );
        // A user CA file may hold several certificates; Windows line ends are fine.
        let bundle = format!("{}{}", user.ca_pem(), lab.ca_pem()).replace('\n', "\r\n");
        assert_eq!(pem_certificates(&bundle).expect("two").len(), 2);
        let both = client_config_from_pems(&[lab.ca_pem(), user.ca_pem()]).expect("both");
        let lab_only = client_config_from_pem(&lab.ca_pem()).expect("lab");
        for (ca, client, ok) in [
            (&lab, both.clone(), true),
            (&user, both, true),
            (&user, lab_only, false),
        ] {
            let server = ca.server_config(&["chat.example".into()]).expect("server");
            let (a, b) = tokio::io::duplex(64 * 1024);
            tokio::spawn(async move { tokio_rustls::TlsAcceptor::from(server).accept(b).await });
            let name = rustls::pki_types::ServerName::try_from("chat.example").expect("name");
            let connected = tokio_rustls::TlsConnector::from(client)
                .connect(name, a)
                .await;
            assert_eq!(connected.is_ok(), ok, "{:?}", connected.err());
        }
    }

    #[test]
    fn pems_without_certificates_are_refused() {
        assert!(client_config_from_pems::<&str>(&[]).is_err());
        assert!(
            pem_certificates("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
        assert!(pem_certificates("-----BEGIN CERTIFICATE-----\nAAAA").is_err());
    }

    #[test]
    fn server_config_needs_a_name() {
        let ca = LabCa::generate().expect("generate CA");
        assert!(matches!(
            ca.server_config(&[]),
            Err(ServiceError::InvalidArgument(_))
        ));
        assert!(ca
            .server_config(&["chat.example.lab".into(), "10.1.2.3".into()])
            .is_ok());
    }
}
