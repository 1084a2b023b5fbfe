//! The mock LLM over plain HTTP: running out of script, delays, recording, sync start,
//! and scripts as JSON.

mod common;

use common::{client, post};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use warden_testkit::mock_llm::{
    ErrorKind, Malformed, MockLlm, Script, Turn, Usage, DEFAULT_FINAL_TEXT,
};

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
async fn a_fixed_latency_delays_every_reply_including_the_final_text() {
    let mock = MockLlm::start(
        Script::new(vec![Turn::text("first")]).with_latency(Duration::from_millis(200)),
    )
    .await;
    for want in ["first", DEFAULT_FINAL_TEXT] {
        let started = Instant::now();
        let v: Value = post(format!("{}/v1/messages", mock.url()), json!({"model": "m"}))
            .await
            .json()
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(v["content"][0]["text"], want);
    }
    assert_eq!(mock.peak_in_flight(), 1, "one after the other");
}

#[tokio::test]
async fn held_replies_wait_until_enough_requests_are_in_flight() {
    let mock =
        MockLlm::start(Script::default().hold_until_in_flight(3, Duration::from_secs(20))).await;
    let url = format!("{}/v1/messages", mock.url());
    // Two requests alone are held: neither is answered while the third is missing.
    let first = tokio::spawn(post(url.clone(), json!({"model": "m"})));
    let second = tokio::spawn(post(url.clone(), json!({"model": "m"})));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!first.is_finished() && !second.is_finished());
    assert_eq!(mock.peak_in_flight(), 2);
    let third = post(url.clone(), json!({"model": "m"})).await;
    assert_eq!(third.status(), 200);
    assert_eq!(first.await.unwrap().status(), 200);
    assert_eq!(second.await.unwrap().status(), 200);
    assert_eq!(mock.peak_in_flight(), 3);
    // Once open, the gate stays open: a lone request is answered at once.
    let started = Instant::now();
    post(url, json!({"model": "m"})).await;
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_hold_that_is_never_reached_times_out_instead_of_hanging() {
    let mock =
        MockLlm::start(Script::default().hold_until_in_flight(2, Duration::from_millis(300))).await;
    let started = Instant::now();
    let r = post(format!("{}/v1/messages", mock.url()), json!({"model": "m"})).await;
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(mock.peak_in_flight(), 1);
}
