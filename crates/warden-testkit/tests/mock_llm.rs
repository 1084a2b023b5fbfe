//! The mock LLM over plain HTTP: every wire, JSON and SSE, errors, malformed
//! output, recording.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use warden_testkit::mock_llm::{
    ErrorKind, Malformed, MockLlm, Script, ToolCall, Turn, Usage, ANTHROPIC_CREDIT_MESSAGE,
    DEFAULT_FINAL_TEXT, OPENAI_QUOTA_MESSAGE,
};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// `(event name or "", data)` for each SSE event of a body.
fn sse(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                } else {
                    panic!("not an SSE line: {line:?}");
                }
            }
            (name, data)
        })
        .collect()
}

fn sse_json(body: &str) -> Vec<(String, Value)> {
    sse(body)
        .into_iter()
        .filter(|(_, d)| d != "[DONE]")
        .map(|(n, d)| {
            let v: Value = serde_json::from_str(&d).unwrap_or_else(|e| panic!("{d}: {e}"));
            (n, v)
        })
        .collect()
}

async fn post(url: String, body: Value) -> reqwest::Response {
    client()
        .post(url)
        .header("x-api-key", "test")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn anthropic_json_text_with_usage() {
    let mock = MockLlm::start(Script::new(vec![
        Turn::text("Hello there").with_usage(Usage::new(100, 20).with_cache(30, 40))
    ]))
    .await;
    let r = post(
        format!("{}/v1/messages", mock.url()),
        json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-sonnet-4-5");
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "Hello there"}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"]["input_tokens"], 100);
    assert_eq!(v["usage"]["output_tokens"], 20);
    assert_eq!(v["usage"]["cache_creation_input_tokens"], 30);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 40);
}

#[tokio::test]
async fn anthropic_sse_text_and_tool_use_follow_the_real_event_sequence() {
    let input = json!({"file_path": "/tmp/some file.txt", "limit": 20});
    let mock = MockLlm::start(Script::new(vec![Turn::text("Let me read it.")
        .with_tool_call("Read", input.clone())
        .with_usage(Usage::new(11, 22))]))
    .await;
    let r = post(
        format!("{}/v1/messages?beta=true", mock.url()),
        json!({"model": "claude-opus-4-8", "stream": true, "max_tokens": 100, "messages": []}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse_json(&r.text().await.unwrap());
    for (name, data) in &events {
        assert_eq!(
            name,
            data["type"].as_str().unwrap(),
            "event name = data.type"
        );
    }
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let mut dedup = names.clone();
    dedup.dedup();
    assert_eq!(
        dedup,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[0].1["message"]["model"], "claude-opus-4-8");
    assert_eq!(events[0].1["message"]["usage"]["input_tokens"], 11);
    let text: String = events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "text_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Let me read it.");
    let tool_start = events
        .iter()
        .find(|(_, d)| d["content_block"]["type"] == "tool_use")
        .unwrap();
    assert_eq!(tool_start.1["index"], 1);
    assert_eq!(tool_start.1["content_block"]["name"], "Read");
    assert!(tool_start.1["content_block"]["id"]
        .as_str()
        .unwrap()
        .starts_with("toolu_"));
    let partial: String = events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "input_json_delta")
        .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&partial).unwrap(), input);
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 22);
}

#[tokio::test]
async fn preflight_and_count_tokens_answer_without_consuming_turns() {
    let mock = MockLlm::start(Script::new(vec![Turn::text("first")])).await;
    let c = client();
    let head = c.head(format!("{}/", mock.url())).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let get = c.get(mock.url()).send().await.unwrap();
    assert_eq!(get.status(), 200);
    let count = post(
        format!("{}/v1/messages/count_tokens", mock.url()),
        json!({"model": "m", "messages": [{"role": "user", "content": "hello world, count me"}]}),
    )
    .await;
    assert_eq!(count.status(), 200);
    let v: Value = count.json().await.unwrap();
    assert!(v["input_tokens"].as_u64().unwrap() > 0);
    let missing = c
        .get(format!("{}/v1/nothing", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(mock.turns_served(), 0);
    let r: Value = post(format!("{}/v1/messages", mock.url()), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["content"][0]["text"], "first");
}

#[tokio::test]
async fn responses_sse_function_call_and_text() {
    let args = json!({"cmd": "cat /tmp/x", "yield_time_ms": 1000});
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_call("exec_command", args.clone())
            .with_usage(Usage::new(50, 10).with_cache(0, 25).with_reasoning(5)),
        Turn::text("all done"),
    ]))
    .await;
    let url = format!("{}/responses", mock.openai_base_url());
    let r = client()
        .post(&url)
        .bearer_auth("test")
        .json(&json!({"model": "gpt-5.5", "stream": true, "input": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = sse_json(&r.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let mut dedup = names.clone();
    dedup.dedup();
    assert_eq!(
        dedup,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(name, data["type"].as_str().unwrap());
        assert_eq!(data["sequence_number"], i);
    }
    let delta: String = events
        .iter()
        .filter(|(n, _)| n == "response.function_call_arguments.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&delta).unwrap(), args);
    let done_item = &events[events.len() - 2].1["item"];
    assert_eq!(done_item["type"], "function_call");
    assert_eq!(done_item["name"], "exec_command");
    assert!(done_item["call_id"].as_str().unwrap().starts_with("call_"));
    let completed = &events.last().unwrap().1["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["usage"]["input_tokens"], 75);
    assert_eq!(
        completed["usage"]["input_tokens_details"]["cached_tokens"],
        25
    );
    assert_eq!(completed["usage"]["output_tokens"], 15);
    assert_eq!(
        completed["usage"]["output_tokens_details"]["reasoning_tokens"],
        5
    );

    let r = client()
        .post(&url)
        .json(&json!({"model": "gpt-5.5", "stream": true, "input": []}))
        .send()
        .await
        .unwrap();
    let events = sse_json(&r.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "all done");
}

#[tokio::test]
async fn responses_json() {
    let mock = MockLlm::start(Script::new(vec![
        Turn::text("answer").with_tool_call("shell", json!({"command": ["ls"]}))
    ]))
    .await;
    let v: Value = client()
        .post(format!("{}/responses", mock.openai_base_url()))
        .json(&json!({"model": "gpt-5.5", "input": "hi"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["output"][0]["type"], "message");
    assert_eq!(v["output"][0]["content"][0]["text"], "answer");
    assert_eq!(v["output"][1]["type"], "function_call");
    assert_eq!(v["output"][1]["arguments"], r#"{"command":["ls"]}"#);
    assert_eq!(v["usage"]["input_tokens"], 10);
}

#[tokio::test]
async fn chat_completions_sse_and_json() {
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_calls(vec![
            ToolCall::new("get_weather", json!({"city": "Paris"})).with_id("call_a"),
            ToolCall::new("get_time", json!({"tz": "CET"})),
        ])
        .with_usage(Usage::new(9, 3)),
        Turn::text("It is sunny."),
    ]))
    .await;
    let url = format!("{}/chat/completions", mock.openai_base_url());
    let body = client()
        .post(&url)
        .json(&json!({"model": "gpt-4o", "stream": true, "messages": []}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let raw = sse(&body);
    assert!(raw.iter().all(|(n, _)| n.is_empty()), "no event names");
    assert_eq!(raw.last().unwrap().1, "[DONE]");
    let chunks = sse_json(&body);
    assert!(chunks
        .iter()
        .all(|(_, c)| c["object"] == "chat.completion.chunk"));
    let mut args = [String::new(), String::new()];
    for (_, c) in &chunks {
        if let Some(calls) = c["choices"][0]["delta"]["tool_calls"].as_array() {
            for call in calls {
                let i = call["index"].as_u64().unwrap() as usize;
                args[i].push_str(call["function"]["arguments"].as_str().unwrap());
            }
        }
    }
    assert_eq!(args[0], r#"{"city":"Paris"}"#);
    assert_eq!(args[1], r#"{"tz":"CET"}"#);
    let first_call = chunks
        .iter()
        .find(|(_, c)| c["choices"][0]["delta"]["tool_calls"][0]["id"].is_string())
        .unwrap();
    assert_eq!(
        first_call.1["choices"][0]["delta"]["tool_calls"][0]["id"],
        "call_a"
    );
    let finish = &chunks[chunks.len() - 2].1;
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    let usage = &chunks.last().unwrap().1;
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 9);
    assert_eq!(usage["usage"]["completion_tokens"], 3);

    let v: Value = client()
        .post(&url)
        .json(&json!({"model": "gpt-4o", "messages": []}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "It is sunny.");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["total_tokens"], 17);
}

#[tokio::test]
async fn every_error_class_has_the_providers_status_and_body() {
    let cases: Vec<(ErrorKind, &str, u16, &str, &str)> = vec![
        (
            ErrorKind::AnthropicCreditBalanceTooLow,
            "/v1/messages",
            400,
            "/error/type",
            "invalid_request_error",
        ),
        (
            ErrorKind::AnthropicAuthentication,
            "/v1/messages",
            401,
            "/error/type",
            "authentication_error",
        ),
        (
            ErrorKind::AnthropicRateLimit {
                retry_after_secs: 7,
            },
            "/v1/messages",
            429,
            "/error/type",
            "rate_limit_error",
        ),
        (
            ErrorKind::AnthropicOverloaded,
            "/v1/messages",
            529,
            "/error/type",
            "overloaded_error",
        ),
        (
            ErrorKind::AnthropicPromptTooLong,
            "/v1/messages",
            400,
            "/error/type",
            "invalid_request_error",
        ),
        (
            ErrorKind::OpenaiInsufficientQuota,
            "/v1/responses",
            429,
            "/error/code",
            "insufficient_quota",
        ),
        (
            ErrorKind::OpenaiRateLimit {
                retry_after_secs: 3,
            },
            "/v1/chat/completions",
            429,
            "/error/code",
            "rate_limit_exceeded",
        ),
        (
            ErrorKind::OpenaiInvalidApiKey,
            "/v1/responses",
            401,
            "/error/code",
            "invalid_api_key",
        ),
        (
            ErrorKind::OpenaiContextLengthExceeded,
            "/v1/chat/completions",
            400,
            "/error/code",
            "context_length_exceeded",
        ),
        (
            ErrorKind::GatewayInsufficientFunds,
            "/v1/messages",
            402,
            "/error/type",
            "insufficient_funds",
        ),
        (
            ErrorKind::ServerError,
            "/v1/messages",
            500,
            "/error/type",
            "api_error",
        ),
        (
            ErrorKind::ServerError,
            "/v1/responses",
            500,
            "/error/type",
            "server_error",
        ),
        (
            ErrorKind::Custom {
                status: 403,
                body: json!({"error": {"type": "permission_error"}}),
                headers: vec![("x-custom".into(), "1".into())],
            },
            "/v1/messages",
            403,
            "/error/type",
            "permission_error",
        ),
    ];
    let turns = cases.iter().map(|c| Turn::error(c.0.clone())).collect();
    let mock = MockLlm::start(Script::new(turns)).await;
    for (kind, path, status, pointer, expected) in &cases {
        let r = post(
            format!("{}{path}", mock.url()),
            json!({"model": "m", "stream": true}),
        )
        .await;
        assert_eq!(r.status().as_u16(), *status, "{kind:?}");
        let headers = r.headers().clone();
        let v: Value = r.json().await.unwrap();
        assert_eq!(v.pointer(pointer).unwrap(), expected, "{kind:?}: {v}");
        match kind {
            ErrorKind::AnthropicCreditBalanceTooLow => {
                assert_eq!(v["type"], "error");
                assert_eq!(v["error"]["message"], ANTHROPIC_CREDIT_MESSAGE);
                assert!(ANTHROPIC_CREDIT_MESSAGE.contains("credit balance is too low"));
            }
            ErrorKind::AnthropicRateLimit { .. } => assert_eq!(headers["retry-after"], "7"),
            ErrorKind::OpenaiRateLimit { .. } => assert_eq!(headers["retry-after"], "3"),
            ErrorKind::OpenaiInsufficientQuota => {
                assert_eq!(v["error"]["type"], "insufficient_quota");
                assert_eq!(v["error"]["message"], OPENAI_QUOTA_MESSAGE);
            }
            ErrorKind::AnthropicOverloaded => assert_eq!(v["error"]["message"], "Overloaded"),
            ErrorKind::Custom { .. } => assert_eq!(headers["x-custom"], "1"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn malformed_output_broken_sse_invalid_tool_json_truncated() {
    let mock = MockLlm::start(Script::new(vec![
        Turn::malformed(Malformed::BrokenSse),
        Turn::tool_call("Read", json!({"file_path": "/x"}))
            .with_malformed(Malformed::InvalidToolJson),
        Turn::malformed(Malformed::InvalidToolJson),
        Turn::malformed(Malformed::TruncatedStream),
        Turn::malformed(Malformed::TruncatedStream),
        Turn::malformed(Malformed::BrokenSse),
    ]))
    .await;
    let url = format!("{}/v1/messages", mock.url());
    let stream = json!({"model": "m", "stream": true});

    // Broken SSE: a data line that is not JSON and a line that is not SSE.
    let body = post(url.clone(), stream.clone())
        .await
        .text()
        .await
        .unwrap();
    assert!(body.starts_with("event: message_start\n"));
    assert!(body.contains("\"text_de\n"));
    assert!(body.contains("this line is not server-sent events"));
    assert!(!body.contains("message_stop"));

    // Invalid tool JSON, streamed and as JSON.
    let events = sse_json(
        &post(url.clone(), stream.clone())
            .await
            .text()
            .await
            .unwrap(),
    );
    let partial: String = events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "input_json_delta")
        .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert!(partial.starts_with("{\"file_path\""));
    assert!(serde_json::from_str::<Value>(&partial).is_err());
    let r = client()
        .post(format!("{}/chat/completions", mock.openai_base_url()))
        .json(&json!({"model": "m"}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let args = v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap();
    assert!(serde_json::from_str::<Value>(args).is_err());

    // Truncated: the body ends with an error after some bytes, streamed and JSON.
    let r = post(url.clone(), stream.clone()).await;
    assert_eq!(r.status(), 200);
    let mut r = r;
    let mut got = Vec::new();
    let err = loop {
        match r.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert!(err.is_some(), "a truncated stream must end in an error");
    let got = String::from_utf8(got).unwrap();
    assert!(got.starts_with("event: message_start"), "{got}");
    assert!(!got.contains("message_stop"));
    let r = client()
        .post(format!("{}/responses", mock.openai_base_url()))
        .json(&json!({"model": "m"}))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.is_err());

    // Broken JSON body with a 200.
    let r = client()
        .post(format!("{}/responses", mock.openai_base_url()))
        .json(&json!({"model": "m"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(serde_json::from_str::<Value>(&r.text().await.unwrap()).is_err());
}

#[tokio::test]
async fn script_exhaustion_delay_and_recording() {
    let mock = MockLlm::start(
        Script::new(vec![
            Turn::text("slow").with_delay(Duration::from_millis(300))
        ])
        .with_final_text("THE END"),
    )
    .await;
    let started = Instant::now();
    let v: Value = client()
        .post(format!("{}/v1/messages?beta=true", mock.url()))
        .header("x-api-key", "k-123")
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "one"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(v["content"][0]["text"], "slow");
    for _ in 0..2 {
        let v: Value = post(format!("{}/v1/messages", mock.url()), json!({"model": "m"}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["content"][0]["text"], "THE END");
    }
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/v1/messages");
    assert_eq!(reqs[0].query.as_deref(), Some("beta=true"));
    assert_eq!(reqs[0].header("X-Api-Key"), Some("k-123"));
    assert_eq!(reqs[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(reqs[0].body["messages"][0]["content"], "one");
    assert!(reqs[0].body_contains("\"one\""));
    assert_eq!(
        reqs.iter().map(|r| r.turn).collect::<Vec<_>>(),
        [Some(0), Some(1), Some(2)]
    );
    assert_eq!(mock.generation_requests().len(), 3);
    assert_eq!(mock.turns_served(), 3);
}

#[test]
fn blocking_start_serves_sync_tests_over_a_raw_tcp_stream() {
    let mock = MockLlm::start_blocking(Script::default());
    let mut s = std::net::TcpStream::connect(mock.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = r#"{"model":"m","messages":[]}"#;
    write!(
        s,
        "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains(DEFAULT_FINAL_TEXT));
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(mock.requests()[0].body["model"], "m");
}

#[test]
fn scripts_round_trip_through_json() {
    let script = Script::new(vec![
        Turn::text("a").with_usage(Usage::new(1, 2).with_reasoning(3)),
        Turn::tool_call("Read", json!({"file_path": "/x"})),
        Turn::error(ErrorKind::AnthropicRateLimit {
            retry_after_secs: 5,
        }),
        Turn::malformed(Malformed::TruncatedStream).with_delay(Duration::from_millis(10)),
    ])
    .with_final_text("bye");
    let text = serde_json::to_string(&script).unwrap();
    assert_eq!(Script::from_json(&text).unwrap(), script);
    let hand = Script::from_json(
        r#"{"turns": [{"text": "hi"}, {"error": {"kind": "openai_insufficient_quota"}},
                      {"tool_calls": [{"name": "shell", "input": {"command": ["ls"]}}], "malformed": "invalid_tool_json"}]}"#,
    )
    .unwrap();
    assert_eq!(hand.turns.len(), 3);
    assert_eq!(hand.final_text, DEFAULT_FINAL_TEXT);
    assert_eq!(
        hand.turns[1].error,
        Some(ErrorKind::OpenaiInsufficientQuota)
    );
}

#[tokio::test]
async fn errors_mid_stream_follow_each_wire() {
    let mock = MockLlm::start(Script::new(vec![
        Turn::error_mid_stream(ErrorKind::AnthropicOverloaded),
        Turn::error_mid_stream(ErrorKind::OpenaiInsufficientQuota),
        Turn::error_mid_stream(ErrorKind::ServerError),
        Turn::error_mid_stream(ErrorKind::AnthropicOverloaded),
    ]))
    .await;
    let stream = json!({"model": "m", "stream": true});
    let r = post(format!("{}/v1/messages", mock.url()), stream.clone()).await;
    assert_eq!(r.status(), 200);
    let events = sse_json(&r.text().await.unwrap());
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].0, "message_start");
    assert_eq!(events[1].0, "error");
    assert_eq!(events[1].1["error"]["type"], "overloaded_error");

    let r = post(
        format!("{}/responses", mock.openai_base_url()),
        stream.clone(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let events = sse_json(&r.text().await.unwrap());
    assert_eq!(events[0].0, "response.created");
    let failed = &events.last().unwrap().1;
    assert_eq!(failed["type"], "response.failed");
    assert_eq!(failed["response"]["status"], "failed");
    assert_eq!(failed["response"]["error"]["code"], "insufficient_quota");

    let r = post(
        format!("{}/chat/completions", mock.openai_base_url()),
        stream,
    )
    .await;
    let events = sse_json(&r.text().await.unwrap());
    assert_eq!(events[0].1["object"], "chat.completion.chunk");
    assert_eq!(events.last().unwrap().1["error"]["type"], "server_error");

    // Not streaming: the plain error response.
    let r = post(format!("{}/v1/messages", mock.url()), json!({"model": "m"})).await;
    assert_eq!(r.status(), 529);
}
