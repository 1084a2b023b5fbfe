use super::*;
use reqwest::header::{HeaderMap, HeaderValue};

const ANT: Provider = Provider::new(Api::Anthropic, Route::Direct);
const ANT_SUB: Provider = Provider::new(Api::Anthropic, Route::Subscription);
const OAI: Provider = Provider::new(Api::OpenAi, Route::Direct);
const GW: Provider = Provider::new(Api::Anthropic, Route::Gateway);
const GW_OAI: Provider = Provider::new(Api::OpenAi, Route::Gateway);

#[derive(Debug, PartialEq)]
enum Class {
    Auth,
    Credits(CreditSource),
    Rate,
    Overloaded,
    Context,
    Invalid,
    Server,
    Malformed,
}

fn class(e: &LlmError) -> Class {
    match e {
        LlmError::Auth { .. } => Class::Auth,
        LlmError::CreditsExhausted { origin, .. } => Class::Credits(*origin),
        LlmError::RateLimited { .. } => Class::Rate,
        LlmError::Overloaded { .. } => Class::Overloaded,
        LlmError::ContextTooLong { .. } => Class::Context,
        LlmError::InvalidRequest { .. } => Class::Invalid,
        LlmError::Server { .. } => Class::Server,
        LlmError::MalformedResponse { .. } => Class::Malformed,
        other => panic!("unexpected class {other:?}"),
    }
}

#[test]
fn real_error_bodies_classify() {
    use Class::*;
    let cases: &[(u16, &str, Provider, Class)] = &[
        (
            400,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."},"request_id":"req_011CS"}"#,
            ANT,
            Credits(CreditSource::Anthropic),
        ),
        (
            400,
            r#"{"type":"error","error":{"type":"billing_error","message":"billing issue"}}"#,
            ANT,
            Credits(CreditSource::Anthropic),
        ),
        (
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ANT,
            Overloaded,
        ),
        (
            0,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ANT,
            Overloaded,
        ),
        (
            429,
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization of 50,000 input tokens per minute."}}"#,
            ANT,
            Rate,
        ),
        (
            401,
            r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
            ANT,
            Auth,
        ),
        (
            403,
            r#"{"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission to use the specified resource."}}"#,
            ANT,
            Auth,
        ),
        (
            400,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215000 tokens > 200000 maximum"}}"#,
            ANT,
            Context,
        ),
        (
            413,
            r#"{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum allowed number of bytes."}}"#,
            ANT,
            Context,
        ),
        (
            400,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}"#,
            ANT,
            Invalid,
        ),
        (
            404,
            r#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-nope"}}"#,
            ANT,
            Invalid,
        ),
        (
            500,
            r#"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#,
            ANT,
            Server,
        ),
        (
            429,
            r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
            OAI,
            Credits(CreditSource::OpenAi),
        ),
        (
            429,
            r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
            GW_OAI,
            Credits(CreditSource::Gateway),
        ),
        (
            429,
            r#"{"error":{"message":"Rate limit reached for gpt-4.1 in organization org-x on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#,
            OAI,
            Rate,
        ),
        (
            400,
            r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 140000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
            OAI,
            Context,
        ),
        (
            401,
            r#"{"error":{"message":"Incorrect API key provided: sk-proj-********abcd. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
            OAI,
            Auth,
        ),
        (
            500,
            r#"{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}"#,
            OAI,
            Server,
        ),
        (
            503,
            r#"{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error"}}"#,
            OAI,
            Server,
        ),
        (503, "upstream overloaded", OAI, Overloaded),
        (
            402,
            r#"{"error":{"type":"insufficient_funds","message":"Insufficient funds. Please add credits to your account to continue."}}"#,
            GW,
            Credits(CreditSource::Gateway),
        ),
        (
            403,
            r#"{"error":{"type":"customer_verification_required","message":"Please add a credit card to use AI Gateway."}}"#,
            GW,
            Credits(CreditSource::Gateway),
        ),
        (
            402,
            r#"{"error":"payment required"}"#,
            GW,
            Credits(CreditSource::Gateway),
        ),
        (402, "Payment Required", ANT, Credits(CreditSource::Unknown)),
        (
            429,
            r#"{"error":{"type":"usage_limit_reached","message":"You've hit your usage limit. Upgrade to Pro or try again in 2 hours."}}"#,
            OAI,
            Credits(CreditSource::ChatGptSubscription),
        ),
        (
            429,
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"Claude AI usage limit reached|1760000000"}}"#,
            ANT_SUB,
            Credits(CreditSource::ClaudeSubscription),
        ),
        (
            429,
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"5-hour limit reached - resets 3pm"}}"#,
            ANT_SUB,
            Credits(CreditSource::ClaudeSubscription),
        ),
        (502, "<html><body>Bad Gateway</body></html>", ANT, Server),
        // In-stream errors (no HTTP status): classified from the body alone.
        (
            0,
            r#"{"error":{"message":"Rate limit reached for gpt-5.5 on tokens per min (TPM)","type":"tokens","code":"rate_limit_exceeded"}}"#,
            OAI,
            Rate,
        ),
        (
            0,
            r#"{"error":{"type":"error","code":"invalid_api_key","message":"Incorrect API key provided"}}"#,
            OAI,
            Auth,
        ),
        (
            0,
            r#"{"error":{"type":"invalid_request_error","message":"Invalid value for 'model'"}}"#,
            OAI,
            Invalid,
        ),
        (
            0,
            r#"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#,
            ANT,
            Server,
        ),
        (418, "", ANT, Invalid),
        (302, "", ANT, Malformed),
    ];
    for (status, body, provider, want) in cases {
        let got = classify(*status, &HeaderMap::new(), body, *provider);
        assert_eq!(&class(&got), want, "HTTP {status} {body}");
        assert!(!got.user_message().is_empty());
    }
}

#[test]
fn retry_after_seconds_ms_and_date() {
    let mut h = HeaderMap::new();
    h.insert("retry-after", HeaderValue::from_static("7"));
    let e = classify(429, &h, "{}", ANT);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(e.is_retryable());
    h.insert("retry-after-ms", HeaderValue::from_static("1500"));
    assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
    let mut h = HeaderMap::new();
    h.insert(
        "retry-after",
        HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
    );
    assert_eq!(retry_after(&h), Some(Duration::ZERO));
    h.insert("retry-after", HeaderValue::from_static("soon"));
    assert_eq!(retry_after(&h), None);
}

#[test]
fn credits_are_not_retryable_and_stop_the_run() {
    let e = classify(
        429,
        &HeaderMap::new(),
        r#"{"error":{"code":"insufficient_quota","type":"insufficient_quota","message":"x"}}"#,
        OAI,
    );
    assert!(!e.is_retryable());
    assert!(e.stops_run());
    assert!(e.user_message().contains("re-run to resume"));
    assert!(e.user_message().contains("gateway"));
}

#[test]
fn keys_in_messages_are_scrubbed() {
    let key = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
    let body = format!(
        r#"{{"type":"error","error":{{"type":"authentication_error","message":"invalid x-api-key {key}."}}}}"#
    );
    let e = classify(401, &HeaderMap::new(), &body, ANT);
    for text in [e.to_string(), e.user_message(), format!("{e:?}")] {
        assert!(!text.contains(key), "{text}");
        assert!(!text.contains("AbCdEfGhIjKl"), "{text}");
    }
    // Masked keys and ordinary words survive.
    assert_eq!(
        scrub_secrets("Incorrect API key provided: sk-proj-********abcd."),
        "Incorrect API key provided: sk-proj-********abcd."
    );
    assert_eq!(
        scrub_secrets("token vck_0123456789abcdef"),
        "token [redacted]"
    );
    assert_eq!(
        redact_known("a secret1 b".into(), "secret1"),
        "a [redacted] b"
    );
}

#[test]
fn long_bodies_are_truncated() {
    let body = "x ".repeat(5000);
    let e = classify(500, &HeaderMap::new(), &body, ANT);
    assert!(e.to_string().len() < 700);
}

#[test]
fn remediation_follows_a_message_that_ends_in_a_full_stop_cleanly() {
    let e = classify(
        402,
        &HeaderMap::new(),
        r#"{"error":{"type":"insufficient_funds","message":"Insufficient funds. Please add credits."}}"#,
        GW,
    );
    let msg = e.user_message();
    assert!(!msg.contains(".."), "{msg}");
    assert!(msg.contains("Top up the gateway account"), "{msg}");
}
