//! Where privacy records are kept: a row per measurement and side in the result store's
//! `campaign_privacy` table (beside `campaign_results`, which holds only what the routers
//! sent), and a JSON file beside the measurement's screenshots. Both are written whole or not
//! at all.

use super::{MeasurementPrivacy, PrivacyError, PRIVACY_VERSION};
use rusqlite::{params, Connection, OptionalExtension};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The table, created on first use.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS campaign_privacy (
    run_id TEXT NOT NULL, side TEXT NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (run_id, side));";

/// Opens the result store at `path` for privacy records.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    db.execute_batch(SCHEMA)?;
    Ok(db)
}

/// Keeps a record, replacing the one an earlier attempt of the measurement left.
pub fn save(db: &Connection, record: &MeasurementPrivacy) -> Result<(), PrivacyError> {
    let json = serde_json::to_string(record)?;
    db.execute(
        "INSERT OR REPLACE INTO campaign_privacy (run_id, side, record) VALUES (?1, ?2, ?3)",
        params![record.measurement, record.side, json],
    )?;
    Ok(())
}

/// Privacy records read back, and those that were not usable.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Records, by measurement then side.
    pub records: Vec<MeasurementPrivacy>,
    /// (measurement, why) for rows that did not parse or are of another version.
    pub skipped: Vec<(String, String)>,
}

/// The records of the measurements `wanted` accepts; a store without the table (made by
/// `import` only) has none.
pub fn load(db: &Connection, wanted: impl Fn(&str) -> bool) -> rusqlite::Result<Loaded> {
    let mut out = Loaded::default();
    let exists: Option<String> = db
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'campaign_privacy'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(out);
    }
    let mut q =
        db.prepare("SELECT run_id, side, record FROM campaign_privacy ORDER BY run_id, side")?;
    let rows = q.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (id, side, json) = row?;
        if !wanted(&id) {
            continue;
        }
        match serde_json::from_str::<MeasurementPrivacy>(&json) {
            Ok(r) if r.version == PRIVACY_VERSION => out.records.push(r),
            Ok(r) => out.skipped.push((
                id,
                format!("side {side}: privacy record version {}", r.version),
            )),
            Err(e) => out.skipped.push((
                id,
                format!("side {side}: the privacy record does not parse: {e}"),
            )),
        }
    }
    Ok(out)
}

/// Writes `privacy-SIDE.json` into `dir` (temp file, fsync, rename); returns its path.
pub fn write_file(dir: &Path, record: &MeasurementPrivacy) -> Result<PathBuf, PrivacyError> {
    // The side is `a` or `b` from the campaign; anything else must not name a path.
    let side: String = record
        .side
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let path = dir.join(format!("privacy-{side}.json"));
    let tmp = dir.join(format!(".privacy-{side}.json.tmp-{}", std::process::id()));
    let fail = |source| PrivacyError::File {
        path: path.display().to_string(),
        source,
    };
    let json = serde_json::to_vec_pretty(record)?;
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    f.write_all(&json).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, &path).map_err(fail)?;
    Ok(path)
}
