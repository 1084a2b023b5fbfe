//! Shared test helpers: findings built by hand, and the SARIF schema validator.

#![allow(dead_code)] // each test binary uses a different subset

use warden_report::{ReportContext, RuleInfo};
use warden_store::model::{
    CandidateFile, Confidence, Disposition, FileStatus, Finding, Hit, NewFinding, Severity,
    Verdict, VerdictRecord,
};

pub fn ctx() -> ReportContext<'static> {
    ReportContext {
        tool_version: "0.1.0",
        project_id: "demo",
        root: "/home/me/demo project",
        generated_at: "2025-01-02T03:04:05Z",
    }
}

/// A finding with plausible defaults; tests change what they care about.
pub fn finding(id: &str, path: &str, severity: Severity) -> Finding {
    Finding {
        id: id.to_string(),
        fingerprint: format!("fp-{id}"),
        reported: NewFinding {
            run_id: Some(1),
            path: path.to_string(),
            start_line: 10,
            end_line: 12,
            title: format!("Issue {id}"),
            severity,
            confidence: Confidence::High,
            cwe: Some("CWE-89".to_string()),
            category: Some("injection".to_string()),
            rule_id: Some("sql-concat".to_string()),
            description: "User input reaches a SQL query. More detail follows.".to_string(),
            attack_path: "POST /login -> db::query".to_string(),
            recommendation: "Use bound parameters.".to_string(),
            patch: None,
            cost_usd: Some(0.01),
        },
        created_at: "2025-01-01T00:00:00Z".to_string(),
        verdict: None,
        disposition: Disposition::Open,
        disposition_reason: None,
        duplicate_of: None,
    }
}

pub fn verdict(verdict: Verdict, reasoning: &str, corrected: Option<Severity>) -> VerdictRecord {
    VerdictRecord {
        verdict,
        reasoning: reasoning.to_string(),
        corrected_severity: corrected,
        run_id: Some(2),
        cost_usd: Some(0.002),
        created_at: "2025-01-01T01:00:00Z".to_string(),
    }
}

pub fn rule(id: &str, title: &str, cwe: Option<&str>) -> RuleInfo {
    RuleInfo {
        id: id.to_string(),
        title: title.to_string(),
        cwe: cwe.map(str::to_string),
        category: "injection".to_string(),
        help: format!("Help for {title}."),
        weight: 2.5,
    }
}

pub fn candidate(path: &str, score: f64, hits: &[(&str, u32, &str)]) -> CandidateFile {
    CandidateFile {
        path: path.to_string(),
        language: Some("rust".to_string()),
        score,
        status: FileStatus::Pending,
        hits: hits
            .iter()
            .map(|(rule_id, line, snippet)| Hit {
                rule_id: rule_id.to_string(),
                line: *line,
                snippet: snippet.to_string(),
            })
            .collect(),
    }
}

#[allow(unused_imports)] // each test binary uses a different subset
pub use warden_testkit::sarif::{assert_valid as assert_valid_sarif, errors as sarif_errors};
