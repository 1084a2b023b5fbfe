//! Warden's own machine format: stable field names, one object per finding.
//!
//! Every key is always present (absent values are `null`), so consumers can
//! rely on the shape; `format_version` changes only when that shape does.

use serde_json::{json, Map, Value};
use warden_store::model::{Finding, Severity};

use crate::summary::sorted;
use crate::{FindingSummary, ReportContext, TOOL_NAME};

/// Version of the JSON layout written by [`render_json`].
pub const JSON_FORMAT_VERSION: u32 = 1;

/// The findings as Warden's JSON report, most severe first.
///
/// ```text
/// { "format_version": 1,
///   "tool": {"name", "version"}, "project": {"id", "root"}, "generated_at",
///   "summary": {"by_severity": {"critical": n, ..., "info": n}, "total", "spend_usd", "unpriced"},
///   "findings": [{"id", "fingerprint", "path", "start_line", "end_line", "title",
///                 "severity", "reported_severity", "confidence", "cwe", "category",
///                 "rule_id", "description", "attack_path", "recommendation", "patch",
///                 "cost_usd", "verdict": {...} | null, "disposition",
///                 "disposition_reason", "duplicate_of", "created_at", "run_id"}] }
/// ```
///
/// `severity` is the effective one (after revalidation); `reported_severity`
/// is what the investigating agent said.
pub fn render_json(ctx: &ReportContext<'_>, findings: &[Finding]) -> Value {
    let summary = FindingSummary::from_findings(findings);
    let by_severity: Map<String, Value> = Severity::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), json!(summary.count(*s))))
        .collect();

    json!({
        "format_version": JSON_FORMAT_VERSION,
        "tool": { "name": TOOL_NAME, "version": ctx.tool_version },
        "project": { "id": ctx.project_id, "root": ctx.root },
        "generated_at": ctx.generated_at,
        "summary": {
            "by_severity": by_severity,
            "total": summary.total,
            "spend_usd": finite(summary.spend_usd),
            "unpriced": summary.unpriced,
        },
        "findings": sorted(findings).into_iter().map(finding_json).collect::<Vec<_>>(),
    })
}

fn finding_json(finding: &Finding) -> Value {
    let r = &finding.reported;
    let verdict = finding.verdict.as_ref().map(|v| {
        json!({
            "verdict": v.verdict.as_str(),
            "reasoning": v.reasoning,
            "corrected_severity": v.corrected_severity.map(Severity::as_str),
            "cost_usd": v.cost_usd.map(finite),
            "run_id": v.run_id,
            "created_at": v.created_at,
        })
    });
    json!({
        "id": finding.id,
        "fingerprint": finding.fingerprint,
        "path": r.path,
        "start_line": r.start_line,
        "end_line": r.end_line,
        "title": r.title,
        "severity": finding.effective_severity().as_str(),
        "reported_severity": r.severity.as_str(),
        "confidence": r.confidence.as_str(),
        "cwe": r.cwe,
        "category": r.category,
        "rule_id": r.rule_id,
        "description": r.description,
        "attack_path": r.attack_path,
        "recommendation": r.recommendation,
        "patch": r.patch,
        "cost_usd": r.cost_usd.map(finite),
        "verdict": verdict,
        "disposition": finding.disposition.as_str(),
        "disposition_reason": finding.disposition_reason,
        "duplicate_of": finding.duplicate_of,
        "created_at": finding.created_at,
        "run_id": r.run_id,
    })
}

/// JSON has no NaN or infinity; serde_json would write them as `null`
/// silently, so make that explicit (and keep the type a number otherwise).
fn finite(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}
