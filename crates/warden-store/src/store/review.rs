//! Change review: putting exactly a given set of files in the queue, whatever their
//! score or state, for `warden process --diff/--staged/--files`.

use super::convert::invalid;
use super::files::{lock_project, replace_hits, to_i64_lossless, validate_files};
use super::{now, Store};
use crate::db::{params, Batch};
use crate::error::StoreError;
use crate::model::ScannedFile;

impl Store {
    /// Records `files` (each read and matched: `matched: Some`) and queues them for
    /// investigation in one transaction; returns how many were queued.
    ///
    /// Each file is inserted or updated (content, score and hits replaced), flagged a
    /// candidate even without hits, and set to pending with its failure cleared, even if
    /// it was analyzed already. A file another holder is processing under a live lease
    /// keeps its state (and is not counted): that holder's result stands. Other files of
    /// the project are untouched: nothing is marked gone, candidates are not recomputed.
    pub fn stage_review(
        &mut self,
        project: &str,
        run_id: i64,
        files: &[ScannedFile],
    ) -> Result<u64, StoreError> {
        validate_files(self.name(), files)?;
        if let Some(f) = files.iter().find(|f| f.matched.is_none()) {
            return Err(invalid(
                self.name(),
                format!("`{}`: a reviewed file needs its match result", f.path),
            ));
        }
        let tx = self.db.write_tx()?;
        lock_project(&tx, project)?;
        let now = now();
        let mut queued = 0;
        for file in files {
            let score = file.matched.as_ref().map_or(0.0, |m| m.score);
            tx.execute(
                "INSERT INTO files (project, path, language, size, mtime_ns, hash, score,
                                    is_candidate, status, last_run, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, 'pending', ?8, ?9)
                 ON CONFLICT (project, path) DO UPDATE SET
                     language = excluded.language, size = excluded.size,
                     mtime_ns = excluded.mtime_ns, hash = excluded.hash, score = excluded.score,
                     is_candidate = 1, last_run = excluded.last_run,
                     updated_at = excluded.updated_at",
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
            )?;
            queued += tx.execute(
                "UPDATE files SET status = 'pending', lease_holder = NULL, lease_until = NULL,
                     fail_reason = NULL
                 WHERE project = ?1 AND path = ?2
                   AND NOT (status = 'processing' AND lease_until IS NOT NULL AND lease_until > ?3)",
                params![project, file.path, now],
            )?;
            let hits = file.matched.as_ref().map_or(&[][..], |m| &m.hits[..]);
            let mut writes = Batch::new();
            replace_hits(&mut writes, project, &file.path, hits);
            tx.run(&writes)?;
        }
        tx.commit()?;
        Ok(queued)
    }
}
