//! The work queue of later stages: claiming candidate files under a lease.
//!
//! A holder keeps a file only while `status = 'processing'` and `lease_holder` names
//! it; once the lease expires another holder may take the file over. Two holders never
//! claim the same file: in SQLite each claim is a transaction holding the database's
//! write lock; in PostgreSQL a claim locks the rows it picks (`FOR UPDATE SKIP LOCKED`,
//! so concurrent claimers take different files without waiting for each other) and every
//! `UPDATE` re-checks that the file is still claimable.

use super::files::sql_limit;
use super::findings::insert_findings_tx;
use super::{after, now, require_holder, require_project, Store};
use crate::db::{params, Db};
use crate::error::StoreError;
use crate::location::StoreName;
use crate::model::{CandidateFile, FileLease, FileStatus, NewFinding};
use std::time::Duration;

/// A file is claimable when it is a pending or failed candidate, or its lease ran out
/// (`?2` is the current time; every claim sets `lease_until`).
const CLAIMABLE: &str = "project = ?1 AND is_candidate = 1
    AND (status IN ('pending', 'failed') OR (status = 'processing' AND lease_until <= ?2))";

/// Claims one file (`?1` project, `?2` now, `?3` path, `?4` holder, `?5` lease end) if
/// it is still claimable.
fn claim_sql() -> String {
    format!(
        "UPDATE files SET status = 'processing', lease_holder = ?4, lease_until = ?5, updated_at = ?2
         WHERE path = ?3 AND {CLAIMABLE}"
    )
}

/// Claims the best `?3` claimable files for `?4` until `?5` in one statement, returning
/// their paths, scores and languages. Fresh (pending, failed) and expired files are
/// picked apart, each from its index (`files_claim_queue`, `files_leases`), and merged:
/// one sort of every candidate per claim would not scale. Each pick locks what it takes
/// until the statement ends, in PostgreSQL skipping rows another claimer holds (`lock`)
/// and re-checking its condition on the latest version of each row; MATERIALIZED makes
/// each pick run once (a subquery re-run per row could claim more than `?3`). With a
/// run `?6`, a file that failed in that run is not taken again by it, and claimed files
/// record the run in `last_run`.
fn claim_best_sql(lock: &str) -> String {
    format!(
        "WITH fresh AS MATERIALIZED (
             SELECT path, score FROM files
             WHERE project = ?1 AND is_candidate = 1 AND status IN ('pending', 'failed')
               AND NOT (status = 'failed' AND COALESCE(last_run = CAST(?6 AS BIGINT), FALSE))
             ORDER BY score DESC, path LIMIT ?3{lock}),
         expired AS MATERIALIZED (
             SELECT path, score FROM files
             WHERE project = ?1 AND status = 'processing' AND lease_until <= ?2
               AND is_candidate = 1
             ORDER BY score DESC, path LIMIT ?3{lock}),
         picked AS (
             SELECT path FROM (SELECT path, score FROM fresh
                               UNION ALL SELECT path, score FROM expired) AS both_kinds
             ORDER BY score DESC, path LIMIT ?3)
         UPDATE files SET status = 'processing', lease_holder = ?4, lease_until = ?5,
             updated_at = ?2, last_run = COALESCE(CAST(?6 AS BIGINT), last_run)
         WHERE project = ?1 AND path IN (SELECT path FROM picked)
         RETURNING path, score, language"
    )
}

/// The claimable files, best score first (`?3` is the limit).
fn queue_sql(columns: &str) -> String {
    format!("SELECT {columns} FROM files WHERE {CLAIMABLE} ORDER BY score DESC, path LIMIT ?3")
}

fn not_holder(store: &StoreName, project: &str, file: &str, holder: &str) -> StoreError {
    StoreError::NotHolder {
        store: store.clone(),
        project: project.to_string(),
        what: format!("the lease on `{file}`"),
        holder: holder.to_string(),
    }
}

impl Store {
    /// Claims up to `n` candidate files that are pending, failed, or whose lease expired, best score first.
    pub fn claim_files(
        &mut self,
        project: &str,
        holder: &str,
        n: usize,
        lease: Duration,
    ) -> Result<Vec<String>, StoreError> {
        Ok(self
            .claim_best(project, holder, n, lease, None)?
            .into_iter()
            .map(|c| c.path)
            .collect())
    }

    /// Claims the best `n` claimable files in one statement (see `claim_best_sql`), best
    /// score first, with their languages; hits are not read.
    pub(super) fn claim_best(
        &self,
        project: &str,
        holder: &str,
        n: usize,
        lease: Duration,
        run: Option<i64>,
    ) -> Result<Vec<CandidateFile>, StoreError> {
        require_holder(&self.db, holder)?;
        let picked = self.db.query(
            &claim_best_sql(self.db.dialect().for_update_skip_locked()),
            params![
                project,
                now(),
                sql_limit(Some(n)),
                holder,
                after(lease),
                run
            ],
        )?;
        if picked.is_empty() {
            require_project(&self.db, project)?;
        }
        let mut claimed = picked
            .iter()
            .map(|r| {
                Ok(CandidateFile {
                    path: r.get(0)?,
                    score: r.get(1)?,
                    language: r.get(2)?,
                    status: FileStatus::Processing,
                    hits: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // RETURNING follows no order: best score first, then path, as the queue.
        claimed.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.path.cmp(&b.path))
        });
        Ok(claimed)
    }

    /// Claims one candidate file if it is pending, failed, or its lease expired; false if it is not claimable.
    ///
    /// Of several holders racing for the same file, exactly one wins.
    pub fn claim_file(
        &mut self,
        project: &str,
        path: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        Ok(!self
            .claim_paths(project, &[path], holder, lease)?
            .is_empty())
    }

    /// Claims each of `paths` that is claimable (as [`Store::claim_file`]) in one
    /// transaction; returns the ones claimed, in the order given.
    pub fn claim_paths(
        &mut self,
        project: &str,
        paths: &[&str],
        holder: &str,
        lease: Duration,
    ) -> Result<Vec<String>, StoreError> {
        require_holder(&self.db, holder)?;
        let tx = self.db.write_tx()?;
        require_project(&tx, project)?;
        let now = now();
        let until = after(lease);
        let claim = claim_sql();
        let mut claimed = Vec::with_capacity(paths.len());
        for path in paths {
            if tx.execute(&claim, params![project, now, path, holder, until])? == 1 {
                claimed.push(path.to_string());
            }
        }
        tx.commit()?;
        Ok(claimed)
    }

    /// Puts every analyzed candidate back to pending (for `--reinvestigate`); returns how many.
    ///
    /// Findings already stored stay; files being processed or failed are left alone.
    pub fn requeue_analyzed(&mut self, project: &str) -> Result<u64, StoreError> {
        let tx = self.db.write_tx()?;
        require_project(&tx, project)?;
        let changed = tx.execute(
            "UPDATE files SET status = 'pending', fail_reason = NULL, updated_at = ?2
             WHERE project = ?1 AND is_candidate = 1 AND status = 'analyzed'",
            params![project, now()],
        )?;
        tx.commit()?;
        Ok(changed)
    }

    /// The candidate files a claim could take now (pending, failed, or lease expired), best score first.
    pub fn pending_queue(
        &self,
        project: &str,
        limit: Option<usize>,
    ) -> Result<Vec<CandidateFile>, StoreError> {
        let snapshot = self.db.read_tx()?;
        require_project(&snapshot, project)?;
        let rows = snapshot.query(
            &queue_sql("path, language, score, status"),
            params![project, now(), sql_limit(limit)],
        )?;
        let files = rows
            .iter()
            .map(|row| self.candidate_from(project, row))
            .collect();
        snapshot.commit()?;
        files
    }

    /// The files currently claimed (status `processing`), with their holders, by path.
    ///
    /// With [`Store::release_file`] under the holder's name, a caller that knows a holder
    /// died (e.g. its pid is gone on this host) can give its files back before the lease ends.
    pub fn file_leases(&self, project: &str) -> Result<Vec<FileLease>, StoreError> {
        require_project(&self.db, project)?;
        self.db
            .query(
                "SELECT path, lease_holder, lease_until FROM files
                 WHERE project = ?1 AND status = 'processing' ORDER BY path",
                params![project],
            )?
            .iter()
            .map(|r| {
                Ok(FileLease {
                    path: r.get(0)?,
                    holder: r.get::<Option<String>>(1)?.unwrap_or_default(),
                    until: r.get(2)?,
                })
            })
            .collect()
    }

    /// Extends `holder`'s lease on a claimed file to `lease` from now; false if it no longer holds it.
    pub fn renew_lease(
        &mut self,
        project: &str,
        path: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        Ok(self
            .renew_leases(project, &[path], holder, lease)?
            .is_empty())
    }

    /// Extends `holder`'s leases on `paths` to `lease` from now, in one transaction;
    /// returns the paths it no longer holds (not renewed).
    pub fn renew_leases(
        &mut self,
        project: &str,
        paths: &[&str],
        holder: &str,
        lease: Duration,
    ) -> Result<Vec<String>, StoreError> {
        let until = after(lease);
        let tx = self.db.write_tx()?;
        let mut lost = Vec::new();
        for path in paths {
            let changed = tx.execute(
                "UPDATE files SET lease_until = ?4
                 WHERE project = ?1 AND path = ?2 AND status = 'processing' AND lease_holder = ?3",
                params![project, path, holder, until],
            )?;
            if changed != 1 {
                lost.push(path.to_string());
            }
        }
        tx.commit()?;
        Ok(lost)
    }

    /// Gives a claimed file back (status pending), e.g. on a graceful stop.
    pub fn release_file(
        &mut self,
        project: &str,
        path: &str,
        holder: &str,
    ) -> Result<(), StoreError> {
        self.end_claim(project, path, holder, "pending", None)
    }

    /// Marks a claimed file failed with a reason; it is claimable again later.
    pub fn fail_file(
        &mut self,
        project: &str,
        path: &str,
        holder: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.end_claim(project, path, holder, "failed", Some(reason))
    }

    pub(super) fn end_claim(
        &self,
        project: &str,
        file: &str,
        holder: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let tx = self.db.write_tx()?;
        require_project(&tx, project)?;
        let changed = tx.execute(
            "UPDATE files SET status = ?4, fail_reason = ?5, lease_holder = NULL, lease_until = NULL,
                 updated_at = ?6
             WHERE project = ?1 AND path = ?2 AND status = 'processing' AND lease_holder = ?3",
            params![
                project,
                file,
                holder,
                status,
                reason.map(crate::redact::redact_secrets),
                now()
            ],
        )?;
        if changed == 0 {
            return Err(not_holder(self.name(), project, file, holder));
        }
        tx.commit()
    }

    /// Marks a claimed file analyzed and inserts its findings in one transaction; returns the finding ids.
    ///
    /// Fails with `NotHolder`, changing nothing, unless `holder` holds the file's lease.
    pub fn complete_file(
        &mut self,
        project: &str,
        path: &str,
        holder: &str,
        findings: &[NewFinding],
    ) -> Result<Vec<String>, StoreError> {
        self.complete(project, path, holder, findings, None)
    }

    /// [`Store::complete_file`], joining the caller's transaction if one is open.
    /// With `run`, the file records that run as the one that completed it.
    pub(super) fn complete(
        &self,
        project: &str,
        path: &str,
        holder: &str,
        findings: &[NewFinding],
        run: Option<i64>,
    ) -> Result<Vec<String>, StoreError> {
        // One statement takes the file from the holder (locking its row until commit, so
        // the lease cannot pass to another holder meanwhile), then the findings go in.
        // Without findings that statement is the whole change, and needs no transaction
        // of its own: two round trips fewer for each clean file.
        let tx = if findings.is_empty() {
            None
        } else {
            Some(self.db.write_tx()?)
        };
        let db: &Db = tx.as_deref().unwrap_or(&self.db);
        let done = db.execute(
            "UPDATE files SET status = 'analyzed', analyzed_hash = hash, fail_reason = NULL,
                 lease_holder = NULL, lease_until = NULL, updated_at = ?4,
                 last_run = COALESCE(CAST(?5 AS BIGINT), last_run)
             WHERE project = ?1 AND path = ?2 AND status = 'processing' AND lease_holder = ?3",
            params![project, path, holder, now(), run],
        )?;
        if done == 0 {
            require_project(db, project)?;
            return Err(not_holder(self.name(), project, path, holder));
        }
        let Some(tx) = tx else {
            return Ok(Vec::new());
        };
        let ids = insert_findings_tx(&tx, project, findings)?;
        tx.commit()?;
        Ok(ids)
    }
}
