//! Scripts: what the mock answers, turn by turn. Serializable, so the
//! `warden-mock-llm` binary can read one from a JSON file.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// The text the mock replies with once the script has no turns left.
pub const DEFAULT_FINAL_TEXT: &str = "MOCK-FINAL: the script has no more turns.";

/// Ordered turns; each generation request (`POST /v1/messages`,
/// `/v1/responses`, `/v1/chat/completions`) takes the next one.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Script {
    #[serde(default)]
    pub turns: Vec<Turn>,
    /// Replied (as a plain text turn) when `turns` has run out.
    #[serde(default = "default_final_text")]
    pub final_text: String,
    /// Added to every generation reply, on top of a turn's own delay: a model's
    /// fixed latency, for benchmarks.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub latency_ms: u64,
    /// Hold every generation reply until this many generation requests have been in
    /// flight at once (then the gate stays open), or until `hold_timeout_ms` has passed:
    /// proves that a client really runs that many requests at the same time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_until_in_flight: Option<usize>,
    /// How long a held reply waits at most (default 30 s), so that a client running
    /// fewer requests at once is slowed down, never hung.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_timeout_ms: Option<u64>,
}

fn default_final_text() -> String {
    DEFAULT_FINAL_TEXT.to_string()
}

impl Default for Script {
    fn default() -> Self {
        Script::new(Vec::new())
    }
}

impl Script {
    pub fn new(turns: Vec<Turn>) -> Script {
        Script {
            turns,
            final_text: default_final_text(),
            latency_ms: 0,
            hold_until_in_flight: None,
            hold_timeout_ms: None,
        }
    }

    /// Every generation reply comes after `latency` (on top of a turn's own delay).
    pub fn with_latency(mut self, latency: Duration) -> Script {
        self.latency_ms = latency.as_millis() as u64;
        self
    }

    /// Holds every generation reply until `n` generation requests are in flight at
    /// once (or `timeout` has passed); see [`MockLlm::peak_in_flight`](super::MockLlm::peak_in_flight).
    pub fn hold_until_in_flight(mut self, n: usize, timeout: Duration) -> Script {
        self.hold_until_in_flight = Some(n);
        self.hold_timeout_ms = Some(timeout.as_millis() as u64);
        self
    }

    pub fn with_final_text(mut self, text: impl Into<String>) -> Script {
        self.final_text = text.into();
        self
    }

    /// Parses a script from JSON (the binary's file format).
    pub fn from_json(text: &str) -> Result<Script, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// One reply. A turn with `error` set answers with that error; one with
/// `malformed` set corrupts its own reply; otherwise it answers with `text`
/// (optional) followed by `tool_calls` (optional), and `usage`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Turn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Wait this long before answering (before the status line).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delay_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorKind>,
    /// With `error`, on a streaming request: answer 200 and start the stream,
    /// then send the error in it (Anthropic `event: error`, Responses
    /// `response.failed`, Chat a `data: {"error": …}` chunk), as the real
    /// APIs do when a request fails after the headers were sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub error_mid_stream: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malformed: Option<Malformed>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Turn {
    /// A final text answer (`end_turn` / `stop`).
    pub fn text(text: impl Into<String>) -> Turn {
        Turn {
            text: Some(text.into()),
            ..Turn::default()
        }
    }

    /// One tool call (`tool_use` / `function_call` / `tool_calls`).
    pub fn tool_call(name: impl Into<String>, input: Value) -> Turn {
        Turn::tool_calls(vec![ToolCall::new(name, input)])
    }

    /// Several tool calls in one reply.
    pub fn tool_calls(calls: Vec<ToolCall>) -> Turn {
        Turn {
            tool_calls: calls,
            ..Turn::default()
        }
    }

    /// An error reply with the provider's real status, headers and body.
    pub fn error(kind: ErrorKind) -> Turn {
        Turn {
            error: Some(kind),
            ..Turn::default()
        }
    }

    /// A corrupted reply: a text turn (or, for `InvalidToolJson`, a tool call)
    /// broken in the given way.
    pub fn malformed(kind: Malformed) -> Turn {
        Turn {
            text: Some("This reply is cut short on purpose by the mock".into()),
            malformed: Some(kind),
            ..Turn::default()
        }
    }

    /// An error sent inside a started SSE stream (plain error for JSON requests).
    pub fn error_mid_stream(kind: ErrorKind) -> Turn {
        Turn {
            error: Some(kind),
            error_mid_stream: true,
            ..Turn::default()
        }
    }

    pub fn with_text(mut self, text: impl Into<String>) -> Turn {
        self.text = Some(text.into());
        self
    }

    pub fn with_tool_call(mut self, name: impl Into<String>, input: Value) -> Turn {
        self.tool_calls.push(ToolCall::new(name, input));
        self
    }

    pub fn with_usage(mut self, usage: Usage) -> Turn {
        self.usage = Some(usage);
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> Turn {
        self.delay_ms = delay.as_millis() as u64;
        self
    }

    pub fn with_malformed(mut self, kind: Malformed) -> Turn {
        self.malformed = Some(kind);
        self
    }

    pub(crate) fn usage_or_default(&self) -> Usage {
        self.usage.clone().unwrap_or(Usage {
            input_tokens: 10,
            output_tokens: 7,
            ..Usage::default()
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ToolCall {
    pub name: String,
    /// The arguments object (Anthropic `input`, OpenAI `arguments` as JSON text).
    #[serde(default = "empty_object")]
    pub input: Value,
    /// The call id; generated (`toolu_mock_…` / `call_mock_…`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Responses wire only: the namespace of a namespaced tool (Codex offers each
    /// MCP server as a `namespace` tool, e.g. `mcp__warden`, and accepts a call to
    /// one of its functions only with `namespace` and `name` apart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

fn empty_object() -> Value {
    json!({})
}

impl ToolCall {
    pub fn new(name: impl Into<String>, input: Value) -> ToolCall {
        ToolCall {
            name: name.into(),
            input,
            id: None,
            namespace: None,
        }
    }

    pub fn with_namespace(mut self, namespace: impl Into<String>) -> ToolCall {
        self.namespace = Some(namespace.into());
        self
    }

    pub fn with_id(mut self, id: impl Into<String>) -> ToolCall {
        self.id = Some(id.into());
        self
    }
}

/// Token figures of one reply, in Anthropic's terms. On the OpenAI wires
/// `input_tokens`/`prompt_tokens` = `input_tokens + cache_read_input_tokens`
/// (OpenAI counts cached tokens inside the input) with `cached_tokens` =
/// `cache_read_input_tokens`, and `output_tokens`/`completion_tokens` =
/// `output_tokens + reasoning_tokens` with `reasoning_tokens` reported apart.
/// `cache_creation_input_tokens` exists on the Anthropic wire only.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    #[serde(default)]
    pub reasoning_tokens: u64,
}

impl Usage {
    pub fn new(input_tokens: u64, output_tokens: u64) -> Usage {
        Usage {
            input_tokens,
            output_tokens,
            ..Usage::default()
        }
    }

    pub fn with_cache(mut self, write: u64, read: u64) -> Usage {
        self.cache_creation_input_tokens = write;
        self.cache_read_input_tokens = read;
        self
    }

    pub fn with_reasoning(mut self, reasoning: u64) -> Usage {
        self.reasoning_tokens = reasoning;
        self
    }
}

/// Error replies, each with the real provider's status code, headers and body.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ErrorKind {
    /// 400 `invalid_request_error` "Your credit balance is too low to access the Anthropic API…".
    AnthropicCreditBalanceTooLow,
    /// 401 `authentication_error` "invalid x-api-key".
    AnthropicAuthentication,
    /// 429 `rate_limit_error` with `retry-after`.
    AnthropicRateLimit {
        #[serde(default = "default_retry_after")]
        retry_after_secs: u64,
    },
    /// 529 `overloaded_error` "Overloaded".
    AnthropicOverloaded,
    /// 400 `invalid_request_error` "prompt is too long: … tokens > 200000 maximum".
    AnthropicPromptTooLong,
    /// 429 `insufficient_quota` "You exceeded your current quota…".
    OpenaiInsufficientQuota,
    /// 429 `rate_limit_exceeded` with `retry-after`.
    OpenaiRateLimit {
        #[serde(default = "default_retry_after")]
        retry_after_secs: u64,
    },
    /// 401 `invalid_api_key` "Incorrect API key provided…".
    OpenaiInvalidApiKey,
    /// 400 `context_length_exceeded` "This model's maximum context length is…".
    OpenaiContextLengthExceeded,
    /// 402 from an AI gateway out of credits (`insufficient_funds`).
    GatewayInsufficientFunds,
    /// 500, shaped for the endpoint it is served on (Anthropic `api_error`,
    /// OpenAI `server_error`).
    ServerError,
    /// Anything else: this status, body and extra headers, verbatim.
    Custom {
        status: u16,
        body: Value,
        #[serde(default)]
        headers: Vec<(String, String)>,
    },
}

fn default_retry_after() -> u64 {
    1
}

/// Ways to corrupt a reply.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Malformed {
    /// SSE: one valid event, then a `data:` line that is not JSON and a line
    /// that is not SSE, then the body ends. JSON: a 200 whose body is not JSON.
    BrokenSse,
    /// The tool call's arguments are not valid JSON (an unterminated object);
    /// a `mock_tool` call is added when the turn has none.
    InvalidToolJson,
    /// The body stops halfway (after the first events, before any terminal
    /// event) and the connection is aborted.
    TruncatedStream,
}
