//! Geolocation of hops: a stack of country databases (MaxMind DB files) asked in order, with
//! per-hop provenance, and the round-trip-time plausibility check that flags and corrects
//! impossible answers.
//!
//! The databases sit behind [`CountrySource`], so the decision logic ([`plausible`]) is tested
//! with plain prefix tables; [`mmdb`] is the file edge and [`default_db`] fetches the default
//! CC0 database with `npm pack`.

pub mod areas;
pub mod default_db;
pub mod mmdb;
pub mod plausible;

#[cfg(test)]
mod tests_default_db;
#[cfg(test)]
mod tests_lab;

use serde::Serialize;
use std::net::IpAddr;

/// Errors of reading geolocation databases.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// A database file could not be opened or is not a MaxMind DB.
    #[error("cannot open geolocation database {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: maxminddb::MaxMindDbError,
    },
    /// A lookup failed: the database is corrupt.
    #[error("lookup of {ip} in {source_name} failed: {message}")]
    Lookup {
        /// The address.
        ip: IpAddr,
        /// The database.
        source_name: String,
        /// What the reader said.
        message: String,
    },
    /// The default database is missing or could not be fetched.
    #[error("{0}")]
    DefaultDb(String),
}

/// One database's answer for an address: the provenance of a hop's country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    /// The database that answered (its file name).
    pub source: String,
    /// ISO 3166-1 alpha-2 code it gave.
    pub country: String,
}

/// A country database: answers an address with an ISO 3166-1 alpha-2 code, or nothing.
pub trait CountrySource {
    /// Name used in provenance (a file name, or a test's label).
    fn name(&self) -> &str;
    /// The country the database gives for `ip`, `None` when it has no entry.
    fn country(&self, ip: IpAddr) -> Result<Option<String>, GeoError>;
    /// What the database is, for reports (name, type, date): results depend on it.
    fn describe(&self) -> String {
        self.name().to_owned()
    }
}

/// Several databases asked in order; every answer is kept as evidence.
#[derive(Default)]
pub struct GeoStack {
    sources: Vec<Box<dyn CountrySource>>,
}

impl GeoStack {
    /// A stack of databases, most trusted first.
    pub fn new(sources: Vec<Box<dyn CountrySource>>) -> Self {
        GeoStack { sources }
    }

    /// Names of the databases, in order.
    #[cfg(test)]
    pub fn names(&self) -> Vec<String> {
        self.sources.iter().map(|s| s.name().to_owned()).collect()
    }

    /// Descriptions of the databases (name, type, build date), in order.
    pub fn describe(&self) -> Vec<String> {
        self.sources.iter().map(|s| s.describe()).collect()
    }

    /// Every database's answer for `ip`, in stack order. Answers that are not two ASCII
    /// letters (e.g. an empty string) are dropped; codes are upper-cased.
    pub fn claims(&self, ip: IpAddr) -> Result<Vec<Claim>, GeoError> {
        let mut out = Vec::new();
        for s in &self.sources {
            if let Some(code) = s.country(ip)? {
                if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
                    out.push(Claim {
                        source: s.name().to_owned(),
                        country: code.to_ascii_uppercase(),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// A prefix table as a country source: the logic tests' stand-in for a database.
#[cfg(test)]
pub struct PrefixTable {
    name: String,
    prefixes: Vec<(ipnet::IpNet, String)>,
}

#[cfg(test)]
impl PrefixTable {
    /// A table named `name`; the longest matching prefix wins.
    pub fn new(name: &str, prefixes: Vec<(ipnet::IpNet, String)>) -> Self {
        PrefixTable {
            name: name.to_owned(),
            prefixes,
        }
    }
}

#[cfg(test)]
impl CountrySource for PrefixTable {
    fn name(&self) -> &str {
        &self.name
    }

    fn country(&self, ip: IpAddr) -> Result<Option<String>, GeoError> {
        Ok(self
            .prefixes
            .iter()
            .filter(|(net, _)| net.contains(&ip))
            .max_by_key(|(net, _)| net.prefix_len())
            .map(|(_, c)| c.clone()))
    }
}

/// What kind of address a hop answered from, as far as geolocation cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressClass {
    /// Globally routed (or documentation/test ranges, which the lab routes): look it up.
    Public,
    /// RFC 1918, IPv6 unique local: any network may use it.
    Private,
    /// RFC 6598 shared address space (100.64.0.0/10), carrier-grade NAT.
    Shared,
    /// Loopback, link-local, unspecified, multicast, broadcast: no place at all.
    Special,
}

/// Classifies an address; only [`AddressClass::Public`] ones are located.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_private() {
                AddressClass::Private
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                AddressClass::Shared
            } else if v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
            {
                AddressClass::Special
            } else {
                AddressClass::Public
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if (first & 0xfe00) == 0xfc00 {
                AddressClass::Private
            } else if v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xffc0) == 0xfe80
            {
                AddressClass::Special
            } else {
                AddressClass::Public
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_private_shared_and_special_addresses() {
        assert_eq!(classify(ip("10.1.2.3")), AddressClass::Private);
        assert_eq!(classify(ip("172.16.0.1")), AddressClass::Private);
        assert_eq!(classify(ip("192.168.1.1")), AddressClass::Private);
        assert_eq!(classify(ip("100.64.0.1")), AddressClass::Shared);
        assert_eq!(classify(ip("100.127.255.254")), AddressClass::Shared);
        assert_eq!(classify(ip("100.128.0.1")), AddressClass::Public);
        assert_eq!(classify(ip("127.0.0.1")), AddressClass::Special);
        assert_eq!(classify(ip("169.254.1.1")), AddressClass::Special);
        assert_eq!(classify(ip("fd00::1")), AddressClass::Private);
        assert_eq!(classify(ip("fe80::1")), AddressClass::Special);
        assert_eq!(classify(ip("::ffff:10.0.0.1")), AddressClass::Private);
        // The lab's documentation ranges are looked up like public addresses.
        assert_eq!(classify(ip("198.51.100.7")), AddressClass::Public);
        assert_eq!(classify(ip("2001:db8::1")), AddressClass::Public);
        assert_eq!(classify(ip("8.8.8.8")), AddressClass::Public);
    }

    #[test]
    fn stack_keeps_every_answer_in_order_and_drops_non_codes() {
        let first = PrefixTable::new(
            "first",
            vec![
                ("192.0.2.0/24".parse().unwrap(), "de".into()),
                ("198.51.100.0/24".parse().unwrap(), "".into()),
            ],
        );
        let second = PrefixTable::new(
            "second",
            vec![
                ("192.0.2.0/25".parse().unwrap(), "FR".into()),
                ("192.0.2.0/24".parse().unwrap(), "IT".into()),
            ],
        );
        let stack = GeoStack::new(vec![Box::new(first), Box::new(second)]);
        let claims = stack.claims(ip("192.0.2.1")).unwrap();
        assert_eq!(
            claims,
            vec![
                Claim {
                    source: "first".into(),
                    country: "DE".into()
                },
                Claim {
                    source: "second".into(),
                    country: "FR".into()
                },
            ]
        );
        assert!(stack.claims(ip("198.51.100.1")).unwrap().is_empty());
        assert_eq!(stack.names(), vec!["first", "second"]);
    }
}
