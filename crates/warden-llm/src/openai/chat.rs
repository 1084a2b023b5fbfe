//! The Chat Completions wire format: `messages` with `tool_calls` and `tool`
//! messages, and `chat.completion.chunk` stream events ending in `[DONE]`.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{malformed, read_usage, str_of};
use warden_creds::Secret;

use crate::error::{LlmError, Provider};
use crate::sse::SseEvent;
use crate::stream::{parse_tool_input, Decoder};
use crate::transport::stream_error;
use crate::types::{ContentBlock, Event, Request, Response, Role, StopReason, Usage};

/// The request body. `legacy_max_tokens` sends `max_tokens` instead of `max_completion_tokens`.
pub fn encode_request(req: &Request, stream: bool, legacy_max_tokens: bool) -> Value {
    let mut messages = Vec::new();
    if let Some(sys) = &req.system {
        messages.push(json!({"role": "system", "content": sys.text}));
    }
    for m in &req.messages {
        let text: String = m
            .content
            .iter()
            .filter_map(|b| match b {
                ContentBlock::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n");
        match m.role {
            Role::Assistant => {
                let calls: Vec<Value> = m
                    .content
                    .iter()
                    .filter_map(|b| match b {
                        ContentBlock::ToolUse { id, name, input } => Some(json!({
                            "id": id,
                            "type": "function",
                            "function": {"name": name, "arguments": input.to_string()},
                        })),
                        _ => None,
                    })
                    .collect();
                let mut msg = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
                if !calls.is_empty() {
                    msg["tool_calls"] = Value::Array(calls);
                }
                messages.push(msg);
            }
            Role::User => {
                // Tool answers must directly follow the assistant's tool calls.
                for b in &m.content {
                    if let ContentBlock::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                    } = b
                    {
                        let content = if *is_error {
                            format!("Error: {content}")
                        } else {
                            content.clone()
                        };
                        messages.push(
                            json!({"role": "tool", "tool_call_id": tool_use_id, "content": content}),
                        );
                    }
                }
                if !text.is_empty() {
                    messages.push(json!({"role": "user", "content": text}));
                }
            }
        }
    }
    let max_field = if legacy_max_tokens {
        "max_tokens"
    } else {
        "max_completion_tokens"
    };
    let mut body = json!({"model": req.model, "messages": messages});
    body[max_field] = json!(req.max_tokens);
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.input_schema,
                }})
            })
            .collect();
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

fn finish_reason(s: &str) -> StopReason {
    match s {
        "stop" => StopReason::EndTurn,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "length" => StopReason::MaxTokens,
        "content_filter" => StopReason::Refusal,
        other => StopReason::Other(other.to_string()),
    }
}

/// A non-streamed answer (the first choice).
pub fn decode_response(v: &Value) -> Result<Response, LlmError> {
    let choice = v
        .pointer("/choices/0")
        .ok_or_else(|| malformed("no choices"))?;
    let msg = choice
        .get("message")
        .ok_or_else(|| malformed("choice without message"))?;
    let mut content = Vec::new();
    if let Some(text) = msg.get("content").and_then(Value::as_str) {
        if !text.is_empty() {
            content.push(ContentBlock::text(text));
        }
    }
    for call in msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = call
            .get("function")
            .ok_or_else(|| malformed("tool call without function"))?;
        let name = str_of(f, "name")?;
        let args = f.get("arguments").and_then(Value::as_str).unwrap_or("");
        content.push(ContentBlock::ToolUse {
            id: str_of(call, "id")?.to_string(),
            name: name.to_string(),
            input: parse_tool_input(name, args)?,
        });
    }
    Ok(Response {
        id: v
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        model: str_of(v, "model")?.to_string(),
        stop_reason: finish_reason(
            choice
                .get("finish_reason")
                .and_then(Value::as_str)
                .unwrap_or("stop"),
        ),
        usage: v.get("usage").map(read_usage).unwrap_or_default(),
        content,
    })
}

/// Decodes `chat.completion.chunk` events. Text is block 0; tool call `i` is block `i + 1`.
pub(crate) struct StreamDecoder {
    provider: Provider,
    secret: Secret,
    started: bool,
    text_open: bool,
    /// Chunk tool-call index → opened.
    calls: BTreeSet<usize>,
    usage: Usage,
    stop: Option<StopReason>,
    done: bool,
}

impl StreamDecoder {
    pub(crate) fn new(provider: Provider, secret: Secret) -> Self {
        Self {
            provider,
            secret,
            started: false,
            text_open: false,
            calls: BTreeSet::new(),
            usage: Usage::default(),
            stop: None,
            done: false,
        }
    }
}

impl Decoder for StreamDecoder {
    fn finished(&self) -> bool {
        self.done
    }

    fn decode(&mut self, ev: SseEvent) -> Result<Vec<Event>, LlmError> {
        let mut out = Vec::new();
        if ev.data.trim() == "[DONE]" {
            if self.text_open {
                out.push(Event::BlockStop { index: 0 });
            }
            for i in &self.calls {
                out.push(Event::BlockStop { index: i + 1 });
            }
            out.push(Event::Usage(self.usage));
            let stop_reason = self
                .stop
                .take()
                .ok_or_else(|| malformed("[DONE] before a finish_reason"))?;
            out.push(Event::MessageStop { stop_reason });
            self.done = true;
            return Ok(out);
        }
        let v: Value = serde_json::from_str(&ev.data)
            .map_err(|e| malformed(&format!("chunk is not JSON: {e}")))?;
        if v.get("error").is_some() {
            return Err(stream_error(self.provider, &self.secret, &ev.data));
        }
        if !self.started {
            self.started = true;
            out.push(Event::MessageStart {
                id: v
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                model: v
                    .get("model")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.usage = read_usage(u);
        }
        for choice in v
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let delta = choice.get("delta").cloned().unwrap_or(json!({}));
            if let Some(text) = delta.get("content").and_then(Value::as_str) {
                if !text.is_empty() {
                    if !self.text_open {
                        self.text_open = true;
                        out.push(Event::TextStart { index: 0 });
                    }
                    out.push(Event::TextDelta {
                        index: 0,
                        text: text.to_string(),
                    });
                }
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let i = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                if !self.calls.contains(&i) {
                    self.calls.insert(i);
                    out.push(Event::ToolUseStart {
                        index: i + 1,
                        id: str_of(call, "id")?.to_string(),
                        name: call
                            .pointer("/function/name")
                            .and_then(Value::as_str)
                            .ok_or_else(|| malformed("first tool call chunk without a name"))?
                            .to_string(),
                    });
                }
                if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                    if !args.is_empty() {
                        out.push(Event::ToolInputDelta {
                            index: i + 1,
                            partial_json: args.to_string(),
                        });
                    }
                }
            }
            if let Some(r) = choice.get("finish_reason").and_then(Value::as_str) {
                self.stop = Some(finish_reason(r));
            }
        }
        Ok(out)
    }
}
