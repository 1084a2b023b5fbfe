//! The Responses API wire format: `input` items, `function_call` /
//! `function_call_output`, and the `response.*` stream events.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};
use warden_creds::Secret;

use super::{malformed, read_usage, str_of};
use crate::error::{LlmError, Provider};
use crate::sse::SseEvent;
use crate::stream::{parse_tool_input, Decoder};
use crate::transport::{stream_error, Transport};
use crate::types::{ContentBlock, Event, Request, Response, Role, StopReason, Usage};

/// The request body.
pub fn encode_request(req: &Request, stream: bool) -> Value {
    let mut input = Vec::new();
    for m in &req.messages {
        let (role, text_type) = match m.role {
            Role::User => ("user", "input_text"),
            Role::Assistant => ("assistant", "output_text"),
        };
        let mut texts = Vec::new();
        let flush = |texts: &mut Vec<Value>, input: &mut Vec<Value>| {
            if !texts.is_empty() {
                input.push(json!({"role": role, "content": std::mem::take(texts)}));
            }
        };
        for b in &m.content {
            match b {
                ContentBlock::Text { text } => texts.push(json!({"type": text_type, "text": text})),
                ContentBlock::ToolUse {
                    id,
                    name,
                    input: args,
                } => {
                    flush(&mut texts, &mut input);
                    input.push(json!({
                        "type": "function_call",
                        "call_id": id,
                        "name": name,
                        "arguments": args.to_string(),
                    }));
                }
                ContentBlock::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                } => {
                    flush(&mut texts, &mut input);
                    let output = if *is_error {
                        format!("Error: {content}")
                    } else {
                        content.clone()
                    };
                    input.push(json!({
                        "type": "function_call_output",
                        "call_id": tool_use_id,
                        "output": output,
                    }));
                }
            }
        }
        flush(&mut texts, &mut input);
    }
    let mut body = json!({
        "model": req.model,
        "input": input,
        "max_output_tokens": req.max_tokens,
        "store": false,
    });
    if let Some(sys) = &req.system {
        // OpenAI caches long prefixes automatically; `cache` needs no marker.
        body["instructions"] = json!(sys.text);
    }
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.input_schema,
                })
            })
            .collect();
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if stream {
        body["stream"] = json!(true);
    }
    body
}

fn stop_reason(resp: &Value, has_calls: bool) -> StopReason {
    if has_calls {
        return StopReason::ToolUse;
    }
    match resp.get("status").and_then(Value::as_str) {
        Some("incomplete") => match resp
            .pointer("/incomplete_details/reason")
            .and_then(Value::as_str)
        {
            Some("max_output_tokens") => StopReason::MaxTokens,
            Some("content_filter") => StopReason::Refusal,
            other => StopReason::Other(other.unwrap_or("incomplete").to_string()),
        },
        _ => StopReason::EndTurn,
    }
}

fn failed(resp: &Value, provider: Provider, secret: &Secret) -> Option<LlmError> {
    if resp.get("status").and_then(Value::as_str) != Some("failed") {
        return None;
    }
    let err = resp.get("error").cloned().unwrap_or(json!({}));
    Some(stream_error(
        provider,
        secret,
        &json!({ "error": err }).to_string(),
    ))
}

/// A non-streamed answer.
pub(crate) fn decode_response(v: &Value, t: &Transport) -> Result<Response, LlmError> {
    if let Some(e) = failed(v, t.provider, &t.secret) {
        return Err(e);
    }
    let items = v
        .get("output")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("missing `output`"))?;
    let mut content = Vec::new();
    for item in items {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                let parts = item.get("content").and_then(Value::as_array);
                for part in parts.into_iter().flatten() {
                    match part.get("type").and_then(Value::as_str) {
                        Some("output_text") => {
                            content.push(ContentBlock::text(str_of(part, "text")?))
                        }
                        Some("refusal") => {
                            content.push(ContentBlock::text(str_of(part, "refusal")?))
                        }
                        _ => {}
                    }
                }
            }
            Some("function_call") => {
                let name = str_of(item, "name")?;
                content.push(ContentBlock::ToolUse {
                    id: str_of(item, "call_id")?.to_string(),
                    name: name.to_string(),
                    input: parse_tool_input(name, str_of(item, "arguments")?)?,
                });
            }
            other => tracing::debug!(?other, "skipping output item"),
        }
    }
    let has_calls = content
        .iter()
        .any(|b| matches!(b, ContentBlock::ToolUse { .. }));
    Ok(Response {
        id: str_of(v, "id")?.to_string(),
        model: str_of(v, "model")?.to_string(),
        stop_reason: stop_reason(v, has_calls),
        usage: v.get("usage").map(read_usage).unwrap_or_default(),
        content,
    })
}

/// Decodes `response.*` stream events.
pub(crate) struct StreamDecoder {
    provider: Provider,
    secret: Secret,
    /// Output indexes of message and function-call items, and whether deltas came.
    open: HashMap<usize, bool>,
    skipped: HashSet<usize>,
    has_calls: bool,
    done: bool,
}

impl StreamDecoder {
    pub(crate) fn new(provider: Provider, secret: Secret) -> Self {
        Self {
            provider,
            secret,
            open: HashMap::new(),
            skipped: HashSet::new(),
            has_calls: false,
            done: false,
        }
    }
}

impl Decoder for StreamDecoder {
    fn finished(&self) -> bool {
        self.done
    }

    fn decode(&mut self, ev: SseEvent) -> Result<Vec<Event>, LlmError> {
        let v: Value = serde_json::from_str(&ev.data)
            .map_err(|e| malformed(&format!("event `{}` is not JSON: {e}", ev.event)))?;
        let kind = v.get("type").and_then(Value::as_str).unwrap_or(&ev.event);
        let index = || {
            v.get("output_index")
                .and_then(Value::as_u64)
                .map(|i| i as usize)
                .ok_or_else(|| malformed(&format!("`{kind}` without output_index")))
        };
        let mut out = Vec::new();
        match kind {
            "response.created" => {
                let r = v.get("response").ok_or_else(|| malformed("no response"))?;
                out.push(Event::MessageStart {
                    id: str_of(r, "id")?.to_string(),
                    model: str_of(r, "model")?.to_string(),
                });
            }
            "response.output_item.added" => {
                let index = index()?;
                let item = v.get("item").ok_or_else(|| malformed("no item"))?;
                match item.get("type").and_then(Value::as_str) {
                    Some("message") => out.push(Event::TextStart { index }),
                    Some("function_call") => {
                        self.has_calls = true;
                        out.push(Event::ToolUseStart {
                            index,
                            id: str_of(item, "call_id")?.to_string(),
                            name: str_of(item, "name")?.to_string(),
                        });
                    }
                    _ => {
                        self.skipped.insert(index);
                        return Ok(out);
                    }
                }
                self.open.insert(index, false);
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                let index = index()?;
                if !self.open.contains_key(&index) && !self.skipped.contains(&index) {
                    // Lenient servers skip `output_item.added` for messages.
                    self.open.insert(index, true);
                    out.push(Event::TextStart { index });
                }
                if let Some(seen) = self.open.get_mut(&index) {
                    *seen = true;
                    out.push(Event::TextDelta {
                        index,
                        text: str_of(&v, "delta")?.to_string(),
                    });
                }
            }
            "response.function_call_arguments.delta" => {
                let index = index()?;
                if let Some(seen) = self.open.get_mut(&index) {
                    *seen = true;
                    out.push(Event::ToolInputDelta {
                        index,
                        partial_json: str_of(&v, "delta")?.to_string(),
                    });
                }
            }
            "response.output_item.done" => {
                let index = index()?;
                if self.skipped.contains(&index) {
                    return Ok(out);
                }
                // Servers may send the whole item here without deltas.
                if self.open.remove(&index) == Some(false) {
                    let item = v.get("item").ok_or_else(|| malformed("no item"))?;
                    if let Some(args) = item.get("arguments").and_then(Value::as_str) {
                        out.push(Event::ToolInputDelta {
                            index,
                            partial_json: args.to_string(),
                        });
                    }
                    let parts = item.get("content").and_then(Value::as_array);
                    for text in parts.into_iter().flatten().filter_map(|p| p.get("text")) {
                        out.push(Event::TextDelta {
                            index,
                            text: text.as_str().unwrap_or_default().to_string(),
                        });
                    }
                }
                out.push(Event::BlockStop { index });
            }
            "response.completed" | "response.incomplete" => {
                let r = v.get("response").ok_or_else(|| malformed("no response"))?;
                let usage: Usage = r.get("usage").map(read_usage).unwrap_or_default();
                out.push(Event::Usage(usage));
                out.push(Event::MessageStop {
                    stop_reason: stop_reason(r, self.has_calls),
                });
                self.done = true;
            }
            "response.failed" => {
                let r = v
                    .get("response")
                    .cloned()
                    .unwrap_or(json!({"status": "failed"}));
                return Err(failed(&r, self.provider, &self.secret)
                    .unwrap_or_else(|| malformed("response.failed without a failed response")));
            }
            "error" => {
                return Err(stream_error(
                    self.provider,
                    &self.secret,
                    &json!({ "error": v }).to_string(),
                ))
            }
            _ => {}
        }
        Ok(out)
    }
}
