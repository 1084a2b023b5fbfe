//! The work queue of later stages: claiming candidate files under a lease.
//!
//! A claim is one write transaction that takes the write lock up front
//! (`BEGIN IMMEDIATE`), so two processes never claim the same file. A holder
//! keeps a file only while `status = 'processing'` and `lease_holder` names
//! it; once the lease expires another holder may take the file over.

use super::findings::insert_findings_tx;
use super::{after, now, require_holder, require_project, write_tx, Db, Store};
use crate::error::StoreError;
use crate::model::{CandidateFile, FileLease, NewFinding};
use rusqlite::{params, OptionalExtension};
use std::path::Path;
use std::time::Duration;

fn not_holder(path: &Path, project: &str, file: &str, holder: &str) -> StoreError {
    StoreError::NotHolder {
        path: path.to_path_buf(),
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
        require_holder(&self.path, holder)?;
        let tx = write_tx(&mut self.conn, &self.path)?;
        require_project(&tx, &self.path, project)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        let now = now();
        let until = after(lease);
        let mut pick = tx
            .prepare(
                "SELECT path FROM files
                 WHERE project = ?1 AND is_candidate = 1
                   AND (status IN ('pending', 'failed')
                        OR (status = 'processing' AND (lease_until IS NULL OR lease_until <= ?2)))
                 ORDER BY score DESC, path LIMIT ?3",
            )
            .db(&self.path)?;
        let paths: Vec<String> = pick
            .query_map(
                params![project, now, super::files::sql_limit(Some(n))],
                |r| r.get(0),
            )
            .and_then(|rows| rows.collect())
            .db(&self.path)?;
        drop(pick);
        let mut claim = tx
            .prepare(
                "UPDATE files SET status = 'processing', lease_holder = ?3, lease_until = ?4, updated_at = ?5
                 WHERE project = ?1 AND path = ?2",
            )
            .db(&self.path)?;
        for file in &paths {
            claim
                .execute(params![project, file, holder, until, now])
                .db(&self.path)?;
        }
        drop(claim);
        tx.commit().db(&self.path)?;
        Ok(paths)
    }

    /// Claims one candidate file if it is pending, failed, or its lease expired; false if it is not claimable.
    ///
    /// One `BEGIN IMMEDIATE` transaction: of several holders racing for the same file, exactly one wins.
    pub fn claim_file(
        &mut self,
        project: &str,
        path: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        require_holder(&self.path, holder)?;
        let tx = write_tx(&mut self.conn, &self.path)?;
        require_project(&tx, &self.path, project)?;
        let now = now();
        let changed = tx
            .execute(
                "UPDATE files SET status = 'processing', lease_holder = ?3, lease_until = ?4, updated_at = ?5
                 WHERE project = ?1 AND path = ?2 AND is_candidate = 1
                   AND (status IN ('pending', 'failed')
                        OR (status = 'processing' AND (lease_until IS NULL OR lease_until <= ?5)))",
                params![project, path, holder, after(lease), now],
            )
            .db(&self.path)?;
        tx.commit().db(&self.path)?;
        Ok(changed == 1)
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
        require_holder(&self.path, holder)?;
        let tx = write_tx(&mut self.conn, &self.path)?;
        require_project(&tx, &self.path, project)?;
        let now = now();
        let until = after(lease);
        let mut claim = tx
            .prepare_cached(
                "UPDATE files SET status = 'processing', lease_holder = ?3, lease_until = ?4, updated_at = ?5
                 WHERE project = ?1 AND path = ?2 AND is_candidate = 1
                   AND (status IN ('pending', 'failed')
                        OR (status = 'processing' AND (lease_until IS NULL OR lease_until <= ?5)))",
            )
            .db(&self.path)?;
        let mut claimed = Vec::with_capacity(paths.len());
        for path in paths {
            let changed = claim
                .execute(params![project, path, holder, until, now])
                .db(&self.path)?;
            if changed == 1 {
                claimed.push(path.to_string());
            }
        }
        drop(claim);
        tx.commit().db(&self.path)?;
        Ok(claimed)
    }

    /// Puts every analyzed candidate back to pending (for `--reinvestigate`); returns how many.
    ///
    /// Findings already stored stay; files being processed or failed are left alone.
    pub fn requeue_analyzed(&mut self, project: &str) -> Result<u64, StoreError> {
        let tx = write_tx(&mut self.conn, &self.path)?;
        require_project(&tx, &self.path, project)?;
        let changed = tx
            .execute(
                "UPDATE files SET status = 'pending', fail_reason = NULL, updated_at = ?2
                 WHERE project = ?1 AND is_candidate = 1 AND status = 'analyzed'",
                params![project, now()],
            )
            .db(&self.path)?;
        tx.commit().db(&self.path)?;
        Ok(changed as u64)
    }

    /// The candidate files a claim could take now (pending, failed, or lease expired), best score first.
    pub fn pending_queue(
        &self,
        project: &str,
        limit: Option<usize>,
    ) -> Result<Vec<CandidateFile>, StoreError> {
        let _snapshot = self.conn.unchecked_transaction().db(&self.path)?;
        require_project(&self.conn, &self.path, project)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, language, score, status FROM files
                 WHERE project = ?1 AND is_candidate = 1
                   AND (status IN ('pending', 'failed')
                        OR (status = 'processing' AND (lease_until IS NULL OR lease_until <= ?2)))
                 ORDER BY score DESC, path LIMIT ?3",
            )
            .db(&self.path)?;
        let rows: Vec<(String, Option<String>, f64, String)> = stmt
            .query_map(
                params![project, now(), super::files::sql_limit(limit)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .and_then(|rows| rows.collect())
            .db(&self.path)?;
        drop(stmt);
        rows.into_iter()
            .map(|(path, language, score, status)| {
                Ok(CandidateFile {
                    hits: self.hits(project, &path)?,
                    status: super::convert::file_status(&self.path, &status)?,
                    path,
                    language,
                    score,
                })
            })
            .collect()
    }

    /// The files currently claimed (status `processing`), with their holders, by path.
    ///
    /// With [`Store::release_file`] under the holder's name, a caller that knows a holder
    /// died (e.g. its pid is gone on this host) can give its files back before the lease ends.
    pub fn file_leases(&self, project: &str) -> Result<Vec<FileLease>, StoreError> {
        require_project(&self.conn, &self.path, project)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, lease_holder, lease_until FROM files
                 WHERE project = ?1 AND status = 'processing' ORDER BY path",
            )
            .db(&self.path)?;
        let rows = stmt
            .query_map(params![project], |r| {
                Ok(FileLease {
                    path: r.get(0)?,
                    holder: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    until: r.get(2)?,
                })
            })
            .and_then(|rows| rows.collect())
            .db(&self.path)?;
        Ok(rows)
    }

    /// Extends `holder`'s lease on a claimed file to `lease` from now; false if it no longer holds it.
    pub fn renew_lease(
        &mut self,
        project: &str,
        path: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let changed = self
            .conn
            .execute(
                "UPDATE files SET lease_until = ?4
                 WHERE project = ?1 AND path = ?2 AND status = 'processing' AND lease_holder = ?3",
                params![project, path, holder, after(lease)],
            )
            .db(&self.path)?;
        Ok(changed == 1)
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
        let tx = write_tx(&mut self.conn, &self.path)?;
        let mut renew = tx
            .prepare_cached(
                "UPDATE files SET lease_until = ?4
                 WHERE project = ?1 AND path = ?2 AND status = 'processing' AND lease_holder = ?3",
            )
            .db(&self.path)?;
        let mut lost = Vec::new();
        for path in paths {
            let changed = renew
                .execute(params![project, path, holder, until])
                .db(&self.path)?;
            if changed != 1 {
                lost.push(path.to_string());
            }
        }
        drop(renew);
        tx.commit().db(&self.path)?;
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

    fn end_claim(
        &mut self,
        project: &str,
        file: &str,
        holder: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let tx = write_tx(&mut self.conn, &self.path)?;
        require_project(&tx, &self.path, project)?;
        let changed = tx
            .execute(
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
            )
            .db(&self.path)?;
        if changed == 0 {
            return Err(not_holder(&self.path, project, file, holder));
        }
        tx.commit().db(&self.path)
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
        let tx = write_tx(&mut self.conn, &self.path)?;
        require_project(&tx, &self.path, project)?;
        let held: Option<String> = tx
            .query_row(
                "SELECT hash FROM files
                 WHERE project = ?1 AND path = ?2 AND status = 'processing' AND lease_holder = ?3",
                params![project, path, holder],
                |r| r.get(0),
            )
            .optional()
            .db(&self.path)?;
        let Some(hash) = held else {
            return Err(not_holder(&self.path, project, path, holder));
        };
        let ids = insert_findings_tx(&tx, &self.path, project, findings)?;
        tx.execute(
            "UPDATE files SET status = 'analyzed', analyzed_hash = ?3, fail_reason = NULL,
                 lease_holder = NULL, lease_until = NULL, updated_at = ?4
             WHERE project = ?1 AND path = ?2",
            params![project, path, hash, now()],
        )
        .db(&self.path)?;
        tx.commit().db(&self.path)?;
        Ok(ids)
    }
}
