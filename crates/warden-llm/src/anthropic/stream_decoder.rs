//! The Messages API stream: `message_start`, `content_block_*` (text and
//! `tool_use` with `input_json_delta`), `message_delta` (stop reason, usage),
//! `message_stop`, `ping`, and in-stream `error` events.

use std::collections::HashSet;

use serde_json::Value;
use warden_creds::Secret;

use super::{malformed, read_usage, stop_reason, str_of};
use crate::error::{LlmError, Provider};
use crate::sse::SseEvent;
use crate::stream::Decoder;
use crate::transport::stream_error;
use crate::types::{Event, StopReason, Usage};

/// Decodes the Messages API stream events.
pub(super) struct StreamDecoder {
    pub(super) provider: Provider,
    pub(super) secret: Secret,
    pub(super) usage: Usage,
    pub(super) stop: Option<StopReason>,
    pub(super) skipped: HashSet<usize>,
    pub(super) done: bool,
}

impl Decoder for StreamDecoder {
    fn finished(&self) -> bool {
        self.done
    }

    fn decode(&mut self, ev: SseEvent) -> Result<Vec<Event>, LlmError> {
        if ev.event == "ping" {
            return Ok(Vec::new());
        }
        if ev.event == "error" {
            return Err(stream_error(self.provider, &self.secret, &ev.data));
        }
        let v: Value = serde_json::from_str(&ev.data)
            .map_err(|e| malformed(&format!("event `{}` is not JSON: {e}", ev.event)))?;
        let kind = v.get("type").and_then(Value::as_str).unwrap_or(&ev.event);
        let index = || {
            v.get("index")
                .and_then(Value::as_u64)
                .map(|i| i as usize)
                .ok_or_else(|| malformed(&format!("`{kind}` without an index")))
        };
        let mut out = Vec::new();
        match kind {
            "message_start" => {
                let m = v
                    .get("message")
                    .ok_or_else(|| malformed("message_start without message"))?;
                if let Some(u) = m.get("usage") {
                    read_usage(u, &mut self.usage);
                }
                out.push(Event::MessageStart {
                    id: str_of(m, "id")?.to_string(),
                    model: str_of(m, "model")?.to_string(),
                });
                out.push(Event::Usage(self.usage));
            }
            "content_block_start" => {
                let index = index()?;
                let b = v
                    .get("content_block")
                    .ok_or_else(|| malformed("content_block_start without content_block"))?;
                match b.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        out.push(Event::TextStart { index });
                        let text = b.get("text").and_then(Value::as_str).unwrap_or_default();
                        if !text.is_empty() {
                            out.push(Event::TextDelta {
                                index,
                                text: text.to_string(),
                            });
                        }
                    }
                    Some("tool_use") => out.push(Event::ToolUseStart {
                        index,
                        id: str_of(b, "id")?.to_string(),
                        name: str_of(b, "name")?.to_string(),
                    }),
                    other => {
                        tracing::debug!(?other, "skipping streamed content block");
                        self.skipped.insert(index);
                    }
                }
            }
            "content_block_delta" => {
                let index = index()?;
                if self.skipped.contains(&index) {
                    return Ok(out);
                }
                let d = v.get("delta").ok_or_else(|| malformed("delta missing"))?;
                match d.get("type").and_then(Value::as_str) {
                    Some("text_delta") => out.push(Event::TextDelta {
                        index,
                        text: str_of(d, "text")?.to_string(),
                    }),
                    Some("input_json_delta") => out.push(Event::ToolInputDelta {
                        index,
                        partial_json: str_of(d, "partial_json")?.to_string(),
                    }),
                    other => tracing::debug!(?other, "skipping delta"),
                }
            }
            "content_block_stop" => {
                let index = index()?;
                if !self.skipped.contains(&index) {
                    out.push(Event::BlockStop { index });
                }
            }
            "message_delta" => {
                if let Some(u) = v.get("usage") {
                    read_usage(u, &mut self.usage);
                    out.push(Event::Usage(self.usage));
                }
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop = Some(stop_reason(r));
                }
            }
            "message_stop" => {
                self.done = true;
                out.push(Event::MessageStop {
                    stop_reason: self.stop.take().unwrap_or(StopReason::EndTurn),
                });
            }
            other => tracing::debug!(event = other, "skipping unknown stream event"),
        }
        Ok(out)
    }
}
