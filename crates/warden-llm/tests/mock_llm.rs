//! Conformance with warden-testkit's mock LLM: every wire, JSON and SSE, tool
//! calls and usage; every scripted error class; every kind of malformed output.

use std::time::Duration;

use serde_json::json;
use warden_creds::Secret;
use warden_llm::error::CreditSource;
use warden_llm::{
    collect, AnthropicAuth, AnthropicClient, AnthropicConfig, CancellationToken, LlmError, Message,
    ModelClient, OpenAiClient, OpenAiConfig, OpenAiWire, Request, Response, RetryPolicy, Route,
    StopReason, Tool, Usage,
};
use warden_testkit::mock_llm::{ErrorKind, Malformed, MockLlm, Script, Turn, Usage as MockUsage};

#[derive(Clone, Copy, Debug)]
enum Wire {
    Anthropic,
    Responses,
    Chat,
}

const WIRES: [Wire; 3] = [Wire::Anthropic, Wire::Responses, Wire::Chat];

fn client(mock: &MockLlm, wire: Wire, route: Route) -> Box<dyn ModelClient> {
    let retry = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let key = Secret::new("sk-test-MOCKKEY-0123456789abcdef");
    match wire {
        Wire::Anthropic => {
            let mut cfg = AnthropicConfig::new(AnthropicAuth::ApiKey(key));
            cfg.base_url = mock.url().to_string();
            cfg.route = route;
            cfg.retry = retry;
            cfg.timeout = Duration::from_secs(10);
            Box::new(AnthropicClient::new(cfg).unwrap())
        }
        Wire::Responses | Wire::Chat => {
            let w = match wire {
                Wire::Responses => OpenAiWire::Responses,
                _ => OpenAiWire::ChatCompletions,
            };
            let mut cfg = OpenAiConfig::new(Some(key), w);
            cfg.base_url = mock.openai_base_url();
            cfg.route = route;
            cfg.retry = retry;
            cfg.timeout = Duration::from_secs(10);
            Box::new(OpenAiClient::new(cfg).unwrap())
        }
    }
}

fn request() -> Request {
    let mut r = Request::new(
        "claude-sonnet-4-5",
        vec![Message::user("check app.py")],
        512,
    );
    r.tools = vec![Tool {
        name: "Read".into(),
        description: "Read a file".into(),
        input_schema: json!({"type": "object", "properties": {"file_path": {"type": "string"}}}),
    }];
    r
}

async fn call(c: &dyn ModelClient, stream: bool) -> Result<Response, LlmError> {
    let cancel = CancellationToken::new();
    let fut = async {
        if stream {
            collect(c.stream(&request(), &cancel).await?).await
        } else {
            c.send(&request(), &cancel).await
        }
    };
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("no hang")
}

#[tokio::test]
async fn tool_calls_text_and_usage_on_every_wire() {
    for wire in WIRES {
        for stream in [false, true] {
            let mock = MockLlm::start(Script::new(vec![
                Turn::tool_call("Read", json!({"file_path": "/src/app.py"}))
                    .with_text("Reading.")
                    .with_usage(MockUsage::new(100, 20).with_cache(50, 30).with_reasoning(7)),
                Turn::text("No vulnerability."),
            ]))
            .await;
            let c = client(&mock, wire, Route::Direct);
            let ctx = format!("{wire:?} stream={stream}");
            let r = call(c.as_ref(), stream).await.expect(&ctx);
            assert_eq!(r.stop_reason, StopReason::ToolUse, "{ctx}");
            let calls: Vec<_> = r
                .tool_uses()
                .map(|(_, n, i)| (n.to_string(), i.clone()))
                .collect();
            assert_eq!(
                calls,
                [("Read".to_string(), json!({"file_path": "/src/app.py"}))],
                "{ctx}"
            );
            assert_eq!(r.text(), "Reading.", "{ctx}");
            let want = match wire {
                Wire::Anthropic => Usage {
                    input: 100,
                    output: 20,
                    cache_write: 50,
                    cache_read: 30,
                    reasoning: 0,
                },
                _ => Usage {
                    input: 100,
                    output: 27,
                    cache_write: 0,
                    cache_read: 30,
                    reasoning: 7,
                },
            };
            assert_eq!(r.usage, want, "{ctx}");

            let r = call(c.as_ref(), stream).await.expect(&ctx);
            assert_eq!(r.stop_reason, StopReason::EndTurn, "{ctx}");
            assert_eq!(r.text(), "No vulnerability.", "{ctx}");
            assert_eq!(mock.generation_requests().len(), 2, "{ctx}");
        }
    }
}

fn matches_class(e: &LlmError, kind: &ErrorKind) -> bool {
    use LlmError as L;
    match kind {
        ErrorKind::AnthropicCreditBalanceTooLow => matches!(
            e,
            L::CreditsExhausted {
                origin: CreditSource::Anthropic,
                ..
            }
        ),
        ErrorKind::OpenaiInsufficientQuota => matches!(
            e,
            L::CreditsExhausted {
                origin: CreditSource::OpenAi,
                ..
            }
        ),
        ErrorKind::GatewayInsufficientFunds => matches!(
            e,
            L::CreditsExhausted {
                origin: CreditSource::Gateway,
                ..
            }
        ),
        ErrorKind::AnthropicAuthentication | ErrorKind::OpenaiInvalidApiKey => {
            matches!(e, L::Auth { .. })
        }
        ErrorKind::AnthropicRateLimit { .. } | ErrorKind::OpenaiRateLimit { .. } => {
            matches!(e, L::RateLimited { .. })
        }
        ErrorKind::AnthropicOverloaded => matches!(e, L::Overloaded { .. }),
        ErrorKind::AnthropicPromptTooLong | ErrorKind::OpenaiContextLengthExceeded => {
            matches!(e, L::ContextTooLong { .. })
        }
        ErrorKind::ServerError => matches!(e, L::Server { .. }),
        ErrorKind::Custom { .. } => true,
    }
}

#[tokio::test]
async fn every_error_class_from_the_mock() {
    let kinds = [
        ErrorKind::AnthropicCreditBalanceTooLow,
        ErrorKind::AnthropicAuthentication,
        ErrorKind::AnthropicRateLimit {
            retry_after_secs: 3,
        },
        ErrorKind::AnthropicOverloaded,
        ErrorKind::AnthropicPromptTooLong,
        ErrorKind::OpenaiInsufficientQuota,
        ErrorKind::OpenaiRateLimit {
            retry_after_secs: 3,
        },
        ErrorKind::OpenaiInvalidApiKey,
        ErrorKind::OpenaiContextLengthExceeded,
        ErrorKind::GatewayInsufficientFunds,
        ErrorKind::ServerError,
    ];
    for wire in WIRES {
        for kind in &kinds {
            for (stream, mid) in [(false, false), (true, false), (true, true)] {
                let turn = if mid {
                    Turn::error_mid_stream(kind.clone())
                } else {
                    Turn::error(kind.clone())
                };
                let mock = MockLlm::start(Script::new(vec![turn])).await;
                let route = match kind {
                    ErrorKind::GatewayInsufficientFunds => Route::Gateway,
                    _ => Route::Direct,
                };
                let c = client(&mock, wire, route);
                let e = call(c.as_ref(), stream).await.unwrap_err();
                let ctx = format!("{wire:?} {kind:?} stream={stream} mid={mid}: {e:?}");
                assert!(matches_class(&e, kind), "{ctx}");
                if !mid {
                    if let ErrorKind::AnthropicRateLimit { .. }
                    | ErrorKind::OpenaiRateLimit { .. } = kind
                    {
                        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)), "{ctx}");
                    }
                }
                assert!(!e.user_message().contains("MOCKKEY"), "{ctx}");
            }
        }
    }
}

#[tokio::test]
async fn malformed_output_is_an_error_never_a_hang() {
    for wire in WIRES {
        for stream in [false, true] {
            for kind in [
                Malformed::BrokenSse,
                Malformed::InvalidToolJson,
                Malformed::TruncatedStream,
            ] {
                let mock = MockLlm::start(Script::new(vec![Turn::malformed(kind)])).await;
                let c = client(&mock, wire, Route::Direct);
                let r = call(c.as_ref(), stream).await;
                let ctx = format!("{wire:?} {kind:?} stream={stream}: {r:?}");
                assert!(
                    matches!(
                        r,
                        Err(LlmError::MalformedResponse { .. } | LlmError::Transport { .. })
                    ),
                    "{ctx}"
                );
            }
        }
    }
}
