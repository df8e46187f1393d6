use std::net::Ipv4Addr;

use rustls::client::danger::ServerCertVerifier as _;
use rustls::pki_types::{ServerName, UnixTime};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::*;
use crate::ca;

fn cache() -> LeafCache {
    let made = ca::generate("leaf-tests").expect("generate");
    let ca = InterceptionCa::from_pem(&made.cert_pem, &made.key_pem).expect("load");
    LeafCache::new(ca).expect("cache")
}

/// Checks the chain the way a client trusting only the interception CA would.
fn verify(cache: &LeafCache, leaf: &CertifiedKey, name: &str) -> Result<(), rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cache.ca_cert().clone())?;
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        roots.into(),
        crate::provider(),
    )
    .build()
    .map_err(|e| rustls::Error::General(e.to_string()))?;
    let name =
        ServerName::try_from(name.to_owned()).map_err(|e| rustls::Error::General(e.to_string()))?;
    verifier
        .verify_server_cert(&leaf.cert[0], &leaf.cert[1..], &name, &[], UnixTime::now())
        .map(|_| ())
}

#[test]
fn the_same_sni_gets_the_same_certificate_and_another_one_its_own() {
    let cache = cache();
    let name = LeafName::for_connection(Some("Collect.Example"), Ipv4Addr::LOCALHOST.into());
    assert_eq!(name, LeafName::Dns("collect.example".into()));
    let a = cache.get(&name).expect("first");
    let b = cache
        .get(&LeafName::Dns("collect.example".into()))
        .expect("second");
    assert!(Arc::ptr_eq(&a, &b));
    let other = cache
        .get(&LeafName::Dns("other.example".into()))
        .expect("other");
    assert_ne!(a.cert[0], other.cert[0]);
    assert_eq!(cache.len(), 2);
    verify(&cache, &a, "collect.example").expect("chains to the CA for its name");
    assert!(verify(&cache, &a, "other.example").is_err());

    let (_, x1) = X509Certificate::from_der(&a.cert[0]).expect("parse");
    let (_, x2) = X509Certificate::from_der(&other.cert[0]).expect("parse");
    assert_ne!(
        x1.raw_serial(),
        x2.raw_serial(),
        "shared key, distinct serials"
    );
    assert!(!x1.is_ca());
}

#[test]
fn a_client_without_sni_gets_a_certificate_for_the_address() {
    let cache = cache();
    let server = IpAddr::from(Ipv4Addr::new(192, 0, 2, 7));
    let name = LeafName::for_connection(None, server);
    assert_eq!(name, LeafName::Ip(server));
    let leaf = cache.get(&name).expect("leaf");
    let (_, cert) = X509Certificate::from_der(&leaf.cert[0]).expect("parse");
    let san = cert
        .subject_alternative_name()
        .expect("one SAN extension")
        .expect("present");
    assert_eq!(
        san.value.general_names,
        [GeneralName::IPAddress(&[192, 0, 2, 7])]
    );
    verify(&cache, &leaf, "192.0.2.7").expect("chains for the address");
    // An SNI that is an address literal is treated as the address.
    assert_eq!(
        LeafName::for_connection(Some("192.0.2.7"), Ipv4Addr::LOCALHOST.into()),
        LeafName::Ip(server)
    );
}

#[test]
fn leaves_of_a_foreign_ca_chain_and_name_its_key_identifier() {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "Other lab CA");
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(vec![9, 8, 7, 6]);
    let ca_cert = params.self_signed(&key).expect("ca");
    let ca = InterceptionCa::from_pem(&ca_cert.pem(), &key.serialize_pem()).expect("load");
    let cache = LeafCache::new(ca).expect("cache");
    let leaf = cache.get(&LeafName::Dns("a.example".into())).expect("leaf");
    verify(&cache, &leaf, "a.example").expect("chains");
    let (_, cert) = X509Certificate::from_der(&leaf.cert[0]).expect("parse");
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
        .expect("an authority key identifier");
    assert_eq!(aki, [9, 8, 7, 6]);
}

#[test]
fn the_cache_is_bounded() {
    let cache = cache();
    for i in 0..CACHE_CAPACITY + 3 {
        cache
            .get(&LeafName::Dns(format!("h{i}.example")))
            .expect("leaf");
    }
    assert_eq!(cache.len(), CACHE_CAPACITY);
}
