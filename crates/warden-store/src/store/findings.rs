//! Findings, their verdicts and their triage.

use super::convert::{self, finite, invalid};
use super::{now, require_project, Store};
use crate::db::{params, Db, Row};
use crate::error::StoreError;
use crate::fingerprint::finding_id;
use crate::location::StoreName;
use crate::model::*;

/// Every finding column plus its latest verdict (if any), in `RawFinding` order.
const SELECT_FINDINGS: &str = "
    SELECT f.id, f.fingerprint, f.run_id, f.path, f.start_line, f.end_line, f.title, f.severity,
           f.confidence, f.cwe, f.category, f.rule_id, f.description, f.attack_path,
           f.recommendation, f.patch, f.cost_usd, f.created_at, f.disposition,
           f.disposition_reason, f.duplicate_of,
           v.verdict, v.reasoning, v.corrected_severity, v.run_id, v.cost_usd, v.created_at
    FROM findings f
    LEFT JOIN verdicts v ON v.id = (SELECT MAX(id) FROM verdicts WHERE finding_id = f.id)
    WHERE f.project = ?1";

/// One row of `SELECT_FINDINGS`, before its text columns are checked.
struct RawFinding {
    id: String,
    fingerprint: String,
    run_id: Option<i64>,
    path: String,
    start_line: i64,
    end_line: i64,
    title: String,
    severity: String,
    confidence: String,
    cwe: Option<String>,
    category: Option<String>,
    rule_id: Option<String>,
    description: String,
    attack_path: String,
    recommendation: String,
    patch: Option<String>,
    cost_usd: Option<f64>,
    created_at: String,
    disposition: String,
    disposition_reason: Option<String>,
    duplicate_of: Option<String>,
    verdict: Option<String>,
    reasoning: Option<String>,
    corrected_severity: Option<String>,
    verdict_run_id: Option<i64>,
    verdict_cost_usd: Option<f64>,
    verdict_created_at: Option<String>,
}

impl RawFinding {
    fn from_row(r: &Row) -> Result<RawFinding, StoreError> {
        Ok(RawFinding {
            id: r.get(0)?,
            fingerprint: r.get(1)?,
            run_id: r.get(2)?,
            path: r.get(3)?,
            start_line: r.get(4)?,
            end_line: r.get(5)?,
            title: r.get(6)?,
            severity: r.get(7)?,
            confidence: r.get(8)?,
            cwe: r.get(9)?,
            category: r.get(10)?,
            rule_id: r.get(11)?,
            description: r.get(12)?,
            attack_path: r.get(13)?,
            recommendation: r.get(14)?,
            patch: r.get(15)?,
            cost_usd: r.get(16)?,
            created_at: r.get(17)?,
            disposition: r.get(18)?,
            disposition_reason: r.get(19)?,
            duplicate_of: r.get(20)?,
            verdict: r.get(21)?,
            reasoning: r.get(22)?,
            corrected_severity: r.get(23)?,
            verdict_run_id: r.get(24)?,
            verdict_cost_usd: r.get(25)?,
            verdict_created_at: r.get(26)?,
        })
    }

    fn into_finding(self, db: &StoreName) -> Result<Finding, StoreError> {
        let verdict = match self.verdict {
            None => None,
            Some(v) => Some(VerdictRecord {
                verdict: convert::verdict(db, &v)?,
                reasoning: self.reasoning.unwrap_or_default(),
                corrected_severity: self
                    .corrected_severity
                    .map(|s| convert::severity(db, &s))
                    .transpose()?,
                run_id: self.verdict_run_id,
                cost_usd: self.verdict_cost_usd,
                created_at: self.verdict_created_at.unwrap_or_default(),
            }),
        };
        Ok(Finding {
            id: self.id,
            fingerprint: self.fingerprint,
            reported: NewFinding {
                run_id: self.run_id,
                path: self.path,
                start_line: convert::to_u32(db, "start line", self.start_line)?,
                end_line: convert::to_u32(db, "end line", self.end_line)?,
                title: self.title,
                severity: convert::severity(db, &self.severity)?,
                confidence: convert::confidence(db, &self.confidence)?,
                cwe: self.cwe,
                category: self.category,
                rule_id: self.rule_id,
                description: self.description,
                attack_path: self.attack_path,
                recommendation: self.recommendation,
                patch: self.patch,
                cost_usd: self.cost_usd,
            },
            created_at: self.created_at,
            verdict,
            disposition: convert::disposition(db, &self.disposition)?,
            disposition_reason: self.disposition_reason,
            duplicate_of: self.duplicate_of,
        })
    }
}

/// Inserts findings inside the caller's transaction, deduplicating by fingerprint.
///
/// A finding whose fingerprint the project already has keeps its id, verdicts
/// and triage; only its location (lines, file hash) moves to the new report.
pub(crate) fn insert_findings_tx(
    tx: &Db,
    project: &str,
    findings: &[NewFinding],
) -> Result<Vec<String>, StoreError> {
    let db = tx.name();
    let now = now();
    let mut ids = Vec::with_capacity(findings.len());
    for f in findings {
        // Redacted before anything (the fingerprint included) is derived from the text.
        let f = &redacted(f);
        if f.path.trim().is_empty() || f.title.trim().is_empty() {
            return Err(invalid(
                db,
                "a finding needs a path and a title".to_string(),
            ));
        }
        if let Some(cost) = f.cost_usd {
            finite(db, &format!("cost of a finding in `{}`", f.path), cost)?;
        }
        let fingerprint = f.fingerprint();
        let id = finding_id(project, &fingerprint);
        let hash: Option<String> = tx
            .query_opt(
                "SELECT hash FROM files WHERE project = ?1 AND path = ?2",
                params![project, f.path],
            )?
            .map(|r| r.get(0))
            .transpose()?;
        let stored: String = tx.query_value(
            "INSERT INTO findings (id, project, fingerprint, run_id, path, start_line, end_line, title,
                 severity, confidence, cwe, category, rule_id, description, attack_path,
                 recommendation, patch, cost_usd, file_hash_at_report, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                     ?18, ?19, ?20)
             ON CONFLICT (project, fingerprint) DO UPDATE SET
                 start_line = excluded.start_line, end_line = excluded.end_line,
                 file_hash_at_report = excluded.file_hash_at_report
             RETURNING id",
            params![
                id,
                project,
                fingerprint,
                f.run_id,
                f.path,
                i64::from(f.start_line),
                i64::from(f.end_line),
                f.title,
                f.severity.as_str(),
                f.confidence.as_str(),
                f.cwe,
                f.category,
                f.rule_id,
                f.description,
                f.attack_path,
                f.recommendation,
                f.patch,
                f.cost_usd,
                hash,
                now
            ],
        )?;
        ids.push(stored);
    }
    Ok(ids)
}

fn unknown_finding(db: &StoreName, project: &str, id: &str) -> StoreError {
    StoreError::UnknownFinding {
        store: db.clone(),
        project: project.to_string(),
        id: id.to_string(),
    }
}

fn require_finding(db: &Db, project: &str, id: &str) -> Result<(), StoreError> {
    let found = db.query_opt(
        "SELECT 1 FROM findings WHERE project = ?1 AND id = ?2",
        params![project, id],
    )?;
    found
        .map(|_| ())
        .ok_or_else(|| unknown_finding(db.name(), project, id))
}

impl Store {
    /// Inserts findings directly (tests, imports); a fingerprint the project already has returns the existing id.
    pub fn insert_findings(
        &mut self,
        project: &str,
        findings: &[NewFinding],
    ) -> Result<Vec<String>, StoreError> {
        self.add_findings(project, findings)
    }

    /// [`Store::insert_findings`], joining the caller's transaction if one is open.
    pub(super) fn add_findings(
        &self,
        project: &str,
        findings: &[NewFinding],
    ) -> Result<Vec<String>, StoreError> {
        let tx = self.db.write_tx()?;
        require_project(&tx, project)?;
        let ids = insert_findings_tx(&tx, project, findings)?;
        tx.commit()?;
        Ok(ids)
    }

    /// The project's findings passing `filter`, by effective severity (most severe first), path, start line.
    pub fn findings(
        &self,
        project: &str,
        filter: &FindingFilter,
    ) -> Result<Vec<Finding>, StoreError> {
        require_project(&self.db, project)?;
        let rows = self.db.query(SELECT_FINDINGS, params![project])?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let f = RawFinding::from_row(row)?.into_finding(self.name())?;
            let false_positive = f
                .verdict
                .as_ref()
                .is_some_and(|v| v.verdict == Verdict::FalsePositive);
            if (false_positive && !filter.include_false_positives)
                || (f.disposition != Disposition::Open && !filter.include_dispositioned)
                || filter
                    .min_severity
                    .is_some_and(|min| f.effective_severity() < min)
            {
                continue;
            }
            out.push(f);
        }
        out.sort_by(|a, b| {
            b.effective_severity()
                .cmp(&a.effective_severity())
                .then_with(|| a.reported.path.cmp(&b.reported.path))
                .then_with(|| a.reported.start_line.cmp(&b.reported.start_line))
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// One finding of the project, with its latest verdict.
    pub fn finding(&self, project: &str, id: &str) -> Result<Option<Finding>, StoreError> {
        require_project(&self.db, project)?;
        self.db
            .query_opt(
                &format!("{SELECT_FINDINGS} AND f.id = ?2"),
                params![project, id],
            )?
            .map(|r| RawFinding::from_row(&r)?.into_finding(self.name()))
            .transpose()
    }

    /// Adds a revalidation verdict to a finding; the latest recorded verdict is the one that counts.
    ///
    /// An empty `created_at` is replaced by the current time.
    pub fn record_verdict(
        &mut self,
        project: &str,
        finding_id: &str,
        verdict: &VerdictRecord,
    ) -> Result<(), StoreError> {
        if let Some(cost) = verdict.cost_usd {
            finite(self.name(), "verdict cost", cost)?;
        }
        let tx = self.db.write_tx()?;
        require_project(&tx, project)?;
        require_finding(&tx, project, finding_id)?;
        let created_at = if verdict.created_at.trim().is_empty() {
            now()
        } else {
            verdict.created_at.clone()
        };
        tx.execute(
            "INSERT INTO verdicts (finding_id, verdict, reasoning, corrected_severity, run_id, cost_usd,
                 created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                finding_id,
                verdict.verdict.as_str(),
                crate::redact::redact_secrets(&verdict.reasoning),
                verdict.corrected_severity.map(Severity::as_str),
                verdict.run_id,
                verdict.cost_usd,
                created_at
            ],
        )?;
        tx.commit()
    }

    /// Records a user's triage decision on a finding, with an optional reason.
    pub fn set_disposition(
        &mut self,
        project: &str,
        finding_id: &str,
        d: Disposition,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        require_project(&self.db, project)?;
        let changed = self.db.execute(
            "UPDATE findings SET disposition = ?3, disposition_reason = ?4 WHERE project = ?1 AND id = ?2",
            params![project, finding_id, d.as_str(), reason],
        )?;
        if changed == 0 {
            return Err(unknown_finding(self.name(), project, finding_id));
        }
        Ok(())
    }

    /// Marks a finding as a duplicate of another finding of the project (same root cause), or clears that.
    pub fn set_duplicate_of(
        &mut self,
        project: &str,
        finding_id: &str,
        of: Option<&str>,
    ) -> Result<(), StoreError> {
        if of == Some(finding_id) {
            return Err(invalid(
                self.name(),
                format!("finding `{finding_id}` cannot duplicate itself"),
            ));
        }
        let tx = self.db.write_tx()?;
        require_project(&tx, project)?;
        require_finding(&tx, project, finding_id)?;
        if let Some(of) = of {
            require_finding(&tx, project, of)?;
        }
        tx.execute(
            "UPDATE findings SET duplicate_of = ?3 WHERE project = ?1 AND id = ?2",
            params![project, finding_id, of],
        )?;
        tx.commit()
    }
}

/// The finding with every secret value in its text redacted (see `crate::redact`).
fn redacted(f: &NewFinding) -> NewFinding {
    use crate::redact::redact_secrets as r;
    NewFinding {
        title: r(&f.title).into_owned(),
        description: r(&f.description).into_owned(),
        attack_path: r(&f.attack_path).into_owned(),
        recommendation: r(&f.recommendation).into_owned(),
        patch: f.patch.as_deref().map(|p| r(p).into_owned()),
        ..f.clone()
    }
}
