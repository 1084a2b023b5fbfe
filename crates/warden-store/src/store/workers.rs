//! Workers sharing a store: each claims the best claimable candidate as it frees up,
//! stamps its run with a heartbeat while it works, and is listed with what it did.

use super::{now, require_project, Store};
use crate::db::{params, Row};
use crate::error::StoreError;
use crate::model::{CandidateFile, WorkerStatus};
use std::time::Duration;

impl Store {
    /// Claims the best claimable candidate for `holder` in run `run_id`, with its hits;
    /// `None` when nothing is claimable now. Concurrent workers each get a different
    /// file: PostgreSQL skips rows another claim has locked (`FOR UPDATE SKIP LOCKED`).
    /// A file that failed in this run is not taken again by it, so a worker whose copy
    /// of a file is wrong moves on; the claim records the run in the file's `last_run`.
    pub fn claim_next(
        &mut self,
        project: &str,
        holder: &str,
        run_id: i64,
        lease: Duration,
    ) -> Result<Option<CandidateFile>, StoreError> {
        let Some(mut file) = self
            .claim_best(project, holder, 1, lease, Some(run_id))?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        file.hits = self.hits(project, &file.path)?;
        Ok(Some(file))
    }

    /// Records that run `run_id` is alive now.
    pub fn heartbeat(&mut self, run_id: i64) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE runs SET heartbeat_at = ?2 WHERE id = ?1",
            params![run_id, now()],
        )?;
        Ok(())
    }

    /// The project's investigating runs (`process`, `revalidate`, workers) that are
    /// running or ended less than `recent` ago, oldest first, with the files each
    /// completed, the files it holds now, and its spend.
    pub fn workers(
        &self,
        project: &str,
        recent: Duration,
    ) -> Result<Vec<WorkerStatus>, StoreError> {
        require_project(&self.db, project)?;
        let since = super::before(recent);
        let rows = self.db.query(
            "SELECT r.id, r.kind, r.status, r.holder, r.host, r.pid, r.started_at,
                    r.heartbeat_at, r.finished_at,
                    (SELECT COUNT(*) FROM files f
                      WHERE f.project = r.project AND f.last_run = r.id AND f.status = 'analyzed'),
                    (SELECT COUNT(*) FROM files f
                      WHERE f.project = r.project AND f.status = 'processing'
                        AND f.lease_holder = r.holder),
                    (SELECT COALESCE(SUM(c.cost_usd), 0) FROM llm_calls c WHERE c.run_id = r.id)
             FROM runs r
             WHERE r.project = ?1 AND r.kind IN ('process', 'revalidate')
               AND (r.status = 'running' OR r.finished_at >= ?2)
             ORDER BY r.id",
            params![project, since],
        )?;
        rows.iter().map(|row| self.worker_from(row)).collect()
    }

    fn worker_from(&self, row: &Row) -> Result<WorkerStatus, StoreError> {
        let count = |i: usize| -> Result<u64, StoreError> {
            Ok(u64::try_from(row.get::<i64>(i)?).unwrap_or(0))
        };
        Ok(WorkerStatus {
            run_id: row.get(0)?,
            kind: super::convert::run_kind(self.name(), &row.get::<String>(1)?)?,
            status: super::convert::run_status(self.name(), &row.get::<String>(2)?)?,
            holder: row.get(3)?,
            host: row.get(4)?,
            pid: row.get(5)?,
            started_at: row.get(6)?,
            heartbeat_at: row.get(7)?,
            finished_at: row.get(8)?,
            files_done: count(9)?,
            files_held: count(10)?,
            spend_usd: row.get(11)?,
        })
    }
}
