//! The OpenAI clients (Responses and Chat Completions) over real HTTP on loopback.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{reply, serve, sse};
use warden_creds::Secret;
use warden_llm::error::CreditSource;
use warden_llm::{
    collect, CancellationToken, ContentBlock, LlmError, Message, ModelClient, OpenAiClient,
    OpenAiConfig, OpenAiWire, Request, RetryPolicy, Role, Route, StopReason, SystemPrompt, Tool,
    Usage,
};

const KEY: &str = "sk-proj-TESTKEY-abcdefghijklmnopqrstuvwxyz012345";
const RESPONSES_STREAM: &str = include_str!("fixtures/openai_responses_stream.sse");
const CHAT_STREAM: &str = include_str!("fixtures/openai_chat_stream.sse");

fn client(base: &str, wire: OpenAiWire, key: Option<&str>) -> OpenAiClient {
    let mut cfg = OpenAiConfig::new(key.map(Secret::new), wire);
    cfg.base_url = format!("{base}/v1");
    cfg.timeout = Duration::from_secs(5);
    cfg.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    OpenAiClient::new(cfg).unwrap()
}

fn request() -> Request {
    let mut r = Request::new(
        "gpt-5.1-codex",
        vec![
            Message::user("Look at app.py"),
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentBlock::text("Reading."),
                    ContentBlock::ToolUse {
                        id: "call_0".into(),
                        name: "exec_command".into(),
                        input: json!({"cmd": "ls"}),
                    },
                ],
            },
            Message {
                role: Role::User,
                content: vec![ContentBlock::ToolResult {
                    tool_use_id: "call_0".into(),
                    content: "app.py".into(),
                    is_error: false,
                }],
            },
        ],
        2048,
    );
    r.system = Some(SystemPrompt {
        text: "You review code.".into(),
        cache: true,
    });
    r.tools = vec![Tool {
        name: "exec_command".into(),
        description: "Run a command".into(),
        input_schema: json!({"type": "object", "properties": {"cmd": {"type": "string"}}}),
    }];
    r
}

#[tokio::test]
async fn responses_json_shape_function_calls_and_usage() {
    let body = json!({
        "id": "resp_1", "object": "response", "status": "completed", "model": "gpt-5.1-codex",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "Let me run it.", "annotations": []}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "exec_command", "arguments": "{\"cmd\":\"cat app.py\"}"}
        ],
        "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40}, "output_tokens": 60, "output_tokens_details": {"reasoning_tokens": 32}, "total_tokens": 160}
    });
    let srv = serve(vec![reply(200, &[], &body.to_string())]).await;
    let resp = client(&srv.base, OpenAiWire::Responses, Some(KEY))
        .send(&request(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    assert_eq!(resp.text(), "Let me run it.");
    let calls: Vec<_> = resp.tool_uses().collect();
    assert_eq!(
        calls,
        [("call_9", "exec_command", &json!({"cmd": "cat app.py"}))]
    );
    assert_eq!(
        resp.usage,
        Usage {
            input: 60,
            output: 60,
            cache_write: 0,
            cache_read: 40,
            reasoning: 32
        }
    );
    let r = srv.requests.lock().unwrap()[0].clone();
    assert!(r.head.starts_with("POST /v1/responses "), "{}", r.head);
    assert_eq!(
        r.header("authorization").as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    let b = &r.body;
    assert_eq!(b["instructions"], "You review code.");
    assert_eq!(b["max_output_tokens"], 2048);
    assert_eq!(b["input"][0]["content"][0]["type"], "input_text");
    assert_eq!(b["input"][1]["content"][0]["type"], "output_text");
    assert_eq!(b["input"][2]["type"], "function_call");
    assert_eq!(b["input"][2]["arguments"], "{\"cmd\":\"ls\"}");
    assert_eq!(b["input"][3]["type"], "function_call_output");
    assert_eq!(b["input"][3]["call_id"], "call_0");
    assert_eq!(b["tools"][0]["type"], "function");
    assert_eq!(b["tools"][0]["parameters"]["type"], "object");
}

#[tokio::test]
async fn responses_stream_accumulates() {
    let srv = serve(vec![sse(RESPONSES_STREAM.as_bytes())]).await;
    let c = client(&srv.base, OpenAiWire::Responses, Some(KEY));
    let resp = collect(
        c.stream(&request(), &CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(resp.id, "resp_67ccd2bed1ec8190");
    assert_eq!(resp.text(), "Checking the file.");
    let calls: Vec<_> = resp.tool_uses().collect();
    assert_eq!(
        calls,
        [("call_abc123", "exec_command", &json!({"cmd": "cat app.py"}))]
    );
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    assert_eq!(
        resp.usage,
        Usage {
            input: 200,
            output: 300,
            cache_write: 0,
            cache_read: 1000,
            reasoning: 256
        }
    );
    assert_eq!(srv.requests.lock().unwrap()[0].body["stream"], true);
}

#[tokio::test]
async fn responses_stream_failures() {
    let quota = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"model\":\"m\"}}\n\nevent: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"id\":\"r\",\"status\":\"failed\",\"error\":{\"code\":\"insufficient_quota\",\"message\":\"You exceeded your current quota.\"}}}\n\n";
    let limit = "event: error\ndata: {\"type\":\"error\",\"code\":\"usage_limit_reached\",\"message\":\"You've hit your usage limit.\"}\n\n";
    let cut = &RESPONSES_STREAM[..RESPONSES_STREAM.find("event: response.completed").unwrap()];
    type Check = fn(&LlmError) -> bool;
    let cases: [(&str, Check); 3] = [
        (quota, |e| {
            matches!(
                e,
                LlmError::CreditsExhausted {
                    origin: CreditSource::OpenAi,
                    ..
                }
            )
        }),
        (limit, |e| {
            matches!(
                e,
                LlmError::CreditsExhausted {
                    origin: CreditSource::ChatGptSubscription,
                    ..
                }
            )
        }),
        (cut, |e| matches!(e, LlmError::MalformedResponse { .. })),
    ];
    for (body, want) in cases {
        let srv = serve(vec![sse(body.as_bytes())]).await;
        let c = client(&srv.base, OpenAiWire::Responses, Some(KEY));
        let e = collect(
            c.stream(&request(), &CancellationToken::new())
                .await
                .unwrap(),
        )
        .await
        .unwrap_err();
        assert!(want(&e), "{e:?}");
    }
}

#[tokio::test]
async fn chat_json_shape_tool_calls_and_usage() {
    let body = json!({
        "id": "chatcmpl-9", "object": "chat.completion", "model": "gpt-4.1-2025-04-14",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_7", "type": "function", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"id\"}"}}]}}],
        "usage": {"prompt_tokens": 80, "completion_tokens": 12, "total_tokens": 92, "prompt_tokens_details": {"cached_tokens": 64}, "completion_tokens_details": {"reasoning_tokens": 0}}
    });
    let srv = serve(vec![
        reply(200, &[], &body.to_string()),
        reply(200, &[], &body.to_string()),
    ])
    .await;
    let resp = client(&srv.base, OpenAiWire::ChatCompletions, Some(KEY))
        .send(&request(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    let calls: Vec<_> = resp.tool_uses().collect();
    assert_eq!(calls, [("call_7", "exec_command", &json!({"cmd": "id"}))]);
    assert_eq!(
        resp.usage,
        Usage {
            input: 16,
            output: 12,
            cache_write: 0,
            cache_read: 64,
            reasoning: 0
        }
    );
    let r = srv.requests.lock().unwrap()[0].clone();
    assert!(
        r.head.starts_with("POST /v1/chat/completions "),
        "{}",
        r.head
    );
    let m = &r.body["messages"];
    assert_eq!(
        m[0],
        json!({"role": "system", "content": "You review code."})
    );
    assert_eq!(m[1], json!({"role": "user", "content": "Look at app.py"}));
    assert_eq!(
        m[2]["tool_calls"][0]["function"]["arguments"],
        "{\"cmd\":\"ls\"}"
    );
    assert_eq!(
        m[3],
        json!({"role": "tool", "tool_call_id": "call_0", "content": "app.py"})
    );
    assert_eq!(r.body["max_completion_tokens"], 2048);
    assert_eq!(r.body["tools"][0]["function"]["name"], "exec_command");

    // A local server: no key, legacy max_tokens.
    let mut cfg = OpenAiConfig::new(None, OpenAiWire::ChatCompletions);
    cfg.base_url = format!("{}/v1/", srv.base);
    cfg.legacy_max_tokens = true;
    OpenAiClient::new(cfg)
        .unwrap()
        .send(&request(), &CancellationToken::new())
        .await
        .unwrap();
    let r = srv.requests.lock().unwrap()[1].clone();
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.body["max_tokens"], 2048);
    assert!(r.body.get("max_completion_tokens").is_none());
}

#[tokio::test]
async fn chat_stream_accumulates_and_requires_done() {
    let srv = serve(vec![sse(CHAT_STREAM.as_bytes())]).await;
    let c = client(&srv.base, OpenAiWire::ChatCompletions, Some(KEY));
    let resp = collect(
        c.stream(&request(), &CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(resp.text(), "Reading it.");
    let calls: Vec<_> = resp.tool_uses().collect();
    assert_eq!(calls, [("call_1", "read_file", &json!({"path": "a.py"}))]);
    assert_eq!(
        resp.usage,
        Usage {
            input: 40,
            output: 20,
            cache_write: 0,
            cache_read: 10,
            reasoning: 0
        }
    );
    let r = srv.requests.lock().unwrap()[0].clone();
    assert_eq!(r.body["stream_options"]["include_usage"], true);

    let cut = &CHAT_STREAM[..CHAT_STREAM.find("data: [DONE]").unwrap()];
    let srv = serve(vec![sse(cut.as_bytes())]).await;
    let c = client(&srv.base, OpenAiWire::ChatCompletions, Some(KEY));
    let e = collect(
        c.stream(&request(), &CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, LlmError::MalformedResponse { .. }), "{e:?}");
}

#[tokio::test]
async fn quota_errors_by_route_and_never_retried() {
    let body = r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
    for (route, want) in [
        (Route::Direct, CreditSource::OpenAi),
        (Route::Gateway, CreditSource::Gateway),
    ] {
        let srv = serve(vec![reply(429, &[], body), reply(429, &[], body)]).await;
        let mut cfg = OpenAiConfig::new(Some(Secret::new(KEY)), OpenAiWire::Responses);
        cfg.base_url = format!("{}/v1", srv.base);
        cfg.route = route;
        cfg.retry.base_delay = Duration::from_millis(1);
        let e = OpenAiClient::new(cfg)
            .unwrap()
            .send(&request(), &CancellationToken::new())
            .await
            .unwrap_err();
        assert_eq!(
            e,
            LlmError::CreditsExhausted {
                origin: want,
                message:
                    "You exceeded your current quota, please check your plan and billing details."
                        .into()
            }
        );
        assert_eq!(srv.requests.lock().unwrap().len(), 1);
    }
    let srv = serve(vec![reply(401, &[], &format!(r#"{{"error":{{"message":"Incorrect API key provided: {KEY}","code":"invalid_api_key"}}}}"#))]).await;
    let e = client(&srv.base, OpenAiWire::ChatCompletions, Some(KEY))
        .send(&request(), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::Auth { status: 401, .. }));
    assert!(!format!("{e} {e:?} {}", e.user_message()).contains("TESTKEY"));
}
