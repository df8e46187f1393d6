//! `matador-host analyze` and `matador-host import`: the thin face over the store, the
//! geolocation stack and the analysis.

use super::groups::{Groups, PRESETS};
use super::regions::Regions;
use super::render::{render, Format};
use super::schema::Measurement;
use super::{Analyzer, Report, Skipped};
use crate::geo::default_db::{cache_dir, ensure_default_db, installed_version, open_default};
use crate::geo::mmdb::MmdbSource;
use crate::geo::{CountrySource, GeoStack};
use crate::privacy;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

/// Longest line `import` reads: one record with all its traces.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// Arguments of `matador-host analyze`.
#[derive(clap::Args)]
pub struct AnalyzeArgs {
    /// The result store.
    #[arg(long, default_value = "results.sqlite")]
    db: PathBuf,
    /// Geolocation database (MaxMind DB: GeoLite2/GeoIP2-Country, DB-IP, or
    /// geo-whois-asn-country); repeat to stack them, most trusted first. Default: the
    /// CC0 geo-whois-asn-country database in the cache directory.
    #[arg(long = "geo-db", value_name = "FILE")]
    geo_db: Vec<PathBuf>,
    /// Interest groups: a preset (`default`, `paper-2015`) or a YAML file.
    #[arg(long, default_value = "default")]
    groups: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the output to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only measurements of this campaign.
    #[arg(long)]
    campaign: Option<String>,
    /// Fetch the default geolocation database first if it is missing (`npm pack`); with
    /// no result store at --db, just fetch.
    #[arg(long)]
    fetch_geo_db: bool,
}

/// Arguments of `matador-host import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// Measurement records, one JSON object per line (docs/schema.md); `-` for stdin.
    file: PathBuf,
    /// The result store (created if missing).
    #[arg(long, default_value = "results.sqlite")]
    db: PathBuf,
}

/// Runs `analyze`.
pub fn analyze(args: AnalyzeArgs) -> Result<i32> {
    if args.fetch_geo_db {
        let dir = cache_dir()?;
        let path = ensure_default_db(&dir).context("fetching the default geolocation database")?;
        eprintln!(
            "matador-host: geolocation database {} ({})",
            path.display(),
            installed_version(&dir).unwrap_or_else(|| "version unknown".into())
        );
        if !args.db.exists() {
            eprintln!(
                "matador-host: no result store at {}: nothing to analyse",
                args.db.display()
            );
            return Ok(0);
        }
    }
    if !args.db.exists() {
        bail!(
            "no result store at {} (create one with `matador-host import FILE.jsonl --db {}`)",
            args.db.display(),
            args.db.display()
        );
    }
    let mut sources: Vec<Box<dyn CountrySource>> = Vec::new();
    for p in &args.geo_db {
        sources.push(Box::new(MmdbSource::open(p)?));
    }
    if sources.is_empty() {
        sources.push(Box::new(open_default(&cache_dir()?)?));
    }
    let regions = Regions::builtin()?;
    let groups = Groups::load(&args.groups, &regions).with_context(|| {
        format!(
            "interest groups {:?} (presets: {})",
            args.groups,
            PRESETS.join(", ")
        )
    })?;
    let store = Store::open(&args.db)?;
    let rows = store.rows(args.campaign.as_deref())?;
    let analyzer = Analyzer::new(GeoStack::new(sources), regions, groups)?;
    let mut report = analyzer.analyze_rows(&rows)?;
    add_privacy(&mut report, &args.db)?;
    let text = render(&report, args.format)?;
    match &args.out {
        Some(path) => write_atomically(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("writing the report")?,
    }
    Ok(0)
}

/// The Privacy section from the privacy records of the analysed measurements; records that
/// do not parse are listed as skipped.
pub(crate) fn add_privacy(report: &mut Report, db: &std::path::Path) -> Result<()> {
    let conn =
        rusqlite::Connection::open(db).with_context(|| format!("opening {}", db.display()))?;
    let ids: HashSet<&str> = report.measurements.iter().map(|m| m.id.as_str()).collect();
    let loaded = privacy::store::load(&conn, |id| ids.contains(id))
        .with_context(|| format!("reading privacy records from {}", db.display()))?;
    report.privacy = super::privacy::compute(&loaded.records);
    report.skipped.extend(
        loaded
            .skipped
            .into_iter()
            .map(|(id, reason)| Skipped { id, reason }),
    );
    Ok(())
}

/// Runs `import`: every line is parsed and checked first; only if all are good are they
/// written, in one transaction.
pub fn import(args: ImportArgs) -> Result<i32> {
    let name = args.file.display().to_string();
    let reader: Box<dyn BufRead> = if name == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(&args.file).with_context(|| format!("opening {name}"))?;
        Box::new(BufReader::new(f))
    };
    let mut rows = Vec::new();
    for (i, line) in read_lines(reader, &name)?.into_iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{name}:{}", i + 1);
        let m: Measurement = serde_json::from_str(&line).with_context(at)?;
        m.validate().with_context(at)?;
        rows.push(m.to_row().with_context(at)?);
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = rows.iter().find(|r| !seen.insert(r.id.as_str())) {
        bail!("{name}: measurement id {:?} appears twice", dup.id);
    }
    let mut store = Store::open(&args.db)?;
    let mut replaced = 0;
    for r in &rows {
        replaced += usize::from(store.get(&r.id)?.is_some());
    }
    store.upsert(&rows)?;
    eprintln!(
        "matador-host: imported {} measurement(s) into {} ({replaced} replaced)",
        rows.len(),
        args.db.display()
    );
    Ok(0)
}

/// Lines of a JSONL input, each at most [`MAX_LINE`] bytes.
fn read_lines(mut reader: Box<dyn BufRead>, name: &str) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut buf = Vec::new();
        let n = std::io::Read::take(&mut reader, MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("reading {name}"))?;
        if n == 0 {
            return Ok(lines);
        }
        if buf.len() > MAX_LINE {
            bail!(
                "{name}:{}: line longer than {MAX_LINE} bytes",
                lines.len() + 1
            );
        }
        let line = String::from_utf8(buf)
            .with_context(|| format!("{name}:{}: not UTF-8", lines.len() + 1))?;
        lines.push(line);
    }
}

/// Temp file in the same directory, fsync, rename: a report is whole or absent.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map_or_else(|| "report".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
