//! The default geolocation database: ip-location-db's geo-whois-asn-country (CC0), fetched
//! from the npm registry with `npm pack` into a cache directory, once.

use super::mmdb::MmdbSource;
use super::GeoError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The npm package that carries the database.
pub const PACKAGE: &str = "@ip-location-db/geo-whois-asn-country-mmdb";
/// The database file inside the package (IPv4 and IPv6).
pub const FILE: &str = "geo-whois-asn-country.mmdb";
/// Overrides the cache directory.
pub const DIR_ENV: &str = "MATADOR_GEO_DIR";

/// The command that fetches the database, for error messages.
pub const FETCH_HINT: &str = "matador-host analyze --fetch-geo-db";

/// Where the default database is kept: `$MATADOR_GEO_DIR`, else
/// `$XDG_CACHE_HOME/matador/geo`, else `~/.cache/matador/geo`.
pub fn cache_dir() -> Result<PathBuf, GeoError> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = var(DIR_ENV) {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(d).join("matador").join("geo"));
    }
    var("HOME")
        .map(|h| PathBuf::from(h).join(".cache").join("matador").join("geo"))
        .ok_or_else(|| {
            GeoError::DefaultDb(format!(
                "no cache directory for the geolocation database: set {DIR_ENV} or HOME"
            ))
        })
}

/// Opens the default database from `dir`, or says how to fetch it.
pub fn open_default(dir: &Path) -> Result<MmdbSource, GeoError> {
    let path = dir.join(FILE);
    if !path.exists() {
        return Err(GeoError::DefaultDb(format!(
            "the default geolocation database is missing ({}): fetch it with `{FETCH_HINT}` \
             (runs `npm pack {PACKAGE}` into {}), or pass --geo-db FILE",
            path.display(),
            dir.display()
        )));
    }
    MmdbSource::open(&path)
}

/// Makes sure `dir` holds a readable default database, fetching it with `npm pack` when it
/// does not; returns its path. Idempotent, and safe to run concurrently: the file appears
/// by an atomic rename.
pub fn ensure_default_db(dir: &Path) -> Result<PathBuf, GeoError> {
    let target = dir.join(FILE);
    if target.exists() && MmdbSource::open(&target).is_ok() {
        return Ok(target);
    }
    let io = |what: &str, e: std::io::Error| GeoError::DefaultDb(format!("{what}: {e}"));
    std::fs::create_dir_all(dir).map_err(|e| io(&format!("cannot create {}", dir.display()), e))?;
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let work = dir.join(format!(
        ".fetch-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&work)
        .map_err(|e| io(&format!("cannot create {}", work.display()), e))?;
    let result = fetch_into(&work, &target);
    let _ = std::fs::remove_dir_all(&work);
    result.map(|()| target)
}

/// `npm pack` into `work`, unpack the database, check it, move it to `target`.
fn fetch_into(work: &Path, target: &Path) -> Result<(), GeoError> {
    let npm = run(
        Command::new("npm")
            .args(["pack", PACKAGE, "--json", "--pack-destination"])
            .arg(work)
            .current_dir(work),
        "npm",
        "install Node.js and npm (Debian: `apt-get install npm`), or pass --geo-db FILE",
    )?;
    // `npm pack --json` prints [{"filename": "...tgz", "version": "...", ...}].
    let packed: serde_json::Value = serde_json::from_slice(&npm)
        .map_err(|e| GeoError::DefaultDb(format!("`npm pack {PACKAGE}` printed no JSON: {e}")))?;
    let version = packed
        .get(0)
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .to_owned();
    // The work directory is fresh: the only tarball in it is the one npm just wrote.
    let tarball = find_tgz(work)
        .ok_or_else(|| GeoError::DefaultDb(format!("`npm pack {PACKAGE}` left no tarball")))?;
    run(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(work)
            .arg(format!("package/{FILE}")),
        "tar",
        "install tar",
    )?;
    let unpacked = work.join("package").join(FILE);
    MmdbSource::open(&unpacked)?;
    std::fs::write(work.join("version"), format!("{PACKAGE}@{version}\n"))
        .map_err(|e| GeoError::DefaultDb(format!("cannot write the version file: {e}")))?;
    let version_file = target.with_extension("version");
    std::fs::rename(work.join("version"), &version_file)
        .and_then(|()| std::fs::rename(&unpacked, target))
        .map_err(|e| {
            GeoError::DefaultDb(format!(
                "cannot move the database to {}: {e}",
                target.display()
            ))
        })
}

/// The version recorded next to the default database (`package@version`), if any.
pub fn installed_version(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(FILE).with_extension("version"))
        .ok()
        .map(|s| s.trim().to_owned())
}

fn find_tgz(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
}

/// Runs a command, returning its stdout; errors name the command and what to do.
fn run(cmd: &mut Command, name: &str, remedy: &str) -> Result<Vec<u8>, GeoError> {
    let out = cmd.output().map_err(|e| {
        GeoError::DefaultDb(if e.kind() == std::io::ErrorKind::NotFound {
            format!("`{name}` is not installed: {remedy}")
        } else {
            format!("cannot run `{name}`: {e}")
        })
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        return Err(GeoError::DefaultDb(format!(
            "`{name}` failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    Ok(out.stdout)
}
