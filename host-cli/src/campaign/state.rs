//! A campaign's run state in the result store's SQLite file: every planned measurement with
//! its state, attempts, last error and screenshot folder, and the raw results fetched from
//! the routers. Written after every step, so a campaign killed at any point resumes where it
//! was without doing a finished measurement again.

use crate::phone::{Clock, SystemClock};
use crate::spec::PlannedMeasurement;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

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
        db.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS campaigns (name TEXT PRIMARY KEY, spec TEXT NOT NULL, created REAL NOT NULL);
             CREATE TABLE IF NOT EXISTS campaign_runs (
                 id TEXT PRIMARY KEY, campaign TEXT NOT NULL, idx INTEGER NOT NULL, plan TEXT NOT NULL,
                 state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, error TEXT,
                 screenshots TEXT, started REAL, ended REAL);
             CREATE TABLE IF NOT EXISTS campaign_results (
                 run_id TEXT NOT NULL, side TEXT NOT NULL, kind TEXT NOT NULL, sha256 TEXT NOT NULL,
                 bytes BLOB NOT NULL, PRIMARY KEY (run_id, side, kind));",
        )?;
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

    /// A measurement starts an attempt.
    pub fn start(&mut self, id: &str, screenshots: &Path) -> rusqlite::Result<()> {
        self.db.execute(
            "UPDATE campaign_runs SET state = 'running', attempts = attempts + 1, started = ?2, screenshots = ?3 WHERE id = ?1",
            params![id, SystemClock.now(), screenshots.display().to_string()],
        )?;
        Ok(())
    }

    /// A measurement is done.
    pub fn done(&mut self, id: &str) -> rusqlite::Result<()> {
        self.db.execute(
            "UPDATE campaign_runs SET state = 'done', error = NULL, ended = ?2 WHERE id = ?1",
            params![id, SystemClock.now()],
        )?;
        Ok(())
    }

    /// An attempt failed: planned again while attempts remain, else failed for good.
    pub fn failed(&mut self, id: &str, error: &str, max_attempts: i64) -> rusqlite::Result<()> {
        self.db.execute(
            "UPDATE campaign_runs SET state = CASE WHEN attempts >= ?3 THEN 'failed' ELSE 'planned' END,
             error = ?2, ended = ?4 WHERE id = ?1",
            params![id, error, max_attempts, SystemClock.now()],
        )?;
        Ok(())
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
        s.start("c-m0", dir.path()).unwrap();
        s.done("c-m0").unwrap();
        s.start("c-m1", dir.path()).unwrap();
        s.failed("c-m1", "phone gone", 2).unwrap();
        s.start("c-m2", dir.path()).unwrap();
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
        s.start("c-m1", dir.path()).unwrap();
        s.failed("c-m1", "phone gone again", 2).unwrap();
        assert_eq!(s.runs("c").unwrap()[1].state, "failed");
        assert_eq!(s.spec_of("c").unwrap().as_deref(), Some("spec.yaml"));
        s.save_result("c-m0", "a", "flows", "ab", b"{}").unwrap();
        assert_eq!(
            s.results_of("c-m0").unwrap(),
            [("a".into(), "flows".into(), 2)]
        );
    }
}
