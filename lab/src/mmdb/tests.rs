//! Round-trip tests: databases written here are read back with the `maxminddb` crate and
//! with the real `mmdblookup` tool (Debian package mmdb-bin).

use super::*;
use maxminddb::{geoip2, Reader};
use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

/// A country record with an optional English name.
pub(super) fn rec(iso: &str, name: Option<&str>) -> CountryRecord {
    CountryRecord {
        iso_code: iso.to_owned(),
        name_en: name.map(str::to_owned),
    }
}

/// A builder holding `(prefix, iso, name)` triples, inserted in the given order.
fn builder(prefixes: &[(&str, &str, Option<&str>)]) -> MmdbBuilder {
    let mut b = MmdbBuilder::new("MATAdOR-Lab-Country", "MATAdOR lab address plan");
    b.set_build_epoch(1_700_000_000);
    for (net, iso, name) in prefixes {
        b.insert(net.parse().unwrap(), rec(iso, *name)).unwrap();
    }
    b
}

fn reader(b: &MmdbBuilder) -> Reader<Vec<u8>> {
    let reader = Reader::from_source(b.to_bytes().unwrap()).unwrap();
    reader.verify().unwrap();
    reader
}

/// (iso_code, English name) the `maxminddb` crate finds for `ip`, `None` when there is no data.
pub(super) fn lookup<S: AsRef<[u8]>>(r: &Reader<S>, ip: &str) -> Option<(String, Option<String>)> {
    let ip: IpAddr = ip.parse().unwrap();
    let result = r.lookup(ip).unwrap();
    let country: Option<geoip2::Country> = result.decode().unwrap();
    assert_eq!(result.has_data(), country.is_some());
    country.map(|c| {
        (
            c.country.iso_code.unwrap().to_owned(),
            c.country.names.english.map(str::to_owned),
        )
    })
}

fn iso<S: AsRef<[u8]>>(r: &Reader<S>, ip: &str) -> Option<String> {
    lookup(r, ip).map(|(iso, _)| iso)
}

/// A scratch directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("matador-mmdb-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// What `mmdblookup --file F --ip A country iso_code` prints: the code, or `None` when it
/// reports that the address has no entry. Panics if the tool is missing.
fn mmdblookup_iso(file: &Path, ip: &str) -> Option<String> {
    let output = match Command::new("mmdblookup")
        .arg("--file")
        .arg(file)
        .args(["--ip", ip, "country", "iso_code"])
        .output()
    {
        Ok(output) => output,
        Err(err) if err.kind() == io::ErrorKind::NotFound => panic!(
            "mmdblookup is not on PATH: install the Debian package mmdb-bin \
             (apt-get install mmdb-bin) to run this test"
        ),
        Err(err) => panic!("could not run mmdblookup: {err}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("Could not find an entry for this IP address") {
        return None;
    }
    assert!(
        output.status.success(),
        "mmdblookup failed for {ip}: {}\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    // The value is printed as `  "DE" <utf8_string>`.
    let line = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.ends_with("<utf8_string>"))
        .unwrap_or_else(|| panic!("unexpected mmdblookup output for {ip}: {stdout}"));
    let value = line.trim_end_matches("<utf8_string>").trim();
    Some(value.trim_matches('"').to_owned())
}

const PLAN: &[(&str, &str, Option<&str>)] = &[
    // Most specific first: order must not matter.
    ("10.1.2.0/24", "US", Some("United States")),
    ("10.1.0.0/16", "FR", Some("France")),
    ("10.0.0.0/8", "DE", Some("Germany")),
    ("192.0.2.7/32", "JP", None),
    ("2001:db8:1::/48", "NL", Some("Netherlands")),
    ("2001:db8::/32", "GB", Some("United Kingdom")),
    ("2001:db8::1/128", "IT", None),
];

#[test]
fn reads_back_ipv4_and_ipv6_prefixes_with_the_maxminddb_crate() {
    let r = reader(&builder(PLAN));
    let name = |s: &str| Some(s.to_owned());
    assert_eq!(
        lookup(&r, "10.200.0.1"),
        Some(("DE".into(), name("Germany")))
    );
    assert_eq!(lookup(&r, "10.1.99.1"), Some(("FR".into(), name("France"))));
    assert_eq!(
        lookup(&r, "10.1.2.255"),
        Some(("US".into(), name("United States")))
    );
    assert_eq!(lookup(&r, "192.0.2.7"), Some(("JP".into(), None)));
    assert_eq!(
        lookup(&r, "2001:db8:1:2::3"),
        Some(("NL".into(), name("Netherlands")))
    );
    assert_eq!(iso(&r, "2001:db8:ffff::1").as_deref(), Some("GB"));
    assert_eq!(lookup(&r, "2001:db8::1"), Some(("IT".into(), None)));
    assert_eq!(iso(&r, "2001:db8::2").as_deref(), Some("GB"));
    // Addresses outside every prefix have no data.
    for ip in [
        "9.255.255.255",
        "11.0.0.0",
        "192.0.2.6",
        "192.0.2.8",
        "2001:db7::1",
        "2001:db9::",
        "::",
    ] {
        assert_eq!(lookup(&r, ip), None, "{ip}");
    }
    // IPv4 lives in ::/96.
    assert_eq!(iso(&r, "::10.1.2.3").as_deref(), Some("US"));
}

#[test]
fn records_follow_the_geolite2_country_schema() {
    let r = reader(&builder(PLAN));
    let value = |ip: &str| -> serde_json::Value {
        let ip: IpAddr = ip.parse().unwrap();
        r.lookup(ip).unwrap().decode().unwrap().unwrap()
    };
    assert_eq!(
        value("10.0.0.1"),
        serde_json::json!({"country": {"iso_code": "DE", "names": {"en": "Germany"}}})
    );
    assert_eq!(
        value("192.0.2.7"),
        serde_json::json!({"country": {"iso_code": "JP"}})
    );
}

#[test]
fn lookups_report_the_matched_network() {
    let r = reader(&builder(PLAN));
    let network = |ip: &str| r.lookup(ip.parse().unwrap()).unwrap().network().unwrap();
    assert_eq!(network("10.1.2.3").to_string(), "10.1.2.0/24");
    assert_eq!(network("192.0.2.7").to_string(), "192.0.2.7/32");
    assert_eq!(network("2001:db8::1").to_string(), "2001:db8::1/128");
    assert_eq!(network("2001:db8:1::9").to_string(), "2001:db8:1::/48");
}

#[test]
fn ipv4_default_route_and_host_route() {
    let r = reader(&builder(&[
        ("0.0.0.0/0", "ZZ", None),
        ("203.0.113.9/32", "AU", Some("Australia")),
        ("203.0.113.0/24", "NZ", None),
    ]));
    assert_eq!(iso(&r, "0.0.0.0").as_deref(), Some("ZZ"));
    assert_eq!(iso(&r, "255.255.255.255").as_deref(), Some("ZZ"));
    assert_eq!(iso(&r, "203.0.113.8").as_deref(), Some("NZ"));
    assert_eq!(iso(&r, "203.0.113.9").as_deref(), Some("AU"));
    assert_eq!(iso(&r, "203.0.113.10").as_deref(), Some("NZ"));
    // 0.0.0.0/0 is ::/96 only.
    assert_eq!(iso(&r, "2001:db8::1"), None);
    assert_eq!(iso(&r, "::1:0:0:0"), None);
}

#[test]
fn ipv6_default_route_covers_ipv4_too() {
    let r = reader(&builder(&[
        ("::/0", "ZZ", None),
        ("2001:db8::42/128", "CH", None),
        ("10.0.0.0/8", "DE", None),
    ]));
    assert_eq!(iso(&r, "2001:db8::42").as_deref(), Some("CH"));
    assert_eq!(iso(&r, "2001:db8::43").as_deref(), Some("ZZ"));
    assert_eq!(iso(&r, "ffff::1").as_deref(), Some("ZZ"));
    assert_eq!(iso(&r, "10.9.8.7").as_deref(), Some("DE"));
    assert_eq!(iso(&r, "11.0.0.1").as_deref(), Some("ZZ"));
}

#[test]
fn metadata_is_complete() {
    let r = reader(&builder(PLAN));
    let m = r.metadata();
    assert_eq!(m.ip_version, 6);
    assert_eq!(m.record_size, 24);
    assert_eq!(m.binary_format_major_version, 2);
    assert_eq!(m.binary_format_minor_version, 0);
    assert_eq!(m.build_epoch, 1_700_000_000);
    assert_eq!(m.database_type, "MATAdOR-Lab-Country");
    assert_eq!(m.languages, vec!["en"]);
    assert_eq!(
        m.description.get("en").map(String::as_str),
        Some("MATAdOR lab address plan")
    );
    assert!(m.node_count > 128);
}

#[test]
fn empty_database_is_readable() {
    let r = reader(&builder(&[]));
    assert_eq!(r.metadata().node_count, 1);
    assert_eq!(iso(&r, "10.0.0.1"), None);
    assert_eq!(iso(&r, "2001:db8::1"), None);
}

#[test]
fn identical_records_are_stored_once() {
    let b = builder(&[
        ("10.0.0.0/8", "DE", Some("Germany")),
        ("172.16.0.0/12", "DE", Some("Germany")),
        ("2001:db8::/32", "DE", Some("Germany")),
        ("192.168.0.0/16", "DE", None),
    ]);
    let r = reader(&b);
    let offset = |ip: &str| r.lookup(ip.parse().unwrap()).unwrap().offset().unwrap();
    assert_eq!(offset("10.0.0.1"), offset("172.16.0.1"));
    assert_eq!(offset("10.0.0.1"), offset("2001:db8::1"));
    assert_ne!(offset("10.0.0.1"), offset("192.168.0.1"));
}

#[test]
fn duplicates_are_rejected() {
    let mut b = builder(&[("10.0.0.0/8", "DE", None), ("2001:db8::/32", "GB", None)]);
    for dup in [
        "10.0.0.0/8",
        "10.9.9.9/8",
        "::10.0.0.0/104",
        "2001:db8::/32",
    ] {
        let err = b.insert(dup.parse().unwrap(), rec("FR", None)).unwrap_err();
        assert!(matches!(err, MmdbError::Duplicate(_)), "{dup}: {err}");
    }
    // The originals are unchanged.
    assert_eq!(iso(&reader(&b), "10.1.1.1").as_deref(), Some("DE"));
}

#[test]
fn invalid_iso_codes_are_rejected() {
    let mut b = builder(&[]);
    for bad in ["", "D", "de", "De", "DEU", "D1", "Ä", "ÄÖ", " D"] {
        let err = b
            .insert("10.0.0.0/8".parse().unwrap(), rec(bad, None))
            .unwrap_err();
        assert!(
            matches!(&err, MmdbError::InvalidIsoCode(code) if code == bad),
            "{bad:?}: {err}"
        );
    }
    assert!(b.prefixes.is_empty());
}

#[test]
fn every_record_size_is_readable_by_both_readers() {
    let dir = TempDir::new("record-sizes");
    let b = builder(PLAN);
    for size in [RecordSize::Bits24, RecordSize::Bits28, RecordSize::Bits32] {
        let bytes = b.to_bytes_with(Some(size)).unwrap();
        let r = Reader::from_source(bytes.clone()).unwrap();
        r.verify().unwrap();
        assert_eq!(r.metadata().record_size, size.bits());
        let file = dir.0.join(format!("size{}.mmdb", size.bits()));
        crate::atomic::write_atomically(&file, &bytes).unwrap();
        for ip in [
            "10.1.2.3",
            "10.1.3.1",
            "10.3.0.1",
            "2001:db8::1",
            "2001:db8:1::1",
        ] {
            let expected = iso(&r, ip);
            assert!(expected.is_some(), "{ip}");
            assert_eq!(mmdblookup_iso(&file, ip), expected, "{ip} ({size:?})");
        }
        assert_eq!(mmdblookup_iso(&file, "11.0.0.1"), None);
    }
}

#[test]
fn large_data_section_selects_28_bit_records() {
    // 200 distinct records of ~90 kB each push data pointers past 2^24.
    let mut b = MmdbBuilder::new("MATAdOR-Lab-Country", "big");
    let long_name = "n".repeat(90_000);
    for i in 0..200u32 {
        let net = format!("10.{}.{}.0/24", i / 256, i % 256);
        let name = format!("{long_name}{i}");
        b.insert(net.parse().unwrap(), rec("DE", Some(&name)))
            .unwrap();
    }
    let dir = TempDir::new("large");
    let file = dir.0.join("large.mmdb");
    b.write_to(&file).unwrap();
    let r = Reader::open_readfile(&file).unwrap();
    assert_eq!(r.metadata().record_size, 28);
    for i in [0u32, 1, 100, 198, 199] {
        let ip = format!("10.{}.{}.5", i / 256, i % 256);
        let (_, name) = lookup(&r, &ip).unwrap();
        assert_eq!(name, Some(format!("{long_name}{i}")), "{ip}");
        assert_eq!(mmdblookup_iso(&file, &ip).as_deref(), Some("DE"), "{ip}");
    }
    assert_eq!(lookup(&r, "10.0.200.5"), None);
    assert_eq!(mmdblookup_iso(&file, "10.0.200.5"), None);
}

#[test]
fn mmdblookup_agrees_on_a_written_file() {
    let dir = TempDir::new("mmdblookup");
    let file = dir.0.join("lab-country.mmdb");
    let b = builder(PLAN);
    b.write_to(&file).unwrap();
    let expected: &[(&str, Option<&str>)] = &[
        ("10.200.0.1", Some("DE")),
        ("10.1.99.1", Some("FR")),
        ("10.1.2.3", Some("US")),
        ("192.0.2.7", Some("JP")),
        ("192.0.2.8", None),
        ("11.0.0.1", None),
        ("::10.1.2.3", Some("US")),
        ("2001:db8::1", Some("IT")),
        ("2001:db8::2", Some("GB")),
        ("2001:db8:1:abcd::1", Some("NL")),
        ("2001:db9::1", None),
    ];
    let r = Reader::open_readfile(&file).unwrap();
    for (ip, code) in expected {
        let code = code.map(str::to_owned);
        assert_eq!(mmdblookup_iso(&file, ip), code, "mmdblookup {ip}");
        assert_eq!(iso(&r, ip), code, "maxminddb {ip}");
    }
}

#[test]
fn write_to_replaces_the_file_and_leaves_no_temp_file() {
    let dir = TempDir::new("atomic");
    let file = dir.0.join("db.mmdb");
    builder(&[("10.0.0.0/8", "DE", None)])
        .write_to(&file)
        .unwrap();
    builder(&[("10.0.0.0/8", "FR", None)])
        .write_to(&file)
        .unwrap();
    let r = Reader::open_readfile(&file).unwrap();
    assert_eq!(iso(&r, "10.0.0.1").as_deref(), Some("FR"));
    let names: Vec<_> = fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["db.mmdb"]);
}

#[test]
fn write_to_reports_io_errors() {
    let dir = TempDir::new("io-errors");
    let b = builder(&[]);
    let missing = dir.0.join("no-such-dir").join("db.mmdb");
    assert!(matches!(b.write_to(&missing), Err(MmdbError::Io(_))));
    assert!(matches!(b.write_to(Path::new("/")), Err(MmdbError::Io(_))));
    // Renaming over a directory fails, and the temp file is cleaned up.
    let target = dir.0.join("a-dir");
    fs::create_dir(&target).unwrap();
    assert!(matches!(b.write_to(&target), Err(MmdbError::Io(_))));
    assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 1);
}
