//! Workers sharing a store: each claims the best claimable candidate as it frees up,
//! stamps its run with a heartbeat while it works, and is listed with what it did.

use super::{after, now, require_holder, require_project, Store};
use crate::db::{params, Row};
use crate::error::StoreError;
use crate::model::{CandidateFile, WorkerStatus};
use std::time::Duration;

/// Where the next claim looks, in order, each the best by score (`?2` is now, or this
/// run's id): the pending queue, then a file whose holder's lease ran out (a dead
/// worker's), then files that failed in another run. A file that failed in this run is
/// not taken again by it, so a worker whose copy of a file is wrong moves on. Each
/// repeats the `WHERE` terms of its partial index (`files_claim_queue`, `files_leases`)
/// so that it reads the index in claim order up to the first row no other claim has
/// locked, instead of sorting every candidate.
const PENDING: &str = "status IN ('pending', 'failed') AND status = 'pending'";
const EXPIRED: &str = "status = 'processing' AND lease_until <= ?2";
const FAILED_ELSEWHERE: &str = "status IN ('pending', 'failed') AND status = 'failed'
    AND (last_run IS NULL OR last_run <> ?2)";

fn next_sql(which: &str, lock: &str) -> String {
    format!(
        "SELECT path, language, score, status FROM files
         WHERE project = ?1 AND is_candidate = 1 AND {which}
         ORDER BY score DESC, path LIMIT 1{lock}"
    )
}

impl Store {
    /// Claims the best claimable candidate for `holder` in run `run_id`, with its hits;
    /// `None` when nothing is claimable now. Concurrent workers each get a different
    /// file: PostgreSQL skips rows another claim has locked (`FOR UPDATE SKIP LOCKED`).
    pub fn claim_next(
        &mut self,
        project: &str,
        holder: &str,
        run_id: i64,
        lease: Duration,
    ) -> Result<Option<CandidateFile>, StoreError> {
        require_holder(&self.db, holder)?;
        let tx = self.db.write_tx()?;
        require_project(&tx, project)?;
        let now = now();
        let lock = tx.dialect().for_update_skip_locked();
        let mut next = tx.query_opt(&next_sql(PENDING, lock), params![project])?;
        if next.is_none() {
            next = tx.query_opt(&next_sql(EXPIRED, lock), params![project, now])?;
        }
        if next.is_none() {
            next = tx.query_opt(&next_sql(FAILED_ELSEWHERE, lock), params![project, run_id])?;
        }
        let Some(row) = next else {
            tx.commit()?;
            return Ok(None);
        };
        let path: String = row.get(0)?;
        tx.execute(
            "UPDATE files SET status = 'processing', lease_holder = ?3, lease_until = ?4,
                 last_run = ?5, updated_at = ?6
             WHERE project = ?1 AND path = ?2",
            params![project, path, holder, after(lease), run_id, now],
        )?;
        let file = self.candidate_from(project, &row)?;
        tx.commit()?;
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
