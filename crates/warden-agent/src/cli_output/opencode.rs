//! `opencode run --format json`.
//!
//! Events (each with `sessionID`): `step_start`, `text` (`part.text`),
//! `tool_use` (`part.tool`, `part.state` with `input` and `output` or
//! `error`), `step_finish` (`part.reason`, `part.tokens`), and `error`
//! (`error.name`, `error.data` with `message`, `statusCode`, `responseBody`
//! for an API error).
//!
//! Calls: one per step (`step_finish`), without a model name (the model is
//! the one Warden configured). Its `tokens.input` excludes cached tokens and
//! `tokens.output` excludes reasoning, which is added back here (reasoning is
//! priced as output).

use serde_json::Value;
use warden_llm::{Provider, Usage};

use super::{classify, clean, count, events, from_words, str_of, CliCall, CliError, CliRun};

/// Parses `opencode run --format json` output (see the module doc).
pub fn parse(stdout: &[u8], provider: Provider) -> CliRun {
    let mut run = CliRun::default();
    let mut last_text: Option<String> = None;
    let mut finished = false;
    for ev in events(stdout) {
        let ev = Value::Object(ev);
        if run.session_id.is_none() {
            run.session_id = str_of(&ev, "sessionID").map(str::to_string);
        }
        let part = &ev["part"];
        match str_of(&ev, "type").unwrap_or_default() {
            "text" => {
                if let Some(t) = str_of(part, "text").filter(|t| !t.trim().is_empty()) {
                    last_text = Some(t.to_string());
                }
            }
            "step_finish" => {
                run.turns = run.turns.saturating_add(1);
                let t = &part["tokens"];
                let reasoning = count(t, "/reasoning");
                run.calls.push(CliCall {
                    model: None,
                    usage: Usage {
                        input: count(t, "/input"),
                        output: count(t, "/output").saturating_add(reasoning),
                        cache_write: count(t, "/cache/write"),
                        cache_read: count(t, "/cache/read"),
                        reasoning,
                    },
                });
                finished = str_of(part, "reason").is_some_and(|r| r != "tool-calls");
            }
            "error" => run.error = Some(api_error(&ev["error"], provider)),
            _ => {}
        }
    }
    if run.error.is_none() && !finished {
        run.error = Some(CliError::agent(
            "OpenCode stopped before its last step finished (killed, crashed, or its output was cut short)",
        ));
    }
    if run.error.is_none() {
        run.final_text = last_text;
    }
    run
}

/// An `error` event: an `APIError` carries the status and the provider's body;
/// anything else only words.
fn api_error(err: &Value, provider: Provider) -> CliError {
    let data = &err["data"];
    let message = str_of(data, "message")
        .or_else(|| str_of(err, "message"))
        .or_else(|| str_of(err, "name"))
        .unwrap_or("OpenCode reported an error")
        .to_string();
    match data.get("statusCode").and_then(Value::as_u64) {
        Some(status) => {
            let status = status.min(u64::from(u16::MAX)) as u16;
            let body = str_of(data, "responseBody").unwrap_or(&message);
            CliError {
                llm: Some(classify(status, body, provider)),
                message: clean(&message),
            }
        }
        None => from_words(&message, provider),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_llm::{Api, LlmError, Route};

    const P: Provider = Provider::new(Api::OpenAi, Route::Direct);

    #[test]
    fn steps_are_calls_and_reasoning_counts_as_output() {
        let out = br#"{"type":"step_start","sessionID":"ses_1","part":{}}
{"type":"text","sessionID":"ses_1","part":{"text":"done"}}
{"type":"step_finish","sessionID":"ses_1","part":{"reason":"stop","tokens":{"input":100,"output":20,"reasoning":8,"cache":{"write":0,"read":30}}}}"#;
        let run = parse(out, P);
        assert_eq!(run.session_id.as_deref(), Some("ses_1"));
        assert_eq!(run.turns, 1);
        let u = run.calls[0].usage;
        assert_eq!(
            (u.input, u.output, u.cache_read, u.reasoning),
            (100, 28, 30, 8)
        );
        assert_eq!(run.final_text.as_deref(), Some("done"));
        assert_eq!(run.error, None);
    }

    #[test]
    fn a_run_cut_after_a_tool_step_or_with_a_bare_error_is_failed() {
        let out = br#"{"type":"step_finish","sessionID":"s","part":{"reason":"tool-calls","tokens":{"input":1}}}"#;
        let e = parse(out, P).error.unwrap();
        assert_eq!(e.llm, None);
        let out = br#"{"type":"error","sessionID":"s","error":{"name":"UnknownError","data":{"message":"Invalid API key"}}}"#;
        assert!(matches!(
            parse(out, P).error.unwrap().llm,
            Some(LlmError::Auth { .. })
        ));
        assert!(parse(b"", P).error.is_some());
    }
}
