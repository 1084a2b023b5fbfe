//! Shared fixtures: a small project, a task on it, and a native agent
//! talking to the mock LLM over loopback HTTP.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use warden_agent::{Agent, AgentError, FileTask, Investigation, Limits, NativeAgent};
use warden_creds::Secret;
use warden_llm::{
    AnthropicAuth, AnthropicClient, AnthropicConfig, CancellationToken, ModelClient, OpenAiClient,
    OpenAiConfig, OpenAiWire, PriceTable, RetryPolicy,
};
use warden_store::Hit;
use warden_testkit::mock_llm::MockLlm;

pub const MODEL: &str = "claude-sonnet-4-5";

pub fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("src")).unwrap();
    std::fs::write(
        d.path().join("src/app.py"),
        "import db\n\ndef handler(req):\n    q = req.args['q']\n    return db.execute(\"SELECT * FROM t WHERE x = '\" + q + \"'\")\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("src/db.py"),
        "def execute(sql):\n    return conn.run(sql)\n",
    )
    .unwrap();
    d
}

pub fn task(d: &tempfile::TempDir) -> FileTask {
    FileTask {
        root: d.path().canonicalize().unwrap(),
        path: "src/app.py".into(),
        language: Some("python".into()),
        hits: vec![Hit {
            rule_id: "py.sqli.concat".into(),
            line: 5,
            snippet: "return db.execute(\"SELECT ...\" + q)".into(),
        }],
        tech: vec!["flask".into()],
    }
}

pub fn agent_with(mock: &MockLlm, model: &str, limits: Limits) -> NativeAgent {
    let mut cfg = AnthropicConfig::new(AnthropicAuth::ApiKey(Secret::new(
        "sk-test-MOCK-0123456789",
    )));
    cfg.base_url = mock.url().to_string();
    cfg.timeout = Duration::from_secs(30);
    cfg.retry = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let client = Arc::new(AnthropicClient::new(cfg).unwrap());
    NativeAgent::new(
        client,
        model.into(),
        "anthropic".into(),
        PriceTable::builtin(),
        limits,
    )
}

pub fn agent(mock: &MockLlm) -> NativeAgent {
    agent_with(mock, MODEL, Limits::default())
}

pub async fn run(agent: &NativeAgent, task: &FileTask) -> Result<Investigation, AgentError> {
    Agent::investigate(agent, std::slice::from_ref(task), &CancellationToken::new())
        .await
        .map_err(|f| f.error)
}

pub fn report(start: u32, end: u32, title: &str) -> Value {
    json!({
        "title": title, "severity": "high", "confidence": "high", "cwe": "CWE-89",
        "file": "src/app.py", "start_line": start, "end_line": end,
        "description": "The query string is concatenated into SQL.",
        "attack_path": "GET /search?q=' OR 1=1 -- reaches handler() unauthenticated",
        "recommendation": "Use a parameterised query.",
        "patch": "-    return db.execute(...)\n+    return db.execute(\"... = ?\", (q,))"
    })
}

/// The tool results the agent sent in a recorded request's last message.
pub fn tool_results(body: &Value) -> Vec<Value> {
    let msgs = body["messages"].as_array().unwrap();
    msgs.last().unwrap()["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "tool_result")
        .cloned()
        .collect()
}

/// A client for the mock on an OpenAI wire.
pub fn openai_agent(mock: &MockLlm, wire: OpenAiWire, model: &str) -> NativeAgent {
    let mut cfg = OpenAiConfig::new(Some(Secret::new("sk-test-MOCK-0123456789")), wire);
    cfg.base_url = mock.openai_base_url();
    cfg.timeout = Duration::from_secs(30);
    cfg.retry = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let client: Arc<dyn ModelClient> = Arc::new(OpenAiClient::new(cfg).unwrap());
    NativeAgent::new(
        client,
        model.into(),
        "openai".into(),
        PriceTable::builtin(),
        Limits::default(),
    )
}
