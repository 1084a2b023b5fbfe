//! Claude Code `-p --output-format stream-json --verbose`.
//!
//! Events: `system/init` (session id, model), `assistant` (one per content
//! block, with the message id, model and usage as of `message_start`),
//! `user` (tool results), `system/api_retry`, and a final `result` (`num_turns`,
//! `result` text, `is_error`, `api_error_status`, `modelUsage` per model).
//!
//! Calls: one per assistant message. Its input and cache figures are exact,
//! but the stream carries only the output count known when the message
//! started, so the result's exact per-model totals are reconciled into the
//! calls: each model's missing output goes to its last call, and tokens spent
//! on calls the stream did not show (say, compaction) become one more call.
//! The sum of the calls is then exactly `modelUsage`. Without a `result` (the
//! CLI was killed) the calls are what the stream showed, a lower bound.
//!
//! Errors: an API error ends the run with a synthetic assistant message
//! (`model: "<synthetic>"`, an `error` tag such as `billing_error`,
//! `authentication_failed`, `rate_limit`, `server_error`) and a `result` with
//! `is_error: true` and `api_error_status`.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use warden_llm::{CreditSource, LlmError, Provider, Usage};

use super::{classify, clean, count, events, from_words, str_of, CliCall, CliError, CliRun};

const SYNTHETIC: &str = "<synthetic>";

/// Parses Claude Code's stream-json output (see the module doc).
pub fn parse(stdout: &[u8], provider: Provider) -> CliRun {
    let mut run = CliRun::default();
    let mut calls: Vec<(String, CliCall)> = Vec::new();
    let mut last_text: Option<String> = None;
    let mut error_tag: Option<String> = None;
    let mut last_retry: Option<(u16, String)> = None;
    let mut result: Option<Value> = None;

    for ev in events(stdout) {
        let ev = Value::Object(ev);
        if run.session_id.is_none() {
            run.session_id = str_of(&ev, "session_id").map(str::to_string);
        }
        match (str_of(&ev, "type"), str_of(&ev, "subtype")) {
            (Some("system"), Some("init")) => {
                run.model = str_of(&ev, "model").map(str::to_string);
            }
            (Some("system"), Some("api_retry")) => {
                let status = count(&ev, "/error_status").min(u64::from(u16::MAX)) as u16;
                let tag = str_of(&ev, "error").unwrap_or_default().to_string();
                last_retry = Some((status, tag));
            }
            (Some("assistant"), _) => {
                let msg = &ev["message"];
                let model = str_of(msg, "model").unwrap_or_default();
                if model == SYNTHETIC || ev.get("error").is_some_and(Value::is_string) {
                    error_tag = str_of(&ev, "error").map(str::to_string);
                    last_text = None;
                    continue;
                }
                if let Some(text) = texts(msg) {
                    last_text = Some(text);
                }
                let id = str_of(msg, "id").unwrap_or_default().to_string();
                if id.is_empty() || !calls.iter().any(|(seen, _)| *seen == id) {
                    calls.push((
                        id,
                        CliCall {
                            model: (!model.is_empty()).then(|| model.to_string()),
                            usage: message_usage(&msg["usage"]),
                        },
                    ));
                }
            }
            (Some("result"), _) => result = Some(ev),
            _ => {}
        }
    }

    let mut calls: Vec<CliCall> = calls.into_iter().map(|(_, c)| c).collect();
    run.turns = u32::try_from(calls.len()).unwrap_or(u32::MAX);
    match &result {
        Some(r) => {
            if let Some(n) = r.get("num_turns").and_then(Value::as_u64) {
                run.turns = u32::try_from(n).unwrap_or(u32::MAX);
            }
            if let Some(per_model) = r.get("modelUsage").and_then(Value::as_object) {
                reconcile(&mut calls, per_model);
            }
            let is_error = r.get("is_error").and_then(Value::as_bool).unwrap_or(false)
                || str_of(r, "subtype").is_some_and(|s| s != "success");
            if is_error {
                run.error = Some(result_error(r, error_tag.as_deref(), provider));
            } else {
                run.final_text = str_of(r, "result")
                    .map(str::to_string)
                    .filter(|t| !t.trim().is_empty())
                    .or(last_text);
            }
        }
        None => {
            run.final_text = None;
            run.error = Some(match last_retry {
                Some((status, tag)) => {
                    let message = format!(
                        "Claude Code stopped without a result while retrying an API error (HTTP {status}, {tag})"
                    );
                    CliError {
                        llm: Some(api_error(status, Some(&tag), &message, provider)),
                        message,
                    }
                }
                None => CliError::agent(
                    "Claude Code stopped without a result event (killed, crashed, or its output was cut short)",
                ),
            });
        }
    }
    run.calls = calls;
    run
}

/// The text blocks of an assistant message, joined; None when it has none.
fn texts(msg: &Value) -> Option<String> {
    let text: String = msg["content"]
        .as_array()?
        .iter()
        .filter(|b| str_of(b, "type") == Some("text"))
        .filter_map(|b| str_of(b, "text"))
        .collect();
    (!text.trim().is_empty()).then_some(text)
}

fn message_usage(u: &Value) -> Usage {
    Usage {
        input: count(u, "/input_tokens"),
        output: count(u, "/output_tokens"),
        cache_write: count(u, "/cache_creation_input_tokens"),
        cache_read: count(u, "/cache_read_input_tokens"),
        reasoning: count(u, "/output_tokens_details/thinking_tokens"),
    }
}

/// Makes the calls add up to the result's exact per-model totals.
fn reconcile(calls: &mut Vec<CliCall>, per_model: &serde_json::Map<String, Value>) {
    // BTreeMap: a stable order for the extra calls.
    let totals: BTreeMap<&str, Usage> = per_model
        .iter()
        .map(|(model, u)| {
            (
                model.as_str(),
                Usage {
                    input: count(u, "/inputTokens"),
                    output: count(u, "/outputTokens"),
                    cache_write: count(u, "/cacheCreationInputTokens"),
                    cache_read: count(u, "/cacheReadInputTokens"),
                    reasoning: count(u, "/thinkingTokens"),
                },
            )
        })
        .collect();
    for (model, total) in totals {
        let mut seen = Usage::default();
        for c in calls.iter().filter(|c| c.model.as_deref() == Some(model)) {
            seen.add(&c.usage);
        }
        let missing = Usage {
            input: total.input.saturating_sub(seen.input),
            output: total.output.saturating_sub(seen.output),
            cache_write: total.cache_write.saturating_sub(seen.cache_write),
            cache_read: total.cache_read.saturating_sub(seen.cache_read),
            reasoning: total.reasoning.saturating_sub(seen.reasoning),
        };
        let mut rest = missing;
        // The output the stream could not show belongs to the calls it saw.
        if let Some(c) = calls
            .iter_mut()
            .rev()
            .find(|c| c.model.as_deref() == Some(model))
        {
            c.usage.output = c.usage.output.saturating_add(missing.output);
            c.usage.reasoning = c.usage.reasoning.saturating_add(missing.reasoning);
            rest.output = 0;
            rest.reasoning = 0;
        }
        if rest != Usage::default() {
            calls.push(CliCall {
                model: Some(model.to_string()),
                usage: rest,
            });
        }
    }
}

/// The error a `result` with `is_error` reports.
fn result_error(r: &Value, tag: Option<&str>, provider: Provider) -> CliError {
    let status = r
        .get("api_error_status")
        .and_then(Value::as_u64)
        .map(|s| s.min(u64::from(u16::MAX)) as u16);
    let words = match str_of(r, "result") {
        Some(t) if !t.trim().is_empty() => t.to_string(),
        _ => {
            // error_max_turns / error_during_execution carry `errors` instead.
            let errors: Vec<&str> = r
                .get("errors")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let subtype = str_of(r, "subtype").unwrap_or("error");
            if errors.is_empty() {
                format!("Claude Code ended with {subtype}")
            } else {
                format!("Claude Code ended with {subtype}: {}", errors.join("; "))
            }
        }
    };
    match (status, tag) {
        (None, None) => from_words(&words, provider),
        (status, tag) => CliError {
            llm: Some(api_error(status.unwrap_or(0), tag, &words, provider)),
            message: clean(&words),
        },
    }
}

/// An API error from Claude Code's status and tag, classified like the HTTP
/// error it stands for.
fn api_error(status: u16, tag: Option<&str>, words: &str, provider: Provider) -> LlmError {
    let lower = words.to_ascii_lowercase();
    // A subscription's own cap ("You've hit your limit · resets 3pm"), which the
    // API reports as a 429.
    if lower.contains("hit your limit") || lower.contains("usage limit reached") {
        return LlmError::CreditsExhausted {
            origin: CreditSource::ClaudeSubscription,
            message: clean(words),
        };
    }
    let etype = match tag.unwrap_or_default() {
        "billing_error" => "billing_error",
        "authentication_failed" => "authentication_error",
        "rate_limit" => "rate_limit_error",
        "server_error" if status == 529 => "overloaded_error",
        "server_error" => "api_error",
        "invalid_request" => "invalid_request_error",
        _ => "",
    };
    let body = json!({"type": "error", "error": {"type": etype, "message": words}});
    classify(status, &body.to_string(), provider)
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_llm::{Api, Route};

    const P: Provider = Provider::new(Api::Anthropic, Route::Direct);

    #[test]
    fn a_run_killed_mid_stream_keeps_its_calls_and_says_so() {
        let out = br#"{"type":"system","subtype":"init","session_id":"s1","model":"claude-x"}
{"type":"assistant","message":{"id":"m1","model":"claude-x","content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":10,"output_tokens":1}},"session_id":"s1"}
{"type":"assistant","message":{"id":"m1","model":"claude-x","content":[{"type":"tool_use","name":"Read","input":{}}],"usage":{"input_tokens":10,"output_tokens":1}},"session_id":"s1"}
{"type":"user","message":{"role":"user","content":[]}}
{"type":"assis"#;
        let run = parse(out, P);
        assert_eq!(run.session_id.as_deref(), Some("s1"));
        assert_eq!(run.model.as_deref(), Some("claude-x"));
        assert_eq!(run.turns, 1);
        assert_eq!(run.calls.len(), 1);
        assert_eq!(run.calls[0].usage.input, 10);
        assert_eq!(run.final_text, None);
        let e = run.error.unwrap();
        assert_eq!(e.llm, None);
        assert!(e.message.contains("without a result"), "{}", e.message);
    }

    #[test]
    fn totals_the_stream_never_showed_become_a_call() {
        let out = br#"{"type":"assistant","message":{"id":"m1","model":"a","usage":{"input_tokens":10,"output_tokens":1}}}
{"type":"result","subtype":"success","is_error":false,"num_turns":3,"result":"ok","modelUsage":{"a":{"inputTokens":30,"outputTokens":9,"cacheReadInputTokens":4},"b":{"inputTokens":5,"outputTokens":2}}}"#;
        let run = parse(out, P);
        let figures: Vec<(Option<&str>, u64, u64, u64)> = run
            .calls
            .iter()
            .map(|c| {
                (
                    c.model.as_deref(),
                    c.usage.input,
                    c.usage.output,
                    c.usage.cache_read,
                )
            })
            .collect();
        assert_eq!(
            figures,
            [
                (Some("a"), 10, 9, 0),
                (Some("a"), 20, 0, 4),
                (Some("b"), 5, 2, 0)
            ]
        );
        assert_eq!(run.turns, 3);
        assert_eq!(run.final_text.as_deref(), Some("ok"));
        assert_eq!(run.error, None);
    }

    #[test]
    fn turn_limits_and_subscription_caps() {
        let out = br#"{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":40,"errors":["Reached maximum number of turns (40)"]}"#;
        let e = parse(out, P).error.unwrap();
        assert_eq!(e.llm, None);
        assert!(
            e.message.contains("maximum number of turns"),
            "{}",
            e.message
        );

        let out = r#"{"type":"assistant","message":{"model":"<synthetic>","content":[{"type":"text","text":"You've hit your limit · resets 3pm"}]},"error":"rate_limit"}
{"type":"result","subtype":"success","is_error":true,"api_error_status":429,"result":"You've hit your limit · resets 3pm"}"#;
        let e = parse(
            out.as_bytes(),
            Provider::new(Api::Anthropic, Route::Subscription),
        )
        .error
        .unwrap();
        assert!(e.stops_run());
        assert!(matches!(
            e.llm,
            Some(LlmError::CreditsExhausted {
                origin: CreditSource::ClaudeSubscription,
                ..
            })
        ));
    }
}
