//! Shared test helpers: findings built by hand, and the SARIF schema validator.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;

use serde_json::Value;
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

/// The official SARIF 2.1.0 schema, from the shared checkout next to the workspace.
pub fn sarif_schema() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/schemas/sarif-schema-2.1.0.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the SARIF 2.1.0 schema must be at {} (CARGO_MANIFEST_DIR/../../../shared/schemas/\
             sarif-schema-2.1.0.json) for these tests: {e}",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("the SARIF schema file is valid JSON")
}

/// RFC 3986 `URI-reference` at the character level: only unreserved,
/// reserved and well-formed `%XX` escapes, at most one `#`.
///
/// The SARIF schema is draft-04, which predates the `uri-reference` format, so
/// the validator would silently skip it; this makes artifact URIs checked too.
fn is_uri_reference(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        let ok = b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&b);
        if !ok {
            return false;
        }
        i += 1;
    }
    s.matches('#').count() <= 1
}

/// Every schema violation in `doc`, as readable lines (empty when valid).
pub fn sarif_errors(doc: &Value) -> Vec<String> {
    let validator = jsonschema::draft4::options()
        .should_validate_formats(true)
        .with_format("uri-reference", is_uri_reference)
        .build(&sarif_schema())
        .expect("the SARIF schema compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

/// Panics with every violation when `doc` is not valid SARIF 2.1.0.
pub fn assert_valid_sarif(doc: &Value) {
    let errors = sarif_errors(doc);
    assert!(
        errors.is_empty(),
        "SARIF output violates the schema:\n{}\n\ndocument:\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(doc).unwrap()
    );
}
