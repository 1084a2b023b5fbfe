//! Reading what an agent CLI session left: its answer (readable or not, and the
//! repair turn's prompt when not), and, for debugging, its raw output.

use super::setup::Task;
use crate::cli_output::{self, CliRun};
use std::path::Path;
use warden_sandbox::Exit;

/// What one CLI session left.
#[derive(Debug)]
pub(super) struct Ran {
    pub exit: Exit,
    pub parsed: CliRun,
    pub tail: String,
    pub stderr: String,
    /// The MCP server's output file (what the agent reported), read after the session.
    pub reports: String,
    /// Why the answer could not be read, when it could not (after the repair turn).
    pub unreadable: Option<String>,
}

impl Ran {
    /// This run continued by a repair turn in the same session.
    pub(super) fn then(mut self, next: Ran) -> Ran {
        self.parsed.calls.extend(next.parsed.calls);
        self.parsed.turns += next.parsed.turns;
        if next.parsed.final_text.is_some() {
            self.parsed.final_text = next.parsed.final_text;
        }
        self.parsed.error = next.parsed.error;
        self.exit = next.exit;
        self.tail = next.tail;
        self.stderr = next.stderr;
        self
    }
}

/// `WARDEN_AGENT_DEBUG_DIR`: keeps each session's raw output (the CLI's stdout, its
/// stderr and the reports file) there, one directory per session, for debugging an
/// agent CLI; nothing is kept otherwise.
pub(super) fn keep_for_debugging(scratch: &Path, stderr: &str) {
    let Some(dir) = std::env::var_os("WARDEN_AGENT_DEBUG_DIR").filter(|d| !d.is_empty()) else {
        return;
    };
    let Some(name) = scratch.file_name() else {
        return;
    };
    let to = Path::new(&dir).join(name);
    let _ = std::fs::create_dir_all(&to);
    let _ = std::fs::write(to.join("stderr"), stderr);
    if let Ok(entries) = std::fs::read_dir(scratch) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::copy(entry.path(), to.join(entry.file_name()));
            }
        }
    }
}

/// Why a session's answer cannot be read (so a repair turn is worth it), if so.
pub(super) fn unreadable(run: &Ran, task: Task) -> Option<String> {
    if run.parsed.error.is_some() || matches!(run.exit, Exit::Cancelled | Exit::TimedOut) {
        return None;
    }
    let text = run.parsed.final_text.as_deref();
    let Some(text) = text else {
        let stderr = run.stderr.lines().last().unwrap_or("").trim();
        return Some(match run.exit {
            Exit::Code(0) => "the agent's output held no answer".to_string(),
            Exit::Code(c) if stderr.is_empty() => {
                format!("the agent exited with {c} and no answer")
            }
            Exit::Code(c) => format!(
                "the agent exited with {c}: {}",
                warden_llm::error::scrub_secrets(stderr)
            ),
            _ => "the agent ended without an answer".to_string(),
        });
    };
    // A fence that does not parse is an answer gone wrong.
    if text.contains("```") {
        let readable = match task {
            Task::Investigate => cli_output::fenced_json_answer(text).is_some(),
            Task::Verdict => fenced_object(text).is_some(),
        };
        if !readable {
            return Some("the fenced JSON answer did not parse".to_string());
        }
    }
    None
}

/// The prompt of the repair turn.
pub(super) fn repair_prompt(task: Task, why: &str) -> String {
    let what = match task {
        Task::Investigate => "the findings (call report_finding for each, or reply with only a fenced ```json array of findings, [] when there are none)",
        Task::Verdict => "your verdict (call report_verdict, or reply with only a fenced ```json object with verdict, reasoning and optionally corrected_severity)",
    };
    format!("Your last answer could not be read ({why}). Give {what} now, and nothing else.")
}

/// The last fenced JSON object in `text`.
pub(super) fn fenced_object(text: &str) -> Option<serde_json::Value> {
    text.rsplit("```")
        .filter_map(|block| {
            let body = block.trim();
            let body = body.strip_prefix("json").unwrap_or(body).trim();
            serde_json::from_str::<serde_json::Value>(body).ok()
        })
        .find(serde_json::Value::is_object)
}
