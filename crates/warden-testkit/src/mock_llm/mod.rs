//! A scriptable mock LLM server on loopback, speaking the real wire formats:
//!
//! - Anthropic Messages: `POST /v1/messages` (also with `?beta=true`), JSON or
//!   SSE (`message_start`, `content_block_start`, `ping`, `content_block_delta`
//!   with `text_delta` / `input_json_delta`, `content_block_stop`,
//!   `message_delta` with `stop_reason` and usage, `message_stop`);
//!   `POST /v1/messages/count_tokens`; `HEAD /` and `GET /` answer 200.
//! - OpenAI Responses: `POST /v1/responses`, JSON or SSE (`response.created`,
//!   `response.in_progress`, `response.output_item.added`,
//!   `response.content_part.added`, `response.output_text.delta/done`,
//!   `response.function_call_arguments.delta/done`,
//!   `response.output_item.done`, `response.completed` with usage).
//! - OpenAI Chat Completions: `POST /v1/chat/completions`, JSON or SSE
//!   (`chat.completion.chunk`s with `tool_calls` deltas, a final usage chunk
//!   with empty `choices`, then `data: [DONE]`).
//!
//! Each generation request takes the next [`Turn`] of the [`Script`]; when the
//! script runs out the mock answers with [`Script::final_text`]. A turn is
//! text and/or tool calls with usage, optionally delayed; or an error
//! ([`ErrorKind`], with the providers' real status, headers and body, either
//! as the response or inside a started stream via [`Turn::error_mid_stream`]);
//! or corrupted output ([`Malformed`]). A script may add a fixed latency to every
//! reply ([`Script::with_latency`]) or hold replies until N requests are in flight at
//! once ([`Script::hold_until_in_flight`], [`MockLlm::peak_in_flight`]). Every request
//! is recorded ([`MockLlm::requests`]). `HEAD /`, `GET /` and `count_tokens` take no turn.
//!
//! ```no_run
//! use serde_json::json;
//! use warden_testkit::mock_llm::{ErrorKind, MockLlm, Script, Turn, Usage};
//! let mock = MockLlm::start_blocking(Script::new(vec![
//!     Turn::tool_call("Read", json!({"file_path": "/tmp/x"})),
//!     Turn::error(ErrorKind::AnthropicOverloaded),
//!     Turn::text("done").with_usage(Usage::new(100, 20).with_cache(50, 30)),
//! ]));
//! // ANTHROPIC_BASE_URL = mock.url(); OpenAI base URL = mock.openai_base_url()
//! let seen = mock.requests();
//! # let _ = seen;
//! ```

mod anthropic;
mod errors;
mod gate;
mod openai;
mod recording;
mod reply;
mod script;
mod server;

pub use errors::{ANTHROPIC_CREDIT_MESSAGE, OPENAI_QUOTA_MESSAGE};
pub use recording::RecordedRequest;
pub use script::{ErrorKind, Malformed, Script, ToolCall, Turn, Usage, DEFAULT_FINAL_TEXT};
pub use server::MockLlm;
