//! The Anthropic client over real HTTP on loopback.

mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use support::{reply, serve, sse, sse_stall, Reply};
use warden_creds::Secret;
use warden_llm::anthropic::{AnthropicAuth, AnthropicClient, AnthropicConfig};
use warden_llm::error::CreditSource;
use warden_llm::{
    collect, CancellationToken, ContentBlock, Event, LlmError, Message, ModelClient, Request,
    RetryPolicy, Role, StopReason, SystemPrompt, Tool, Usage,
};

const KEY: &str = "sk-ant-api03-TESTKEY-0123456789abcdefghijklmnop";
const STREAM: &str = include_str!("fixtures/anthropic_tool_stream.sse");

fn client(base: &str, auth: AnthropicAuth) -> AnthropicClient {
    let mut cfg = AnthropicConfig::new(auth);
    cfg.base_url = format!("{base}/");
    cfg.timeout = Duration::from_secs(5);
    cfg.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    AnthropicClient::new(cfg).unwrap()
}

fn key() -> AnthropicAuth {
    AnthropicAuth::ApiKey(Secret::new(KEY))
}

fn request() -> Request {
    let mut r = Request::new(
        "claude-sonnet-4-5",
        vec![
            Message::user("Is src/app.py vulnerable?"),
            Message {
                role: Role::Assistant,
                content: vec![ContentBlock::ToolUse {
                    id: "toolu_1".into(),
                    name: "read_file".into(),
                    input: json!({"path": "src/app.py"}),
                }],
            },
            Message {
                role: Role::User,
                content: vec![ContentBlock::ToolResult {
                    tool_use_id: "toolu_1".into(),
                    content: "import os".into(),
                    is_error: false,
                }],
            },
        ],
        1024,
    );
    r.system = Some(SystemPrompt {
        text: "You are a security reviewer.".into(),
        cache: true,
    });
    r.tools = vec![Tool {
        name: "read_file".into(),
        description: "Read a file".into(),
        input_schema: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
    }];
    r.temperature = Some(0.0);
    r
}

#[tokio::test]
async fn json_call_sends_the_real_shape_and_reads_tool_use_and_usage() {
    let body = json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_2", "name": "read_file", "input": {"path": "b.py"}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 34, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 50}
    });
    let srv = serve(vec![reply(200, &[], &body.to_string())]).await;
    let resp = client(&srv.base, key())
        .send(&request(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    assert_eq!(resp.text(), "Let me look.");
    let tools: Vec<_> = resp.tool_uses().collect();
    assert_eq!(tools, [("toolu_2", "read_file", &json!({"path": "b.py"}))]);
    assert_eq!(
        resp.usage,
        Usage {
            input: 12,
            output: 34,
            cache_write: 1000,
            cache_read: 50,
            reasoning: 0
        }
    );

    let reqs = srv.requests.lock().unwrap();
    let r = &reqs[0];
    assert!(
        r.head.starts_with("POST /v1/messages HTTP/1.1"),
        "{}",
        r.head
    );
    assert_eq!(r.header("x-api-key").as_deref(), Some(KEY));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.header("anthropic-version").as_deref(), Some("2023-06-01"));
    let b = &r.body;
    assert_eq!(b["model"], "claude-sonnet-4-5");
    assert_eq!(b["max_tokens"], 1024);
    assert_eq!(b["system"][0]["cache_control"]["type"], "ephemeral");
    assert_eq!(b["tools"][0]["input_schema"]["type"], "object");
    assert_eq!(b["messages"][1]["content"][0]["type"], "tool_use");
    assert_eq!(b["messages"][2]["content"][0]["type"], "tool_result");
    assert_eq!(b["messages"][2]["content"][0]["tool_use_id"], "toolu_1");
    assert!(b.get("stream").is_none());
}

#[tokio::test]
async fn bearer_auth_for_gateways_and_tokens() {
    let body =
        json!({"id": "m", "model": "x", "content": [], "stop_reason": "end_turn", "usage": {}});
    let srv = serve(vec![reply(200, &[], &body.to_string())]).await;
    let c = client(
        &srv.base,
        AnthropicAuth::Bearer(Secret::new("vck_gateway_token_1234567890")),
    );
    c.send(&request(), &CancellationToken::new()).await.unwrap();
    let r = &srv.requests.lock().unwrap()[0];
    assert_eq!(
        r.header("authorization").as_deref(),
        Some("Bearer vck_gateway_token_1234567890")
    );
    assert_eq!(r.header("x-api-key"), None);
}

#[tokio::test]
async fn streaming_accumulates_text_tool_input_and_usage() {
    let srv = serve(vec![sse(STREAM.as_bytes())]).await;
    let c = client(&srv.base, key());
    let mut events = c
        .stream(&request(), &CancellationToken::new())
        .await
        .unwrap();
    let mut all = Vec::new();
    while let Some(ev) = events.next().await {
        all.push(ev.unwrap());
    }
    assert!(all.contains(&Event::ToolInputDelta {
        index: 1,
        partial_json: "{\"path\": \"src/".into()
    }));
    assert_eq!(
        all.last(),
        Some(&Event::MessageStop {
            stop_reason: StopReason::ToolUse
        })
    );
    let r = srv.requests.lock().unwrap()[0].clone();
    assert_eq!(r.body["stream"], true);
    assert_eq!(r.header("accept").as_deref(), Some("text/event-stream"));

    let srv = serve(vec![sse(STREAM.as_bytes())]).await;
    let c = client(&srv.base, key());
    let resp = collect(
        c.stream(&request(), &CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(resp.id, "msg_01XFDUDYJgAACzvnptvVoYEL");
    assert_eq!(resp.text(), "Lass mich die Datei prüfen — ok 🔍");
    let tools: Vec<_> = resp.tool_uses().collect();
    assert_eq!(
        tools,
        [(
            "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "read_file",
            &json!({"path": "src/app.py"})
        )]
    );
    assert_eq!(
        resp.usage,
        Usage {
            input: 472,
            output: 89,
            cache_write: 1200,
            cache_read: 0,
            reasoning: 0
        }
    );
}

#[tokio::test]
async fn malformed_and_truncated_streams_are_errors() {
    let cut = STREAM.find("event: message_delta").unwrap();
    let broken_json = STREAM.replace("app.py\\\"}", "app.py");
    let in_stream_error = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"x\",\"usage\":{}}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    type Check = fn(&LlmError) -> bool;
    let cases: Vec<(&[u8], Check)> = vec![
        (&STREAM.as_bytes()[..cut], |e| {
            matches!(e, LlmError::MalformedResponse { .. })
        }),
        (&STREAM.as_bytes()[..cut + 30], |e| {
            matches!(e, LlmError::MalformedResponse { .. })
        }),
        (broken_json.as_bytes(), |e| {
            matches!(e, LlmError::MalformedResponse { .. })
        }),
        (b"data: not json\n\n", |e| {
            matches!(e, LlmError::MalformedResponse { .. })
        }),
        (b"data: \xff\n\n", |e| {
            matches!(e, LlmError::MalformedResponse { .. })
        }),
        (in_stream_error.as_bytes(), |e| {
            matches!(e, LlmError::Overloaded { .. })
        }),
    ];
    for (body, want) in cases {
        let srv = serve(vec![sse(body)]).await;
        let c = client(&srv.base, key());
        let r = tokio::time::timeout(Duration::from_secs(10), async {
            collect(c.stream(&request(), &CancellationToken::new()).await?).await
        })
        .await
        .expect("no hang");
        let e = r.unwrap_err();
        assert!(want(&e), "{e:?} for {}", String::from_utf8_lossy(body));
    }
}

#[tokio::test]
async fn retries_overload_and_rate_limits_then_succeeds() {
    let ok = json!({"id": "m", "model": "x", "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn", "usage": {}});
    let srv = serve(vec![
        reply(
            529,
            &[],
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        ),
        reply(
            429,
            &[("retry-after", "0")],
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
        ),
        reply(200, &[], &ok.to_string()),
    ])
    .await;
    let resp = client(&srv.base, key())
        .send(&request(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(resp.text(), "hi");
    assert_eq!(srv.requests.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn credits_exhausted_is_final_and_never_shows_the_key() {
    let body = format!(
        r#"{{"type":"error","error":{{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API (key {KEY})."}}}}"#
    );
    let srv = serve(vec![reply(400, &[], &body), reply(400, &[], &body)]).await;
    let err = client(&srv.base, key())
        .send(&request(), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        LlmError::CreditsExhausted {
            origin: CreditSource::Anthropic,
            ..
        }
    ));
    assert_eq!(srv.requests.lock().unwrap().len(), 1, "not retried");
    for text in [err.to_string(), format!("{err:?}"), err.user_message()] {
        assert!(!text.contains(KEY), "{text}");
        assert!(!text.contains("TESTKEY"), "{text}");
    }
}

#[tokio::test]
async fn timeout_is_reported() {
    let srv = serve(vec![Reply::Hang]).await;
    let mut cfg = AnthropicConfig::new(key());
    cfg.base_url = srv.base.clone();
    cfg.timeout = Duration::from_millis(200);
    cfg.retry = RetryPolicy::none();
    let c = AnthropicClient::new(cfg).unwrap();
    let err = c
        .send(&request(), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn cancel_aborts_the_http_request() {
    let mut srv = serve(vec![Reply::Hang]).await;
    let c = client(&srv.base, key());
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        c2.cancel();
    });
    let start = Instant::now();
    let err = c.send(&request(), &cancel).await.unwrap_err();
    assert_eq!(err, LlmError::Cancelled);
    assert!(start.elapsed() < Duration::from_secs(4));
    // The server sees the connection closed: the request really was aborted.
    tokio::time::timeout(Duration::from_secs(5), srv.hangups.recv())
        .await
        .expect("connection closed after cancel")
        .unwrap();
}

#[tokio::test]
async fn cancel_aborts_a_stream_in_flight() {
    let head = &STREAM[..STREAM.find("event: content_block_stop").unwrap()];
    // Send part of a stream, then stall: the client must stop on cancel.
    let mut srv = serve(vec![sse_stall(head.as_bytes())]).await;
    let c = client(&srv.base, key());
    let cancel = CancellationToken::new();
    let mut events = c.stream(&request(), &cancel).await.unwrap();
    let first = events.next().await.unwrap().unwrap();
    assert!(matches!(first, Event::MessageStart { .. }));
    cancel.cancel();
    let mut last = None;
    while let Some(ev) = events.next().await {
        last = Some(ev);
    }
    assert_eq!(last, Some(Err(LlmError::Cancelled)));
    drop(events);
    tokio::time::timeout(Duration::from_secs(5), srv.hangups.recv())
        .await
        .expect("connection closed after cancel")
        .unwrap();
}
