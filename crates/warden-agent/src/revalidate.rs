//! Revalidation: an independent, skeptical second pass over one stored finding.
//! The agent gets the same read-only, confined tools as an investigation and
//! must answer through `report_verdict` (true positive, false positive or
//! uncertain, with reasoning and possibly a corrected severity). The loop,
//! limits, cancellation and per-call cost are those of the investigation
//! ([`crate::agent::drive`]).

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{json, Value};
use warden_llm::{CancellationToken, Tool};
use warden_store::{Finding, LlmCall, Severity, Verdict};

use crate::agent::{drive, Job};
use crate::confine::Root;
use crate::tools::{self, object_schema, tool, ToolOutput};
use crate::{AgentError, Failed, NativeAgent, Outcome};

pub const REPORT_VERDICT: &str = "report_verdict";

/// The system prompt of the skeptical reviewer (identical for every finding, cacheable).
pub const SYSTEM: &str = "\
You are a skeptical senior application-security engineer reviewing a vulnerability report produced by another automated reviewer. Such reports are often wrong. Your job is to try to DISPROVE the finding, and to confirm it only when you cannot.

How to work:
- Read the reported lines and follow the data with the tools (read_file, search, list_dir, find_files). Paths are relative to the project root; you cannot leave the project.
- Check reachability: is the code actually reachable from an attacker-controlled entry point (HTTP route, CLI argument, file, message)? Dead code, tests, examples and internal-only tooling are not exploitable.
- Check sanitisation and validation on the way: escaping, parameterised queries, allow-lists, type conversions, length checks.
- Check framework and platform protections: ORM binding, template auto-escaping, CSRF middleware, authentication and authorisation decorators, safe defaults.
- Check whether the claimed impact is real and whether the severity fits it.
- Then answer exactly once with `report_verdict`: `true_positive` if an attacker can really exploit it as described (or in a closely related way), `false_positive` if it is not exploitable, `uncertain` if the evidence does not decide it. Give concise reasoning naming the evidence (files and lines). Set `corrected_severity` only when the severity is clearly wrong.
Be economical: read ranges rather than whole large files.";

/// Lines of context shown around the reported lines.
pub const CONTEXT_LINES: u32 = 30;

/// One finding to revalidate.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingTask {
    /// Canonical scanned root.
    pub root: PathBuf,
    pub finding: Finding,
    /// Project tech tags.
    pub tech: Vec<String>,
}

/// The reviewer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictAnswer {
    pub verdict: Verdict,
    pub reasoning: String,
    pub corrected_severity: Option<Severity>,
}

/// The result of revalidating one finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Revalidation {
    /// `Some` when the model answered through `report_verdict`.
    pub verdict: Option<VerdictAnswer>,
    /// One per model call; `run_id` None, `path` the finding's file, `finding_id` the finding.
    pub calls: Vec<LlmCall>,
    /// `Incomplete` when a limit was hit or the model never answered.
    pub outcome: Outcome,
    /// The external agent's session, when the agent has one (the native agent has none).
    pub session: Option<crate::AgentSession>,
}

impl Revalidation {
    /// Total priced cost of the calls (None when no call had a known price).
    pub fn cost_usd(&self) -> Option<f64> {
        self.calls.iter().map(|c| c.cost_usd).sum()
    }
}

pub fn verdict_definition() -> Tool {
    tool(
        REPORT_VERDICT,
        "Give your verdict on the reported finding. Call exactly once, after investigating.",
        object_schema(
            json!({
                "verdict": {"type": "string", "enum": ["true_positive", "false_positive", "uncertain"]},
                "reasoning": {"type": "string", "description": "Why: reachability, sanitisation, framework protections, with file:line evidence"},
                "corrected_severity": {"type": "string", "enum": ["critical", "high", "medium", "low", "info"], "description": "Only when the reported severity is clearly wrong"}
            }),
            &["verdict", "reasoning"],
        ),
    )
}

/// The tools offered to the reviewer, in a fixed order.
pub fn tool_definitions() -> Vec<Tool> {
    let mut t = tools::definitions();
    t.push(verdict_definition());
    t
}

/// Parses a `report_verdict` call.
pub fn parse_verdict(input: &Value) -> Result<VerdictAnswer, String> {
    let verdict = match input.get("verdict").and_then(Value::as_str).map(str::trim) {
        Some("true_positive") => Verdict::TruePositive,
        Some("false_positive") => Verdict::FalsePositive,
        Some("uncertain") => Verdict::Uncertain,
        Some(other) => {
            return Err(format!(
                "`verdict` must be true_positive, false_positive or uncertain, not `{other}`"
            ))
        }
        None => return Err("`verdict` is required".to_string()),
    };
    let reasoning = input
        .get("reasoning")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or("`reasoning` is required")?
        .to_string();
    let corrected_severity = match input.get("corrected_severity") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            s.trim()
                .parse::<Severity>()
                .map_err(|_| format!("`corrected_severity` `{s}` is no severity"))?,
        ),
        Some(_) => return Err("`corrected_severity` must be a string".to_string()),
    };
    Ok(VerdictAnswer {
        verdict,
        reasoning,
        corrected_severity,
    })
}

/// The first user message: the finding and the code around it.
pub fn user_prompt(task: &FindingTask, root: &Root) -> String {
    let f = &task.finding.reported;
    let mut s = String::new();
    let _ = writeln!(s, "Review this reported finding and try to disprove it.\n");
    let _ = writeln!(s, "Title: {}", f.title);
    let _ = writeln!(
        s,
        "Severity: {} (confidence {})",
        f.severity,
        f.confidence.as_str()
    );
    if let Some(cwe) = &f.cwe {
        let _ = writeln!(s, "CWE: {cwe}");
    }
    let _ = writeln!(s, "Location: {}:{}-{}", f.path, f.start_line, f.end_line);
    let _ = writeln!(s, "Description: {}", f.description);
    let _ = writeln!(s, "Claimed attack path: {}", f.attack_path);
    if !task.tech.is_empty() {
        let _ = writeln!(s, "Project technologies: {}.", task.tech.join(", "));
    }
    match excerpt(root, &f.path, f.start_line, f.end_line) {
        Some(ex) => {
            let _ = write!(
                s,
                "\nThe code around it, with line numbers:\n```\n{ex}```\n"
            );
        }
        None => {
            let _ = writeln!(
                s,
                "\nThe file cannot be read here; it may have moved or been deleted."
            );
        }
    }
    s.push_str("\nInvestigate, then answer with report_verdict.");
    s
}

fn excerpt(root: &Root, path: &str, start: u32, end: u32) -> Option<String> {
    let abs = root.resolve(path).ok()?;
    let text = tools::read_text(&abs).ok()??;
    let from = start.saturating_sub(CONTEXT_LINES).max(1) as usize;
    let to = end.saturating_add(CONTEXT_LINES) as usize;
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if n >= from && n <= to {
            let _ = writeln!(out, "{n:>5}\t{}", tools::clip_line(line));
        }
    }
    (!out.is_empty()).then_some(out)
}

struct Revalidate<'a> {
    task: &'a FindingTask,
    verdict: Option<VerdictAnswer>,
    nudges: u32,
}

impl Job for Revalidate<'_> {
    fn system(&self) -> &'static str {
        SYSTEM
    }
    fn first_message(&self, root: &Root) -> String {
        user_prompt(self.task, root)
    }
    fn tools(&self) -> Vec<Tool> {
        tool_definitions()
    }
    fn path(&self) -> &str {
        &self.task.finding.reported.path
    }
    fn tool_names(&self) -> &'static str {
        "read_file, search, list_dir, find_files, report_verdict"
    }
    fn continue_hint(&self) -> &'static str {
        "Your answer was cut off. Continue, then answer with report_verdict."
    }
    fn on_text_only(&mut self) -> Option<&'static str> {
        if self.verdict.is_some() || self.nudges >= 2 {
            return None;
        }
        self.nudges += 1;
        Some("You have not given a verdict. Answer now by calling report_verdict.")
    }
    fn handle(&mut self, _root: &Root, name: &str, input: &Value) -> Option<(ToolOutput, bool)> {
        if name != REPORT_VERDICT {
            return None;
        }
        Some(match parse_verdict(input) {
            Ok(v) => {
                self.verdict = Some(v);
                (ToolOutput::ok("Verdict recorded."), true)
            }
            Err(e) => (
                ToolOutput::err(format!("Verdict rejected: {e}. Call report_verdict again.")),
                false,
            ),
        })
    }
}

pub(crate) async fn revalidate(
    agent: &NativeAgent,
    task: &FindingTask,
    cancel: &CancellationToken,
) -> Result<Revalidation, Failed> {
    let root = Root::new(&task.root).map_err(|e| Failed::before_any_call(AgentError::Other(e)))?;
    let mut job = Revalidate {
        task,
        verdict: None,
        nudges: 0,
    };
    let id = task.finding.id.clone();
    let tag = |calls: Vec<LlmCall>| -> Vec<LlmCall> {
        calls
            .into_iter()
            .map(|mut c| {
                c.finding_id = Some(id.clone());
                c
            })
            .collect()
    };
    let (outcome, calls) = match drive(agent, &root, &mut job, cancel).await {
        Ok(r) => r,
        Err(Failed {
            error,
            calls,
            session,
        }) => {
            return Err(Failed {
                error,
                calls: tag(calls),
                session,
            })
        }
    };
    let outcome = match (&job.verdict, outcome) {
        (None, Outcome::Complete) => Outcome::Incomplete {
            reason: "the reviewer ended without calling report_verdict".to_string(),
        },
        (_, o) => o,
    };
    Ok(Revalidation {
        verdict: job.verdict,
        calls: tag(calls),
        outcome,
        session: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_parse_and_bad_ones_are_explained() {
        let v = parse_verdict(&json!({"verdict": "false_positive", "reasoning": "escaped", "corrected_severity": "low"})).unwrap();
        assert_eq!(v.verdict, Verdict::FalsePositive);
        assert_eq!(v.corrected_severity, Some(Severity::Low));
        assert!(
            parse_verdict(&json!({"verdict": "maybe", "reasoning": "x"}))
                .unwrap_err()
                .contains("maybe")
        );
        assert!(parse_verdict(&json!({"verdict": "uncertain"}))
            .unwrap_err()
            .contains("reasoning"));
        assert!(parse_verdict(
            &json!({"verdict": "uncertain", "reasoning": "x", "corrected_severity": "huge"})
        )
        .is_err());
    }
}
