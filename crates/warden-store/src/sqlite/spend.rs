//! Model calls, spend, and the per-project status summary.

use super::convert::{self, finite, to_i64, to_u64};
use super::{now, require_project, Db, Store};
use crate::error::StoreError;
use crate::model::*;
use rusqlite::{params, OptionalExtension};

type SpendRow = (
    Option<i64>,
    f64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
);

impl Store {
    /// Records one model call with its usage; a `None` cost is kept as unknown, never as zero.
    pub fn record_llm_call(&mut self, project: &str, call: &LlmCall) -> Result<(), StoreError> {
        let db = self.path.as_path();
        if let Some(cost) = call.cost_usd {
            finite(db, "call cost", cost)?;
        }
        let tokens = [
            to_i64(db, "input tokens", call.input_tokens)?,
            to_i64(db, "output tokens", call.output_tokens)?,
            to_i64(db, "cache write tokens", call.cache_write_tokens)?,
            to_i64(db, "cache read tokens", call.cache_read_tokens)?,
        ];
        require_project(&self.conn, db, project)?;
        self.conn
            .execute(
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
            )
            .db(db)?;
        Ok(())
    }

    /// The project's model spend: total and per run, with unpriced calls counted apart.
    pub fn spend(&self, project: &str) -> Result<Spend, StoreError> {
        let db = self.path.as_path();
        require_project(&self.conn, db, project)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT c.run_id, COALESCE(SUM(c.cost_usd), 0), COUNT(*),
                        SUM(CASE WHEN c.cost_usd IS NULL THEN 1 ELSE 0 END),
                        SUM(c.input_tokens), SUM(c.output_tokens), SUM(c.cache_write_tokens),
                        SUM(c.cache_read_tokens), MAX(r.kind), MAX(r.status)
                 FROM llm_calls c LEFT JOIN runs r ON r.id = c.run_id
                 WHERE c.project = ?1 GROUP BY c.run_id",
            )
            .db(db)?;
        let mut rows: Vec<SpendRow> = stmt
            .query_map([project], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })
            .and_then(|rows| rows.collect())
            .db(db)?;
        // Oldest run first; calls outside any run last.
        rows.sort_by_key(|row| (row.0.is_none(), row.0));
        let mut spend = Spend::default();
        for (run_id, usd, calls, unpriced, input, output, cache_write, cache_read, kind, status) in
            rows
        {
            let calls = to_u64(db, "call count", calls)?;
            let unpriced_calls = to_u64(db, "unpriced call count", unpriced)?;
            spend.total_usd += usd;
            spend.calls += calls;
            spend.unpriced_calls += unpriced_calls;
            spend.input_tokens += to_u64(db, "input tokens", input)?;
            spend.output_tokens += to_u64(db, "output tokens", output)?;
            spend.cache_write_tokens += to_u64(db, "cache write tokens", cache_write)?;
            spend.cache_read_tokens += to_u64(db, "cache read tokens", cache_read)?;
            spend.by_run.push(RunSpend {
                run_id,
                kind,
                status,
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
        let db = self.path.as_path();
        // One read snapshot, so the counts agree with each other.
        let _snapshot = self.conn.unchecked_transaction().db(db)?;
        let row: Option<(String, String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT root, tech, last_scan_at FROM projects WHERE id = ?1",
                [project],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .db(db)?;
        let Some((root, tech, last_scan_at)) = row else {
            return Err(StoreError::UnknownProject {
                path: db.to_path_buf(),
                id: project.to_string(),
            });
        };
        let mut status = ProjectStatus {
            project_id: project.to_string(),
            root,
            tech: convert::tech(db, &tech)?,
            last_scan_at,
            ..ProjectStatus::default()
        };

        (status.surface, status.surface_analyzed) = self.surface_reviewed(project)?;
        let mut stmt = self
            .conn
            .prepare("SELECT status, is_candidate, COUNT(*) FROM files WHERE project = ?1 GROUP BY status, is_candidate")
            .db(db)?;
        let groups: Vec<(String, i64, i64)> = stmt
            .query_map([project], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .db(db)?;
        for (file_status, is_candidate, count) in groups {
            let count = to_u64(db, "file count", count)?;
            let candidate = is_candidate == 1;
            match convert::file_status(db, &file_status)? {
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
        let (total, verdicts): (i64, i64) = self
            .conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM findings WHERE project = ?1),
                        (SELECT COUNT(DISTINCT v.finding_id) FROM verdicts v
                         JOIN findings f ON f.id = v.finding_id WHERE f.project = ?1)",
                [project],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .db(db)?;
        status.findings_total = to_u64(db, "finding count", total)?;
        status.verdicts = to_u64(db, "verdict count", verdicts)?;

        let spend = self.spend(project)?;
        status.spend_usd = spend.total_usd;
        status.unpriced_calls = spend.unpriced_calls;
        status.spend_by_run = spend.by_run;
        status.top_files_by_spend = self.spend_by_file(project, Some(TOP_FILES_BY_SPEND))?;
        status.failed_files = self.failed_files(project)?;
        Ok(status)
    }

    /// Model spend per file, most expensive first (ties by path); `limit` caps the count.
    pub fn spend_by_file(
        &self,
        project: &str,
        limit: Option<usize>,
    ) -> Result<Vec<FileSpend>, StoreError> {
        let db = self.path.as_path();
        require_project(&self.conn, db, project)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, COALESCE(SUM(cost_usd), 0) AS usd, COUNT(*),
                        SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END)
                 FROM llm_calls WHERE project = ?1 AND path IS NOT NULL
                 GROUP BY path ORDER BY usd DESC, path LIMIT ?2",
            )
            .db(db)?;
        let rows: Vec<(String, f64, i64, i64)> = stmt
            .query_map(params![project, super::files::sql_limit(limit)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .and_then(|rows| rows.collect())
            .db(db)?;
        rows.into_iter()
            .map(|(path, usd, calls, unpriced)| {
                Ok(FileSpend {
                    path,
                    usd,
                    calls: to_u64(db, "call count", calls)?,
                    unpriced_calls: to_u64(db, "unpriced call count", unpriced)?,
                })
            })
            .collect()
    }
}
