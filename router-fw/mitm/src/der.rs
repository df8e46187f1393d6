//! Just enough of a DER reader to sign leaves under a CA certificate read from a file: its
//! subject (leaves must name it byte for byte), public key, key identifier and CA flag.
//! Length-checked, no panics on any input; a full X.509 parser would weigh more than the
//! proxy itself on a router.

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DerError(pub &'static str);

/// One TLV: its tag, its contents, and the whole encoding.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    value: &'a [u8],
    raw: &'a [u8],
}

/// One attribute of a distinguished name (single-valued RDNs only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attribute<'a> {
    /// The attribute type, as OID arcs.
    pub oid: Vec<u64>,
    /// The string type's tag (UTF8String 0x0c, PrintableString 0x13, …).
    pub tag: u8,
    /// The string's encoded bytes.
    pub value: &'a [u8],
}

/// What the proxy needs to know of its CA certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CaCert<'a> {
    /// The subject, in order.
    pub subject: Vec<Attribute<'a>>,
    /// The subject, whole (SEQUENCE included).
    pub subject_raw: &'a [u8],
    /// The SubjectPublicKeyInfo, whole.
    pub spki: &'a [u8],
    /// The subject key identifier, if the certificate has one.
    pub ski: Option<&'a [u8]>,
    /// Whether basicConstraints says cA.
    pub is_ca: bool,
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const BOOLEAN: u8 = 0x01;
const SKI_OID: [u64; 4] = [2, 5, 29, 14];
const BASIC_CONSTRAINTS_OID: [u64; 4] = [2, 5, 29, 19];

fn read<'a>(input: &mut &'a [u8]) -> Result<Tlv<'a>, DerError> {
    let all: &'a [u8] = input;
    let (&tag, rest) = all.split_first().ok_or(DerError("truncated tag"))?;
    if tag & 0x1f == 0x1f {
        return Err(DerError("high tag numbers are not used in certificates"));
    }
    let (&first, mut rest) = rest.split_first().ok_or(DerError("truncated length"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Err(DerError("unsupported length encoding"));
        }
        let bytes = rest.get(..count).ok_or(DerError("truncated length"))?;
        rest = &rest[count..];
        bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
    };
    let value = rest.get(..len).ok_or(DerError("truncated value"))?;
    let header = all.len() - rest.len();
    let raw = &all[..header + len];
    *input = &rest[len..];
    Ok(Tlv { tag, value, raw })
}

fn expect<'a>(input: &mut &'a [u8], tag: u8, what: &'static str) -> Result<Tlv<'a>, DerError> {
    let tlv = read(input)?;
    if tlv.tag == tag {
        Ok(tlv)
    } else {
        Err(DerError(what))
    }
}

fn oid_arcs(bytes: &[u8]) -> Result<Vec<u64>, DerError> {
    let mut arcs = Vec::new();
    let mut n: u64 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if n > u64::MAX >> 7 {
            return Err(DerError("OID arc too large"));
        }
        n = (n << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (n / 40).min(2);
                arcs.push(first);
                arcs.push(n - first * 40);
            } else {
                arcs.push(n);
            }
            n = 0;
        } else if i + 1 == bytes.len() {
            return Err(DerError("truncated OID"));
        }
    }
    if arcs.is_empty() {
        return Err(DerError("empty OID"));
    }
    Ok(arcs)
}

fn name(value: &[u8]) -> Result<Vec<Attribute<'_>>, DerError> {
    let mut rdns = value;
    let mut attributes = Vec::new();
    while !rdns.is_empty() {
        let mut set = expect(&mut rdns, SET, "a name part is not a SET")?.value;
        let mut atv = expect(&mut set, SEQUENCE, "a name attribute is not a SEQUENCE")?.value;
        if !set.is_empty() {
            return Err(DerError("multi-valued name parts are not supported"));
        }
        let oid = oid_arcs(expect(&mut atv, OID, "a name attribute has no type")?.value)?;
        let string = read(&mut atv)?;
        attributes.push(Attribute {
            oid,
            tag: string.tag,
            value: string.value,
        });
    }
    Ok(attributes)
}

/// A TBSCertificate up to its public key, and what follows it.
struct Tbs<'a> {
    issuer: Tlv<'a>,
    subject: Tlv<'a>,
    spki: Tlv<'a>,
    rest: &'a [u8],
}

fn tbs(der: &[u8]) -> Result<Tbs<'_>, DerError> {
    let mut input = der;
    let mut cert = expect(&mut input, SEQUENCE, "not a certificate")?.value;
    let mut tbs = expect(&mut cert, SEQUENCE, "no TBSCertificate")?.value;
    let mut field = read(&mut tbs)?;
    if field.tag == 0xa0 {
        field = read(&mut tbs)?; // the version; the serial follows
    }
    if field.tag != 0x02 {
        return Err(DerError("no serial number"));
    }
    expect(&mut tbs, SEQUENCE, "no signature algorithm")?;
    let issuer = expect(&mut tbs, SEQUENCE, "no issuer")?;
    expect(&mut tbs, SEQUENCE, "no validity")?;
    let subject = expect(&mut tbs, SEQUENCE, "no subject")?;
    let spki = expect(&mut tbs, SEQUENCE, "no public key")?;
    Ok(Tbs {
        issuer,
        subject,
        spki,
        rest: tbs,
    })
}

/// A certificate's issuer name, whole (SEQUENCE included).
pub(crate) fn issuer_of(der: &[u8]) -> Result<&[u8], DerError> {
    Ok(tbs(der)?.issuer.raw)
}

/// Reads the parts of a certificate (DER) that signing under it needs.
pub(crate) fn ca_cert(der: &[u8]) -> Result<CaCert<'_>, DerError> {
    let Tbs {
        subject: subject_tlv,
        spki,
        rest: mut tbs,
        ..
    } = tbs(der)?;
    let subject = name(subject_tlv.value)?;
    let mut ski = None;
    let mut is_ca = false;
    while !tbs.is_empty() {
        let part = read(&mut tbs)?;
        if part.tag != 0xa3 {
            continue; // unique identifiers
        }
        let mut outer = part.value;
        let mut list = expect(&mut outer, SEQUENCE, "extensions are not a SEQUENCE")?.value;
        while !list.is_empty() {
            let mut ext = expect(&mut list, SEQUENCE, "an extension is not a SEQUENCE")?.value;
            let oid = oid_arcs(expect(&mut ext, OID, "an extension has no OID")?.value)?;
            let mut next = read(&mut ext)?;
            if next.tag == BOOLEAN {
                next = read(&mut ext)?;
            }
            if next.tag != OCTET_STRING {
                return Err(DerError("an extension has no value"));
            }
            let mut inner = next.value;
            if oid == SKI_OID {
                ski = Some(expect(&mut inner, OCTET_STRING, "bad key identifier")?.value);
            } else if oid == BASIC_CONSTRAINTS_OID {
                let mut bc = expect(&mut inner, SEQUENCE, "bad basic constraints")?.value;
                if !bc.is_empty() {
                    let first = read(&mut bc)?;
                    is_ca = first.tag == BOOLEAN && first.value.first().is_some_and(|&b| b != 0);
                }
            }
        }
    }
    Ok(CaCert {
        subject,
        subject_raw: subject_tlv.raw,
        spki: spki.raw,
        ski,
        is_ca,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_decode_to_arcs() {
        assert_eq!(oid_arcs(&[0x55, 0x04, 0x03]), Ok(vec![2, 5, 4, 3]));
        assert_eq!(
            oid_arcs(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]),
            Ok(vec![1, 2, 840, 113_549])
        );
        assert!(oid_arcs(&[0x2a, 0x86]).is_err());
        assert!(oid_arcs(&[]).is_err());
    }

    #[test]
    fn short_and_long_lengths_are_read_and_truncation_is_an_error() {
        let mut input: &[u8] = &[0x04, 0x02, 1, 2, 0xff];
        let tlv = read(&mut input).expect("short form");
        assert_eq!(
            (tlv.tag, tlv.value, input),
            (0x04, &[1u8, 2][..], &[0xffu8][..])
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        let mut input = long.as_slice();
        assert_eq!(read(&mut input).expect("long form").value.len(), 0x80);
        for bad in [
            &[0x04][..],
            &[0x04, 0x03, 1],
            &[0x04, 0x80],
            &[0x1f, 0x01, 0],
        ] {
            let mut input = bad;
            assert!(read(&mut input).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn any_prefix_of_a_certificate_is_an_error_not_a_panic() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["a.example".into()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let der = cert.der().to_vec();
        assert!(ca_cert(&der).is_ok());
        for n in 0..der.len() {
            assert!(ca_cert(&der[..n]).is_err(), "prefix {n}");
        }
    }
}
