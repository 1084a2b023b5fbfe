//! `warden report`: render the findings in the store; `--fail-on` gates CI.

use crate::cli::{GlobalArgs, ReportArgs, ReportFormat};
use crate::{exit, locate};
use warden_report::{FindingSummary, ReportContext};
use warden_store::{Disposition, FindingFilter, Verdict};

pub fn run(global: &GlobalArgs, args: &ReportArgs) -> anyhow::Result<u8> {
    let store = locate::open_for_reading(global)?;
    let project_id = locate::project_for_reading(&store, global.project_id.as_deref())?;
    let project = store
        .project(&project_id)?
        .ok_or_else(|| exit::UsageError(format!("--project-id {project_id}: no such project")))?;
    let filter = FindingFilter {
        min_severity: args.min_severity,
        include_false_positives: args.include_false_positives,
        include_dispositioned: args.include_ignored,
    };
    let findings = store.findings(&project_id, &filter)?;
    let generated_at = super::now_rfc3339();
    let ctx = ReportContext {
        tool_version: env!("CARGO_PKG_VERSION"),
        project_id: &project_id,
        root: &project.root,
        generated_at: &generated_at,
    };
    let text = match args.format {
        ReportFormat::Md => {
            let summary = FindingSummary::from_findings(&findings);
            warden_report::render_markdown(&ctx, &findings, &summary)
        }
        ReportFormat::Json => {
            serde_json::to_string_pretty(&warden_report::render_json(&ctx, &findings))?
        }
        ReportFormat::Sarif => {
            let scanner = warden_scan::ScannerBuilder::new().build()?;
            let sarif =
                warden_report::render_findings_sarif(&ctx, &findings, &super::rule_infos(&scanner));
            serde_json::to_string_pretty(&sarif)?
        }
    };
    super::emit(args.output.as_deref(), &text)?;

    // The gate counts what a reviewer must act on: open findings not judged false positives.
    let gate_hit = args.fail_on.is_some_and(|threshold| {
        findings.iter().any(|f| {
            f.effective_severity() >= threshold
                && f.disposition == Disposition::Open
                && f.verdict.as_ref().map(|v| v.verdict) != Some(Verdict::FalsePositive)
        })
    });
    if gate_hit {
        if !global.quiet {
            eprintln!(
                "warden: findings at or above --fail-on {} are present",
                args.fail_on.map(|s| s.as_str()).unwrap_or_default()
            );
        }
        return Ok(exit::FAIL_ON);
    }
    Ok(0)
}
