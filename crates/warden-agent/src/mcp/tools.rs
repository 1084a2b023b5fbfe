//! The one tool a server offers, and what a call does: validate like the
//! native agent, append the record, answer in the native agent's words.

use std::fs::File;

use serde_json::{json, Value};
use warden_llm::Tool;
use warden_store::NewFinding;

use super::records::VerdictRecord;
use super::{append_record, Mode, MAX_RECORDS};
use crate::confine::Root;
use crate::finding;
use crate::revalidate;
use crate::tools::ToolOutput;

pub(super) struct Reporter {
    mode: Mode,
    root: Root,
    out: File,
    /// Accepted in this session, for the duplicate check and the count.
    findings: Vec<NewFinding>,
    verdicts: usize,
}

impl Reporter {
    pub(super) fn new(mode: Mode, root: Root, out: File) -> Self {
        Self {
            mode,
            root,
            out,
            findings: Vec::new(),
            verdicts: 0,
        }
    }

    fn tool(&self) -> Tool {
        match self.mode {
            Mode::Investigate => finding::report_definition(),
            Mode::Verdict => revalidate::verdict_definition(),
        }
    }

    pub(super) fn name(&self) -> &'static str {
        match self.mode {
            Mode::Investigate => finding::REPORT_FINDING,
            Mode::Verdict => revalidate::REPORT_VERDICT,
        }
    }

    /// The MCP form of the tool (`inputSchema`, camel case).
    pub(super) fn definition(&self) -> Value {
        let t = self.tool();
        json!({"name": t.name, "description": t.description, "inputSchema": t.input_schema})
    }

    pub(super) fn call(&mut self, args: &Value) -> ToolOutput {
        match self.mode {
            Mode::Investigate => self.report(args),
            Mode::Verdict => self.verdict(args),
        }
    }

    fn report(&mut self, args: &Value) -> ToolOutput {
        if self.findings.len() >= MAX_RECORDS {
            return ToolOutput::err(format!(
                "Finding rejected: this investigation already recorded {MAX_RECORDS} findings, the most one may report."
            ));
        }
        let checked = finding::validate(&self.root, args).and_then(|f| {
            let dup = self.findings.iter().any(|g| {
                g.path == f.path
                    && g.start_line == f.start_line
                    && g.title.eq_ignore_ascii_case(&f.title)
            });
            if dup {
                Err("duplicate: this issue was already reported".to_string())
            } else {
                Ok(f)
            }
        });
        let f = match checked {
            Ok(f) => f,
            Err(reason) => {
                return ToolOutput::err(format!(
                    "Finding rejected: {reason}. Correct it and report again if the issue is real."
                ))
            }
        };
        let record = match serde_json::to_value(&f) {
            Ok(v) => v,
            Err(e) => return ToolOutput::err(format!("Warden could not record the finding: {e}")),
        };
        if let Err(e) = append_record(&mut self.out, &record) {
            return ToolOutput::err(format!("Warden could not record the finding: {e}"));
        }
        let msg = format!(
            "Recorded finding {}: {} ({}:{}-{}).",
            self.findings.len() + 1,
            f.title,
            f.path,
            f.start_line,
            f.end_line
        );
        self.findings.push(f);
        ToolOutput::ok(msg)
    }

    fn verdict(&mut self, args: &Value) -> ToolOutput {
        if self.verdicts >= MAX_RECORDS {
            return ToolOutput::err(format!(
                "Verdict rejected: this review already recorded {MAX_RECORDS} verdicts."
            ));
        }
        let answer = match revalidate::parse_verdict(args) {
            Ok(a) => a,
            Err(e) => {
                return ToolOutput::err(format!(
                    "Verdict rejected: {e}. Call report_verdict again."
                ))
            }
        };
        let record = VerdictRecord::from(&answer);
        let value = match serde_json::to_value(&record) {
            Ok(v) => v,
            Err(e) => return ToolOutput::err(format!("Warden could not record the verdict: {e}")),
        };
        if let Err(e) = append_record(&mut self.out, &value) {
            return ToolOutput::err(format!("Warden could not record the verdict: {e}"));
        }
        self.verdicts += 1;
        ToolOutput::ok("Verdict recorded.")
    }
}
