//! Provider clients for Warden's AI stages.
//!
//! - [`types`]: the provider-neutral request/response/event types and the
//!   [`ModelClient`] trait the agent code calls.
//! - [`error`]: [`LlmError`], classified so the pipeline can act (stop on
//!   exhausted credits, retry on rate limits, tell the user what to do).
//! - [`anthropic`]: the Anthropic Messages API (JSON and SSE, tool use,
//!   prompt caching), with [`retry`] (backoff, jitter, `retry-after`),
//!   request timeouts and cancellation that drops the HTTP connection.
//! - [`openai`]: the OpenAI Responses and Chat Completions APIs (JSON and
//!   SSE, function calls, cached and reasoning tokens), for OpenAI, gateways
//!   and OpenAI-compatible local servers.
//! - [`sse`]: an incremental Server-Sent Events parser; [`stream`] turns
//!   provider events into neutral [`Event`]s and those into a [`Response`].
//!   A streamed answer with no content for the stall timeout (default
//!   [`DEFAULT_STALL_TIMEOUT`]; pings are not content) ends in [`LlmError::Stalled`];
//!   [`ModelClient::send_streamed`] collects one and retries it whole.
//! - [`check_base_url`]: only `http(s)` base URLs with a host are endpoints.
//! - [`price`]: per-model prices and [`PriceTable::cost`]; unknown models
//!   cost [`Cost::Unknown`], never a silent zero.
//!
//! API keys are [`warden_creds::Secret`]s; they never appear in logs or error text.

pub mod anthropic;
mod base_url;
pub mod client;
pub mod error;
pub mod openai;
pub mod price;
pub mod retry;
pub mod sse;
pub mod stream;
mod transport;
pub mod types;

pub use anthropic::{AnthropicAuth, AnthropicClient, AnthropicConfig};
pub use base_url::check_base_url;
pub use client::{CancellationToken, EventStream, ModelClient};
pub use error::{classify, Api, CreditSource, LlmError, Provider, Route};
pub use openai::{OpenAiClient, OpenAiConfig, OpenAiWire};
pub use price::{Cost, Price, PriceTable};
pub use retry::RetryPolicy;
pub use stream::{collect, Accumulator};
pub use types::{
    ContentBlock, Event, Message, Request, Response, Role, StopReason, SystemPrompt, Tool, Usage,
    MAX_CALL_TOKENS,
};

/// How long a streamed answer may go without content before it counts as stalled
/// ([`LlmError::Stalled`]): long enough for a large prompt's first token, short
/// enough that a hung endpoint costs minutes, not the whole-call timeout.
pub const DEFAULT_STALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
