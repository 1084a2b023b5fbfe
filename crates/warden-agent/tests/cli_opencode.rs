//! OpenCode (from npm) headless (`opencode run --format json`) on the host
//! against the mock LLM's Chat Completions API (an `@ai-sdk/openai-compatible`
//! provider), reporting through Warden's MCP server as `warden_report_finding`.

mod cli_support;

use cli_support::*;
use serde_json::{json, Value};
use warden_agent::mcp::Mode;
use warden_testkit::mock_llm::{ErrorKind, MockLlm, Script, Turn, Usage, OPENAI_QUOTA_MESSAGE};

const TOOL: &str = "warden_report_finding";
const MODEL: &str = "warden/mock-model";

#[test]
fn mcp_server_child() {
    mcp_child();
}

fn report(start: u64, end: u64) -> Value {
    json!({
        "title": "SQL injection in handler", "severity": "high", "confidence": "high",
        "cwe": "CWE-89", "file": "src/app.py", "start_line": start, "end_line": end,
        "description": "q is concatenated into the SQL text",
        "attack_path": "GET /?q=' OR 1=1-- reaches db.execute",
        "recommendation": "use a parameterised query"
    })
}

/// Which provider OpenCode reaches the mock through.
#[derive(Clone, Copy)]
enum Wire {
    /// `@ai-sdk/openai-compatible` at `/v1/chat/completions`, model `warden/mock-model`.
    OpenAiCompatible,
    /// The built-in `anthropic` provider at `/v1/messages`, model `anthropic/claude-sonnet-4-5`.
    Anthropic,
}

impl Wire {
    fn model(self) -> &'static str {
        match self {
            Wire::OpenAiCompatible => MODEL,
            Wire::Anthropic => "anthropic/claude-sonnet-4-5",
        }
    }
}

/// `opencode.json`: the provider at the mock, Warden's MCP server, no sharing, no
/// updates; every tool that could write or reach out denied.
fn config(mock: &MockLlm, wire: Wire, program: &str, args: &[String]) -> Value {
    let mut command = vec![program.to_string()];
    command.extend(args.iter().cloned());
    let provider = match wire {
        Wire::OpenAiCompatible => json!({"warden": {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Warden",
            "options": {"baseURL": mock.openai_base_url(), "apiKey": "{env:WARDEN_MODEL_KEY}"},
            "models": {"mock-model": {"name": "Mock model"}}
        }}),
        Wire::Anthropic => json!({"anthropic": {
            "options": {"baseURL": format!("{}/v1", mock.url()), "apiKey": "{env:WARDEN_MODEL_KEY}"}
        }}),
    };
    json!({
        "$schema": "https://opencode.ai/config.json",
        "model": wire.model(),
        "small_model": wire.model(),
        "autoupdate": false,
        "share": "disabled",
        "provider": provider,
        "mcp": {"warden": {"type": "local", "command": command, "enabled": true}},
        "permission": {"edit": "deny", "bash": "deny", "webfetch": "deny", "external_directory": "deny"}
    })
}

fn opencode(s: &Scratch, mock: &MockLlm, wire: Wire, key: &str) -> Output {
    let (program, args) = mcp_command(&s.root, &s.out, Mode::Investigate);
    let config_path = s.base.join("opencode.json");
    std::fs::write(
        &config_path,
        config(mock, wire, &program, &args).to_string(),
    )
    .unwrap();
    let mut cmd = s.command(&opencode_bin());
    cmd.args([
        "run",
        "--format",
        "json",
        "--model",
        wire.model(),
        "--title",
        "warden",
    ])
    .arg("Investigate src/app.py and report findings with report_finding.")
    .env("OPENCODE_CONFIG", &config_path)
    .env("WARDEN_MODEL_KEY", key)
    .env("OPENCODE_DISABLE_MODELS_FETCH", "1")
    .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
    .env("OPENCODE_DISABLE_SHARE", "1")
    .env("OPENCODE_DISABLE_FFF", "1")
    // Its background `npm install @opencode-ai/plugin` fails at once instead of
    // reaching for the registry.
    .env("npm_config_registry", "http://127.0.0.1:9/");
    run(cmd)
}

fn tool_names(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|t| t["function"]["name"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn opencode_reports_a_finding_through_mcp_after_fixing_a_rejected_one() {
    let s = Scratch::new();
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("read", json!({"filePath": s.root.join("src/app.py")}))
            .with_text("Reading the handler.")
            .with_usage(Usage::new(1200, 40).with_cache(0, 300)),
        Turn::tool_call(TOOL, report(4, 99)).with_usage(Usage::new(1500, 90).with_cache(0, 300)),
        Turn::tool_call(TOOL, report(4, 5)).with_usage(Usage::new(1700, 95).with_cache(0, 300)),
        Turn::text("Reported one SQL injection in src/app.py.")
            .with_usage(Usage::new(1800, 12).with_cache(0, 300)),
    ]));
    let out = opencode(&s, &mock, Wire::OpenAiCompatible, KEY);
    let version = version_of(&s, &opencode_bin());
    record_fixture(
        &format!("opencode-{version}-mcp-success.jsonl"),
        &s,
        &out.stdout,
    );
    assert!(
        out.success,
        "opencode failed:\n{}\n{}",
        out.stdout, out.stderr
    );

    let reqs = mock.generation_requests();
    let names = tool_names(&reqs[0].body);
    assert!(names.iter().any(|n| n == TOOL), "tools offered: {names:?}");
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(reqs.len() >= 4, "{} requests:\n{}", reqs.len(), out.stdout);
    assert!(
        reqs[2]
            .body_contains("Finding rejected: lines 4-99 do not exist: `src/app.py` has 5 lines"),
        "{}",
        reqs[2].raw_body
    );
    assert!(reqs[3].body_contains("Recorded finding 1: SQL injection in handler (src/app.py:4-5)."));
    let findings = s.findings();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["path"], "src/app.py");
}

/// OpenAI's quota error, with `retry-after-ms` so OpenCode's five retries of a
/// 429 take milliseconds instead of a minute.
fn quota_fast() -> ErrorKind {
    ErrorKind::Custom {
        status: 429,
        body: json!({"error": {"message": OPENAI_QUOTA_MESSAGE, "type": "insufficient_quota",
                               "param": null, "code": "insufficient_quota"}}),
        headers: vec![("retry-after-ms".into(), "10".into())],
    }
}

#[test]
fn opencode_error_runs_end_with_the_error_in_the_stream() {
    let cases: [(&str, Wire, ErrorKind); 5] = [
        ("quota", Wire::OpenAiCompatible, quota_fast()),
        (
            "invalid-key",
            Wire::OpenAiCompatible,
            ErrorKind::OpenaiInvalidApiKey,
        ),
        (
            "gateway-credits",
            Wire::OpenAiCompatible,
            ErrorKind::GatewayInsufficientFunds,
        ),
        (
            "anthropic-credit",
            Wire::Anthropic,
            ErrorKind::AnthropicCreditBalanceTooLow,
        ),
        (
            "anthropic-invalid-key",
            Wire::Anthropic,
            ErrorKind::AnthropicAuthentication,
        ),
    ];
    for (name, wire, kind) in cases {
        let s = Scratch::new();
        let mock = MockLlm::start_blocking(Script::new(vec![Turn::error(kind.clone()); 8]));
        let out = opencode(&s, &mock, wire, "sk-wrong");
        let version = version_of(&s, &opencode_bin());
        record_fixture(&format!("opencode-{version}-{name}.jsonl"), &s, &out.stdout);
        assert!(s.findings().is_empty());
        assert!(
            out.stdout.contains("\"type\":\"error\""),
            "{name}: no error event (exit {:?}):\n{}\n{}",
            out.code,
            out.stdout,
            out.stderr
        );
        eprintln!("{name}: exit {:?}", out.code);
    }
}
