//! Model calls, spend, and the per-project status summary.

use super::convert::{self, finite, to_i64, to_u64};
use super::{now, require_project, Store};
use crate::db::params;
use crate::error::StoreError;
use crate::model::*;

impl Store {
    /// Records one model call with its usage; a `None` cost is kept as unknown, never as zero.
    pub fn record_llm_call(&mut self, project: &str, call: &LlmCall) -> Result<(), StoreError> {
        self.insert_call(project, call)
    }

    /// [`Store::record_llm_call`], joining the caller's transaction if one is open.
    pub(super) fn insert_call(&self, project: &str, call: &LlmCall) -> Result<(), StoreError> {
        let db = self.name();
        if let Some(cost) = call.cost_usd {
            finite(db, "call cost", cost)?;
        }
        let tokens = [
            to_i64(db, "input tokens", call.input_tokens)?,
            to_i64(db, "output tokens", call.output_tokens)?,
            to_i64(db, "cache write tokens", call.cache_write_tokens)?,
            to_i64(db, "cache read tokens", call.cache_read_tokens)?,
        ];
        require_project(&self.db, project)?;
        self.db.execute(
            "INSERT INTO llm_calls (project, run_id, path, finding_id, provider, model, input_tokens,
                 output_tokens, cache_write_tokens, cache_read_tokens, cost_usd, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                project,
                call.run_id,
                call.path,
                call.finding_id,
                call.provider,
                call.model,
                tokens[0],
                tokens[1],
                tokens[2],
                tokens[3],
                call.cost_usd,
                now()
            ],
        )?;
        Ok(())
    }

    /// The project's model spend: total and per run, with unpriced calls counted apart.
    pub fn spend(&self, project: &str) -> Result<Spend, StoreError> {
        let db = self.name();
        require_project(&self.db, project)?;
        let mut rows = self.db.query(
            "SELECT c.run_id, COALESCE(SUM(c.cost_usd), 0), COUNT(*),
                    CAST(SUM(CASE WHEN c.cost_usd IS NULL THEN 1 ELSE 0 END) AS BIGINT),
                    CAST(SUM(c.input_tokens) AS BIGINT), CAST(SUM(c.output_tokens) AS BIGINT),
                    CAST(SUM(c.cache_write_tokens) AS BIGINT),
                    CAST(SUM(c.cache_read_tokens) AS BIGINT), MAX(r.kind), MAX(r.status)
             FROM llm_calls c LEFT JOIN runs r ON r.id = c.run_id
             WHERE c.project = ?1 GROUP BY c.run_id",
            params![project],
        )?;
        // Oldest run first; calls outside any run last.
        let mut keyed = Vec::with_capacity(rows.len());
        for row in rows.drain(..) {
            let run_id: Option<i64> = row.get(0)?;
            keyed.push((run_id, row));
        }
        keyed.sort_by_key(|(run_id, _)| (run_id.is_none(), *run_id));
        let mut spend = Spend::default();
        for (run_id, r) in keyed {
            let usd: f64 = r.get(1)?;
            let calls = to_u64(db, "call count", r.get(2)?)?;
            let unpriced_calls = to_u64(db, "unpriced call count", r.get(3)?)?;
            spend.total_usd += usd;
            spend.calls += calls;
            spend.unpriced_calls += unpriced_calls;
            spend.input_tokens += to_u64(db, "input tokens", r.get(4)?)?;
            spend.output_tokens += to_u64(db, "output tokens", r.get(5)?)?;
            spend.cache_write_tokens += to_u64(db, "cache write tokens", r.get(6)?)?;
            spend.cache_read_tokens += to_u64(db, "cache read tokens", r.get(7)?)?;
            spend.by_run.push(RunSpend {
                run_id,
                kind: r.get(8)?,
                status: r.get(9)?,
                usd,
                calls,
                unpriced_calls,
            });
        }
        Ok(spend)
    }

    /// What each stage of the project holds, for `warden status`.
    ///
    /// `files` counts files not gone; `pending` counts candidates waiting for
    /// an agent; `processing`/`analyzed`/`failed` count every file not gone in
    /// that state; `findings_by_severity` counts findings a report would show
    /// (not false positive, not dispositioned) by effective severity, while
    /// `findings_total` counts every stored finding.
    pub fn status(&self, project: &str) -> Result<ProjectStatus, StoreError> {
        let db = self.name();
        // One read snapshot, so the counts agree with each other.
        let snapshot = self.db.read_tx()?;
        let row = snapshot.query_opt(
            "SELECT root, tech, last_scan_at FROM projects WHERE id = ?1",
            params![project],
        )?;
        let Some(row) = row else {
            return Err(StoreError::UnknownProject {
                store: db.clone(),
                id: project.to_string(),
            });
        };
        let mut status = ProjectStatus {
            project_id: project.to_string(),
            root: row.get(0)?,
            tech: convert::tech(db, &row.get::<String>(1)?)?,
            last_scan_at: row.get(2)?,
            ..ProjectStatus::default()
        };

        (status.surface, status.surface_analyzed) = self.surface_reviewed(project)?;
        let groups = snapshot.query(
            "SELECT status, is_candidate, COUNT(*) FROM files WHERE project = ?1
             GROUP BY status, is_candidate",
            params![project],
        )?;
        for group in &groups {
            let count = to_u64(db, "file count", group.get(2)?)?;
            let candidate = group.get::<i64>(1)? == 1;
            match convert::file_status(db, &group.get::<String>(0)?)? {
                FileStatus::Gone => status.gone += count,
                other => {
                    status.files += count;
                    if candidate {
                        status.candidates += count;
                    }
                    match other {
                        FileStatus::Pending if candidate => status.pending += count,
                        FileStatus::Processing => status.processing += count,
                        FileStatus::Analyzed => status.analyzed += count,
                        FileStatus::Failed => status.failed += count,
                        _ => {}
                    }
                }
            }
        }

        for finding in self.findings(project, &FindingFilter::default())? {
            let rank = Severity::ALL
                .iter()
                .position(|s| *s == finding.effective_severity())
                .unwrap_or(Severity::ALL.len() - 1);
            status.findings_by_severity[rank] += 1;
        }
        let counts = snapshot.query_one(
            "SELECT (SELECT COUNT(*) FROM findings WHERE project = ?1),
                    (SELECT COUNT(DISTINCT v.finding_id) FROM verdicts v
                     JOIN findings f ON f.id = v.finding_id WHERE f.project = ?1)",
            params![project],
        )?;
        status.findings_total = to_u64(db, "finding count", counts.get(0)?)?;
        status.verdicts = to_u64(db, "verdict count", counts.get(1)?)?;

        let spend = self.spend(project)?;
        status.spend_usd = spend.total_usd;
        status.unpriced_calls = spend.unpriced_calls;
        status.spend_by_run = spend.by_run;
        status.top_files_by_spend = self.spend_by_file(project, Some(TOP_FILES_BY_SPEND))?;
        status.failed_files = self.failed_files(project)?;
        snapshot.commit()?;
        Ok(status)
    }

    /// Model spend per file, most expensive first (ties by path); `limit` caps the count.
    pub fn spend_by_file(
        &self,
        project: &str,
        limit: Option<usize>,
    ) -> Result<Vec<FileSpend>, StoreError> {
        let db = self.name();
        require_project(&self.db, project)?;
        self.db
            .query(
                "SELECT path, COALESCE(SUM(cost_usd), 0) AS usd, COUNT(*),
                        CAST(SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) AS BIGINT)
                 FROM llm_calls WHERE project = ?1 AND path IS NOT NULL
                 GROUP BY path ORDER BY usd DESC, path LIMIT ?2",
                params![project, super::files::sql_limit(limit)],
            )?
            .iter()
            .map(|r| {
                Ok(FileSpend {
                    path: r.get(0)?,
                    usd: r.get(1)?,
                    calls: to_u64(db, "call count", r.get(2)?)?,
                    unpriced_calls: to_u64(db, "unpriced call count", r.get(3)?)?,
                })
            })
            .collect()
    }
}
