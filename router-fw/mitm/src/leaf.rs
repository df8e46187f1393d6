//! Leaf certificates for the names clients ask for (the SNI, else the server's address),
//! signed by the interception CA and cached per name. All leaves share one key made at
//! start: one ECDSA signature per new name instead of a key generation, which matters on a
//! router's CPU.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
    SerialNumber,
};
use ring::rand::SecureRandom as _;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

use crate::{clock, Error, InterceptionCa};

/// How many names' leaves are kept; past it the oldest goes (a phone talks to far fewer).
pub const CACHE_CAPACITY: usize = 1024;
/// Leaves are valid from this many days ago, for phones whose clock runs behind.
const BACKDATE_DAYS: i64 = 30;
/// And for this many days: the most that any client accepts for a server certificate.
const LIFETIME_DAYS: i64 = 397;

/// The name a leaf is made for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LeafName {
    /// A DNS name: the SNI the client sent.
    Dns(String),
    /// An address: the client sent no SNI, so the leaf names the server's address.
    Ip(IpAddr),
}

impl LeafName {
    /// The leaf a connection needs: its SNI, or the original destination's address.
    pub fn for_connection(sni: Option<&str>, server: IpAddr) -> Self {
        match sni {
            Some(name) => match name.parse() {
                Ok(ip) => LeafName::Ip(ip),
                Err(_) => LeafName::Dns(name.to_ascii_lowercase()),
            },
            None => LeafName::Ip(server),
        }
    }
}

impl fmt::Display for LeafName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeafName::Dns(name) => f.write_str(name),
            LeafName::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

#[derive(Default)]
struct Cache {
    leaves: HashMap<LeafName, Arc<CertifiedKey>>,
    order: VecDeque<LeafName>,
}

/// Makes and keeps the leaves.
pub struct LeafCache {
    ca: InterceptionCa,
    key: KeyPair,
    signing_key: Arc<dyn rustls::sign::SigningKey>,
    cache: Mutex<Cache>,
}

impl fmt::Debug for LeafCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeafCache")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl LeafCache {
    /// A cache that signs with `ca`, with a new leaf key.
    pub fn new(ca: InterceptionCa) -> Result<Self, Error> {
        let key = KeyPair::generate()?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing_key = crate::provider().key_provider.load_private_key(der)?;
        Ok(Self {
            ca,
            key,
            signing_key,
            cache: Mutex::new(Cache::default()),
        })
    }

    /// The leaf for `name`, made on first use.
    pub fn get(&self, name: &LeafName) -> Result<Arc<CertifiedKey>, Error> {
        if let Some(leaf) = self.lock().leaves.get(name) {
            return Ok(Arc::clone(leaf));
        }
        // Signed outside the lock; two connections racing for a new name both sign, and
        // the first one stored wins, so a name always keeps one certificate.
        let made = Arc::new(self.make(name)?);
        let mut cache = self.lock();
        if let Some(leaf) = cache.leaves.get(name) {
            return Ok(Arc::clone(leaf));
        }
        while cache.order.len() >= CACHE_CAPACITY {
            if let Some(old) = cache.order.pop_front() {
                cache.leaves.remove(&old);
            }
        }
        cache.order.push_back(name.clone());
        cache.leaves.insert(name.clone(), Arc::clone(&made));
        Ok(made)
    }

    /// How many leaves are cached.
    pub fn len(&self) -> usize {
        self.lock().leaves.len()
    }

    /// Whether no leaf is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The CA certificate (DER).
    pub fn ca_cert(&self) -> &rustls::pki_types::CertificateDer<'static> {
        self.ca.cert_der()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic elsewhere cannot leave the map half-written: every change is one call.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn make(&self, name: &LeafName) -> Result<CertifiedKey, Error> {
        let mut params = CertificateParams::default();
        let text = name.to_string();
        params.subject_alt_names = vec![match name {
            LeafName::Dns(dns) => SanType::DnsName(dns.as_str().try_into()?),
            LeafName::Ip(ip) => SanType::IpAddress(*ip),
        }];
        // X.520 caps a common name at 64 characters; clients read the SAN anyway.
        if text.len() <= 64 {
            params.distinguished_name.push(DnType::CommonName, text);
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = self.ca.has_key_id();
        // Random: rcgen would derive the serial from the (shared) key, and clients refuse
        // two certificates with the same issuer and serial.
        let mut serial = [0u8; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut serial)
            .map_err(|_| Error::Random)?;
        serial[0] &= 0x7f;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let today = clock::today();
        clock::set_validity(&mut params, today - BACKDATE_DAYS, today + LIFETIME_DAYS);
        let cert = params.signed_by(&self.key, self.ca.issuer())?;
        let chain = vec![cert.der().clone(), self.ca.cert_der().clone()];
        Ok(CertifiedKey::new(chain, Arc::clone(&self.signing_key)))
    }
}

#[cfg(test)]
#[path = "leaf_tests.rs"]
mod tests;
