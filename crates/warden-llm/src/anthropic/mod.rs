//! The Anthropic Messages API (`POST {base}/v1/messages`): JSON and SSE,
//! tool use, cached system prompts, cache usage.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};
use warden_creds::Secret;

use crate::client::{CancellationToken, EventStream, ModelClient};
use crate::error::{Api, LlmError, Provider, Route};
use crate::retry::{with_retries, RetryPolicy};
use crate::stream::{collect, decode_stream, Stall};

mod stream_decoder;
use crate::transport::{OpenedSse, Transport};
use crate::types::{ContentBlock, Request, Response, Role, StopReason, Usage};
use stream_decoder::StreamDecoder;

/// The API version header value Warden speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The public endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// How to authenticate.
#[derive(Debug, Clone)]
pub enum AnthropicAuth {
    /// `x-api-key: <key>` (an `ANTHROPIC_API_KEY`).
    ApiKey(Secret),
    /// `Authorization: Bearer <token>` (`ANTHROPIC_AUTH_TOKEN`, gateways, OAuth).
    Bearer(Secret),
}

impl AnthropicAuth {
    fn secret(&self) -> &Secret {
        match self {
            Self::ApiKey(s) | Self::Bearer(s) => s,
        }
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct AnthropicConfig {
    /// Without `/v1`, e.g. `https://api.anthropic.com` (as in `ANTHROPIC_BASE_URL`).
    pub base_url: String,
    pub auth: AnthropicAuth,
    /// Direct, gateway or subscription: decides whose credits an error is about.
    pub route: Route,
    /// Bound on the wait for the response head, a whole JSON answer, and each stream chunk.
    pub timeout: Duration,
    /// A streamed answer with no content for this long (from the request on) ends in
    /// [`LlmError::Stalled`].
    pub stall_timeout: Duration,
    pub retry: RetryPolicy,
}

impl AnthropicConfig {
    pub fn new(auth: AnthropicAuth) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            auth,
            route: Route::Direct,
            timeout: Duration::from_secs(600),
            stall_timeout: crate::DEFAULT_STALL_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

/// A Messages API client.
pub struct AnthropicClient {
    url: String,
    headers: HeaderMap,
    transport: Transport,
}

impl AnthropicClient {
    pub fn new(cfg: AnthropicConfig) -> Result<Self, LlmError> {
        crate::check_base_url(&cfg.base_url).map_err(|why| LlmError::InvalidRequest {
            status: 0,
            message: format!("the base URL {why}"),
        })?;
        let mut headers = HeaderMap::new();
        let bad_key = || LlmError::InvalidRequest {
            status: 0,
            message: "the credential contains characters not allowed in an HTTP header".into(),
        };
        let (name, value) = match &cfg.auth {
            AnthropicAuth::ApiKey(k) => ("x-api-key", k.expose().to_string()),
            AnthropicAuth::Bearer(t) => ("authorization", format!("Bearer {}", t.expose())),
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| bad_key())?;
        value.set_sensitive(true);
        headers.insert(HeaderName::from_static(name), value);
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        Ok(Self {
            url: format!("{}/v1/messages", cfg.base_url.trim_end_matches('/')),
            headers,
            transport: Transport {
                http: Transport::client(cfg.timeout)?,
                provider: Provider::new(Api::Anthropic, cfg.route),
                timeout: cfg.timeout,
                stall: cfg.stall_timeout,
                retry: cfg.retry,
                secret: cfg.auth.secret().clone(),
            },
        })
    }

    async fn send_json(
        &self,
        req: &Request,
        cancel: &CancellationToken,
    ) -> Result<Response, LlmError> {
        tracing::debug!(model = %req.model, url = %self.url, "anthropic messages call");
        let body = encode_request(req, false);
        let v = self
            .transport
            .post_json(&self.url, &self.headers, &body, cancel)
            .await?;
        let resp = decode_response(&v)?;
        resp.usage.check()?;
        Ok(resp)
    }

    async fn send_stream(
        &self,
        req: &Request,
        cancel: &CancellationToken,
    ) -> Result<EventStream, LlmError> {
        tracing::debug!(model = %req.model, url = %self.url, "anthropic messages stream");
        let (body, headers) = self.stream_request(req);
        let opened = self
            .transport
            .post_sse(&self.url, &headers, &body, cancel)
            .await?;
        Ok(self.decode(opened))
    }

    /// One streamed call collected, retried whole (not just up to the head).
    async fn send_streamed(
        &self,
        req: &Request,
        cancel: &CancellationToken,
    ) -> Result<Response, LlmError> {
        tracing::debug!(model = %req.model, url = %self.url, "anthropic messages stream, collected");
        let (body, headers) = self.stream_request(req);
        with_retries(&self.transport.retry, cancel, |_| async {
            let opened = self
                .transport
                .open_sse(&self.url, &headers, &body, cancel)
                .await?;
            collect(self.decode(opened)).await
        })
        .await
    }

    fn stream_request(&self, req: &Request) -> (Value, HeaderMap) {
        let mut headers = self.headers.clone();
        headers.insert("accept", HeaderValue::from_static("text/event-stream"));
        (encode_request(req, true), headers)
    }

    fn decode(&self, (sse, since): OpenedSse) -> EventStream {
        let decoder = StreamDecoder {
            provider: self.transport.provider,
            secret: self.transport.secret.clone(),
            usage: Usage::default(),
            stop: None,
            skipped: HashSet::new(),
            done: false,
        };
        let stall = Stall {
            after: self.transport.stall,
            since,
        };
        decode_stream(sse, decoder, stall)
    }
}

impl ModelClient for AnthropicClient {
    fn send<'a>(
        &'a self,
        req: &'a Request,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Response, LlmError>> {
        Box::pin(self.send_json(req, cancel))
    }

    fn stream<'a>(
        &'a self,
        req: &'a Request,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<EventStream, LlmError>> {
        Box::pin(self.send_stream(req, cancel))
    }

    fn send_streamed<'a>(
        &'a self,
        req: &'a Request,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Response, LlmError>> {
        Box::pin(AnthropicClient::send_streamed(self, req, cancel))
    }
}

/// The Messages API request body.
pub fn encode_request(req: &Request, stream: bool) -> Value {
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| {
            let content: Vec<Value> = m
                .content
                .iter()
                .map(|b| match b {
                    ContentBlock::Text { text } => json!({"type": "text", "text": text}),
                    ContentBlock::ToolUse { id, name, input } => {
                        json!({"type": "tool_use", "id": id, "name": name, "input": input})
                    }
                    ContentBlock::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                    } => json!({
                        "type": "tool_result",
                        "tool_use_id": tool_use_id,
                        "content": content,
                        "is_error": is_error,
                    }),
                })
                .collect();
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            json!({"role": role, "content": content})
        })
        .collect();
    let mut body = json!({
        "model": req.model,
        "max_tokens": req.max_tokens,
        "messages": messages,
    });
    if let Some(sys) = &req.system {
        let mut block = json!({"type": "text", "text": sys.text});
        if sys.cache {
            block["cache_control"] = json!({"type": "ephemeral"});
        }
        body["system"] = json!([block]);
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
            .collect();
        body["tools"] = Value::Array(tools);
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if stream {
        body["stream"] = json!(true);
    }
    body
}

pub(super) fn malformed(what: &str) -> LlmError {
    LlmError::MalformedResponse {
        message: format!("Anthropic response: {what}"),
    }
}

pub(super) fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, LlmError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(&format!("missing string field `{key}`")))
}

pub(super) fn stop_reason(s: &str) -> StopReason {
    match s {
        "end_turn" => StopReason::EndTurn,
        "tool_use" => StopReason::ToolUse,
        "max_tokens" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence,
        "refusal" => StopReason::Refusal,
        other => StopReason::Other(other.to_string()),
    }
}

/// Reads `usage` into `into`, keeping fields the object does not mention.
pub(super) fn read_usage(v: &Value, into: &mut Usage) {
    let n = |k: &str| v.get(k).and_then(Value::as_u64);
    if let Some(x) = n("input_tokens") {
        into.input = x;
    }
    if let Some(x) = n("output_tokens") {
        into.output = x;
    }
    if let Some(x) = n("cache_creation_input_tokens") {
        into.cache_write = x;
    }
    if let Some(x) = n("cache_read_input_tokens") {
        into.cache_read = x;
    }
}

/// A non-streamed Messages API answer.
pub fn decode_response(v: &Value) -> Result<Response, LlmError> {
    let mut content = Vec::new();
    let blocks = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("missing `content`"))?;
    for b in blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => content.push(ContentBlock::text(str_of(b, "text")?)),
            Some("tool_use") => content.push(ContentBlock::ToolUse {
                id: str_of(b, "id")?.to_string(),
                name: str_of(b, "name")?.to_string(),
                input: match b.get("input") {
                    None => json!({}),
                    Some(v @ Value::Object(_)) => v.clone(),
                    Some(_) => return Err(malformed("tool_use input is not a JSON object")),
                },
            }),
            other => tracing::debug!(?other, "skipping content block"),
        }
    }
    let mut usage = Usage::default();
    if let Some(u) = v.get("usage") {
        read_usage(u, &mut usage);
    }
    Ok(Response {
        id: str_of(v, "id")?.to_string(),
        model: str_of(v, "model")?.to_string(),
        content,
        stop_reason: stop_reason(
            v.get("stop_reason")
                .and_then(Value::as_str)
                .unwrap_or("end_turn"),
        ),
        usage,
    })
}
