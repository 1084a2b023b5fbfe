//! Helpers shared by the mock LLM's HTTP tests.

#![allow(dead_code)] // each test binary uses a different subset

use serde_json::Value;

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// `(event name or "", data)` for each SSE event of a body.
pub fn sse(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                } else {
                    panic!("not an SSE line: {line:?}");
                }
            }
            (name, data)
        })
        .collect()
}

pub fn sse_json(body: &str) -> Vec<(String, Value)> {
    sse(body)
        .into_iter()
        .filter(|(_, d)| d != "[DONE]")
        .map(|(n, d)| {
            let v: Value = serde_json::from_str(&d).unwrap_or_else(|e| panic!("{d}: {e}"));
            (n, v)
        })
        .collect()
}

pub async fn post(url: String, body: Value) -> reqwest::Response {
    client()
        .post(url)
        .header("x-api-key", "test")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("request")
}
