//! Provider clients for Warden's AI stages.
//!
//! - [`types`]: the provider-neutral request/response/event types and the
//!   [`ModelClient`] trait the agent code calls.
//! - [`error`]: [`LlmError`], classified so the pipeline can act (stop on
//!   exhausted credits, retry on rate limits, tell the user what to do).
//!
//! API keys are [`warden_creds::Secret`]s; they never appear in logs or error text.

pub mod client;
pub mod error;
pub mod sse;
pub mod types;

pub use client::{CancellationToken, EventStream, ModelClient};
pub use error::{classify, Api, CreditSource, LlmError, Provider, Route};
pub use types::{
    ContentBlock, Event, Message, Request, Response, Role, StopReason, SystemPrompt, Tool, Usage,
};
