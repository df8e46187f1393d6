//! The per-lab interception CA: made once per lab (by `matador-mitm new-ca` or the host
//! CLI through [`generate`]), installed on test phones as a user CA, and loaded by the proxy
//! ([`InterceptionCa`]) to sign leaf certificates.

use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rcgen::string::{BmpString, Ia5String, PrintableString, UniversalString};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData as _,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;

use crate::{clock, der, Error};

/// The CA certificate's file name in the directory `new-ca --out` writes.
pub const CERT_FILE: &str = "mitm-ca.pem";
/// The CA key's file name (PKCS#8 PEM, mode 0600) in that directory.
pub const KEY_FILE: &str = "mitm-ca-key.pem";
/// How every interception CA's common name starts, so a phone's CA list shows what it is.
pub const NAME_PREFIX: &str = "MATAdOR interception CA";
/// How long a new CA is valid: a lab's life, not forever, since phones trust it fully.
pub const VALIDITY_DAYS: i64 = 3 * 365;
/// 2020-01-01 in days since the Unix epoch: new CAs are valid from then, for routers whose
/// clock lags.
const NOT_BEFORE_DAYS: i64 = 18_262;

/// A new CA, in PEM. `Debug` leaves the key out.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedCa {
    /// The self-signed CA certificate.
    pub cert_pem: String,
    /// Its ECDSA P-256 private key, PKCS#8.
    pub key_pem: String,
    /// Its common name ("MATAdOR interception CA <label>").
    pub name: String,
}

impl fmt::Debug for GeneratedCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedCa")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Where a CA's two files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaFiles {
    /// The certificate (PEM): what phones install.
    pub cert: PathBuf,
    /// The private key (PEM, 0600): what only the proxy reads.
    pub key: PathBuf,
}

impl CaFiles {
    /// The two files in `dir`, under their standard names.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            cert: dir.join(CERT_FILE),
            key: dir.join(KEY_FILE),
        }
    }
}

/// The common name for a label: printable ASCII only, short enough for X.520's 64
/// characters; an empty label becomes a tag of the key, so two labs' CAs never share a name.
fn common_name(label: &str, key: &KeyPair) -> String {
    let room = 64 - NAME_PREFIX.len() - 1;
    let clean: String = label
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(room)
        .collect();
    let label = if clean.is_empty() {
        key.public_key_raw()
            .iter()
            .rev()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect()
    } else {
        clean
    };
    format!("{NAME_PREFIX} {label}")
}

/// A new interception CA named "MATAdOR interception CA `label`": ECDSA P-256, may sign
/// leaves only (path length 0), valid from 2020 (routers' clocks may lag) for
/// [`VALIDITY_DAYS`].
pub fn generate(label: &str) -> Result<GeneratedCa, Error> {
    let key = KeyPair::generate()?;
    let name = common_name(label, &key);
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, &name);
    params.distinguished_name.push(
        DnType::OrganizationName,
        "MATAdOR (controlled experiments only)",
    );
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    clock::set_validity(&mut params, NOT_BEFORE_DAYS, clock::today() + VALIDITY_DAYS);
    let cert = params.self_signed(&key)?;
    Ok(GeneratedCa {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        name,
    })
}

fn create(path: &Path, mode: u32, text: &str) -> Result<(), Error> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::BadCa(format!(
                "{} already exists and is kept (phones may trust that CA); remove it to make a new one",
                path.display()
            )),
            _ => Error::io(path, e),
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// Writes a CA into `dir` (created if missing): the certificate 0644, the key 0600. Never
/// overwrites: phones may already trust the CA that is there.
pub fn write(dir: &Path, ca: &GeneratedCa) -> Result<CaFiles, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let files = CaFiles::in_dir(dir);
    // The key first: a crash between the two leaves no certificate without its key.
    create(&files.key, 0o600, &ca.key_pem)?;
    create(&files.cert, 0o644, &ca.cert_pem)?;
    Ok(files)
}

/// The CA in `dir`, made on first use: returns its files and whether it was made now.
pub fn ensure(dir: &Path, label: &str) -> Result<(CaFiles, bool), Error> {
    let files = CaFiles::in_dir(dir);
    match (files.cert.exists(), files.key.exists()) {
        (true, true) => Ok((files, false)),
        (false, false) => Ok((write(dir, &generate(label)?)?, true)),
        _ => Err(Error::BadCa(format!(
            "{}: only one of {CERT_FILE} and {KEY_FILE} is there; remove it or restore the other",
            dir.display()
        ))),
    }
}

/// A loaded CA that signs the proxy's leaf certificates.
pub struct InterceptionCa {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    has_key_id: bool,
}

impl fmt::Debug for InterceptionCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InterceptionCa").finish_non_exhaustive()
    }
}

fn dn_value(attr: &der::Attribute<'_>) -> Option<DnValue> {
    let text = || String::from_utf8(attr.value.to_vec()).ok();
    Some(match attr.tag {
        0x0c => DnValue::Utf8String(text()?),
        0x13 => DnValue::PrintableString(PrintableString::try_from(text()?).ok()?),
        0x16 => DnValue::Ia5String(Ia5String::try_from(text()?).ok()?),
        0x1e => DnValue::BmpString(BmpString::from_utf16be(attr.value.to_vec()).ok()?),
        0x1c => DnValue::UniversalString(UniversalString::from_utf32be(attr.value.to_vec()).ok()?),
        _ => return None,
    })
}

impl InterceptionCa {
    /// Loads the CA from its certificate and key PEM files.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, Error> {
        let cert_pem = std::fs::read_to_string(cert).map_err(|e| Error::io(cert, e))?;
        let key_pem = std::fs::read_to_string(key).map_err(|e| Error::io(key, e))?;
        Self::from_pem(&cert_pem, &key_pem).map_err(|e| match e {
            Error::BadCa(why) => Error::BadCa(format!("{}: {why}", cert.display())),
            other => other,
        })
    }

    /// The CA from PEM texts; checks that the certificate is a CA, that the key is its key,
    /// and that leaves will name it exactly.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, Error> {
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| Error::BadCa(format!("no CA certificate in the PEM: {e}")))?;
        let key = KeyPair::from_pem(key_pem)
            .map_err(|e| Error::BadCa(format!("no usable CA key in the PEM: {e}")))?;
        let info = der::ca_cert(&cert_der)
            .map_err(|e| Error::BadCa(format!("cannot read the CA certificate: {}", e.0)))?;
        if !info.is_ca {
            return Err(Error::BadCa(
                "the certificate is not a CA certificate".into(),
            ));
        }
        if info.spki != key.subject_public_key_info().as_slice() {
            return Err(Error::BadCa(
                "the key does not belong to the certificate".into(),
            ));
        }
        let mut dn = DistinguishedName::new();
        for attr in &info.subject {
            let ty = DnType::from_oid(&attr.oid);
            if dn.get(&ty).is_some() {
                return Err(Error::BadCa("the CA's name repeats an attribute".into()));
            }
            let value = dn_value(attr)
                .ok_or_else(|| Error::BadCa("the CA's name uses an unsupported string".into()))?;
            dn.push(ty, value);
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        // Leaves name the CA's own key identifier, whatever method made it.
        if let Some(ski) = info.ski {
            params.key_identifier_method = KeyIdMethod::PreSpecified(ski.to_vec());
        }
        let ca = Self {
            issuer: Issuer::new(params, key),
            has_key_id: info.ski.is_some(),
            cert_der: cert_der.clone(),
        };
        ca.check_issuer_name(&info)?;
        Ok(ca)
    }

    /// A leaf signed now must carry the CA's subject byte for byte as its issuer, or no
    /// client would chain it: checked once at load rather than discovered on a phone.
    fn check_issuer_name(&self, info: &der::CaCert<'_>) -> Result<(), Error> {
        let key = KeyPair::generate()?;
        let params = CertificateParams::new(vec!["check.invalid".to_owned()])?;
        let leaf = params.signed_by(&key, &self.issuer)?;
        let issuer = der::issuer_of(leaf.der())
            .map_err(|e| Error::BadCa(format!("cannot read a test leaf: {}", e.0)))?;
        if issuer == info.subject_raw {
            Ok(())
        } else {
            Err(Error::BadCa(
                "the CA's name cannot be reproduced exactly (unusual string types?)".into(),
            ))
        }
    }

    /// The CA certificate (DER).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// What signs the leaves.
    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// Whether leaves should carry an authority key identifier (only if the CA has one).
    pub(crate) fn has_key_id(&self) -> bool {
        self.has_key_id
    }
}

#[cfg(test)]
#[path = "ca_tests.rs"]
mod tests;
