use std::os::unix::fs::PermissionsExt as _;

use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::*;

#[test]
fn generated_ca_parses_is_a_ca_and_its_key_file_is_owner_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = generate("lab-7").expect("generate");
    assert_eq!(ca.name, "MATAdOR interception CA lab-7");
    let files = write(dir.path(), &ca).expect("write");
    assert_eq!(files, CaFiles::in_dir(dir.path()));

    let pem = std::fs::read_to_string(&files.cert).expect("cert file");
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).expect("PEM");
    let (rest, cert) = X509Certificate::from_der(&der).expect("x509-parser reads it");
    assert!(rest.is_empty());
    assert!(cert.is_ca());
    let bc = cert
        .basic_constraints()
        .expect("one basicConstraints")
        .expect("present");
    assert!(bc.critical && bc.value.ca);
    assert_eq!(bc.value.path_len_constraint, Some(0));
    let cn = cert.subject().iter_common_name().next().expect("a CN");
    assert_eq!(cn.as_str().ok(), Some("MATAdOR interception CA lab-7"));
    assert!(cert.validity().is_valid());

    let key_mode = std::fs::metadata(&files.key)
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600, "{key_mode:o}");
    let cert_mode = std::fs::metadata(&files.cert)
        .expect("cert")
        .permissions()
        .mode();
    assert_eq!(cert_mode & 0o777, 0o644, "{cert_mode:o}");

    let loaded = InterceptionCa::load(&files.cert, &files.key).expect("load");
    assert_eq!(loaded.cert_der(), &der);
    assert!(loaded.has_key_id());
}

#[test]
fn write_never_overwrites_and_ensure_makes_the_ca_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (files, made) = ensure(dir.path(), "").expect("first");
    assert!(made);
    let first = std::fs::read(&files.cert).expect("cert");
    let (_, made) = ensure(dir.path(), "").expect("second");
    assert!(!made);
    assert_eq!(std::fs::read(&files.cert).expect("cert"), first);
    let again = write(dir.path(), &generate("x").expect("generate"));
    assert!(
        matches!(&again, Err(Error::BadCa(m)) if m.contains("already exists")),
        "{again:?}"
    );

    std::fs::remove_file(&files.cert).expect("remove");
    let half = ensure(dir.path(), "");
    assert!(matches!(half, Err(Error::BadCa(_))), "{half:?}");
}

#[test]
fn labels_are_cleaned_and_an_empty_one_becomes_a_key_tag() {
    let ca = generate("  lab\n7\t(Berlin)  ").expect("generate");
    assert_eq!(ca.name, "MATAdOR interception CA lab 7 (Berlin)");
    let long = generate(&"x".repeat(200)).expect("generate");
    assert_eq!(long.name.len(), 64);
    let tagged = generate("").expect("generate");
    let tag = tagged
        .name
        .strip_prefix("MATAdOR interception CA ")
        .expect("prefix");
    assert_eq!(tag.len(), 12);
    assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()), "{tag}");
    assert!(!format!("{tagged:?}").contains("PRIVATE"));
}

#[test]
fn a_leaf_certificate_or_a_foreign_key_is_refused() {
    let ca = generate("a").expect("generate");
    let other = generate("b").expect("generate");
    let wrong_key = InterceptionCa::from_pem(&ca.cert_pem, &other.key_pem);
    assert!(
        matches!(&wrong_key, Err(Error::BadCa(m)) if m.contains("does not belong")),
        "{wrong_key:?}"
    );

    let key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["leaf.example".into()])
        .expect("params")
        .self_signed(&key)
        .expect("leaf");
    let not_ca = InterceptionCa::from_pem(&leaf.pem(), &key.serialize_pem());
    assert!(
        matches!(&not_ca, Err(Error::BadCa(m)) if m.contains("not a CA")),
        "{not_ca:?}"
    );
    assert!(InterceptionCa::from_pem("junk", &ca.key_pem).is_err());
    assert!(InterceptionCa::from_pem(&ca.cert_pem, "junk").is_err());
}

#[test]
fn a_ca_made_elsewhere_with_other_string_types_loads() {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::default();
    params.distinguished_name.push(
        DnType::CountryName,
        DnValue::PrintableString("DE".try_into().expect("printable")),
    );
    params
        .distinguished_name
        .push(DnType::CommonName, "Someone else's CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_identifier_method = KeyIdMethod::PreSpecified(vec![1, 2, 3, 4]);
    let cert = params.self_signed(&key).expect("cert");
    let ca = InterceptionCa::from_pem(&cert.pem(), &key.serialize_pem()).expect("loads");
    assert!(ca.has_key_id());
}
