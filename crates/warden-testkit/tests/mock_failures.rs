//! The mock LLM over plain HTTP: every error class with the providers' bodies, errors
//! inside started streams, and malformed output.

mod common;

use common::{client, post, sse_json};
use serde_json::{json, Value};
use warden_testkit::mock_llm::{
    ErrorKind, Malformed, MockLlm, Script, Turn, ANTHROPIC_CREDIT_MESSAGE, OPENAI_QUOTA_MESSAGE,
};

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
