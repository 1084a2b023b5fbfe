//! The OpenAI wires: `POST /v1/responses` and `POST /v1/chat/completions`,
//! each JSON or SSE (`"stream": true`).

use super::reply::{
    calls, corrupt_json, corrupt_sse, pieces, sse_data, sse_event, unix_now, Call, Reply,
};
use super::script::Turn;
use serde_json::{json, Value};

fn model_of(request: &Value) -> String {
    request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("gpt-mock")
        .to_string()
}

fn is_stream(request: &Value) -> bool {
    request.get("stream").and_then(Value::as_bool) == Some(true)
}

fn text_of(turn: &Turn, calls: &[Call]) -> Option<String> {
    turn.text
        .clone()
        .filter(|t| !t.is_empty() || calls.is_empty())
}

// ---------------------------------------------------------------- Responses

fn responses_usage(turn: &Turn) -> Value {
    let u = turn.usage_or_default();
    let input = u.input_tokens + u.cache_read_input_tokens;
    let output = u.output_tokens + u.reasoning_tokens;
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": u.cache_read_input_tokens},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": input + output,
    })
}

fn response_object(
    id: &str,
    model: &str,
    created: u64,
    status: &str,
    output: Vec<Value>,
    usage: Value,
) -> Value {
    json!({
        "id": id,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "instructions": null,
        "model": model,
        "output": output,
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "store": false,
        "temperature": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "metadata": {},
    })
}

pub(crate) fn responses_reply(turn: &Turn, request: &Value, seq: u64) -> Reply {
    let model = model_of(request);
    let created = unix_now();
    let id = format!("resp_mock_{seq:04}");
    let calls = calls(turn, "call_mock_", seq);
    let text = text_of(turn, &calls);

    let message_id = format!("msg_mock_{seq:04}");
    let message_item = |t: &str, status: &str| {
        json!({
            "id": message_id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": if status == "completed" {
                json!([{"type": "output_text", "text": t, "annotations": []}])
            } else {
                json!([])
            },
        })
    };
    let call_item = |c: &Call, i: usize, status: &str| {
        let mut item = json!({
            "id": format!("fc_mock_{seq:04}{i:02}"),
            "type": "function_call",
            "status": status,
            "arguments": if status == "completed" { c.arguments.as_str() } else { "" },
            "call_id": c.id,
            "name": c.name,
        });
        if let Some(ns) = &c.namespace {
            item["namespace"] = json!(ns);
        }
        item
    };
    let mut output = Vec::new();
    if let Some(t) = &text {
        output.push(message_item(t, "completed"));
    }
    for (i, c) in calls.iter().enumerate() {
        output.push(call_item(c, i, "completed"));
    }

    if !is_stream(request) {
        let body = response_object(
            &id,
            &model,
            created,
            "completed",
            output,
            responses_usage(turn),
        );
        return corrupt_json(Reply::json(200, &body), turn.malformed);
    }

    let mut seq_no = 0u64;
    let mut events = Vec::new();
    let mut push = |name: &str, mut data: Value| {
        data["type"] = json!(name);
        data["sequence_number"] = json!(seq_no);
        seq_no += 1;
        events.push(sse_event(name, &data));
    };
    let in_progress = response_object(&id, &model, created, "in_progress", vec![], Value::Null);
    push("response.created", json!({"response": in_progress}));
    push("response.in_progress", json!({"response": in_progress}));
    let mut output_index = 0;
    if let Some(t) = &text {
        push(
            "response.output_item.added",
            json!({"output_index": output_index, "item": message_item(t, "in_progress")}),
        );
        push(
            "response.content_part.added",
            json!({"item_id": message_id, "output_index": output_index, "content_index": 0,
                   "part": {"type": "output_text", "text": "", "annotations": []}}),
        );
        for piece in pieces(t, 16) {
            push(
                "response.output_text.delta",
                json!({"item_id": message_id, "output_index": output_index, "content_index": 0,
                       "delta": piece, "logprobs": []}),
            );
        }
        push(
            "response.output_text.done",
            json!({"item_id": message_id, "output_index": output_index, "content_index": 0,
                   "text": t, "logprobs": []}),
        );
        push(
            "response.content_part.done",
            json!({"item_id": message_id, "output_index": output_index, "content_index": 0,
                   "part": {"type": "output_text", "text": t, "annotations": []}}),
        );
        push(
            "response.output_item.done",
            json!({"output_index": output_index, "item": message_item(t, "completed")}),
        );
        output_index += 1;
    }
    for (i, c) in calls.iter().enumerate() {
        let item_id = format!("fc_mock_{seq:04}{i:02}");
        push(
            "response.output_item.added",
            json!({"output_index": output_index, "item": call_item(c, i, "in_progress")}),
        );
        for piece in pieces(&c.arguments, 24) {
            push(
                "response.function_call_arguments.delta",
                json!({"item_id": item_id, "output_index": output_index, "delta": piece}),
            );
        }
        push(
            "response.function_call_arguments.done",
            json!({"item_id": item_id, "output_index": output_index, "arguments": c.arguments}),
        );
        push(
            "response.output_item.done",
            json!({"output_index": output_index, "item": call_item(c, i, "completed")}),
        );
        output_index += 1;
    }
    let done = response_object(
        &id,
        &model,
        created,
        "completed",
        output,
        responses_usage(turn),
    );
    push("response.completed", json!({"response": done}));
    corrupt_sse(Reply::sse(events), turn.malformed)
}

// ---------------------------------------------------------- Chat Completions

fn chat_usage(turn: &Turn) -> Value {
    let u = turn.usage_or_default();
    let prompt = u.input_tokens + u.cache_read_input_tokens;
    let completion = u.output_tokens + u.reasoning_tokens;
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_input_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    })
}

pub(crate) fn chat_reply(turn: &Turn, request: &Value, seq: u64) -> Reply {
    let model = model_of(request);
    let created = unix_now();
    let id = format!("chatcmpl-mock{seq:04}");
    let calls = calls(turn, "call_mock_", seq);
    let text = text_of(turn, &calls);
    let finish = if calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };

    if !is_stream(request) {
        let mut message = json!({"role": "assistant", "content": text, "refusal": null});
        if !calls.is_empty() {
            message["tool_calls"] = calls
                .iter()
                .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                .collect();
        }
        let body = json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
            "usage": chat_usage(turn),
            "system_fingerprint": "fp_mock",
        });
        return corrupt_json(Reply::json(200, &body), turn.malformed);
    }

    let chunk = |choices: Value| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_mock", "choices": choices,
        })
    };
    let delta = |d: Value, finish: Value| {
        chunk(json!([{"index": 0, "delta": d, "logprobs": null, "finish_reason": finish}]))
    };
    let mut events = vec![sse_data(&delta(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    ))];
    if let Some(t) = &text {
        for piece in pieces(t, 16) {
            events.push(sse_data(&delta(json!({"content": piece}), Value::Null)));
        }
    }
    for (i, c) in calls.iter().enumerate() {
        events.push(sse_data(&delta(
            json!({"tool_calls": [{"index": i, "id": c.id, "type": "function",
                                    "function": {"name": c.name, "arguments": ""}}]}),
            Value::Null,
        )));
        for piece in pieces(&c.arguments, 24) {
            events.push(sse_data(&delta(
                json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                Value::Null,
            )));
        }
    }
    events.push(sse_data(&delta(json!({}), json!(finish))));
    let mut usage_chunk = chunk(json!([]));
    usage_chunk["usage"] = chat_usage(turn);
    events.push(sse_data(&usage_chunk));
    events.push("data: [DONE]\n\n".to_string());
    corrupt_sse(Reply::sse(events), turn.malformed)
}
