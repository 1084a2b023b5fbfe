//! The attack surface: which files hold an entry point or are imported by one, and, in
//! coverage mode, making those with no rule hit candidates of a low tier (after every
//! file a rule selected), so that a run with budget left reviews them too.

use super::Store;
use crate::db::params;
use crate::error::StoreError;
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
        let wanted: HashSet<&str> = rule_ids.iter().map(String::as_str).collect();
        let rows = self.db.query(
            "SELECT DISTINCT h.path, h.rule_id FROM hits h JOIN files f
               ON f.project = h.project AND f.path = h.path
             WHERE h.project = ?1 AND f.status <> 'gone'",
            params![project],
        )?;
        let mut out = Vec::new();
        for row in &rows {
            if wanted.contains(row.get::<String>(1)?.as_str()) {
                out.push(row.get::<String>(0)?);
            }
        }
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
        let tx = self.db.write_tx()?;
        tx.execute(
            "UPDATE files SET surface = 0 WHERE project = ?1 AND surface = 1",
            params![project],
        )?;
        let mut delta = SurfaceDelta::default();
        for path in paths {
            delta.surface += tx.execute(
                "UPDATE files SET surface = 1 WHERE project = ?1 AND path = ?2 AND status <> 'gone'",
                params![project, path],
            )?;
            if coverage {
                delta.coverage_candidates += tx.execute(
                    "UPDATE files SET is_candidate = 1
                     WHERE project = ?1 AND path = ?2 AND status <> 'gone' AND is_candidate = 0",
                    params![project, path],
                )?;
            }
        }
        tx.commit()?;
        Ok(delta)
    }

    /// Files on the attack surface, and how many of them an agent has analyzed.
    pub fn surface_reviewed(&self, project: &str) -> Result<(u64, u64), StoreError> {
        let row = self.db.query_one(
            "SELECT COUNT(*),
                    CAST(COALESCE(SUM(CASE WHEN status = 'analyzed' THEN 1 ELSE 0 END), 0) AS BIGINT)
             FROM files WHERE project = ?1 AND surface = 1 AND status <> 'gone'",
            params![project],
        )?;
        let (n, done): (i64, i64) = (row.get(0)?, row.get(1)?);
        Ok((n.max(0) as u64, done.max(0) as u64))
    }
}
