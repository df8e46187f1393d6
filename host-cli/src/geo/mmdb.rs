//! MaxMind DB files as country sources. One reader serves the common country schemas:
//! GeoLite2/GeoIP2-Country and DB-IP (`country.iso_code`, falling back to
//! `registered_country.iso_code` for anycast and satellite networks) and ip-location-db's
//! geo-whois-asn-country (`country_code`).

use super::{CountrySource, GeoError};
use maxminddb::{PathElement, Reader};
use std::net::IpAddr;
use std::path::Path;

/// Where each schema keeps the country code, tried in this order.
const SCHEMA_PATHS: [&[PathElement<'static>]; 3] = [
    &[PathElement::Key("country"), PathElement::Key("iso_code")],
    &[PathElement::Key("country_code")],
    &[
        PathElement::Key("registered_country"),
        PathElement::Key("iso_code"),
    ],
];

/// A MaxMind DB file, read into memory.
pub struct MmdbSource {
    name: String,
    reader: Reader<Vec<u8>>,
}

impl MmdbSource {
    /// Opens a database file; its file name is its name in provenance.
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        let reader = Reader::open_readfile(path).map_err(|source| GeoError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        Ok(MmdbSource { name, reader })
    }

    /// A database held in memory (tests build one with the lab's writer).
    #[cfg(test)]
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Self, GeoError> {
        let reader = Reader::from_source(bytes).map_err(|source| GeoError::Open {
            path: name.to_owned(),
            source,
        })?;
        Ok(MmdbSource {
            name: name.to_owned(),
            reader,
        })
    }

    /// The database's `database_type` metadata, e.g. `GeoLite2-Country`.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }
}

/// A Unix time as a UTC date, `YYYY-MM-DD`.
fn date(epoch_seconds: u64) -> String {
    let days = i64::try_from(epoch_seconds / 86_400).unwrap_or(0);
    let (year, month, day) = matador_lab::civil::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

impl CountrySource for MmdbSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        format!(
            "{} ({}, built {})",
            self.name,
            self.database_type(),
            date(self.reader.metadata().build_epoch)
        )
    }

    fn country(&self, ip: IpAddr) -> Result<Option<String>, GeoError> {
        // IPv4-mapped IPv6 addresses live in the IPv4 part of the tree.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return Ok(None);
        }
        let lookup_error = |message: String| GeoError::Lookup {
            ip,
            source_name: self.name.clone(),
            message,
        };
        let result = self
            .reader
            .lookup(ip)
            .map_err(|e| lookup_error(e.to_string()))?;
        if !result.has_data() {
            return Ok(None);
        }
        // A schema whose path has another shape in this record is simply not this schema;
        // only when no schema can be read is the record broken.
        let mut last_error = None;
        for path in SCHEMA_PATHS {
            match result.decode_path::<String>(path) {
                Ok(Some(code)) => return Ok(Some(code)),
                Ok(None) => {}
                Err(e) => last_error = Some(e.to_string()),
            }
        }
        match last_error {
            Some(e) => Err(lookup_error(e)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use matador_lab::mmdb::{CountryRecord, MmdbBuilder};

    #[test]
    fn reads_the_geolite2_schema_the_lab_writes() {
        let mut b = MmdbBuilder::new("Test-Country", "test");
        b.insert(
            "192.0.2.0/24".parse().unwrap(),
            CountryRecord {
                iso_code: "CH".into(),
                name_en: Some("Switzerland".into()),
            },
        )
        .unwrap();
        b.insert(
            "2001:db8::/32".parse().unwrap(),
            CountryRecord {
                iso_code: "DE".into(),
                name_en: None,
            },
        )
        .unwrap();
        let db = MmdbSource::from_bytes("test.mmdb", b.to_bytes().unwrap()).unwrap();
        assert_eq!(db.database_type(), "Test-Country");
        assert_eq!(
            db.country("192.0.2.9".parse().unwrap()).unwrap().as_deref(),
            Some("CH")
        );
        assert_eq!(
            db.country("::ffff:192.0.2.9".parse().unwrap())
                .unwrap()
                .as_deref(),
            Some("CH")
        );
        assert_eq!(
            db.country("2001:db8::1".parse().unwrap())
                .unwrap()
                .as_deref(),
            Some("DE")
        );
        assert_eq!(db.country("198.51.100.1".parse().unwrap()).unwrap(), None);
    }

    #[test]
    fn dates_of_build_epochs() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_700_000_000), "2023-11-14");
    }

    #[test]
    fn garbage_is_an_open_error_not_a_panic() {
        let err = MmdbSource::from_bytes("junk", b"not a database".to_vec())
            .err()
            .expect("refused");
        assert!(err.to_string().contains("junk"), "{err}");
    }
}
