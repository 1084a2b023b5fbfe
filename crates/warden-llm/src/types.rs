//! Provider-neutral request, response and streaming types the agent code uses.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One block of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Plain text.
    Text { text: String },
    /// The model asks for a tool call; `input` is the parsed JSON arguments.
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// The answer to a tool call, sent back in a user message.
    ToolResult {
        tool_use_id: String,
        content: String,
        is_error: bool,
    },
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }
}

/// A message in the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<ContentBlock>,
}

impl Message {
    /// A user message with one text block.
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: vec![ContentBlock::text(text)],
        }
    }

    /// An assistant message with one text block.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: vec![ContentBlock::text(text)],
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub description: String,
    /// JSON Schema of the tool's input object.
    pub input_schema: Value,
}

/// The system prompt; `cache` asks the provider to cache it (Anthropic `cache_control`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemPrompt {
    pub text: String,
    pub cache: bool,
}

/// One model call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub model: String,
    pub system: Option<SystemPrompt>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
}

impl Request {
    /// A request with no system prompt, tools or temperature.
    pub fn new(model: impl Into<String>, messages: Vec<Message>, max_tokens: u32) -> Self {
        Self {
            model: model.into(),
            system: None,
            messages,
            tools: Vec::new(),
            max_tokens,
            temperature: None,
        }
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
    StopSequence,
    Refusal,
    /// The provider's stop reason when it has no neutral equivalent.
    Other(String),
}

/// Token counts of one call.
///
/// `input` excludes cached tokens (Anthropic's convention; OpenAI figures are
/// converted), so `input + cache_write + cache_read` is the whole prompt.
/// `reasoning` is the part of `output` spent on hidden reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_write: u64,
    pub cache_read: u64,
    pub reasoning: u64,
}

/// The most tokens of one kind a single call may report. Far above any model's
/// context window, and low enough that a store can add up billions of calls
/// without overflowing a 64-bit integer.
pub const MAX_CALL_TOKENS: u64 = u32::MAX as u64;

impl Usage {
    /// Adds another call's usage (saturating: figures come from the network).
    pub fn add(&mut self, other: &Usage) {
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cache_write = self.cache_write.saturating_add(other.cache_write);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.reasoning = self.reasoning.saturating_add(other.reasoning);
    }

    /// Refuses figures no real call produces (at most [`MAX_CALL_TOKENS`] of each
    /// kind), so a broken or hostile endpoint fails its own call instead of
    /// corrupting the spend totals of a run.
    pub fn check(&self) -> Result<(), crate::LlmError> {
        let fields = [
            ("input", self.input),
            ("output", self.output),
            ("cache write", self.cache_write),
            ("cache read", self.cache_read),
            ("reasoning", self.reasoning),
        ];
        match fields.iter().find(|(_, n)| *n > MAX_CALL_TOKENS) {
            None => Ok(()),
            Some((what, n)) => Err(crate::LlmError::MalformedResponse {
                message: format!(
                    "usage reports {n} {what} tokens for one call, more than any model call uses (at most {MAX_CALL_TOKENS})"
                ),
            }),
        }
    }
}

/// A complete model answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: String,
    pub model: String,
    pub content: Vec<ContentBlock>,
    pub stop_reason: StopReason,
    pub usage: Usage,
}

impl Response {
    /// All text blocks joined.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|b| match b {
                ContentBlock::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The cost of this call by `prices`; [`crate::Cost::Unknown`] for an unpriced model.
    pub fn cost(&self, prices: &crate::PriceTable) -> crate::Cost {
        prices.cost(&self.model, &self.usage)
    }

    /// The tool calls the model asked for, in order.
    pub fn tool_uses(&self) -> impl Iterator<Item = (&str, &str, &Value)> {
        self.content.iter().filter_map(|b| match b {
            ContentBlock::ToolUse { id, name, input } => Some((id.as_str(), name.as_str(), input)),
            _ => None,
        })
    }
}

/// A streaming event, provider-neutral. `index` numbers content blocks from 0.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The answer began.
    MessageStart { id: String, model: String },
    /// A text block began.
    TextStart { index: usize },
    /// More text for block `index`.
    TextDelta { index: usize, text: String },
    /// A tool call began.
    ToolUseStart {
        index: usize,
        id: String,
        name: String,
    },
    /// A fragment of the tool call's JSON input.
    ToolInputDelta { index: usize, partial_json: String },
    /// Block `index` is complete.
    BlockStop { index: usize },
    /// Usage so far (cumulative; the last one wins).
    Usage(Usage),
    /// The answer is complete.
    MessageStop { stop_reason: StopReason },
}
