//! Writes MaxMind DB (`.mmdb`) files for the lab's address plan.
//!
//! The lab's emulated Internet needs a geolocation database for its own addresses, readable
//! by the same tools a real deployment uses (`mmdblookup` from libmaxminddb, the `maxminddb`
//! crate). [`MmdbBuilder`] collects prefix → country mappings and writes a database in the
//! MaxMind DB format v2.0 whose records follow the GeoLite2-Country schema:
//! `{"country": {"iso_code": "DE", "names": {"en": "Germany"}}}`.
//!
//! The database is always an IPv6 database (`ip_version` 6). IPv4 addresses live in
//! `::/96`: the IPv4 prefix `a.b.c.d/n` is stored as `::a.b.c.d/(96 + n)`, which is where
//! libmaxminddb and the `maxminddb` crate look IPv4 addresses up. Consequently an IPv6
//! prefix that covers `::/96` (for example `::/0`) also covers every IPv4 address, and
//! `10.0.0.0/8` and `::10.0.0.0/104` are the same prefix. No alias for IPv4-mapped
//! (`::ffff:0:0/96`) or 6to4 (`2002::/16`) addresses is written.

mod encode;
mod tree;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_prop;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::IpNet;

use encode::{encode, Value};
use tree::{Entry, RecordSize, Tree};

/// Marks the start of the metadata section.
const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";
/// Largest metadata section (marker included) that the spec allows.
const MAX_METADATA_BYTES: usize = 128 * 1024;
/// Size of the all-zero separator between the search tree and the data section.
const DATA_SECTION_SEPARATOR: usize = 16;

/// Errors from building or writing a MaxMind DB file.
#[derive(Debug, thiserror::Error)]
pub enum MmdbError {
    /// The same prefix was inserted twice.
    #[error("prefix {0} was inserted twice")]
    Duplicate(IpNet),
    /// A country code is not two ASCII uppercase letters.
    #[error("invalid ISO country code {0:?}: expected two ASCII uppercase letters")]
    InvalidIsoCode(String),
    /// The database, or one of its fields, exceeds a limit of the format.
    #[error("database too large: {0}")]
    TooLarge(String),
    /// Writing the file failed.
    #[error("I/O error while writing the database: {0}")]
    Io(#[from] io::Error),
}

/// The data stored for a network: a country in the GeoLite2-Country schema.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountryRecord {
    /// ISO 3166-1 alpha-2 code, two ASCII uppercase letters (e.g. "DE").
    pub iso_code: String,
    /// English country name, written as `names.en` when present.
    pub name_en: Option<String>,
}

/// Collects prefix → country mappings and writes them as a MaxMind DB file.
#[derive(Debug, Clone)]
pub struct MmdbBuilder {
    /// Metadata `database_type`.
    database_type: String,
    /// Metadata `description.en`.
    description: String,
    /// Metadata `build_epoch`; `None` means the time of writing.
    build_epoch: Option<u64>,
    /// The prefixes, keyed by (network bits in the IPv6 space, prefix length in that space).
    prefixes: BTreeMap<(u128, u8), CountryRecord>,
}

impl MmdbBuilder {
    /// Starts an empty database; `database_type` e.g. "MATAdOR-Lab-Country", `description`
    /// in English.
    pub fn new(database_type: &str, description: &str) -> Self {
        MmdbBuilder {
            database_type: database_type.to_owned(),
            description: description.to_owned(),
            build_epoch: None,
            prefixes: BTreeMap::new(),
        }
    }

    /// Fixes the metadata `build_epoch` (Unix seconds) for reproducible output; by default
    /// the time of [`to_bytes`](Self::to_bytes) is used.
    pub fn set_build_epoch(&mut self, epoch_seconds: u64) {
        self.build_epoch = Some(epoch_seconds);
    }

    /// Maps every address in `net` (IPv4 or IPv6, any prefix length) to a country record.
    ///
    /// More-specific prefixes win over less specific ones whatever the insertion order;
    /// inserting the exact same prefix twice is an error ([`MmdbError::Duplicate`]), also
    /// when it is spelled once as IPv4 and once as its `::/96` IPv6 form. Host bits of
    /// `net` are ignored (`10.1.2.3/8` is `10.0.0.0/8`).
    pub fn insert(&mut self, net: IpNet, country: CountryRecord) -> Result<(), MmdbError> {
        if !is_valid_iso_code(&country.iso_code) {
            return Err(MmdbError::InvalidIsoCode(country.iso_code));
        }
        let net = net.trunc();
        let key = match net {
            IpNet::V4(v4) => (
                u128::from(u32::from(v4.network())),
                v4.prefix_len().saturating_add(96),
            ),
            IpNet::V6(v6) => (u128::from(v6.network()), v6.prefix_len()),
        };
        if self.prefixes.contains_key(&key) {
            return Err(MmdbError::Duplicate(net));
        }
        self.prefixes.insert(key, country);
        Ok(())
    }

    /// Encodes the whole database as the bytes of a `.mmdb` file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, MmdbError> {
        self.to_bytes_with(None)
    }

    /// Encodes the database, with records of `forced` bits instead of the smallest size that
    /// fits when given (tests use it to exercise every record size).
    fn to_bytes_with(&self, forced: Option<RecordSize>) -> Result<Vec<u8>, MmdbError> {
        // Each distinct record is written once; prefixes point to it.
        let mut data = Vec::new();
        let mut offsets: Vec<u32> = Vec::new();
        let mut index_of: HashMap<&CountryRecord, u32> = HashMap::new();
        let mut entries = Vec::with_capacity(self.prefixes.len());
        for (&(bits, len), record) in &self.prefixes {
            let index = match index_of.get(record) {
                Some(&index) => index,
                None => {
                    let index = u32::try_from(offsets.len()).map_err(|_| {
                        MmdbError::TooLarge("more than 2^32 distinct records".to_owned())
                    })?;
                    let offset = u32::try_from(data.len()).map_err(|_| {
                        MmdbError::TooLarge("data section exceeds 4 GiB".to_owned())
                    })?;
                    encode(&record_value(record), &mut data)?;
                    offsets.push(offset);
                    index_of.insert(record, index);
                    index
                }
            };
            entries.push(Entry {
                bits,
                len,
                data: index,
            });
        }
        // Already sorted by (bits, len): the map's key order.
        let tree = Tree::build(&entries)?;

        let node_count = tree.node_count();
        let max_record_value = node_count
            .checked_add(DATA_SECTION_SEPARATOR)
            .and_then(|n| n.checked_add(data.len()))
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| MmdbError::TooLarge("database size overflows".to_owned()))?;
        let record_size = match forced {
            Some(size) => size,
            None => RecordSize::smallest_for(max_record_value)?,
        };
        let node_count_u32 = u32::try_from(node_count)
            .map_err(|_| MmdbError::TooLarge(format!("{node_count} nodes exceed 2^32")))?;

        let mut out = Vec::with_capacity(
            node_count
                .saturating_mul(record_size.node_bytes())
                .saturating_add(data.len())
                .saturating_add(1024),
        );
        tree.write(record_size, &offsets, &mut out)?;
        out.extend_from_slice(&[0u8; DATA_SECTION_SEPARATOR]);
        out.extend_from_slice(&data);

        let metadata_start = out.len();
        out.extend_from_slice(METADATA_MARKER);
        let epoch = self.build_epoch.unwrap_or_else(now_epoch_seconds);
        let metadata = Value::Map(vec![
            ("node_count", Value::U32(node_count_u32)),
            ("record_size", Value::U16(record_size.bits())),
            ("ip_version", Value::U16(6)),
            ("database_type", Value::Str(&self.database_type)),
            ("languages", Value::Array(vec![Value::Str("en")])),
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(epoch)),
            (
                "description",
                Value::Map(vec![("en", Value::Str(&self.description))]),
            ),
        ]);
        encode(&metadata, &mut out)?;
        let metadata_len = out.len() - metadata_start;
        if metadata_len > MAX_METADATA_BYTES {
            return Err(MmdbError::TooLarge(format!(
                "metadata section of {metadata_len} bytes exceeds {MAX_METADATA_BYTES}"
            )));
        }
        Ok(out)
    }

    /// Writes the database to `path` atomically: temp file in the same dir + fsync + rename.
    pub fn write_to(&self, path: &Path) -> Result<(), MmdbError> {
        let bytes = self.to_bytes()?;
        crate::atomic::write_atomically(path, &bytes)?;
        Ok(())
    }
}

/// Whether `code` is two ASCII uppercase letters.
fn is_valid_iso_code(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// The data-section value of a record: `{"country": {"iso_code": .., "names": {"en": ..}}}`.
fn record_value(record: &CountryRecord) -> Value<'_> {
    let mut country = vec![("iso_code", Value::Str(&record.iso_code))];
    if let Some(name) = &record.name_en {
        country.push(("names", Value::Map(vec![("en", Value::Str(name))])));
    }
    Value::Map(vec![("country", Value::Map(country))])
}

/// Current Unix time in seconds (0 if the clock is before 1970).
fn now_epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
