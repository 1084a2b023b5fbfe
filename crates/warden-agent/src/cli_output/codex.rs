//! `codex exec --json`.
//!
//! Events: `thread.started` (`thread_id`), `turn.started`, `item.started` /
//! `item.updated` / `item.completed` (`agent_message`, `reasoning`,
//! `command_execution`, `mcp_tool_call`, `file_change`, `web_search`,
//! `todo_list`, and `error` items, which are warnings such as "Model metadata
//! for `x` not found"), `turn.completed` (`usage`), `turn.failed` (`error`), and
//! top-level `error` events (also "Reconnecting... 1/5 (...)" while it retries).
//!
//! Calls: Codex reports usage per turn only (one `exec` is one turn), so there
//! is one call per `turn.completed`, without a model name (the model is the one
//! Warden configured). Its `input_tokens` include cached ones, as on OpenAI's
//! wire; `output_tokens` include reasoning.
//!
//! Turns: Codex does not report its model calls; each tool call it made takes
//! one, and each completed turn ends with one more (the final answer).

use serde_json::{json, Value};
use warden_llm::{Provider, Usage};

use super::{classify, clean, count, events, from_words, str_of, CliCall, CliError, CliRun};

const TOOL_ITEMS: [&str; 4] = [
    "command_execution",
    "mcp_tool_call",
    "file_change",
    "web_search",
];

/// Parses `codex exec --json` output (see the module doc).
pub fn parse(stdout: &[u8], provider: Provider) -> CliRun {
    let mut run = CliRun::default();
    let mut tool_calls: u32 = 0;
    let mut completed_turns: u32 = 0;
    let mut last_message: Option<String> = None;
    let mut failed: Option<String> = None;
    let mut last_error: Option<String> = None;

    for ev in events(stdout) {
        let ev = Value::Object(ev);
        match str_of(&ev, "type").unwrap_or_default() {
            "thread.started" if run.session_id.is_none() => {
                run.session_id = str_of(&ev, "thread_id").map(str::to_string);
            }
            "item.completed" => {
                let item = &ev["item"];
                match str_of(item, "type").unwrap_or_default() {
                    "agent_message" => {
                        last_message = str_of(item, "text")
                            .filter(|t| !t.trim().is_empty())
                            .map(str::to_string);
                    }
                    t if TOOL_ITEMS.contains(&t) => tool_calls = tool_calls.saturating_add(1),
                    _ => {}
                }
            }
            "turn.completed" => {
                completed_turns = completed_turns.saturating_add(1);
                run.calls.push(CliCall {
                    model: None,
                    usage: turn_usage(&ev["usage"]),
                });
            }
            "turn.failed" => {
                failed = Some(
                    str_of(&ev["error"], "message")
                        .unwrap_or("the turn failed")
                        .to_string(),
                );
            }
            "error" => last_error = str_of(&ev, "message").map(str::to_string),
            _ => {}
        }
    }

    run.turns = tool_calls.saturating_add(completed_turns);
    run.error = match (failed, completed_turns) {
        (Some(message), _) => Some(codex_error(&message, provider)),
        (None, 0) => Some(match last_error {
            Some(message) => codex_error(&message, provider),
            None => CliError::agent(
                "Codex stopped without completing its turn (killed, crashed, or its output was cut short)",
            ),
        }),
        (None, _) => None,
    };
    if run.error.is_none() {
        run.final_text = last_message;
    }
    run
}

fn turn_usage(u: &Value) -> Usage {
    let cached = count(u, "/cached_input_tokens");
    let cache_write = count(u, "/cache_write_input_tokens");
    Usage {
        input: count(u, "/input_tokens")
            .saturating_sub(cached)
            .saturating_sub(cache_write),
        output: count(u, "/output_tokens"),
        cache_write,
        cache_read: cached,
        reasoning: count(u, "/reasoning_output_tokens"),
    }
}

/// Codex's error text, as it words the API's errors:
/// - `unexpected status 401 Unauthorized: <body or message>, url: …, request id: …`
/// - `exceeded retry limit, last status: 429 Too Many Requests, request id: …`
/// - `Quota exceeded. Check your plan and billing details.` (OpenAI's `insufficient_quota`)
/// - `You've hit your usage limit. …` (a ChatGPT plan's limit)
/// - `We're currently experiencing high demand, …` (5xx / overloaded)
/// - `Codex ran out of room in the model's context window. …`
/// - the API's message (`The model `x` does not exist`) or its whole JSON body
fn codex_error(message: &str, provider: Provider) -> CliError {
    let message = message
        .strip_prefix("Reconnecting... ")
        .and_then(|m| {
            m.split_once(" (")
                .map(|(_, rest)| rest.trim_end_matches(')'))
        })
        .unwrap_or(message);
    let llm = if let Some(rest) = message.strip_prefix("unexpected status ") {
        let (status, body) = status_and_rest(rest);
        let body = body.split(", url: ").next().unwrap_or(body);
        let body = body.split_once(": ").map_or(body, |(_, b)| b);
        Some(classify(status, body, provider))
    } else if let Some(rest) = message
        .find("last status: ")
        .map(|i| &message[i + "last status: ".len()..])
    {
        let (status, _) = status_and_rest(rest);
        Some(classify(status, message, provider))
    } else if message.starts_with("Quota exceeded") {
        let body = json!({"error": {"code": "insufficient_quota", "message": message}});
        Some(classify(429, &body.to_string(), provider))
    } else if message.trim_start().starts_with('{') {
        // The provider's error body, verbatim (when Codex could not word it).
        Some(classify(0, message, provider))
    } else if message.contains("experiencing high demand") {
        Some(classify(503, "overloaded: high demand", provider))
    } else {
        return from_words(message, provider);
    };
    CliError {
        message: clean(message),
        llm,
    }
}

/// `429 Too Many Requests: rest` → (429, "Too Many Requests: rest").
fn status_and_rest(s: &str) -> (u16, &str) {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let status = s[..digits].parse().unwrap_or(0);
    (status, s[digits..].trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_llm::{Api, LlmError, Route};

    const P: Provider = Provider::new(Api::OpenAi, Route::Direct);

    #[test]
    fn a_run_without_a_turn_end_reports_its_last_error_or_that_it_stopped() {
        let run = parse(b"{\"type\":\"thread.started\",\"thread_id\":\"t\"}\n{\"type\":\"turn.started\"}\n{\"type\":\"item.comp", P);
        assert_eq!(run.session_id.as_deref(), Some("t"));
        let e = run.error.unwrap();
        assert_eq!(e.llm, None);
        assert!(e.message.contains("without completing"));

        let run = parse(
            br#"{"type":"error","message":"Reconnecting... 2/5 (exceeded retry limit, last status: 429 Too Many Requests, request id: r)"}"#,
            P,
        );
        assert!(matches!(
            run.error.unwrap().llm,
            Some(LlmError::RateLimited { .. })
        ));
    }

    #[test]
    fn codex_wordings_classify() {
        let cases = [
            ("unexpected status 401 Unauthorized: Incorrect API key provided: x, url: http://h/v1/responses", true),
            ("unexpected status 402 Payment Required: Insufficient funds., url: http://h", true),
            ("Quota exceeded. Check your plan and billing details.", true),
            ("You've hit your usage limit. Upgrade to Pro or try again in 2 days.", true),
            ("exceeded retry limit, last status: 500 Internal Server Error", false),
            ("We’re currently experiencing high demand, which may cause temporary errors.", false),
            ("stream disconnected before completion", false),
            (r#"{"error":{"message":"Your credit balance is too low","type":"invalid_request_error"}}"#, true),
            ("unexpected status", false),
            ("unexpected status 99999999999999999999 x", false),
        ];
        for (m, stops) in cases {
            assert_eq!(codex_error(m, P).stops_run(), stops, "{m}");
        }
        assert!(matches!(
            codex_error(
                "We’re currently experiencing high demand, which may cause temporary errors.",
                P
            )
            .llm,
            Some(LlmError::Overloaded { .. })
        ));
    }
}
