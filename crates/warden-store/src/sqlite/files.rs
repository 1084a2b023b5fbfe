//! Files seen by `scan`: what is known about them, recording a scan, the candidate list.

use super::convert::{self, finite, invalid, to_i64};
use super::{now, require_project, write_tx, Db, Store};
use crate::error::StoreError;
use crate::model::*;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// What the store holds about a file before a scan is recorded.
struct Stored {
    hash: String,
    status: FileStatus,
    analyzed_hash: Option<String>,
    size: i64,
    mtime_ns: i64,
    language: Option<String>,
    is_candidate: bool,
}

/// A `usize` limit as a SQL `LIMIT` (no limit is the largest BIGINT, valid in SQLite and PostgreSQL).
pub(crate) fn sql_limit(limit: Option<usize>) -> i64 {
    limit.map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

impl Store {
    /// Path -> size, mtime and hash of every file of the project that is not gone.
    pub fn known_files(&self, project: &str) -> Result<HashMap<String, KnownFile>, StoreError> {
        require_project(&self.conn, &self.path, project)?;
        let mut stmt = self
            .conn
            .prepare("SELECT path, size, mtime_ns, hash FROM files WHERE project = ?1 AND status <> 'gone'")
            .db(&self.path)?;
        let rows: Vec<(String, i64, i64, String)> = stmt
            .query_map([project], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .and_then(|rows| rows.collect())
            .db(&self.path)?;
        rows.into_iter()
            .map(|(path, size, mtime_ns, hash)| {
                let size = convert::to_u64(&self.path, "file size", size)?;
                Ok((
                    path,
                    KnownFile {
                        size,
                        mtime_ns,
                        hash,
                    },
                ))
            })
            .collect()
    }

    /// The rules/options fingerprint stored by the project's last recorded scan.
    pub fn scan_fingerprint(&self, project: &str) -> Result<Option<String>, StoreError> {
        let row: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT scan_fingerprint FROM projects WHERE id = ?1",
                [project],
                |r| r.get(0),
            )
            .optional()
            .db(&self.path)?;
        row.ok_or_else(|| StoreError::UnknownProject {
            path: self.path.clone(),
            id: project.to_string(),
        })
    }

    /// Records one scan in one transaction and returns what changed.
    ///
    /// New files are inserted as pending. A file with `matched: Some` gets its
    /// hits and score replaced and, if its hash changed, its later-stage state
    /// reset to pending (lease and failure cleared: "requeued"). A file with
    /// `matched: None` keeps everything but size, mtime and language. Stored
    /// files missing from the record are marked gone; a gone file that
    /// reappears counts as new and is analyzed again unless its content is the
    /// one already analyzed. Then candidates are recomputed for the whole
    /// project (score >= `min_score`, best score first then path, at most
    /// `limit`), and `fingerprint` is stored on the project.
    pub fn record_scan(
        &mut self,
        project: &str,
        run_id: i64,
        fingerprint: &str,
        record: &ScanRecord,
    ) -> Result<ScanDelta, StoreError> {
        let path = self.path.as_path();
        let min_score = finite(path, "min_score", record.min_score)?;
        validate_files(path, &record.files)?;

        let tx = write_tx(&mut self.conn, path)?;
        require_project(&tx, path, project)?;
        let run_project: Option<String> = tx
            .query_row("SELECT project FROM runs WHERE id = ?1", [run_id], |r| {
                r.get(0)
            })
            .optional()
            .db(path)?;
        if run_project.as_deref() != Some(project) {
            return Err(StoreError::UnknownRun {
                path: path.to_path_buf(),
                id: run_id,
            });
        }
        let stored = stored_files(&tx, path, project)?;
        let now = now();
        let mut delta = ScanDelta::default();
        let mut seen = HashSet::with_capacity(record.files.len());

        for file in &record.files {
            seen.insert(file.path.as_str());
            let Some(old) = stored.get(&file.path) else {
                insert_file(&tx, path, project, run_id, &now, file)?;
                delta.new += 1;
                continue;
            };
            let came_back = old.status == FileStatus::Gone;
            let hash_changed = old.hash != file.hash;
            if file.matched.is_none() && hash_changed {
                return Err(invalid(
                    path,
                    format!(
                        "`{}`: content changed but the scan has no match result for it",
                        file.path
                    ),
                ));
            }
            // (new status, whether lease and failure are cleared)
            let (status, reset) = if came_back {
                delta.new += 1;
                let same_as_analyzed = old.analyzed_hash.as_deref() == Some(file.hash.as_str());
                let status = if same_as_analyzed {
                    FileStatus::Analyzed
                } else {
                    FileStatus::Pending
                };
                (status, true)
            } else if hash_changed {
                delta.changed += 1;
                if old.status != FileStatus::Pending {
                    delta.requeued += 1;
                }
                (FileStatus::Pending, true)
            } else {
                delta.unchanged += 1;
                let same_metadata = old.size == to_i64_lossless(file.size)
                    && old.mtime_ns == file.mtime_ns
                    && old.language == file.language;
                // Nothing to write: re-scans of large unchanged trees stay cheap.
                if same_metadata && file.matched.is_none() {
                    continue;
                }
                (old.status, false)
            };
            update_file(&tx, path, project, run_id, &now, file, status, reset)?;
            if let Some(matched) = &file.matched {
                replace_hits(&tx, path, project, &file.path, &matched.hits)?;
            }
        }

        let mut mark_gone = tx
            .prepare_cached(
                "UPDATE files SET status = 'gone', is_candidate = 0, lease_holder = NULL,
                     lease_until = NULL, updated_at = ?3
                 WHERE project = ?1 AND path = ?2",
            )
            .db(path)?;
        for (file, old) in &stored {
            if old.status != FileStatus::Gone
                && !seen.contains(file.as_str())
                && !is_under_any(file, &record.unvisited)
            {
                mark_gone.execute(params![project, file, now]).db(path)?;
                delta.gone += 1;
            }
        }
        drop(mark_gone);

        let was_candidate: HashSet<&str> = stored
            .iter()
            .filter(|(_, old)| old.is_candidate)
            .map(|(file, _)| file.as_str())
            .collect();
        delta.candidates =
            recompute_candidates(&tx, path, project, min_score, record.limit, &was_candidate)?;
        tx.execute(
            "UPDATE projects SET scan_fingerprint = ?2, last_scan_at = ?3 WHERE id = ?1",
            params![project, fingerprint, now],
        )
        .db(path)?;
        tx.commit().db(path)?;
        Ok(delta)
    }

    /// Candidate files with their hits, best score first (ties by path), at most `limit`.
    pub fn candidates(
        &self,
        project: &str,
        limit: Option<usize>,
    ) -> Result<Vec<CandidateFile>, StoreError> {
        // One read snapshot: the list and its hits agree even while a scan commits.
        let _snapshot = self.conn.unchecked_transaction().db(&self.path)?;
        require_project(&self.conn, &self.path, project)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, language, score, status FROM files
                 WHERE project = ?1 AND is_candidate = 1
                 ORDER BY score DESC, path LIMIT ?2",
            )
            .db(&self.path)?;
        let rows: Vec<(String, Option<String>, f64, String)> = stmt
            .query_map(params![project, sql_limit(limit)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .and_then(|rows| rows.collect())
            .db(&self.path)?;
        rows.into_iter()
            .map(|(path, language, score, status)| {
                Ok(CandidateFile {
                    hits: self.hits(project, &path)?,
                    status: convert::file_status(&self.path, &status)?,
                    path,
                    language,
                    score,
                })
            })
            .collect()
    }

    /// The hits recorded for one file, in the order the scan reported them.
    pub(crate) fn hits(&self, project: &str, file: &str) -> Result<Vec<Hit>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rule_id, line, snippet FROM hits WHERE project = ?1 AND path = ?2 ORDER BY seq")
            .db(&self.path)?;
        let rows: Vec<(String, i64, String)> = stmt
            .query_map(params![project, file], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .and_then(|rows| rows.collect())
            .db(&self.path)?;
        rows.into_iter()
            .map(|(rule_id, line, snippet)| {
                Ok(Hit {
                    rule_id,
                    line: convert::to_u32(&self.path, "hit line", line)?,
                    snippet,
                })
            })
            .collect()
    }
}

/// Rejects a record the store could not keep faithfully, before anything is written.
pub(super) fn validate_files(path: &Path, files: &[ScannedFile]) -> Result<(), StoreError> {
    let mut paths = HashSet::with_capacity(files.len());
    for file in files {
        if file.path.is_empty() {
            return Err(invalid(
                path,
                "a scanned file has an empty path".to_string(),
            ));
        }
        if !paths.insert(file.path.as_str()) {
            return Err(invalid(
                path,
                format!("`{}` is listed twice in the scan", file.path),
            ));
        }
        to_i64(path, "file size", file.size)?;
        if let Some(matched) = &file.matched {
            finite(path, &format!("score of `{}`", file.path), matched.score)?;
        }
    }
    Ok(())
}

fn stored_files(
    conn: &Connection,
    path: &Path,
    project: &str,
) -> Result<HashMap<String, Stored>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT path, hash, status, analyzed_hash, size, mtime_ns, language, is_candidate
             FROM files WHERE project = ?1",
        )
        .db(path)?;
    let rows: Vec<(String, String, Stored)> = stmt
        .query_map([project], |r| {
            Ok((
                r.get(0)?,
                r.get(2)?,
                Stored {
                    hash: r.get(1)?,
                    status: FileStatus::Pending,
                    analyzed_hash: r.get(3)?,
                    size: r.get(4)?,
                    mtime_ns: r.get(5)?,
                    language: r.get(6)?,
                    is_candidate: r.get::<_, i64>(7)? != 0,
                },
            ))
        })
        .and_then(|rows| rows.collect())
        .db(path)?;
    rows.into_iter()
        .map(|(file, status, stored)| {
            let status = convert::file_status(path, &status)?;
            Ok((file, Stored { status, ..stored }))
        })
        .collect()
}

fn insert_file(
    tx: &Transaction<'_>,
    path: &Path,
    project: &str,
    run_id: i64,
    now: &str,
    file: &ScannedFile,
) -> Result<(), StoreError> {
    let score = file.matched.as_ref().map_or(0.0, |m| m.score);
    tx.prepare_cached(
        "INSERT INTO files (project, path, language, size, mtime_ns, hash, score, is_candidate,
                            status, last_run, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 'pending', ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            project,
            file.path,
            file.language,
            to_i64_lossless(file.size),
            file.mtime_ns,
            file.hash,
            score,
            run_id,
            now
        ])
    })
    .db(path)?;
    let hits = file.matched.as_ref().map_or(&[][..], |m| &m.hits[..]);
    replace_hits(tx, path, project, &file.path, hits)
}

#[allow(clippy::too_many_arguments)]
fn update_file(
    tx: &Transaction<'_>,
    path: &Path,
    project: &str,
    run_id: i64,
    now: &str,
    file: &ScannedFile,
    status: FileStatus,
    reset: bool,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE files SET language = ?3, size = ?4, mtime_ns = ?5, hash = ?6,
             score = COALESCE(?7, score), status = ?8,
             lease_holder = CASE WHEN ?9 = 1 THEN NULL ELSE lease_holder END,
             lease_until = CASE WHEN ?9 = 1 THEN NULL ELSE lease_until END,
             fail_reason = CASE WHEN ?9 = 1 THEN NULL ELSE fail_reason END,
             last_run = ?10, updated_at = ?11
         WHERE project = ?1 AND path = ?2",
    )
    .and_then(|mut s| {
        s.execute(params![
            project,
            file.path,
            file.language,
            to_i64_lossless(file.size),
            file.mtime_ns,
            file.hash,
            file.matched.as_ref().map(|m| m.score),
            status.as_str(),
            i64::from(reset),
            run_id,
            now
        ])
    })
    .db(path)?;
    Ok(())
}

pub(super) fn replace_hits(
    tx: &Transaction<'_>,
    path: &Path,
    project: &str,
    file: &str,
    hits: &[Hit],
) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM hits WHERE project = ?1 AND path = ?2")
        .and_then(|mut s| s.execute(params![project, file]))
        .db(path)?;
    let mut insert = tx
        .prepare_cached("INSERT INTO hits (project, path, seq, rule_id, line, snippet) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .db(path)?;
    for (seq, hit) in hits.iter().enumerate() {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        insert
            .execute(params![
                project,
                file,
                seq,
                hit.rule_id,
                i64::from(hit.line),
                crate::redact::redact_secrets(&hit.snippet)
            ])
            .db(path)?;
    }
    Ok(())
}

/// Flags the best-scored files as candidates and returns how many there are.
fn recompute_candidates(
    tx: &Transaction<'_>,
    path: &Path,
    project: &str,
    min_score: f64,
    limit: Option<usize>,
    was_candidate: &HashSet<&str>,
) -> Result<u64, StoreError> {
    let mut stmt = tx
        .prepare(
            "SELECT path FROM files WHERE project = ?1 AND status <> 'gone' AND score >= ?2
             ORDER BY score DESC, path LIMIT ?3",
        )
        .db(path)?;
    let chosen: Vec<String> = stmt
        .query_map(params![project, min_score, sql_limit(limit)], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .db(path)?;
    // Write only what changed: on a re-scan the candidate set is mostly the same.
    let now_candidate: HashSet<&str> = chosen.iter().map(String::as_str).collect();
    let mut flag = tx
        .prepare("UPDATE files SET is_candidate = ?3 WHERE project = ?1 AND path = ?2")
        .db(path)?;
    for file in was_candidate.difference(&now_candidate) {
        flag.execute(params![project, file, 0]).db(path)?;
    }
    for file in now_candidate.difference(was_candidate) {
        flag.execute(params![project, file, 1]).db(path)?;
    }
    Ok(chosen.len() as u64)
}

/// Sizes were checked by `validate_files`; this cannot saturate afterwards.
pub(super) fn to_i64_lossless(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Whether `file` is one of `dirs` or lies under one of them (`""` is the whole tree).
fn is_under_any(file: &str, dirs: &[String]) -> bool {
    dirs.iter().any(|dir| {
        dir.is_empty()
            || file == dir
            || (file.starts_with(dir.as_str()) && file.as_bytes().get(dir.len()) == Some(&b'/'))
    })
}
