//! Files seen by `scan`: what is known about them, recording a scan, the candidate list.

use super::convert::{self, finite, invalid, to_i64};
use super::{now, require_project, Store};
use crate::db::{params, Batch, Db, Row};
use crate::error::StoreError;
use crate::location::StoreName;
use crate::model::*;
use std::collections::{HashMap, HashSet};

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

/// Statements of a scan's record written at a time.
const WRITE_CHUNK: usize = 1024;

/// A `usize` limit as a SQL `LIMIT` (no limit is the largest BIGINT, valid in SQLite and PostgreSQL).
pub(crate) fn sql_limit(limit: Option<usize>) -> i64 {
    limit.map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

impl Store {
    /// Path -> size, mtime and hash of every file of the project that is not gone.
    pub fn known_files(&self, project: &str) -> Result<HashMap<String, KnownFile>, StoreError> {
        require_project(&self.db, project)?;
        let rows = self.db.query(
            "SELECT path, size, mtime_ns, hash FROM files WHERE project = ?1 AND status <> 'gone'",
            params![project],
        )?;
        rows.iter()
            .map(|r| {
                let size = convert::to_u64(self.name(), "file size", r.get(1)?)?;
                Ok((
                    r.get(0)?,
                    KnownFile {
                        size,
                        mtime_ns: r.get(2)?,
                        hash: r.get(3)?,
                    },
                ))
            })
            .collect()
    }

    /// The rules/options fingerprint stored by the project's last recorded scan.
    pub fn scan_fingerprint(&self, project: &str) -> Result<Option<String>, StoreError> {
        let row = self.db.query_opt(
            "SELECT scan_fingerprint FROM projects WHERE id = ?1",
            params![project],
        )?;
        match row {
            Some(row) => row.get(0),
            None => Err(StoreError::UnknownProject {
                store: self.name().clone(),
                id: project.to_string(),
            }),
        }
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
        let name = self.name().clone();
        let min_score = finite(&name, "min_score", record.min_score)?;
        validate_files(&name, &record.files)?;

        let tx = self.db.write_tx()?;
        lock_project(&tx, project)?;
        let run_project: Option<String> = tx
            .query_opt("SELECT project FROM runs WHERE id = ?1", params![run_id])?
            .map(|r| r.get(0))
            .transpose()?;
        if run_project.as_deref() != Some(project) {
            return Err(StoreError::UnknownRun {
                store: name,
                id: run_id,
            });
        }
        let stored = stored_files(&tx, project)?;
        let now = now();
        let mut delta = ScanDelta::default();
        let mut seen = HashSet::with_capacity(record.files.len());
        // The writes of the scan, run a chunk at a time (each chunk pipelined on
        // PostgreSQL): held all at once, their copies of every path, hash and snippet
        // were a tenth of a large scan's peak memory.
        let mut writes = Batch::new();

        for file in &record.files {
            if writes.len() >= WRITE_CHUNK {
                tx.run(&writes)?;
                writes = Batch::new();
            }
            seen.insert(file.path.as_str());
            let Some(old) = stored.get(&file.path) else {
                insert_file(&mut writes, project, run_id, &now, file);
                delta.new += 1;
                continue;
            };
            let came_back = old.status == FileStatus::Gone;
            let hash_changed = old.hash != file.hash;
            if file.matched.is_none() && hash_changed {
                return Err(invalid(
                    &name,
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
            update_file(&mut writes, project, run_id, &now, file, status, reset);
            if let Some(matched) = &file.matched {
                replace_hits(&mut writes, project, &file.path, &matched.hits);
            }
        }

        for (file, old) in &stored {
            if old.status != FileStatus::Gone
                && !seen.contains(file.as_str())
                && !is_under_any(file, &record.unvisited)
            {
                writes.push(
                    "UPDATE files SET status = 'gone', is_candidate = 0, lease_holder = NULL,
                         lease_until = NULL, updated_at = ?3
                     WHERE project = ?1 AND path = ?2",
                    params![project, file, now],
                );
                delta.gone += 1;
            }
        }
        tx.run(&writes)?;

        let was_candidate: HashSet<&str> = stored
            .iter()
            .filter(|(_, old)| old.is_candidate)
            .map(|(file, _)| file.as_str())
            .collect();
        delta.candidates =
            recompute_candidates(&tx, project, min_score, record.limit, &was_candidate)?;
        tx.execute(
            "UPDATE projects SET scan_fingerprint = ?2, last_scan_at = ?3 WHERE id = ?1",
            params![project, fingerprint, now],
        )?;
        tx.commit()?;
        Ok(delta)
    }

    /// Candidate files with their hits, best score first (ties by path), at most `limit`.
    pub fn candidates(
        &self,
        project: &str,
        limit: Option<usize>,
    ) -> Result<Vec<CandidateFile>, StoreError> {
        // One read snapshot: the list and its hits agree even while a scan commits.
        let snapshot = self.db.read_tx()?;
        require_project(&snapshot, project)?;
        let rows = snapshot.query(
            "SELECT path, language, score, status FROM files
             WHERE project = ?1 AND is_candidate = 1
             ORDER BY score DESC, path LIMIT ?2",
            params![project, sql_limit(limit)],
        )?;
        let files = rows
            .iter()
            .map(|row| self.candidate_from(project, row))
            .collect();
        snapshot.commit()?;
        files
    }

    /// A candidate from a row of `path, language, score, status`, with its hits.
    pub(super) fn candidate_from(
        &self,
        project: &str,
        row: &Row,
    ) -> Result<CandidateFile, StoreError> {
        let path: String = row.get(0)?;
        Ok(CandidateFile {
            hits: self.hits(project, &path)?,
            status: convert::file_status(self.name(), &row.get::<String>(3)?)?,
            path,
            language: row.get(1)?,
            score: row.get(2)?,
        })
    }

    /// The hits recorded for one file, in the order the scan reported them.
    pub(crate) fn hits(&self, project: &str, file: &str) -> Result<Vec<Hit>, StoreError> {
        self.db
            .query(
                "SELECT rule_id, line, snippet FROM hits WHERE project = ?1 AND path = ?2 ORDER BY seq",
                params![project, file],
            )?
            .iter()
            .map(|r| {
                Ok(Hit {
                    rule_id: r.get(0)?,
                    line: convert::to_u32(self.name(), "hit line", r.get(1)?)?,
                    snippet: r.get(2)?,
                })
            })
            .collect()
    }
}

/// Fails with `UnknownProject` unless the project exists; in PostgreSQL its row stays
/// locked until commit, so writers that rewrite a project's files take turns.
pub(super) fn lock_project(db: &Db, project: &str) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT 1 FROM projects WHERE id = ?1{}",
        db.dialect().for_update()
    );
    if db.query_opt(&sql, params![project])?.is_none() {
        return Err(StoreError::UnknownProject {
            store: db.name().clone(),
            id: project.to_string(),
        });
    }
    Ok(())
}

/// Rejects a record the store could not keep faithfully, before anything is written.
pub(super) fn validate_files(store: &StoreName, files: &[ScannedFile]) -> Result<(), StoreError> {
    let mut paths = HashSet::with_capacity(files.len());
    for file in files {
        if file.path.is_empty() {
            return Err(invalid(
                store,
                "a scanned file has an empty path".to_string(),
            ));
        }
        if !paths.insert(file.path.as_str()) {
            return Err(invalid(
                store,
                format!("`{}` is listed twice in the scan", file.path),
            ));
        }
        to_i64(store, "file size", file.size)?;
        if let Some(matched) = &file.matched {
            finite(store, &format!("score of `{}`", file.path), matched.score)?;
        }
    }
    Ok(())
}

fn stored_files(db: &Db, project: &str) -> Result<HashMap<String, Stored>, StoreError> {
    db.query(
        "SELECT path, hash, status, analyzed_hash, size, mtime_ns, language, is_candidate
         FROM files WHERE project = ?1",
        params![project],
    )?
    .iter()
    .map(|r| {
        Ok((
            r.get(0)?,
            Stored {
                hash: r.get(1)?,
                status: convert::file_status(db.name(), &r.get::<String>(2)?)?,
                analyzed_hash: r.get(3)?,
                size: r.get(4)?,
                mtime_ns: r.get(5)?,
                language: r.get(6)?,
                is_candidate: r.get(7)?,
            },
        ))
    })
    .collect()
}

fn insert_file(batch: &mut Batch, project: &str, run_id: i64, now: &str, file: &ScannedFile) {
    let score = file.matched.as_ref().map_or(0.0, |m| m.score);
    batch.push(
        "INSERT INTO files (project, path, language, size, mtime_ns, hash, score, is_candidate,
                            status, last_run, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 'pending', ?8, ?9)",
        params![
            project,
            file.path,
            file.language,
            to_i64_lossless(file.size),
            file.mtime_ns,
            file.hash,
            score,
            run_id,
            now
        ],
    );
    // A file new to the store has no hits to replace.
    let hits = file.matched.as_ref().map_or(&[][..], |m| &m.hits[..]);
    insert_hits(batch, project, &file.path, hits)
}

fn update_file(
    batch: &mut Batch,
    project: &str,
    run_id: i64,
    now: &str,
    file: &ScannedFile,
    status: FileStatus,
    reset: bool,
) {
    batch.push(
        "UPDATE files SET language = ?3, size = ?4, mtime_ns = ?5, hash = ?6,
             score = COALESCE(?7, score), status = ?8,
             lease_holder = CASE WHEN ?9 = 1 THEN NULL ELSE lease_holder END,
             lease_until = CASE WHEN ?9 = 1 THEN NULL ELSE lease_until END,
             fail_reason = CASE WHEN ?9 = 1 THEN NULL ELSE fail_reason END,
             last_run = ?10, updated_at = ?11
         WHERE project = ?1 AND path = ?2",
        params![
            project,
            file.path,
            file.language,
            to_i64_lossless(file.size),
            file.mtime_ns,
            file.hash,
            file.matched.as_ref().map(|m| m.score),
            status.as_str(),
            reset,
            run_id,
            now
        ],
    );
}

/// Replaces the file's hits (their snippets redacted).
pub(super) fn replace_hits(batch: &mut Batch, project: &str, file: &str, hits: &[Hit]) {
    batch.push(
        "DELETE FROM hits WHERE project = ?1 AND path = ?2",
        params![project, file],
    );
    insert_hits(batch, project, file, hits);
}

fn insert_hits(batch: &mut Batch, project: &str, file: &str, hits: &[Hit]) {
    for (seq, hit) in hits.iter().enumerate() {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        batch.push(
            "INSERT INTO hits (project, path, seq, rule_id, line, snippet) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                project,
                file,
                seq,
                hit.rule_id,
                i64::from(hit.line),
                crate::redact::redact_secrets(&hit.snippet)
            ],
        );
    }
}

/// Flags the best-scored files as candidates and returns how many there are.
fn recompute_candidates(
    db: &Db,
    project: &str,
    min_score: f64,
    limit: Option<usize>,
    was_candidate: &HashSet<&str>,
) -> Result<u64, StoreError> {
    let chosen = db
        .query(
            "SELECT path FROM files WHERE project = ?1 AND status <> 'gone' AND score >= ?2
             ORDER BY score DESC, path LIMIT ?3",
            params![project, min_score, sql_limit(limit)],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect::<Result<Vec<String>, _>>()?;
    // Write only what changed: on a re-scan the candidate set is mostly the same.
    let now_candidate: HashSet<&str> = chosen.iter().map(String::as_str).collect();
    let flag = "UPDATE files SET is_candidate = ?3 WHERE project = ?1 AND path = ?2";
    let mut flags = Batch::new();
    for file in was_candidate.difference(&now_candidate) {
        flags.push(flag, params![project, file, 0_i64]);
    }
    for file in now_candidate.difference(was_candidate) {
        flags.push(flag, params![project, file, 1_i64]);
    }
    db.run(&flags)?;
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
