//! The wire-neutral reply a handler produces, and helpers the wires share.

use super::script::{Malformed, ToolCall, Turn};
use serde_json::Value;

/// One piece of a response body. `Abort` ends the body with an error, which
/// makes hyper drop the connection without the terminating chunk.
#[derive(Clone, Debug)]
pub(crate) enum Chunk {
    Data(String),
    Abort,
}

#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub chunks: Vec<Chunk>,
}

impl Reply {
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            chunks: vec![Chunk::Data(body.to_string())],
        }
    }

    pub fn sse(events: Vec<String>) -> Reply {
        Reply {
            status: 200,
            headers: vec![
                (
                    "content-type".into(),
                    "text/event-stream; charset=utf-8".into(),
                ),
                ("cache-control".into(), "no-cache".into()),
            ],
            chunks: events.into_iter().map(Chunk::Data).collect(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// A tool call with its id and argument text settled.
pub(crate) struct Call {
    pub id: String,
    pub name: String,
    /// See [`ToolCall::namespace`].
    pub namespace: Option<String>,
    /// The arguments as JSON text (invalid JSON for `Malformed::InvalidToolJson`).
    pub arguments: String,
    /// The arguments as a value; for invalid JSON, the text as a JSON string.
    pub input: Value,
}

/// The turn's tool calls, with ids generated from `prefix` and `seq` where the
/// script gave none, and arguments broken when the turn asks for it.
pub(crate) fn calls(turn: &Turn, prefix: &str, seq: u64) -> Vec<Call> {
    let invalid = turn.malformed == Some(Malformed::InvalidToolJson);
    let mut tool_calls: Vec<ToolCall> = turn.tool_calls.clone();
    if invalid && tool_calls.is_empty() {
        tool_calls.push(ToolCall::new(
            "mock_tool",
            serde_json::json!({"path": "/etc/hostname"}),
        ));
    }
    tool_calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let id =
                c.id.clone()
                    .unwrap_or_else(|| format!("{prefix}{seq:04}{i:02}"));
            let text = c.input.to_string();
            if invalid {
                // Unterminated: drop the closing brace (and anything after the last comma).
                let broken = text.trim_end_matches('}').to_string();
                let broken = if broken.is_empty() {
                    "{\"".to_string()
                } else {
                    broken
                };
                Call {
                    id,
                    name: c.name.clone(),
                    namespace: c.namespace.clone(),
                    input: Value::String(broken.clone()),
                    arguments: broken,
                }
            } else {
                Call {
                    id,
                    name: c.name.clone(),
                    namespace: c.namespace.clone(),
                    arguments: text,
                    input: c.input.clone(),
                }
            }
        })
        .collect()
}

/// Splits `s` into pieces of at most `n` bytes, on char boundaries, so
/// streamed deltas look like real token-sized deltas.
pub(crate) fn pieces(s: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in s.chars() {
        if cur.len() + ch.len_utf8() > n && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `event: NAME\ndata: JSON\n\n`
pub(crate) fn sse_event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// `data: JSON\n\n` (Chat Completions has no event names).
pub(crate) fn sse_data(data: &Value) -> String {
    format!("data: {data}\n\n")
}

/// Applies `BrokenSse` / `TruncatedStream` to a finished SSE event list.
pub(crate) fn corrupt_sse(mut reply: Reply, malformed: Option<Malformed>) -> Reply {
    match malformed {
        Some(Malformed::BrokenSse) => {
            reply.chunks.truncate(1);
            reply.chunks.push(Chunk::Data(
                "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_de\n\n"
                    .into(),
            ));
            reply.chunks.push(Chunk::Data(
                "this line is not server-sent events\n\n".into(),
            ));
            reply
        }
        Some(Malformed::TruncatedStream) => {
            let keep = (reply.chunks.len() / 2).max(1);
            reply.chunks.truncate(keep);
            reply.chunks.push(Chunk::Abort);
            reply
        }
        _ => reply,
    }
}

/// Applies `BrokenSse` / `TruncatedStream` to a JSON reply.
pub(crate) fn corrupt_json(mut reply: Reply, malformed: Option<Malformed>) -> Reply {
    let body = match reply.chunks.first() {
        Some(Chunk::Data(s)) => s.clone(),
        _ => return reply,
    };
    match malformed {
        Some(Malformed::BrokenSse) => {
            let head = &body[..char_floor(&body, body.len() / 3)];
            reply.chunks = vec![Chunk::Data(format!("{{\"id\": \"broken, {head}"))];
            reply
        }
        Some(Malformed::TruncatedStream) => {
            let head = &body[..char_floor(&body, body.len() / 2)];
            reply.chunks = vec![Chunk::Data(head.to_string()), Chunk::Abort];
            reply
        }
        _ => reply,
    }
}

fn char_floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
