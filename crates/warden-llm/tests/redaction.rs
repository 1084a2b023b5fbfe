//! No byte of a key reaches a log line or an error string, even when the
//! provider echoes the key back and every log level is on.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{reply, serve};
use tracing_subscriber::fmt::MakeWriter;
use warden_creds::Secret;
use warden_llm::{
    AnthropicAuth, AnthropicClient, AnthropicConfig, CancellationToken, Message, ModelClient,
    OpenAiClient, OpenAiConfig, OpenAiWire, Request, RetryPolicy,
};

const ANT_KEY: &str = "sk-ant-api03-SECRETPART-zyxwvutsrqponmlkjihgfedcba987";
const OAI_KEY: &str = "custom-gateway-token-SECRETPART-0123456789";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

#[tokio::test]
async fn keys_never_reach_logs_or_errors() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let echo = |key: &str| {
        format!(
            r#"{{"type":"error","error":{{"type":"api_error","message":"upstream said: bad key {key} (Bearer {key})"}}}}"#
        )
    };
    let mut errors = Vec::new();

    let srv = serve(vec![
        reply(500, &[], &echo(ANT_KEY)),
        reply(401, &[], &echo(ANT_KEY)),
    ])
    .await;
    let mut cfg = AnthropicConfig::new(AnthropicAuth::ApiKey(Secret::new(ANT_KEY)));
    cfg.base_url = srv.base.clone();
    cfg.retry = retry();
    let req = Request::new("claude-haiku-4-5", vec![Message::user("hi")], 10);
    let e = AnthropicClient::new(cfg)
        .unwrap()
        .send(&req, &CancellationToken::new())
        .await
        .unwrap_err();
    errors.push(format!("{e} | {e:?} | {}", e.user_message()));

    let srv = serve(vec![
        reply(503, &[], &echo(OAI_KEY)),
        reply(403, &[], &echo(OAI_KEY)),
    ])
    .await;
    let mut cfg = OpenAiConfig::new(Some(Secret::new(OAI_KEY)), OpenAiWire::Responses);
    cfg.base_url = format!("{}/v1", srv.base);
    cfg.retry = retry();
    let client = OpenAiClient::new(cfg).unwrap();
    let e = client
        .send(&req, &CancellationToken::new())
        .await
        .unwrap_err();
    errors.push(format!("{e} | {e:?} | {}", e.user_message()));
    errors.push(format!("{:?}", AnthropicAuth::Bearer(Secret::new(OAI_KEY))));

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying"), "logs were captured: {logs}");
    assert!(
        logs.contains("[redacted]"),
        "the echoed key went through the logs: {logs}"
    );
    for text in errors.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains("SECRETPART"), "key leaked: {text}");
    }
}
