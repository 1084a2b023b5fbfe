//! The Anthropic Messages wire: `POST /v1/messages` (JSON, or SSE when the
//! request has `"stream": true`) and `POST /v1/messages/count_tokens`.

use super::reply::{calls, corrupt_json, corrupt_sse, pieces, sse_event, Reply};
use super::script::Turn;
use serde_json::{json, Value};

fn usage_json(turn: &Turn) -> Value {
    let u = turn.usage_or_default();
    json!({
        "input_tokens": u.input_tokens,
        "cache_creation_input_tokens": u.cache_creation_input_tokens,
        "cache_read_input_tokens": u.cache_read_input_tokens,
        "output_tokens": u.output_tokens,
        "service_tier": "standard",
    })
}

pub(crate) fn reply(turn: &Turn, request: &Value, seq: u64) -> Reply {
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("claude-mock")
        .to_string();
    let stream = request.get("stream").and_then(Value::as_bool) == Some(true);
    let id = format!("msg_mock_{seq:04}");
    let calls = calls(turn, "toolu_mock_", seq);
    let text = turn
        .text
        .clone()
        .filter(|t| !t.is_empty() || calls.is_empty());
    let stop_reason = if calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };

    if !stream {
        let mut content = Vec::new();
        if let Some(t) = &text {
            content.push(json!({"type": "text", "text": t}));
        }
        for c in &calls {
            content.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.input}));
        }
        let body = json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": null,
            "usage": usage_json(turn),
        });
        return corrupt_json(Reply::json(200, &body), turn.malformed)
            .header("request-id", format!("req_mock_{seq:04}"));
    }

    let u = turn.usage_or_default();
    let mut events = vec![sse_event(
        "message_start",
        &json!({
            "type": "message_start",
            "message": {
                "id": id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {
                    "input_tokens": u.input_tokens,
                    "cache_creation_input_tokens": u.cache_creation_input_tokens,
                    "cache_read_input_tokens": u.cache_read_input_tokens,
                    "output_tokens": 1,
                    "service_tier": "standard",
                },
            },
        }),
    )];
    let mut index = 0;
    if let Some(t) = &text {
        events.push(sse_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
        ));
        if index == 0 {
            events.push(sse_event("ping", &json!({"type": "ping"})));
        }
        for piece in pieces(t, 16) {
            events.push(sse_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}),
            ));
        }
        events.push(sse_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    for c in &calls {
        events.push(sse_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": c.id, "name": c.name, "input": {}}}),
        ));
        let mut partials = vec![String::new()];
        partials.extend(pieces(&c.arguments, 24));
        for p in partials {
            events.push(sse_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": p}}),
            ));
        }
        events.push(sse_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    events.push(sse_event(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": {
                "input_tokens": u.input_tokens,
                "cache_creation_input_tokens": u.cache_creation_input_tokens,
                "cache_read_input_tokens": u.cache_read_input_tokens,
                "output_tokens": u.output_tokens,
            },
        }),
    ));
    events.push(sse_event("message_stop", &json!({"type": "message_stop"})));
    corrupt_sse(Reply::sse(events), turn.malformed)
        .header("request-id", format!("req_mock_{seq:04}"))
}

/// `POST /v1/messages/count_tokens`: roughly one token per four bytes of body.
pub(crate) fn count_tokens(raw_len: usize) -> Reply {
    Reply::json(200, &json!({"input_tokens": (raw_len / 4).max(1)}))
}
