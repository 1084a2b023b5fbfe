//! From SSE events to provider-neutral [`Event`]s, and from events to a
//! complete [`Response`].

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use futures_util::stream::{self, BoxStream, StreamExt};
use serde_json::Value;
use tokio::time::Instant;

use crate::client::EventStream;
use crate::error::LlmError;
use crate::sse::SseEvent;
use crate::types::{ContentBlock, Event, Response, StopReason, Usage};

/// A provider's stream protocol: one SSE event in, neutral events out.
pub(crate) trait Decoder: Send + 'static {
    fn decode(&mut self, ev: SseEvent) -> Result<Vec<Event>, LlmError>;
    /// True once the protocol's final event was seen.
    fn finished(&self) -> bool;
}

/// The event name of keep-alives (Anthropic sends them while a call waits).
const KEEPALIVE: &str = "ping";

/// When a stream counts as stalled: no progress for `after`, counted from `since`
/// (when the request was sent) and again from each event that carried something.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stall {
    pub after: Duration,
    pub since: Instant,
}

/// Wraps an SSE stream with a decoder. The stream ends after the final
/// event; a stream that ends before it is a [`LlmError::MalformedResponse`].
/// Progress is a whole SSE event other than a keep-alive `ping` (comments are no
/// events at all, and bytes of an unfinished event are not one), so a server that
/// only keeps the connection busy ends in [`LlmError::Stalled`]. Events the decoder
/// passes over still count: a reasoning model may stream only those for minutes.
pub(crate) fn decode_stream<D: Decoder>(
    sse: BoxStream<'static, Result<SseEvent, LlmError>>,
    decoder: D,
    stall: Stall,
) -> EventStream {
    struct St<D> {
        sse: BoxStream<'static, Result<SseEvent, LlmError>>,
        dec: D,
        queue: VecDeque<Event>,
        done: bool,
        stall_after: Duration,
        deadline: Instant,
    }
    let st = St {
        sse,
        dec: decoder,
        queue: VecDeque::new(),
        done: false,
        stall_after: stall.after,
        deadline: stall.since + stall.after,
    };
    stream::unfold(st, |mut st| async move {
        loop {
            if let Some(ev) = st.queue.pop_front() {
                return Some((Ok(ev), st));
            }
            if st.done {
                return None;
            }
            if st.dec.finished() {
                // Dropping the state drops the connection.
                return None;
            }
            let next = tokio::time::timeout_at(st.deadline, st.sse.next()).await;
            let err = match next {
                Err(_) => LlmError::Stalled {
                    after: st.stall_after,
                },
                Ok(Some(Ok(ev))) => {
                    if ev.event != KEEPALIVE {
                        st.deadline = Instant::now() + st.stall_after;
                    }
                    match st.dec.decode(ev) {
                        Ok(evs) => {
                            st.queue.extend(evs);
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Ok(Some(Err(e))) => e,
                Ok(None) => LlmError::MalformedResponse {
                    message: "stream ended before the final event".into(),
                },
            };
            st.done = true;
            st.sse = stream::empty().boxed();
            return Some((Err(err), st));
        }
    })
    .boxed()
}

enum Partial {
    Text(String),
    Tool {
        id: String,
        name: String,
        json: String,
    },
}

/// Builds a [`Response`] from events.
#[derive(Default)]
pub struct Accumulator {
    id: String,
    model: String,
    blocks: BTreeMap<usize, Partial>,
    usage: Usage,
    stop: Option<StopReason>,
}

impl Accumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one event in.
    pub fn push(&mut self, ev: Event) {
        match ev {
            Event::MessageStart { id, model } => {
                self.id = id;
                self.model = model;
            }
            Event::TextStart { index } => {
                self.blocks.insert(index, Partial::Text(String::new()));
            }
            Event::TextDelta { index, text } => match self.blocks.get_mut(&index) {
                Some(Partial::Text(t)) => t.push_str(&text),
                _ => {
                    self.blocks.insert(index, Partial::Text(text));
                }
            },
            Event::ToolUseStart { index, id, name } => {
                self.blocks.insert(
                    index,
                    Partial::Tool {
                        id,
                        name,
                        json: String::new(),
                    },
                );
            }
            Event::ToolInputDelta {
                index,
                partial_json,
            } => {
                if let Some(Partial::Tool { json, .. }) = self.blocks.get_mut(&index) {
                    json.push_str(&partial_json);
                }
            }
            Event::BlockStop { .. } => {}
            Event::Usage(u) => self.usage = u,
            Event::MessageStop { stop_reason } => self.stop = Some(stop_reason),
        }
    }

    /// The complete response; tool inputs must be valid JSON objects and the
    /// usage must pass [`Usage::check`].
    pub fn finish(self) -> Result<Response, LlmError> {
        let stop_reason = self.stop.ok_or_else(|| LlmError::MalformedResponse {
            message: "stream ended without a stop event".into(),
        })?;
        self.usage.check()?;
        let mut content = Vec::new();
        for (_, block) in self.blocks {
            content.push(match block {
                Partial::Text(text) => ContentBlock::Text { text },
                Partial::Tool { id, name, json } => {
                    let input = parse_tool_input(&name, &json)?;
                    ContentBlock::ToolUse { id, name, input }
                }
            });
        }
        Ok(Response {
            id: self.id,
            model: self.model,
            content,
            stop_reason,
            usage: self.usage,
        })
    }
}

/// Parses a tool call's JSON arguments; empty means `{}`, and anything but
/// an object is malformed.
pub(crate) fn parse_tool_input(name: &str, json: &str) -> Result<Value, LlmError> {
    if json.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    let input: Value = serde_json::from_str(json).map_err(|e| LlmError::MalformedResponse {
        message: format!("tool call {name} has invalid JSON input: {e}"),
    })?;
    if !input.is_object() {
        return Err(LlmError::MalformedResponse {
            message: format!("tool call {name} input is not a JSON object"),
        });
    }
    Ok(input)
}

/// Drains an event stream into a [`Response`].
pub async fn collect(mut events: EventStream) -> Result<Response, LlmError> {
    let mut acc = Accumulator::new();
    while let Some(ev) = events.next().await {
        acc.push(ev?);
    }
    acc.finish()
}
