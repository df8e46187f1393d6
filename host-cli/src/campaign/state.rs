//! A campaign's run state in the result store's SQLite file: every planned measurement with
//! its state, attempts, last error and screenshot folder, and the raw results fetched from
//! the routers. Written after every step, so a campaign killed at any point resumes where it
//! was without doing a finished measurement again.

use crate::phone::{Clock, SystemClock};
use crate::spec::PlannedMeasurement;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// The run-state tables (also what the export's tests build their store from).
pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS campaigns (name TEXT PRIMARY KEY, spec TEXT NOT NULL, created REAL NOT NULL);
             CREATE TABLE IF NOT EXISTS campaign_runs (
                 id TEXT PRIMARY KEY, campaign TEXT NOT NULL, idx INTEGER NOT NULL, plan TEXT NOT NULL,
                 state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, error TEXT,
                 screenshots TEXT, started REAL, ended REAL);
             CREATE TABLE IF NOT EXISTS campaign_results (
                 run_id TEXT NOT NULL, side TEXT NOT NULL, kind TEXT NOT NULL, sha256 TEXT NOT NULL,
                 bytes BLOB NOT NULL, PRIMARY KEY (run_id, side, kind));
             CREATE TABLE IF NOT EXISTS campaign_attempts (
                 run_id TEXT NOT NULL, attempt INTEGER NOT NULL, pair TEXT NOT NULL,
                 started REAL NOT NULL, ended REAL, outcome TEXT NOT NULL, error TEXT,
                 PRIMARY KEY (run_id, attempt));";

/// The state of one planned measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Its id (from the plan).
    pub id: String,
    /// Position in the campaign.
    pub index: i64,
    /// `planned`, `running`, `done` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// The last error.
    pub error: Option<String>,
}

/// One attempt at a measurement.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Attempt {
    /// Its number, from 1.
    #[serde(rename = "attempt")]
    pub number: i64,
    /// The router pair that ran it (`A+B`).
    pub pair: String,
    /// `running`, `done`, `failed` or `interrupted`.
    pub outcome: String,
    /// Why it failed.
    pub error: Option<String>,
}

/// How many measurements are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Not started, or to be retried.
    pub planned: u64,
    /// Started and not finished (a crash leaves these; resume runs them again).
    pub running: u64,
    /// Finished with results.
    pub done: u64,
    /// Out of attempts.
    pub failed: u64,
}

/// The run-state tables.
pub struct State {
    db: Connection,
}

impl State {
    /// Opens (and creates) the tables in the store at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<State> {
        let db = Connection::open(path)?;
        db.busy_timeout(std::time::Duration::from_secs(10))?;
        db.execute_batch(&format!("PRAGMA journal_mode=WAL;\n{SCHEMA}"))?;
        Ok(State { db })
    }

    /// Records a campaign and its plan; measurements already known keep their state.
    pub fn register(
        &mut self,
        campaign: &str,
        spec: &Path,
        plan: &[PlannedMeasurement],
    ) -> rusqlite::Result<()> {
        let tx = self.db.transaction()?;
        tx.execute(
            "INSERT INTO campaigns (name, spec, created) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET spec = excluded.spec",
            params![campaign, spec.display().to_string(), SystemClock.now()],
        )?;
        for p in plan {
            let json = serde_json::to_string(p)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            tx.execute(
                "INSERT OR IGNORE INTO campaign_runs (id, campaign, idx, plan, state) VALUES (?1, ?2, ?3, ?4, 'planned')",
                params![p.id, campaign, p.index as i64, json],
            )?;
        }
        tx.commit()
    }

    /// The spec file a campaign was started from.
    pub fn spec_of(&self, campaign: &str) -> rusqlite::Result<Option<String>> {
        self.db
            .query_row(
                "SELECT spec FROM campaigns WHERE name = ?1",
                [campaign],
                |r| r.get(0),
            )
            .optional()
    }

    /// The campaigns known, newest first.
    pub fn campaigns(&self) -> rusqlite::Result<Vec<String>> {
        let mut q = self
            .db
            .prepare("SELECT name FROM campaigns ORDER BY created DESC")?;
        let names = q.query_map([], |r| r.get(0))?.collect();
        names
    }

    /// Every measurement of a campaign, in plan order.
    pub fn runs(&self, campaign: &str) -> rusqlite::Result<Vec<Run>> {
        let mut q = self.db.prepare(
            "SELECT id, idx, state, attempts, error FROM campaign_runs WHERE campaign = ?1 ORDER BY idx",
        )?;
        let rows = q
            .query_map([campaign], |r| {
                Ok(Run {
                    id: r.get(0)?,
                    index: r.get(1)?,
                    state: r.get(2)?,
                    attempts: r.get(3)?,
                    error: r.get(4)?,
                })
            })?
            .collect();
        rows
    }

    /// How many measurements of a campaign are in each state.
    pub fn counts(&self, campaign: &str) -> rusqlite::Result<Counts> {
        let mut c = Counts::default();
        for run in self.runs(campaign)? {
            match run.state.as_str() {
                "done" => c.done += 1,
                "failed" => c.failed += 1,
                "running" => c.running += 1,
                _ => c.planned += 1,
            }
        }
        Ok(c)
    }

    /// A measurement starts an attempt on router pair `pair` (`A+B`), its screenshots in
    /// the folder `screenshots` gives for its number; returns the number and the folder.
    /// Each attempt is also kept in `campaign_attempts`, so a retried measurement shows
    /// why its earlier attempts failed and where they ran.
    pub fn start(
        &mut self,
        id: &str,
        pair: &str,
        screenshots: impl FnOnce(i64) -> PathBuf,
    ) -> rusqlite::Result<(i64, PathBuf)> {
        let now = SystemClock.now();
        let tx = self.db.transaction()?;
        let attempt: i64 = tx.query_row(
            "SELECT attempts + 1 FROM campaign_runs WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        let dir = screenshots(attempt);
        tx.execute(
            "UPDATE campaign_runs SET state = 'running', attempts = ?2, started = ?3, screenshots = ?4 WHERE id = ?1",
            params![id, attempt, now, dir.display().to_string()],
        )?;
        // A host killed mid-attempt left that attempt `running`: it was interrupted.
        tx.execute(
            "UPDATE campaign_attempts SET outcome = 'interrupted' WHERE run_id = ?1 AND outcome = 'running'",
            [id],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO campaign_attempts (run_id, attempt, pair, started, outcome) VALUES (?1, ?2, ?3, ?4, 'running')",
            params![id, attempt, pair, now],
        )?;
        tx.commit()?;
        Ok((attempt, dir))
    }

    /// A measurement is done.
    pub fn done(&mut self, id: &str) -> rusqlite::Result<()> {
        let now = SystemClock.now();
        let tx = self.db.transaction()?;
        tx.execute(
            "UPDATE campaign_runs SET state = 'done', error = NULL, ended = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        end_attempt(&tx, id, "done", None, now)?;
        tx.commit()
    }

    /// An attempt failed: planned again while attempts remain, else failed for good.
    pub fn failed(&mut self, id: &str, error: &str, max_attempts: i64) -> rusqlite::Result<()> {
        let now = SystemClock.now();
        let tx = self.db.transaction()?;
        tx.execute(
            "UPDATE campaign_runs SET state = CASE WHEN attempts >= ?3 THEN 'failed' ELSE 'planned' END,
             error = ?2, ended = ?4 WHERE id = ?1",
            params![id, error, max_attempts, now],
        )?;
        end_attempt(&tx, id, "failed", Some(error), now)?;
        tx.commit()
    }

    /// Every attempt of a measurement, first first.
    pub fn attempts_of(&self, id: &str) -> rusqlite::Result<Vec<Attempt>> {
        let mut q = self.db.prepare(
            "SELECT attempt, pair, outcome, error FROM campaign_attempts WHERE run_id = ?1 ORDER BY attempt",
        )?;
        let rows = q
            .query_map([id], |r| {
                Ok(Attempt {
                    number: r.get(0)?,
                    pair: r.get(1)?,
                    outcome: r.get(2)?,
                    error: r.get(3)?,
                })
            })?
            .collect();
        rows
    }

    /// Keeps one raw result a router returned.
    pub fn save_result(
        &mut self,
        run: &str,
        side: &str,
        kind: &str,
        sha256: &str,
        bytes: &[u8],
    ) -> rusqlite::Result<()> {
        self.db.execute(
            "INSERT OR REPLACE INTO campaign_results (run_id, side, kind, sha256, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![run, side, kind, sha256, bytes],
        )?;
        Ok(())
    }

    /// The raw results kept for a measurement, with their bytes: (side, kind, bytes).
    pub fn result_bytes(&self, run: &str) -> rusqlite::Result<Vec<(String, String, Vec<u8>)>> {
        let mut q = self.db.prepare(
            "SELECT side, kind, bytes FROM campaign_results WHERE run_id = ?1 ORDER BY side, kind",
        )?;
        let rows = q
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect();
        rows
    }

    /// The raw results kept for a measurement: (side, kind, size).
    pub fn results_of(&self, run: &str) -> rusqlite::Result<Vec<(String, String, i64)>> {
        let mut q = self.db.prepare(
            "SELECT side, kind, length(bytes) FROM campaign_results WHERE run_id = ?1 ORDER BY side, kind",
        )?;
        let rows = q
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect();
        rows
    }
}

/// Closes a measurement's running attempt with its outcome.
fn end_attempt(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    outcome: &str,
    error: Option<&str>,
    now: f64,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE campaign_attempts SET outcome = ?2, error = ?3, ended = ?4 WHERE run_id = ?1 AND outcome = 'running'",
        params![id, outcome, error, now],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::RunKind;

    fn plan(n: usize) -> Vec<PlannedMeasurement> {
        (0..n)
            .map(|i| PlannedMeasurement {
                id: format!("c-m{i}"),
                index: i,
                kind: RunKind::Messages,
                app: "app".into(),
                node_a: "vp-a".into(),
                node_b: "vp-b".into(),
                repetition: 1,
                chunk: 0,
            })
            .collect()
    }

    #[test]
    fn runs_go_planned_running_done_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("r.sqlite");
        let mut s = State::open(&db).unwrap();
        s.register("c", Path::new("spec.yaml"), &plan(3)).unwrap();
        s.start("c-m0", "r1+r2", |_| dir.path().to_path_buf())
            .unwrap();
        s.done("c-m0").unwrap();
        assert_eq!(
            s.start("c-m1", "r3+r4", |_| dir.path().to_path_buf())
                .unwrap()
                .0,
            1
        );
        s.failed("c-m1", "phone gone", 2).unwrap();
        s.start("c-m2", "r1+r2", |_| dir.path().to_path_buf())
            .unwrap();
        drop(s);
        // Killed here: m2 was running. Registering again changes no state.
        let mut s = State::open(&db).unwrap();
        s.register("c", Path::new("spec.yaml"), &plan(3)).unwrap();
        assert_eq!(
            s.counts("c").unwrap(),
            Counts {
                planned: 1,
                running: 1,
                done: 1,
                failed: 0
            }
        );
        let runs = s.runs("c").unwrap();
        assert_eq!(
            (runs[1].attempts, runs[1].error.as_deref()),
            (1, Some("phone gone"))
        );
        assert_eq!(
            s.start("c-m1", "r1+r2", |_| dir.path().to_path_buf())
                .unwrap()
                .0,
            2
        );
        s.failed("c-m1", "phone gone again", 2).unwrap();
        assert_eq!(s.runs("c").unwrap()[1].state, "failed");
        let attempt = |n: i64, pair: &str, outcome: &str, error: Option<&str>| Attempt {
            number: n,
            pair: pair.to_string(),
            outcome: outcome.to_string(),
            error: error.map(String::from),
        };
        assert_eq!(
            s.attempts_of("c-m1").unwrap(),
            [
                attempt(1, "r3+r4", "failed", Some("phone gone")),
                attempt(2, "r1+r2", "failed", Some("phone gone again"))
            ]
        );
        // The attempt the kill cut short is marked so when the measurement runs again.
        s.start("c-m2", "r3+r4", |_| dir.path().to_path_buf())
            .unwrap();
        s.done("c-m2").unwrap();
        assert_eq!(
            s.attempts_of("c-m2").unwrap(),
            [
                attempt(1, "r1+r2", "interrupted", None),
                attempt(2, "r3+r4", "done", None)
            ]
        );
        assert_eq!(s.spec_of("c").unwrap().as_deref(), Some("spec.yaml"));
        s.save_result("c-m0", "a", "flows", "ab", b"{}").unwrap();
        assert_eq!(
            s.results_of("c-m0").unwrap(),
            [("a".into(), "flows".into(), 2)]
        );
    }
}
