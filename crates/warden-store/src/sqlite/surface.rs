//! The attack surface: which files hold an entry point or are imported by one, and, in
//! coverage mode, making those with no rule hit candidates of a low tier (after every
//! file a rule selected), so that a run with budget left reviews them too.

use super::{write_tx, Db, Store};
use crate::error::StoreError;
use rusqlite::params;
use std::collections::HashSet;

/// What marking the surface changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SurfaceDelta {
    /// Files on the attack surface.
    pub surface: u64,
    /// Of them, candidates only because of coverage mode (no rule selected them).
    pub coverage_candidates: u64,
}

impl Store {
    /// Paths (not gone) with a hit of one of `rule_ids`.
    pub fn files_with_rules(
        &self,
        project: &str,
        rule_ids: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let db = self.path.as_path();
        let wanted: HashSet<&str> = rule_ids.iter().map(String::as_str).collect();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT h.path, h.rule_id FROM hits h JOIN files f
                   ON f.project = h.project AND f.path = h.path
                 WHERE h.project = ?1 AND f.status <> 'gone'",
            )
            .db(db)?;
        let rows: Vec<(String, String)> = stmt
            .query_map([project], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .db(db)?;
        let mut out: Vec<String> = rows
            .into_iter()
            .filter(|(_, rule)| wanted.contains(rule.as_str()))
            .map(|(path, _)| path)
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Marks exactly `paths` as the attack surface; with `coverage`, those that are not
    /// candidates become candidates (their scores, below the threshold, put them after
    /// every other candidate in the queue). Run after `record_scan`, which drops the
    /// coverage candidates of an earlier scan.
    pub fn set_surface(
        &mut self,
        project: &str,
        paths: &[String],
        coverage: bool,
    ) -> Result<SurfaceDelta, StoreError> {
        let db = self.path.clone();
        let tx = write_tx(&mut self.conn, &db)?;
        tx.execute(
            "UPDATE files SET surface = 0 WHERE project = ?1 AND surface = 1",
            [project],
        )
        .db(&db)?;
        let mut delta = SurfaceDelta::default();
        {
            let mut mark = tx
                .prepare_cached(
                    "UPDATE files SET surface = 1 WHERE project = ?1 AND path = ?2 AND status <> 'gone'",
                )
                .db(&db)?;
            let mut promote = tx
                .prepare_cached(
                    "UPDATE files SET is_candidate = 1
                     WHERE project = ?1 AND path = ?2 AND status <> 'gone' AND is_candidate = 0",
                )
                .db(&db)?;
            for path in paths {
                delta.surface += mark.execute(params![project, path]).db(&db)? as u64;
                if coverage {
                    delta.coverage_candidates +=
                        promote.execute(params![project, path]).db(&db)? as u64;
                }
            }
        }
        tx.commit().db(&db)?;
        Ok(delta)
    }

    /// Files on the attack surface, and how many of them an agent has analyzed.
    pub fn surface_reviewed(&self, project: &str) -> Result<(u64, u64), StoreError> {
        let db = self.path.as_path();
        self.conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'analyzed' THEN 1 ELSE 0 END), 0)
                 FROM files WHERE project = ?1 AND surface = 1 AND status <> 'gone'",
                [project],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .db(db)
            .map(|(n, done)| (n.max(0) as u64, done.max(0) as u64))
    }
}
