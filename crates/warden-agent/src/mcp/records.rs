//! The output file's records, and reading them back on the host: every
//! finding is validated again against the host's copy of the tree, because
//! the file was written inside a sandbox the host does not trust.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use warden_store::{NewFinding, Severity, Verdict};

use super::MAX_RECORDS;
use crate::confine::Root;
use crate::revalidate::VerdictAnswer;
use crate::{finding, RejectedFinding};

/// One `report_verdict` answer, as written to the output file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub verdict: Verdict,
    pub reasoning: String,
    #[serde(default)]
    pub corrected_severity: Option<Severity>,
}

impl From<&VerdictAnswer> for VerdictRecord {
    fn from(a: &VerdictAnswer) -> Self {
        Self {
            verdict: a.verdict,
            reasoning: a.reasoning.clone(),
            corrected_severity: a.corrected_severity,
        }
    }
}

impl From<VerdictRecord> for VerdictAnswer {
    fn from(r: VerdictRecord) -> Self {
        Self {
            verdict: r.verdict,
            reasoning: r.reasoning,
            corrected_severity: r.corrected_severity,
        }
    }
}

/// The findings file read back: accepted findings, and records that failed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FindingsFile {
    /// Valid against the root, duplicates removed, at most [`MAX_RECORDS`].
    pub findings: Vec<NewFinding>,
    /// Records that are not findings or no longer validate (with the reason).
    pub rejected: Vec<RejectedFinding>,
}

/// Reads a findings file written by [`super::serve`] in
/// [`super::Mode::Investigate`] and validates each record against `root` with
/// [`finding::validate`], exactly as when it was reported. A record that does
/// not parse or validate is rejected with its line number, never fatal; a
/// half-written last line is a rejected record too.
pub fn read_findings(root: &Root, text: &str) -> FindingsFile {
    let mut file = FindingsFile::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let reject = |title: String, reason: String| RejectedFinding {
            title,
            reason: format!("record {}: {reason}", i + 1),
        };
        if file.findings.len() >= MAX_RECORDS {
            file.rejected.push(reject(
                "(untitled)".into(),
                format!("more than {MAX_RECORDS} findings"),
            ));
            break;
        }
        let record: NewFinding = match serde_json::from_str(line) {
            Ok(r) => r,
            Err(e) => {
                file.rejected
                    .push(reject("(untitled)".into(), format!("not a finding: {e}")));
                continue;
            }
        };
        match finding::validate(root, &as_report(&record)) {
            Ok(f) => {
                let dup = file.findings.iter().any(|g| {
                    g.path == f.path
                        && g.start_line == f.start_line
                        && g.title.eq_ignore_ascii_case(&f.title)
                });
                if !dup {
                    file.findings.push(f);
                }
            }
            Err(reason) => file.rejected.push(reject(record.title, reason)),
        }
    }
    file
}

/// The `report_finding` arguments that produce `f`.
fn as_report(f: &NewFinding) -> Value {
    json!({
        "title": f.title,
        "severity": f.severity.as_str(),
        "confidence": f.confidence.as_str(),
        "cwe": f.cwe,
        "category": f.category,
        "rule_id": f.rule_id,
        "file": f.path,
        "start_line": f.start_line,
        "end_line": f.end_line,
        "description": f.description,
        "attack_path": f.attack_path,
        "recommendation": f.recommendation,
        "patch": f.patch,
    })
}

/// The last valid verdict in a file written by [`super::serve`] in
/// [`super::Mode::Verdict`] (the reviewer's final word), if any.
pub fn read_verdict(text: &str) -> Option<VerdictAnswer> {
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|v| crate::revalidate::parse_verdict(&v).ok())
}
