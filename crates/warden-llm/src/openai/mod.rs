//! OpenAI APIs: Responses (`POST {base}/responses`) and Chat Completions
//! (`POST {base}/chat/completions`), JSON and SSE, function calls, usage with
//! cached and reasoning tokens. The base URL includes `/v1`, as in
//! `OPENAI_BASE_URL`; gateways and OpenAI-compatible local servers (Ollama,
//! vLLM) work by changing it.

use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use warden_creds::Secret;

use crate::client::{CancellationToken, EventStream, ModelClient};
use crate::error::{Api, LlmError, Provider, Route};
use crate::retry::{with_retries, RetryPolicy};
use crate::stream::{collect, decode_stream, Stall};
use crate::transport::{OpenedSse, Transport};
use crate::types::{Request, Response, Usage};

pub mod chat;
pub mod responses;

/// The public endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// Which OpenAI wire API to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenAiWire {
    /// `/responses`, OpenAI's current API (what Codex uses).
    Responses,
    /// `/chat/completions`, what most OpenAI-compatible servers speak.
    ChatCompletions,
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// With `/v1`, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer`; local servers may need none.
    pub api_key: Option<Secret>,
    pub route: Route,
    pub wire: OpenAiWire,
    /// Chat Completions only: send `max_tokens` instead of
    /// `max_completion_tokens` (older OpenAI-compatible servers).
    pub legacy_max_tokens: bool,
    /// Bound on the wait for the response head, a whole JSON answer, and each stream chunk.
    pub timeout: Duration,
    /// A streamed answer with no content for this long (from the request on) ends in
    /// [`LlmError::Stalled`].
    pub stall_timeout: Duration,
    pub retry: RetryPolicy,
}

impl OpenAiConfig {
    pub fn new(api_key: Option<Secret>, wire: OpenAiWire) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            api_key,
            route: Route::Direct,
            wire,
            legacy_max_tokens: false,
            timeout: Duration::from_secs(600),
            stall_timeout: crate::DEFAULT_STALL_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

/// An OpenAI (or OpenAI-compatible) client.
pub struct OpenAiClient {
    url: String,
    wire: OpenAiWire,
    legacy_max_tokens: bool,
    headers: HeaderMap,
    transport: Transport,
}

impl OpenAiClient {
    pub fn new(cfg: OpenAiConfig) -> Result<Self, LlmError> {
        crate::check_base_url(&cfg.base_url).map_err(|why| LlmError::InvalidRequest {
            status: 0,
            message: format!("the base URL {why}"),
        })?;
        let mut headers = HeaderMap::new();
        if let Some(key) = &cfg.api_key {
            let mut v =
                HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                    LlmError::InvalidRequest {
                        status: 0,
                        message: "the API key contains characters not allowed in an HTTP header"
                            .into(),
                    }
                })?;
            v.set_sensitive(true);
            headers.insert("authorization", v);
        }
        let path = match cfg.wire {
            OpenAiWire::Responses => "responses",
            OpenAiWire::ChatCompletions => "chat/completions",
        };
        Ok(Self {
            url: format!("{}/{path}", cfg.base_url.trim_end_matches('/')),
            wire: cfg.wire,
            legacy_max_tokens: cfg.legacy_max_tokens,
            headers,
            transport: Transport {
                http: Transport::client(cfg.timeout)?,
                provider: Provider::new(Api::OpenAi, cfg.route),
                timeout: cfg.timeout,
                stall: cfg.stall_timeout,
                retry: cfg.retry,
                secret: cfg.api_key.unwrap_or_else(|| Secret::new("")),
            },
        })
    }

    fn body(&self, req: &Request, stream: bool) -> Value {
        match self.wire {
            OpenAiWire::Responses => responses::encode_request(req, stream),
            OpenAiWire::ChatCompletions => {
                chat::encode_request(req, stream, self.legacy_max_tokens)
            }
        }
    }

    async fn send_json(
        &self,
        req: &Request,
        cancel: &CancellationToken,
    ) -> Result<Response, LlmError> {
        tracing::debug!(model = %req.model, url = %self.url, "openai call");
        let v = self
            .transport
            .post_json(&self.url, &self.headers, &self.body(req, false), cancel)
            .await?;
        let resp = match self.wire {
            OpenAiWire::Responses => responses::decode_response(&v, &self.transport),
            OpenAiWire::ChatCompletions => chat::decode_response(&v),
        }?;
        resp.usage.check()?;
        Ok(resp)
    }

    async fn send_stream(
        &self,
        req: &Request,
        cancel: &CancellationToken,
    ) -> Result<EventStream, LlmError> {
        tracing::debug!(model = %req.model, url = %self.url, "openai stream");
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
        tracing::debug!(model = %req.model, url = %self.url, "openai stream, collected");
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
        (self.body(req, true), headers)
    }

    fn decode(&self, (sse, since): OpenedSse) -> EventStream {
        let (provider, secret) = (self.transport.provider, self.transport.secret.clone());
        let stall = Stall {
            after: self.transport.stall,
            since,
        };
        match self.wire {
            OpenAiWire::Responses => {
                decode_stream(sse, responses::StreamDecoder::new(provider, secret), stall)
            }
            OpenAiWire::ChatCompletions => {
                decode_stream(sse, chat::StreamDecoder::new(provider, secret), stall)
            }
        }
    }
}

impl ModelClient for OpenAiClient {
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
        Box::pin(OpenAiClient::send_streamed(self, req, cancel))
    }
}

pub(crate) fn malformed(what: &str) -> LlmError {
    LlmError::MalformedResponse {
        message: format!("OpenAI response: {what}"),
    }
}

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, LlmError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(&format!("missing string field `{key}`")))
}

/// OpenAI usage → neutral usage. Handles both wires' names
/// (`input_tokens`/`prompt_tokens`, `*_tokens_details`). OpenAI counts cached
/// tokens inside the input; neutral `input` excludes them.
pub(crate) fn read_usage(u: &Value) -> Usage {
    let n = |p: &str| u.pointer(p).and_then(Value::as_u64);
    let input = n("/input_tokens").or(n("/prompt_tokens")).unwrap_or(0);
    let cached = n("/input_tokens_details/cached_tokens")
        .or(n("/prompt_tokens_details/cached_tokens"))
        .unwrap_or(0);
    Usage {
        input: input.saturating_sub(cached),
        output: n("/output_tokens").or(n("/completion_tokens")).unwrap_or(0),
        cache_write: 0,
        cache_read: cached,
        reasoning: n("/output_tokens_details/reasoning_tokens")
            .or(n("/completion_tokens_details/reasoning_tokens"))
            .unwrap_or(0),
    }
}
