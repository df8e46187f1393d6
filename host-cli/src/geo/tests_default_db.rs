//! The real default database (geo-whois-asn-country, fetched with `npm pack` when missing)
//! against `mmdblookup`, libmaxminddb's reference reader, for a set of addresses.

use super::default_db::{cache_dir, ensure_default_db};
use super::mmdb::MmdbSource;
use super::CountrySource;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

/// Well-known anycast and operator addresses, both families, plus ones with no entry.
const ADDRESSES: [&str; 16] = [
    "8.8.8.8",
    "1.1.1.1",
    "9.9.9.9",
    "193.0.14.129",
    "202.12.27.33",
    "194.0.0.53",
    "212.58.244.22",
    "77.88.8.8",
    "114.114.114.114",
    "200.160.0.10",
    "2001:4860:4860::8888",
    "2606:4700:4700::1111",
    "2001:67c:2e8:22::c100:68b",
    "10.1.2.3",
    "100.64.0.1",
    "192.0.2.1",
];

/// The country `mmdblookup` finds at `country_code`, `None` when it has no entry.
fn mmdblookup(db: &Path, ip: &str) -> Option<String> {
    let out = Command::new("mmdblookup")
        .arg("--file")
        .arg(db)
        .args(["--ip", ip, "country_code"])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run mmdblookup ({e}): install it with `apt-get install mmdb-bin`")
        });
    let text = String::from_utf8_lossy(&out.stdout);
    // Output: `  "US" <utf8_string>`; nothing (and a message on stderr) without an entry.
    text.split('"').nth(1).map(str::to_owned)
}

#[test]
fn default_database_agrees_with_mmdblookup() {
    let dir = cache_dir().expect("cache dir");
    let path = ensure_default_db(&dir).unwrap_or_else(|e| {
        panic!(
            "the default geolocation database is needed for this test and could not be \
             fetched: {e}"
        )
    });
    let db = MmdbSource::open(&path).expect("opens");
    let mut located = 0;
    for ip in ADDRESSES {
        let ours = db.country(ip.parse::<IpAddr>().unwrap()).expect("lookup");
        let reference = mmdblookup(&path, ip);
        assert_eq!(ours, reference, "{ip}");
        located += usize::from(ours.is_some());
    }
    // The public addresses are in the database; private and documentation ones are not.
    assert!(located >= 12, "only {located} addresses located");
    assert_eq!(db.country("10.1.2.3".parse().unwrap()).unwrap(), None);
    // Fetching again is a no-op.
    assert_eq!(ensure_default_db(&dir).unwrap(), path);
}
