//! The host's result store: one SQLite file (WAL mode), one row per measurement with its
//! record as JSON. Kept small and general: the campaign orchestrator writes rows as
//! measurements progress, `import` writes records from elsewhere, `analyze` reads them.

use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Schema version this build writes, kept in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i32 = 1;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("result store {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer version of matador-host.
    #[error(
        "result store {path} has schema version {found}; this matador-host knows up to \
         {SCHEMA_VERSION}: use a newer matador-host"
    )]
    TooNew {
        /// The database file.
        path: String,
        /// Its version.
        found: i32,
    },
}

/// One stored measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    /// Unique id.
    pub id: String,
    /// Campaign it belongs to.
    pub campaign: String,
    /// App under test.
    pub app: String,
    /// `running`, `complete`, `partial`, `failed`, … (the orchestrator's states).
    pub status: String,
    /// The measurement record, JSON (docs/schema.md).
    pub record: String,
    /// When the row was first written, Unix seconds.
    pub created: i64,
}

/// The result store.
pub struct Store {
    conn: Connection,
    path: String,
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let name = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StoreError::Sqlite {
            path: name.clone(),
            source,
        })?;
        Self::setup(conn, name)
    }

    /// A store in memory (tests).
    #[cfg(test)]
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Sqlite {
            path: ":memory:".into(),
            source,
        })?;
        Self::setup(conn, ":memory:".into())
    }

    fn setup(conn: Connection, path: String) -> Result<Self, StoreError> {
        let store = Store { conn, path };
        store.migrate()?;
        Ok(store)
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// WAL (readers never block the writer), a busy timeout for the orchestrator and
    /// `analyze` running at once, and the schema brought to [`SCHEMA_VERSION`].
    fn migrate(&self) -> Result<(), StoreError> {
        let c = &self.conn;
        c.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| self.err(e))?;
        // In memory, SQLite answers "memory" instead: nothing to do there.
        let _mode: String = c
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let version: i32 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
            });
        }
        if version < 1 {
            c.execute_batch(
                "BEGIN IMMEDIATE;
                 CREATE TABLE IF NOT EXISTS measurements (
                     id       TEXT PRIMARY KEY NOT NULL,
                     campaign TEXT NOT NULL,
                     app      TEXT NOT NULL,
                     status   TEXT NOT NULL,
                     record   TEXT NOT NULL,
                     created  INTEGER NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS measurements_campaign ON measurements (campaign);
                 PRAGMA user_version = 1;
                 COMMIT;",
            )
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// The schema version of the open file.
    #[cfg(test)]
    pub fn schema_version(&self) -> Result<i32, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Inserts or replaces rows in one transaction; a replaced row keeps its `created`
    /// time (the `created` of the given rows is ignored).
    pub fn upsert(&mut self, rows: &[StoredRow]) -> Result<(), StoreError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT INTO measurements (id, campaign, app, status, record, created)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (id) DO UPDATE SET campaign = excluded.campaign,
                         app = excluded.app, status = excluded.status,
                         record = excluded.record",
                )
                .map_err(err)?;
            for r in rows {
                stmt.execute(params![r.id, r.campaign, r.app, r.status, r.record, now])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// One row by id.
    pub fn get(&self, id: &str) -> Result<Option<StoredRow>, StoreError> {
        self.conn
            .query_row(
                "SELECT id, campaign, app, status, record, created FROM measurements
                 WHERE id = ?1",
                [id],
                row_of,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every row, oldest first (then by id), optionally of one campaign.
    pub fn rows(&self, campaign: Option<&str>) -> Result<Vec<StoredRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, campaign, app, status, record, created FROM measurements
                 WHERE ?1 IS NULL OR campaign = ?1 ORDER BY created, id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([campaign], row_of)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

fn row_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
    Ok(StoredRow {
        id: r.get(0)?,
        campaign: r.get(1)?,
        app: r.get(2)?,
        status: r.get(3)?,
        record: r.get(4)?,
        created: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, status: &str) -> StoredRow {
        StoredRow {
            id: id.into(),
            campaign: "c1".into(),
            app: "app".into(),
            status: status.into(),
            record: format!("{{\"id\":\"{id}\"}}"),
            created: 0,
        }
    }

    #[test]
    fn creates_migrates_and_upserts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.sqlite");
        {
            let mut s = Store::open(&path).unwrap();
            assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
            s.upsert(&[row("m1", "running"), row("m2", "complete")])
                .unwrap();
            let first = s.get("m1").unwrap().unwrap();
            assert!(first.created > 0);
            s.upsert(&[row("m1", "complete")]).unwrap();
            let again = s.get("m1").unwrap().unwrap();
            assert_eq!(again.status, "complete");
            assert_eq!(again.created, first.created);
        }
        // Reopening is a no-op migration and keeps the rows; the file is in WAL mode.
        let s = Store::open(&path).unwrap();
        let rows = s.rows(None).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(s.rows(Some("c1")).unwrap().len(), 2);
        assert!(s.rows(Some("other")).unwrap().is_empty());
        assert_eq!(s.get("nope").unwrap(), None);
        let mode: String = s
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn in_memory_stores_work_the_same() {
        let mut s = Store::open_in_memory().unwrap();
        s.upsert(&[row("m1", "complete")]).unwrap();
        assert_eq!(s.rows(None).unwrap()[0].record, "{\"id\":\"m1\"}");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.sqlite");
        drop(Store::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA user_version = 7").unwrap();
        drop(c);
        let err = Store::open(&path).err().expect("refused");
        assert!(err.to_string().contains("newer matador-host"), "{err}");
    }

    #[test]
    fn not_a_database_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.sqlite");
        std::fs::write(&path, b"this is not sqlite, just some bytes of text").unwrap();
        let err = Store::open(&path).err().expect("refused");
        assert!(err.to_string().contains("junk.sqlite"), "{err}");
    }
}
