//! Endpoints that misbehave on purpose, on real loopback sockets: one that accepts
//! and never answers, one that sends only keep-alive pings, one that drips its
//! answer a byte at a time. A streamed call ends within the stall timeout with
//! [`LlmError::Stalled`] and is not retried; content arriving in time keeps it
//! going; usage figures no call produces fail the call, not the caller.

mod support;

use std::time::{Duration, Instant};

use support::{serve, sse, Reply};
use warden_creds::Secret;
use warden_llm::anthropic::{AnthropicAuth, AnthropicClient, AnthropicConfig};
use warden_llm::{
    CancellationToken, LlmError, Message, ModelClient, OpenAiClient, OpenAiConfig, OpenAiWire,
    Request, RetryPolicy, StopReason,
};

const STREAM: &str = include_str!("fixtures/anthropic_tool_stream.sse");
const CHAT_STREAM: &str = include_str!("fixtures/openai_chat_stream.sse");
const STALL: Duration = Duration::from_millis(800);
const SSE_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: text/event-stream\r\n\r\n";

/// A client with a short stall timeout and retries that would show if they happened.
fn client(base: &str) -> AnthropicClient {
    let mut cfg = AnthropicConfig::new(AnthropicAuth::ApiKey(Secret::new("sk-test-0123456789")));
    cfg.base_url = base.to_string();
    cfg.timeout = Duration::from_secs(30);
    cfg.stall_timeout = STALL;
    cfg.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    };
    AnthropicClient::new(cfg).unwrap()
}

fn request() -> Request {
    Request::new("claude-sonnet-4-5", vec![Message::user("hi")], 64)
}

/// Runs one collected streamed call; asserts it stalled, promptly, after one request.
async fn assert_stalls(replies: Vec<Reply>) {
    let mut srv = serve(replies).await;
    let started = Instant::now();
    let err = client(&srv.base)
        .send_streamed(&request(), &CancellationToken::new())
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err, LlmError::Stalled { after: STALL });
    assert!(err.to_string().contains("stalled"), "{err}");
    assert!(
        took >= STALL && took < STALL * 4,
        "ended after {took:?}, stall timeout {STALL:?}"
    );
    assert_eq!(
        srv.requests.lock().unwrap().len(),
        1,
        "a stall is not retried"
    );
    tokio::time::timeout(Duration::from_secs(5), srv.hangups.recv())
        .await
        .expect("the connection is dropped after a stall")
        .unwrap();
}

#[tokio::test]
async fn a_server_that_accepts_and_never_answers_stalls() {
    assert_stalls(vec![Reply::Hang]).await;
}

#[tokio::test]
async fn a_stream_of_pings_without_content_stalls() {
    let ping = b"event: ping\ndata: {\"type\": \"ping\"}\n\n: keep-alive\n\n".to_vec();
    assert_stalls(vec![Reply::Repeat(
        SSE_HEAD.to_vec(),
        ping,
        Duration::from_millis(50),
    )])
    .await;
}

#[tokio::test]
async fn a_body_dripping_one_byte_at_a_time_stalls() {
    // Bytes keep coming, but no event completes within the stall timeout.
    assert_stalls(vec![Reply::Drip(
        SSE_HEAD.to_vec(),
        STREAM.as_bytes().to_vec(),
        Duration::from_millis(100),
    )])
    .await;
}

#[tokio::test]
async fn a_response_head_dripping_one_byte_at_a_time_stalls() {
    assert_stalls(vec![Reply::Drip(
        Vec::new(),
        SSE_HEAD.to_vec(),
        Duration::from_millis(100),
    )])
    .await;
}

#[tokio::test]
async fn content_in_time_keeps_a_slow_stream_going() {
    // Each event arrives well within the stall timeout; the whole stream takes
    // several times as long and still completes.
    let events = STREAM
        .split_inclusive("\n\n")
        .map(|e| e.as_bytes().to_vec())
        .collect();
    let base = paced_server(events).await;
    let started = Instant::now();
    let resp = client(&base)
        .send_streamed(&request(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(started.elapsed() > STALL * 2, "{:?}", started.elapsed());
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    assert_eq!(resp.usage.output, 89);
}

/// Serves one SSE answer made of `events`, one every third of the stall timeout.
async fn paced_server(events: Vec<Vec<u8>>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 65536];
        let _ = sock.read(&mut buf).await;
        let _ = sock.write_all(SSE_HEAD).await;
        for ev in events {
            tokio::time::sleep(STALL / 3).await;
            if sock.write_all(&ev).await.is_err() {
                return;
            }
        }
        let _ = sock.shutdown().await;
    });
    base
}

#[tokio::test]
async fn a_failure_mid_stream_retries_the_whole_call() {
    let overloaded = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":1}}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let srv = serve(vec![sse(overloaded.as_bytes()), sse(STREAM.as_bytes())]).await;
    let resp = client(&srv.base)
        .send_streamed(&request(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    assert_eq!(srv.requests.lock().unwrap().len(), 2);
    assert_eq!(srv.requests.lock().unwrap()[0].body["stream"], true);
}

#[tokio::test]
async fn usage_no_call_produces_fails_the_call() {
    let huge = STREAM.replace(
        "\"output_tokens\":89",
        "\"output_tokens\":18446744073709551615",
    );
    assert_ne!(huge, STREAM);
    let srv = serve(vec![sse(huge.as_bytes())]).await;
    let err = client(&srv.base)
        .send_streamed(&request(), &CancellationToken::new())
        .await
        .unwrap_err();
    match &err {
        LlmError::MalformedResponse { message } => {
            assert!(
                message.contains("usage reports 18446744073709551615 output tokens"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(srv.requests.lock().unwrap().len(), 1, "not retried");

    // The JSON answer is checked too.
    let body = r#"{"id":"m","model":"claude-sonnet-4-5","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":4294967296,"output_tokens":1}}"#;
    let srv = serve(vec![support::reply(200, &[], body)]).await;
    let err = client(&srv.base)
        .send(&request(), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("4294967296 input tokens"), "{err}");
}

#[tokio::test]
async fn openai_chat_pings_stall_and_a_paced_stream_does_not() {
    let mut cfg = OpenAiConfig::new(
        Some(Secret::new("sk-test-0123456789")),
        OpenAiWire::ChatCompletions,
    );
    let srv = serve(vec![Reply::Repeat(
        SSE_HEAD.to_vec(),
        b": keep-alive\n\n".to_vec(),
        Duration::from_millis(50),
    )])
    .await;
    cfg.base_url = format!("{}/v1", srv.base);
    cfg.stall_timeout = STALL;
    cfg.retry = RetryPolicy::none();
    let c = OpenAiClient::new(cfg.clone()).unwrap();
    let started = Instant::now();
    let err = c
        .send_streamed(&request(), &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err, LlmError::Stalled { after: STALL });
    assert!(started.elapsed() < STALL * 4);

    let events: Vec<Vec<u8>> = CHAT_STREAM
        .split_inclusive("\n\n")
        .map(|e| e.as_bytes().to_vec())
        .collect();
    cfg.base_url = format!("{}/v1", paced_server(events).await);
    let resp = OpenAiClient::new(cfg)
        .unwrap()
        .send_streamed(&request(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(!resp.content.is_empty());
}

#[test]
fn a_base_url_that_is_not_http_is_refused_by_the_clients() {
    for bad in [
        "not a url",
        "ftp://example.com",
        "javascript:alert(1)",
        "http://[::1",
    ] {
        let mut cfg = AnthropicConfig::new(AnthropicAuth::ApiKey(Secret::new("k")));
        cfg.base_url = bad.to_string();
        let err = AnthropicClient::new(cfg).err().expect(bad);
        assert!(err.to_string().contains("the base URL"), "{bad}: {err}");
        let mut cfg = OpenAiConfig::new(None, OpenAiWire::Responses);
        cfg.base_url = bad.to_string();
        let err = OpenAiClient::new(cfg).err().expect(bad);
        assert!(err.to_string().contains("the base URL"), "{bad}: {err}");
    }
}
