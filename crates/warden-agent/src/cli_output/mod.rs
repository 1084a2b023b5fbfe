//! Parsers of the agent CLIs' structured output: pure functions from the bytes
//! a CLI wrote on stdout to a [`CliRun`] (session id, turns, per-call usage,
//! final text, the error it reported), for
//!
//! - Claude Code `-p --output-format stream-json --verbose` ([`claude::parse`]),
//! - `codex exec --json` ([`codex::parse`]),
//! - `opencode run --format json` ([`opencode::parse`]);
//!
//! plus [`fenced_json_findings`] for the fallback answer (a final fenced JSON
//! block of findings). Each line is one JSON event; unknown event types, lines
//! that are not JSON (a partial last line, banners, garbage) are skipped, never
//! fatal, and nothing here panics on any input.
//!
//! Errors the CLIs report (out of credits or quota, a rejected key, rate limits,
//! overload) become [`LlmError`]s through [`warden_llm::classify`], as the native
//! agent's HTTP errors do, so [`CliError::stops_run`] stops a run exactly when the
//! native agent would.

pub mod claude;
pub mod codex;
mod fenced;
pub mod opencode;

use serde_json::{Map, Value};
use warden_llm::{LlmError, Provider, Usage};

pub use fenced::{fenced_json_answer, fenced_json_findings};

use crate::cli_agent::CliKind;

/// Longest error message kept (the CLI's own words, secrets scrubbed).
pub const MAX_MESSAGE_CHARS: usize = 500;

/// What one CLI run reported.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CliRun {
    /// The CLI's own session (thread) id.
    pub session_id: Option<String>,
    /// Model calls (Claude Code's `num_turns`, OpenCode's steps; for Codex, which
    /// does not report them, its tool calls plus one per completed turn).
    pub turns: u32,
    /// Token usage per model call or step; see each parser for the granularity.
    /// Their sum is what the CLI reports in total. Figures come from the CLI:
    /// check them ([`Usage::check`]) before pricing.
    pub calls: Vec<CliCall>,
    /// The main model, when the output names it.
    pub model: Option<String>,
    /// The agent's last answer text (None after an error, or when it gave none).
    pub final_text: Option<String>,
    /// The error the run ended with, if any.
    pub error: Option<CliError>,
}

impl CliRun {
    /// The usage of all calls added up.
    pub fn total_usage(&self) -> Usage {
        let mut total = Usage::default();
        for c in &self.calls {
            total.add(&c.usage);
        }
        total
    }
}

/// One model call (or step) and its usage. `usage.output` includes reasoning
/// tokens (priced as output); `usage.reasoning` repeats them for information.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CliCall {
    pub model: Option<String>,
    pub usage: Usage,
}

/// An error the CLI reported.
#[derive(Debug, Clone, PartialEq)]
pub struct CliError {
    /// The CLI's words, secrets scrubbed, at most [`MAX_MESSAGE_CHARS`].
    pub message: String,
    /// The model API error behind it, classified like the native agent's; None
    /// when the CLI failed on its own (turn limit, a crash, output cut short).
    pub llm: Option<LlmError>,
}

impl CliError {
    /// True when the whole run should stop (credits, quota, rejected credentials).
    pub fn stops_run(&self) -> bool {
        self.llm.as_ref().is_some_and(LlmError::stops_run)
    }

    fn agent(message: &str) -> CliError {
        CliError {
            message: clean(message),
            llm: None,
        }
    }
}

/// Parses the output of `kind`; `provider` is the API and route the CLI was
/// pointed at (it decides whose credits an error is about).
pub fn parse(kind: CliKind, stdout: &[u8], provider: Provider) -> CliRun {
    match kind {
        CliKind::Claude => claude::parse(stdout, provider),
        CliKind::Codex => codex::parse(stdout, provider),
        CliKind::OpenCode => opencode::parse(stdout, provider),
    }
}

/// The end of a CLI's output as text, for `warden status` when it could not be
/// parsed: at most `max_chars` characters, lossy UTF-8, secrets scrubbed.
pub fn output_tail(stdout: &[u8], max_chars: usize) -> String {
    // Look at a bounded window only: a few bytes per character is plenty.
    let window = &stdout[stdout.len().saturating_sub(max_chars.saturating_mul(4))..];
    let text = String::from_utf8_lossy(window);
    let skip = text.chars().count().saturating_sub(max_chars);
    let tail: String = text.chars().skip(skip).collect();
    warden_llm::error::scrub_secrets(&tail)
}

/// The JSON objects of a JSON-lines output, skipping anything else.
pub(crate) fn events(stdout: &[u8]) -> impl Iterator<Item = Map<String, Value>> + '_ {
    stdout.split(|b| *b == b'\n').filter_map(|line| {
        let line = line.trim_ascii();
        if line.first() != Some(&b'{') {
            return None;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        }
    })
}

/// A string field.
pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A token count: a non-negative integer, else 0 (the CLIs write plain integers).
pub(crate) fn count(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// Scrubs secrets from a message and bounds its length.
pub(crate) fn clean(message: &str) -> String {
    let m = warden_llm::error::scrub_secrets(message.trim());
    match m.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((i, _)) => format!("{}…", &m[..i]),
        None => m,
    }
}

/// Classifies an error the CLI reported as an HTTP status and body (JSON or
/// text); `status` 0 when unknown.
pub(crate) fn classify(status: u16, body: &str, provider: Provider) -> LlmError {
    warden_llm::classify(status, &Default::default(), body, provider)
}

/// An error known only by its words: classified when they say what it is
/// (credits, quota, usage limits, credentials, rate limit, overload, context),
/// otherwise the CLI's own failure.
pub(crate) fn from_words(message: &str, provider: Provider) -> CliError {
    let llm = match classify(0, message, provider) {
        e @ (LlmError::CreditsExhausted { .. }
        | LlmError::Auth { .. }
        | LlmError::RateLimited { .. }
        | LlmError::Overloaded { .. }
        | LlmError::ContextTooLong { .. }) => Some(e),
        _ if looks_like_auth(message) => Some(LlmError::Auth {
            status: 401,
            message: clean(message),
        }),
        _ => None,
    };
    CliError {
        message: clean(message),
        llm,
    }
}

/// Words CLIs use for a rejected credential when no status is given.
fn looks_like_auth(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "invalid api key",
        "invalid x-api-key",
        "incorrect api key",
        "authentication_error",
        "unauthorized",
    ]
    .iter()
    .any(|p| m.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_llm::{Api, Route};

    #[test]
    fn events_skip_garbage_partial_lines_and_non_objects() {
        let out =
            b"banner\n{\"type\":\"a\"}\n[1]\n\xff\xfe\n  {\"type\":\"b\"}  \r\n{\"type\":\"c\"";
        let types: Vec<String> = events(out)
            .map(|m| m["type"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(types, ["a", "b"]);
    }

    #[test]
    fn the_tail_is_bounded_lossy_and_scrubbed() {
        let mut out = vec![b'x'; 10_000];
        out.extend_from_slice(b"\xff key sk-ant-api03-abcdefghijklmnop end");
        let t = output_tail(&out, 40);
        assert!(t.chars().count() <= 40, "{t}");
        assert!(t.ends_with("[redacted] end"), "{t}");
        assert_eq!(output_tail(b"", 10), "");
        assert_eq!(output_tail("é".repeat(10).as_bytes(), 3), "ééé");
    }

    #[test]
    fn words_alone_classify_only_when_they_say_what_happened() {
        let p = Provider::new(Api::OpenAi, Route::Direct);
        assert!(from_words("You exceeded your current quota", p).stops_run());
        assert!(from_words("Invalid API key · Fix external API key", p).stops_run());
        let e = from_words("the sandbox failed to start", p);
        assert_eq!(e.llm, None);
        assert!(!e.stops_run());
        assert!(matches!(
            from_words("stream error: Overloaded", p).llm,
            Some(LlmError::Overloaded { .. })
        ));
        let long = "word ".repeat(400);
        assert_eq!(clean(&long).chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
