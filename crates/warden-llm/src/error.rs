//! Error classes the pipeline acts on, and [`classify`], which turns a
//! provider's HTTP error (status, headers, body) into one of them.
//!
//! Credit/quota detection follows the order deepsec settled on: gateway
//! markers first, then Anthropic credits, then ChatGPT subscription limits,
//! then OpenAI quota, then generic "usage limit" wording assigned by which
//! API was called, and finally a bare HTTP 402.

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;
use thiserror::Error;

/// Which wire API was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Anthropic,
    OpenAi,
}

/// How the API was reached, which decides whose credits an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Straight to the provider with an API key.
    Direct,
    /// Through an LLM gateway (AI Gateway, LiteLLM, ...).
    Gateway,
    /// With a Claude or ChatGPT subscription's OAuth token.
    Subscription,
}

/// The API and route of a call, the context [`classify`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provider {
    pub api: Api,
    pub route: Route,
}

impl Provider {
    pub const fn new(api: Api, route: Route) -> Self {
        Self { api, route }
    }
}

/// Whose credits or quota ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditSource {
    Anthropic,
    OpenAi,
    Gateway,
    ClaudeSubscription,
    ChatGptSubscription,
    Unknown,
}

impl fmt::Display for CreditSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Anthropic => "Anthropic API credits",
            Self::OpenAi => "OpenAI API quota",
            Self::Gateway => "AI gateway credits",
            Self::ClaudeSubscription => "Claude subscription usage limit",
            Self::ChatGptSubscription => "ChatGPT subscription usage limit",
            Self::Unknown => "provider credits",
        })
    }
}

/// What went wrong in a model call. Messages are the provider's own words,
/// with anything that looks like a key removed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LlmError {
    /// 401/403: the credential is missing, wrong, expired or lacks permission.
    #[error("authentication failed (HTTP {status}): {message}")]
    Auth { status: u16, message: String },
    /// Credits or quota exhausted; retrying does not help.
    #[error("{origin} exhausted: {message}")]
    CreditsExhausted {
        origin: CreditSource,
        message: String,
    },
    /// 429: too many requests; retryable after `retry_after` if given.
    #[error("rate limited: {message}")]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// The provider is overloaded (Anthropic 529 `overloaded_error`); retryable.
    #[error("provider overloaded: {message}")]
    Overloaded {
        retry_after: Option<Duration>,
        message: String,
    },
    /// The prompt does not fit the model's context window.
    #[error("context too long: {message}")]
    ContextTooLong { message: String },
    /// The provider rejected the request (bad model name, bad parameters).
    #[error("invalid request (HTTP {status}): {message}")]
    InvalidRequest { status: u16, message: String },
    /// 5xx; retryable.
    #[error("provider server error (HTTP {status}): {message}")]
    Server { status: u16, message: String },
    /// No answer within the configured time.
    #[error("request timed out after {}s", after.as_secs_f64())]
    Timeout { after: Duration },
    /// A streamed answer made no progress (no response, or no content: keep-alive
    /// pings and half-sent events do not count) for the stall timeout. Not retried:
    /// an endpoint that hangs once usually hangs again, and each try costs the
    /// whole timeout.
    #[error("the model endpoint stalled: no content for {}s (stall timeout)", after.as_secs_f64())]
    Stalled { after: Duration },
    /// The caller cancelled the call.
    #[error("request cancelled")]
    Cancelled,
    /// Connecting or reading failed.
    #[error("transport error: {message}")]
    Transport { message: String },
    /// The provider's answer did not parse (bad JSON, broken SSE, truncated stream).
    #[error("malformed response: {message}")]
    MalformedResponse { message: String },
}

impl LlmError {
    /// Worth retrying the same request after a pause.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Overloaded { .. }
                | Self::Server { .. }
                | Self::Timeout { .. }
                | Self::Transport { .. }
        )
    }

    /// The pause the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Overloaded { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// True when the whole run should stop (no later call can succeed either).
    pub fn stops_run(&self) -> bool {
        matches!(self, Self::Auth { .. } | Self::CreditsExhausted { .. })
    }

    /// One paragraph for the user: what happened and what to do.
    pub fn user_message(&self) -> String {
        let what = self.to_string();
        let fix = match self {
            Self::Auth { .. } => "Check the API key or token (`warden credentials status` shows which one is used), or log in to the agent again; then re-run to resume.",
            Self::CreditsExhausted { origin, .. } => match origin {
                CreditSource::Anthropic => "Top up at https://console.anthropic.com/settings/billing, or switch to a gateway (set AI_GATEWAY_API_KEY); then re-run to resume where this run stopped.",
                CreditSource::OpenAi => "Add credits or raise the limit at https://platform.openai.com/settings/organization/billing, or switch to a gateway (set AI_GATEWAY_API_KEY); then re-run to resume.",
                CreditSource::Gateway => "Top up the gateway account (for Vercel AI Gateway: https://vercel.com/dashboard/ai-gateway), or set a direct ANTHROPIC_API_KEY / OPENAI_API_KEY; then re-run to resume.",
                CreditSource::ClaudeSubscription => "Wait for the Claude subscription limit to reset, or use an API key or a gateway (ANTHROPIC_API_KEY or AI_GATEWAY_API_KEY); then re-run to resume.",
                CreditSource::ChatGptSubscription => "Wait for the ChatGPT subscription limit to reset, or use an API key or a gateway (OPENAI_API_KEY or AI_GATEWAY_API_KEY); then re-run to resume.",
                CreditSource::Unknown => "Top up the account that serves this endpoint, or switch to another provider or a gateway; then re-run to resume.",
            },
            Self::RateLimited { .. } | Self::Overloaded { .. } => "Warden retries these by itself; if it persists, lower --concurrency or re-run later to resume.",
            Self::ContextTooLong { .. } => "The file or conversation is too large for this model: use a model with a larger context window or exclude the file.",
            Self::InvalidRequest { .. } => "Check the model name and settings; if they are right this is a Warden bug, please report it.",
            Self::Server { .. } | Self::Transport { .. } | Self::Timeout { .. } => "Usually transient: re-run to resume. If it persists, check the base URL and network (proxy, allowlist).",
            Self::Stalled { .. } => "Check that the base URL points at a working model API; a model that thinks silently for longer needs a longer stall timeout. Re-run to resume.",
            Self::Cancelled => "The run was stopped; re-run to resume.",
            Self::MalformedResponse { .. } => "The endpoint did not speak the provider's protocol; check the base URL (gateways and local servers must be API-compatible), then re-run to resume.",
        };
        // Provider messages often end in a full stop already.
        let what = what.trim_end().trim_end_matches('.');
        format!("{what}. {fix}")
    }
}

/// Turns an HTTP error into a class. `status` 0 means an error event inside a
/// stream (only the body is known). Pure: no I/O, no logging.
pub fn classify(status: u16, headers: &HeaderMap, body: &str, provider: Provider) -> LlmError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let (etype, ecode, message) = error_fields(parsed.as_ref(), body);
    let message = scrub_secrets(&message);
    let haystack = format!("{etype} {ecode} {message}").to_ascii_lowercase();
    let retry_after = retry_after(headers);

    if let Some(origin) = credit_source(&haystack, status, provider) {
        return LlmError::CreditsExhausted { origin, message };
    }
    if is_context_too_long(&haystack, status) {
        return LlmError::ContextTooLong { message };
    }
    let code = if etype.is_empty() || etype == "error" || status == 0 && !ecode.is_empty() {
        ecode.as_str()
    } else {
        etype.as_str()
    };
    match code {
        "authentication_error" | "permission_error" | "invalid_api_key" => {
            return LlmError::Auth {
                status: nonzero(status, 401),
                message,
            }
        }
        "overloaded_error" => {
            return LlmError::Overloaded {
                retry_after,
                message,
            }
        }
        "rate_limit_error" | "rate_limit_exceeded" => {
            return LlmError::RateLimited {
                retry_after,
                message,
            }
        }
        "api_error" | "server_error" => {
            return LlmError::Server {
                status: nonzero(status, 500),
                message,
            }
        }
        _ => {}
    }
    match status {
        401 | 403 => LlmError::Auth { status, message },
        429 => LlmError::RateLimited {
            retry_after,
            message,
        },
        529 => LlmError::Overloaded {
            retry_after,
            message,
        },
        503 if haystack.contains("overloaded") => LlmError::Overloaded {
            retry_after,
            message,
        },
        408 | 500..=599 => LlmError::Server { status, message },
        400..=499 => LlmError::InvalidRequest { status, message },
        0 if haystack.contains("overloaded") => LlmError::Overloaded {
            retry_after,
            message,
        },
        0 if haystack.contains("rate limit") => LlmError::RateLimited {
            retry_after,
            message,
        },
        0 if etype == "invalid_request_error" => LlmError::InvalidRequest { status, message },
        0 => LlmError::Server { status: 0, message },
        _ => LlmError::MalformedResponse {
            message: format!("unexpected HTTP {status}: {message}"),
        },
    }
}

fn nonzero(status: u16, default: u16) -> u16 {
    if status == 0 {
        default
    } else {
        status
    }
}

/// (error type, error code, message) from Anthropic `{"type":"error","error":{...}}`,
/// OpenAI `{"error":{...}}`, or gateway/plain-text bodies.
fn error_fields(v: Option<&Value>, body: &str) -> (String, String, String) {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(v) = v else {
        return (String::new(), String::new(), truncate(body.trim(), 500));
    };
    let err = v.get("error").unwrap_or(v);
    let (etype, ecode, mut message) = if err.is_string() {
        (String::new(), String::new(), s(Some(err)))
    } else {
        let code = match err.get("code") {
            Some(Value::Number(n)) => n.to_string(),
            other => s(other),
        };
        (s(err.get("type")), code, s(err.get("message")))
    };
    if message.is_empty() {
        message = s(v.get("message").or_else(|| v.get("detail")));
    }
    if message.is_empty() {
        message = truncate(body.trim(), 500);
    }
    (etype, ecode, truncate(&message, 500))
}

fn credit_source(h: &str, status: u16, p: Provider) -> Option<CreditSource> {
    let any = |pats: &[&str]| pats.iter().any(|pat| h.contains(pat));
    if any(&[
        "insufficient_funds",
        "customer_verification_required",
        "quota_for_entity_exceeded",
        "quota limit exceeded for",
        "insufficient credits",
    ]) {
        return Some(CreditSource::Gateway);
    }
    if any(&[
        "credit balance is too low",
        "credit balance too low",
        "billing_error",
        "out_of_credits",
        "credit_balance_low",
    ]) {
        return Some(CreditSource::Anthropic);
    }
    if any(&[
        "you've hit your usage limit",
        "you\u{2019}ve hit your usage limit",
        "usage_limit_exceeded",
        "usage_limit_reached",
    ]) || (h.contains("workspace_") && h.contains("_credits_depleted"))
    {
        return Some(CreditSource::ChatGptSubscription);
    }
    if any(&["insufficient_quota", "exceeded your current quota"]) {
        return Some(if p.route == Route::Gateway {
            CreditSource::Gateway
        } else {
            CreditSource::OpenAi
        });
    }
    if any(&["weekly limit", "5-hour limit", "usage limit"]) {
        return Some(match p.api {
            Api::Anthropic => CreditSource::ClaudeSubscription,
            Api::OpenAi => CreditSource::ChatGptSubscription,
        });
    }
    if status == 402 {
        return Some(if p.route == Route::Gateway {
            CreditSource::Gateway
        } else {
            CreditSource::Unknown
        });
    }
    None
}

fn is_context_too_long(h: &str, status: u16) -> bool {
    status == 413
        || [
            "context_length_exceeded",
            "prompt is too long",
            "request_too_large",
            "exceed context limit",
            "maximum context length",
            "context window",
        ]
        .iter()
        .any(|p| h.contains(p))
}

/// `retry-after-ms`, then `retry-after` in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let v = get("retry-after")?;
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when =
        time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    let delta = when - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(delta).unwrap_or(Duration::ZERO))
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Replaces anything that looks like an API key (`sk-…`, `vck_…`, long bearer
/// tokens) with `[redacted]`, so provider messages that echo a key stay safe.
pub fn scrub_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let core = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_');
        let keyish = (core.starts_with("sk-") || core.starts_with("vck_")) && core.len() >= 12
            || core.len() >= 32
                && core
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if keyish && !core.contains('*') {
            out.push_str(&word.replace(core, "[redacted]"));
        } else {
            out.push_str(word);
        }
    }
    out
}

/// Removes every occurrence of a known secret from a text.
pub fn redact_known(text: String, secret: &str) -> String {
    if secret.len() < 4 {
        return text;
    }
    text.replace(secret, "[redacted]")
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
