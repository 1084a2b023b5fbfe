//! The mock LLM over plain HTTP: each wire (Anthropic Messages, OpenAI Responses and
//! Chat Completions), JSON and SSE, with the real event sequences.

mod common;

use common::{client, post, sse, sse_json};
use serde_json::{json, Value};
use warden_testkit::mock_llm::{MockLlm, Script, ToolCall, Turn, Usage};

#[tokio::test]
async fn anthropic_json_text_with_usage() {
    let mock = MockLlm::start(Script::new(vec![
        Turn::text("Hello there").with_usage(Usage::new(100, 20).with_cache(30, 40))
    ]))
    .await;
    let r = post(
        format!("{}/v1/messages", mock.url()),
        json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-sonnet-4-5");
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "Hello there"}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"]["input_tokens"], 100);
    assert_eq!(v["usage"]["output_tokens"], 20);
    assert_eq!(v["usage"]["cache_creation_input_tokens"], 30);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 40);
}

#[tokio::test]
async fn anthropic_sse_text_and_tool_use_follow_the_real_event_sequence() {
    let input = json!({"file_path": "/tmp/some file.txt", "limit": 20});
    let mock = MockLlm::start(Script::new(vec![Turn::text("Let me read it.")
        .with_tool_call("Read", input.clone())
        .with_usage(Usage::new(11, 22))]))
    .await;
    let r = post(
        format!("{}/v1/messages?beta=true", mock.url()),
        json!({"model": "claude-opus-4-8", "stream": true, "max_tokens": 100, "messages": []}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse_json(&r.text().await.unwrap());
    for (name, data) in &events {
        assert_eq!(
            name,
            data["type"].as_str().unwrap(),
            "event name = data.type"
        );
    }
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let mut dedup = names.clone();
    dedup.dedup();
    assert_eq!(
        dedup,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[0].1["message"]["model"], "claude-opus-4-8");
    assert_eq!(events[0].1["message"]["usage"]["input_tokens"], 11);
    let text: String = events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "text_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Let me read it.");
    let tool_start = events
        .iter()
        .find(|(_, d)| d["content_block"]["type"] == "tool_use")
        .unwrap();
    assert_eq!(tool_start.1["index"], 1);
    assert_eq!(tool_start.1["content_block"]["name"], "Read");
    assert!(tool_start.1["content_block"]["id"]
        .as_str()
        .unwrap()
        .starts_with("toolu_"));
    let partial: String = events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "input_json_delta")
        .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&partial).unwrap(), input);
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 22);
}

#[tokio::test]
async fn preflight_and_count_tokens_answer_without_consuming_turns() {
    let mock = MockLlm::start(Script::new(vec![Turn::text("first")])).await;
    let c = client();
    let head = c.head(format!("{}/", mock.url())).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let get = c.get(mock.url()).send().await.unwrap();
    assert_eq!(get.status(), 200);
    let count = post(
        format!("{}/v1/messages/count_tokens", mock.url()),
        json!({"model": "m", "messages": [{"role": "user", "content": "hello world, count me"}]}),
    )
    .await;
    assert_eq!(count.status(), 200);
    let v: Value = count.json().await.unwrap();
    assert!(v["input_tokens"].as_u64().unwrap() > 0);
    let missing = c
        .get(format!("{}/v1/nothing", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(mock.turns_served(), 0);
    let r: Value = post(format!("{}/v1/messages", mock.url()), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["content"][0]["text"], "first");
}

#[tokio::test]
async fn responses_sse_function_call_and_text() {
    let args = json!({"cmd": "cat /tmp/x", "yield_time_ms": 1000});
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_call("exec_command", args.clone())
            .with_usage(Usage::new(50, 10).with_cache(0, 25).with_reasoning(5)),
        Turn::text("all done"),
    ]))
    .await;
    let url = format!("{}/responses", mock.openai_base_url());
    let r = client()
        .post(&url)
        .bearer_auth("test")
        .json(&json!({"model": "gpt-5.5", "stream": true, "input": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = sse_json(&r.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let mut dedup = names.clone();
    dedup.dedup();
    assert_eq!(
        dedup,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(name, data["type"].as_str().unwrap());
        assert_eq!(data["sequence_number"], i);
    }
    let delta: String = events
        .iter()
        .filter(|(n, _)| n == "response.function_call_arguments.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&delta).unwrap(), args);
    let done_item = &events[events.len() - 2].1["item"];
    assert_eq!(done_item["type"], "function_call");
    assert_eq!(done_item["name"], "exec_command");
    assert!(done_item["call_id"].as_str().unwrap().starts_with("call_"));
    let completed = &events.last().unwrap().1["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["usage"]["input_tokens"], 75);
    assert_eq!(
        completed["usage"]["input_tokens_details"]["cached_tokens"],
        25
    );
    assert_eq!(completed["usage"]["output_tokens"], 15);
    assert_eq!(
        completed["usage"]["output_tokens_details"]["reasoning_tokens"],
        5
    );

    let r = client()
        .post(&url)
        .json(&json!({"model": "gpt-5.5", "stream": true, "input": []}))
        .send()
        .await
        .unwrap();
    let events = sse_json(&r.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "all done");
}

#[tokio::test]
async fn responses_json() {
    let mock = MockLlm::start(Script::new(vec![
        Turn::text("answer").with_tool_call("shell", json!({"command": ["ls"]}))
    ]))
    .await;
    let v: Value = client()
        .post(format!("{}/responses", mock.openai_base_url()))
        .json(&json!({"model": "gpt-5.5", "input": "hi"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["output"][0]["type"], "message");
    assert_eq!(v["output"][0]["content"][0]["text"], "answer");
    assert_eq!(v["output"][1]["type"], "function_call");
    assert_eq!(v["output"][1]["arguments"], r#"{"command":["ls"]}"#);
    assert_eq!(v["usage"]["input_tokens"], 10);
}

#[tokio::test]
async fn chat_completions_sse_and_json() {
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_calls(vec![
            ToolCall::new("get_weather", json!({"city": "Paris"})).with_id("call_a"),
            ToolCall::new("get_time", json!({"tz": "CET"})),
        ])
        .with_usage(Usage::new(9, 3)),
        Turn::text("It is sunny."),
    ]))
    .await;
    let url = format!("{}/chat/completions", mock.openai_base_url());
    let body = client()
        .post(&url)
        .json(&json!({"model": "gpt-4o", "stream": true, "messages": []}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let raw = sse(&body);
    assert!(raw.iter().all(|(n, _)| n.is_empty()), "no event names");
    assert_eq!(raw.last().unwrap().1, "[DONE]");
    let chunks = sse_json(&body);
    assert!(chunks
        .iter()
        .all(|(_, c)| c["object"] == "chat.completion.chunk"));
    let mut args = [String::new(), String::new()];
    for (_, c) in &chunks {
        if let Some(calls) = c["choices"][0]["delta"]["tool_calls"].as_array() {
            for call in calls {
                let i = call["index"].as_u64().unwrap() as usize;
                args[i].push_str(call["function"]["arguments"].as_str().unwrap());
            }
        }
    }
    assert_eq!(args[0], r#"{"city":"Paris"}"#);
    assert_eq!(args[1], r#"{"tz":"CET"}"#);
    let first_call = chunks
        .iter()
        .find(|(_, c)| c["choices"][0]["delta"]["tool_calls"][0]["id"].is_string())
        .unwrap();
    assert_eq!(
        first_call.1["choices"][0]["delta"]["tool_calls"][0]["id"],
        "call_a"
    );
    let finish = &chunks[chunks.len() - 2].1;
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    let usage = &chunks.last().unwrap().1;
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 9);
    assert_eq!(usage["usage"]["completion_tokens"], 3);

    let v: Value = client()
        .post(&url)
        .json(&json!({"model": "gpt-4o", "messages": []}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "It is sunny.");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["total_tokens"], 17);
}
