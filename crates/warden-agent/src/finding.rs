//! The `report_finding` and `finish` tools: the schema the model fills in,
//! and the validation that decides whether a report becomes a finding.

use serde_json::{json, Value};
use warden_llm::Tool;
use warden_store::{Confidence, NewFinding, Severity};

use crate::confine::Root;
use crate::tools::{as_u64, object_schema, read_text, tool};

pub const REPORT_FINDING: &str = "report_finding";
pub const FINISH: &str = "finish";

pub fn report_definition() -> Tool {
    tool(
        REPORT_FINDING,
        "Report one real, exploitable security issue. Call once per distinct issue. The report is checked: the file must exist in the project and the lines must exist; if it is rejected you get the reason and may report again correctly.",
        object_schema(
            json!({
                "title": {"type": "string", "description": "Short, specific title, e.g. `SQL injection in /search via q`"},
                "severity": {"type": "string", "enum": ["critical", "high", "medium", "low", "info"]},
                "confidence": {"type": "string", "enum": ["high", "medium", "low"]},
                "cwe": {"type": "string", "description": "e.g. `CWE-89`"},
                "category": {"type": "string", "description": "e.g. `injection`, `authz`, `ssrf`"},
                "rule_id": {"type": "string", "description": "The scan rule that pointed here, if any"},
                "file": {"type": "string", "description": "Path relative to the project root"},
                "start_line": {"type": "integer", "minimum": 1},
                "end_line": {"type": "integer", "minimum": 1},
                "description": {"type": "string", "description": "What is wrong and why it is exploitable"},
                "attack_path": {"type": "string", "description": "How an attacker reaches it: entry point, input, steps"},
                "recommendation": {"type": "string", "description": "How to fix it"},
                "patch": {"type": "string", "description": "Optional unified diff fixing it"}
            }),
            &[
                "title", "severity", "confidence", "file", "start_line", "end_line",
                "description", "attack_path", "recommendation",
            ],
        ),
    )
}

pub fn finish_definition() -> Tool {
    tool(
        FINISH,
        "End the investigation once every real issue has been reported (or none was found).",
        object_schema(
            json!({"summary": {"type": "string", "description": "One or two sentences: what was checked and concluded"}}),
            &[],
        ),
    )
}

/// The best-effort title of a report, for the rejection record.
pub fn title_of(input: &Value) -> String {
    input
        .get("title")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or("(untitled)")
        .to_string()
}

fn text(input: &Value, key: &str) -> Result<String, String> {
    match input.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(format!("`{key}` is required")),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

fn opt_text(input: &Value, key: &str) -> Option<String> {
    input
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn line(input: &Value, key: &str) -> Result<u32, String> {
    let v = input
        .get(key)
        .ok_or_else(|| format!("`{key}` is required"))?;
    as_u64(v)
        .filter(|n| *n >= 1)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("`{key}` must be a positive integer (1-based line number)"))
}

fn confidence(s: &str) -> Result<Confidence, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "high" => Ok(Confidence::High),
        "medium" | "moderate" => Ok(Confidence::Medium),
        "low" => Ok(Confidence::Low),
        other => Err(format!(
            "unknown confidence `{other}` (expected high, medium or low)"
        )),
    }
}

fn normalize_cwe(s: String) -> String {
    let t = s.trim();
    if t.chars().all(|c| c.is_ascii_digit()) {
        format!("CWE-{t}")
    } else {
        t.to_ascii_uppercase()
            .replace("CWE ", "CWE-")
            .replace("CWE_", "CWE-")
    }
}

/// Checks a `report_finding` input; the reason is written for the model.
pub fn validate(root: &Root, input: &Value) -> Result<NewFinding, String> {
    if !input.is_object() {
        return Err("the arguments must be a JSON object".into());
    }
    let title = text(input, "title")?;
    let severity: Severity = text(input, "severity")?
        .parse()
        .map_err(|e: warden_store::UnknownSeverity| e.to_string())?;
    let confidence = confidence(&text(input, "confidence")?)?;
    let file = text(input, "file")?;
    let start_line = line(input, "start_line")?;
    let end_line = line(input, "end_line")?;
    let description = text(input, "description")?;
    let attack_path = text(input, "attack_path")?;
    let recommendation = text(input, "recommendation")?;

    let path = root.resolve(&file).map_err(|e| format!("file: {e}"))?;
    if !path.is_file() {
        return Err(format!("file: `{file}` is not a regular file"));
    }
    let content = read_text(&path)
        .map_err(|e| format!("file: {e}"))?
        .ok_or_else(|| format!("file: `{file}` is binary or too large to cite by line"))?;
    let count = content.lines().count() as u64;
    if start_line > end_line {
        return Err(format!(
            "start_line {start_line} is after end_line {end_line}"
        ));
    }
    if u64::from(end_line) > count {
        return Err(format!(
            "lines {start_line}-{end_line} do not exist: `{file}` has {count} lines"
        ));
    }
    Ok(NewFinding {
        run_id: None,
        path: root.relative(&path),
        start_line,
        end_line,
        title,
        severity,
        confidence,
        cwe: opt_text(input, "cwe").map(normalize_cwe),
        category: opt_text(input, "category"),
        rule_id: opt_text(input, "rule_id"),
        description,
        attack_path,
        recommendation,
        patch: opt_text(input, "patch"),
        cost_usd: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::project;

    fn report(file: &str, start: u64, end: u64, severity: &str) -> Value {
        json!({
            "title": "SQL injection", "severity": severity, "confidence": "high", "cwe": "89",
            "file": file, "start_line": start, "end_line": end,
            "description": "d", "attack_path": "GET /?q=", "recommendation": "bind parameters"
        })
    }

    #[test]
    fn valid_report_becomes_a_finding() {
        let (_o, _d, r) = project();
        let f = validate(&r, &report("./src/app.py", 4, 5, "High")).unwrap();
        assert_eq!(
            (f.path.as_str(), f.start_line, f.end_line),
            ("src/app.py", 4, 5)
        );
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.cwe.as_deref(), Some("CWE-89"));
        assert_eq!(f.patch, None);
    }

    #[test]
    fn invalid_reports_are_rejected_with_a_reason() {
        let (_o, _d, r) = project();
        let cases = [
            (report("src/app.py", 4, 99, "high"), "do not exist"),
            (report("src/app.py", 5, 4, "high"), "after end_line"),
            (report("src/app.py", 0, 1, "high"), "positive integer"),
            (report("src/nope.py", 1, 1, "high"), "not found"),
            (report("../../etc/passwd", 1, 1, "high"), "refused"),
            (report("src/app.py", 1, 1, "severe"), "unknown severity"),
            (report("src", 1, 1, "high"), "not a regular file"),
            (json!({"title": "x"}), "`severity` is required"),
        ];
        for (input, want) in cases {
            let e = validate(&r, &input).unwrap_err();
            assert!(e.contains(want), "{input}: {e}");
        }
        assert_eq!(title_of(&json!({})), "(untitled)");
    }
}
