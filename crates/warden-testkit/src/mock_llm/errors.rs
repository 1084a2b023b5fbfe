//! Error replies with the real providers' status codes, headers and bodies.

use super::reply::Reply;
use super::script::ErrorKind;
use serde_json::{json, Value};

/// Which API family the request came in on (only `ServerError` depends on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    Anthropic,
    OpenAi,
}

/// Anthropic's message for a workspace out of credits, verbatim.
pub const ANTHROPIC_CREDIT_MESSAGE: &str = "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.";
/// OpenAI's message for an exhausted quota, verbatim.
pub const OPENAI_QUOTA_MESSAGE: &str = "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.";

fn anthropic(kind: &str, message: &str, seq: u64) -> Value {
    json!({
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": format!("req_mock_{seq:04}"),
    })
}

fn openai(kind: &str, code: Option<&str>, param: Option<&str>, message: &str) -> Value {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
}

pub(crate) fn error_reply(kind: &ErrorKind, wire: Wire, seq: u64) -> Reply {
    let req_id = format!("req_mock_{seq:04}");
    match kind {
        ErrorKind::AnthropicCreditBalanceTooLow => Reply::json(
            400,
            &anthropic("invalid_request_error", ANTHROPIC_CREDIT_MESSAGE, seq),
        )
        .header("request-id", req_id)
        .header("x-should-retry", "false"),
        ErrorKind::AnthropicAuthentication => Reply::json(
            401,
            &anthropic("authentication_error", "invalid x-api-key", seq),
        )
        .header("request-id", req_id)
        .header("x-should-retry", "false"),
        ErrorKind::AnthropicRateLimit { retry_after_secs } => Reply::json(
            429,
            &anthropic(
                "rate_limit_error",
                "This request would exceed the rate limit for your organization (mock-org) of 30,000 input tokens per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.",
                seq,
            ),
        )
        .header("request-id", req_id)
        .header("retry-after", retry_after_secs.to_string())
        .header("anthropic-ratelimit-input-tokens-limit", "30000")
        .header("anthropic-ratelimit-input-tokens-remaining", "0")
        .header("x-should-retry", "true"),
        ErrorKind::AnthropicOverloaded => {
            Reply::json(529, &anthropic("overloaded_error", "Overloaded", seq))
                .header("request-id", req_id)
                .header("x-should-retry", "true")
        }
        ErrorKind::AnthropicPromptTooLong => Reply::json(
            400,
            &anthropic(
                "invalid_request_error",
                "prompt is too long: 212345 tokens > 200000 maximum",
                seq,
            ),
        )
        .header("request-id", req_id),
        ErrorKind::OpenaiInsufficientQuota => Reply::json(
            429,
            &openai(
                "insufficient_quota",
                Some("insufficient_quota"),
                None,
                OPENAI_QUOTA_MESSAGE,
            ),
        )
        .header("x-request-id", req_id),
        ErrorKind::OpenaiRateLimit { retry_after_secs } => Reply::json(
            429,
            &openai(
                "requests",
                Some("rate_limit_exceeded"),
                None,
                "Rate limit reached for gpt-5.5 in organization org-mock on tokens per min (TPM): Limit 30000, Used 30000, Requested 1200. Please try again in 2.4s. Visit https://platform.openai.com/account/rate-limits to learn more.",
            ),
        )
        .header("x-request-id", req_id)
        .header("retry-after", retry_after_secs.to_string())
        .header("x-ratelimit-remaining-tokens", "0"),
        ErrorKind::OpenaiInvalidApiKey => Reply::json(
            401,
            &openai(
                "invalid_request_error",
                Some("invalid_api_key"),
                None,
                "Incorrect API key provided: test. You can find your API key at https://platform.openai.com/account/api-keys.",
            ),
        )
        .header("x-request-id", req_id),
        ErrorKind::OpenaiContextLengthExceeded => Reply::json(
            400,
            &openai(
                "invalid_request_error",
                Some("context_length_exceeded"),
                Some("input"),
                "Your input exceeds the context window of this model. Please adjust your input and try again. (This model's maximum context length is 400000 tokens. However, your messages resulted in 412345 tokens.)",
            ),
        )
        .header("x-request-id", req_id),
        ErrorKind::GatewayInsufficientFunds => Reply::json(
            402,
            &json!({"error": {
                "message": "Insufficient funds. Please add credits to your account to continue using AI services.",
                "type": "insufficient_funds",
            }}),
        ),
        ErrorKind::ServerError => match wire {
            Wire::Anthropic => Reply::json(500, &anthropic("api_error", "Internal server error", seq))
                .header("request-id", req_id),
            Wire::OpenAi => Reply::json(
                500,
                &openai(
                    "server_error",
                    None,
                    None,
                    "The server had an error while processing your request. Sorry about that!",
                ),
            )
            .header("x-request-id", req_id),
        },
        ErrorKind::Custom {
            status,
            body,
            headers,
        } => {
            let mut r = Reply::json(*status, body);
            for (k, v) in headers {
                r = r.header(k, v.clone());
            }
            r
        }
    }
}
