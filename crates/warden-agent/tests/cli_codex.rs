//! Codex (from npm) headless (`codex exec --json`) on the host against the mock
//! LLM's Responses API, reporting through Warden's MCP server.

mod cli_support;

use cli_support::*;
use serde_json::{json, Value};
use warden_agent::mcp::Mode;
use warden_testkit::mock_llm::{ErrorKind, MockLlm, Script, ToolCall, Turn, Usage};

const TOOL: &str = "mcp__warden__report_finding";
const NAMESPACE: &str = "mcp__warden";
const MODEL: &str = "warden-mock-model";

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

/// How a model calls the tool Codex offers: `report_finding` in the `mcp__warden` namespace.
fn report_call(args: Value) -> ToolCall {
    ToolCall::new("report_finding", args).with_namespace(NAMESPACE)
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// `$CODEX_HOME/config.toml`: the mock as a custom Responses provider (Codex
/// ignores OPENAI_BASE_URL), no approvals, read-only sandbox, Warden's MCP server.
fn config(mock: &MockLlm, program: &str, args: &[String]) -> String {
    let args: Vec<String> = args.iter().map(|a| toml_str(a)).collect();
    format!(
        r#"model_provider = "warden"
model = "{MODEL}"
approval_policy = "never"
sandbox_mode = "read-only"

[model_providers.warden]
name = "Warden"
base_url = {base}
env_key = "WARDEN_MODEL_KEY"
wire_api = "responses"
request_max_retries = 1
stream_max_retries = 1

[mcp_servers.warden]
command = {program}
args = [{args}]
default_tools_approval_mode = "approve"
"#,
        base = toml_str(&mock.openai_base_url()),
        program = toml_str(program),
        args = args.join(", "),
    )
}

fn codex(s: &Scratch, mock: &MockLlm, mode: Mode, key: &str) -> Output {
    let codex_home = s.home.join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    let (program, args) = mcp_command(&s.root, &s.out, mode);
    std::fs::write(
        codex_home.join("config.toml"),
        config(mock, &program, &args),
    )
    .unwrap();
    let mut cmd = s.command(&codex_bin());
    cmd.args([
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--disable",
        "plugins",
    ])
    .arg("Investigate src/app.py and report findings with report_finding.")
    .env("CODEX_HOME", &codex_home)
    .env("WARDEN_MODEL_KEY", key);
    run(cmd)
}

fn tool_names(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|t| t["name"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the request offers `report_finding`: flat (`mcp__warden__report_finding`)
/// or, as Codex 0.169+ does for models without tool search, as a function inside
/// the `mcp__warden` namespace tool.
fn offers_report_tool(body: &Value) -> bool {
    body["tools"].as_array().is_some_and(|tools| {
        tools.iter().any(|t| {
            t["name"] == TOOL
                || (t["type"] == "namespace"
                    && t["name"] == "mcp__warden"
                    && t["tools"]
                        .as_array()
                        .is_some_and(|f| f.iter().any(|f| f["name"] == "report_finding")))
        })
    })
}

/// The tool results Codex sent back in a request (`function_call_output` items).
fn tool_outputs(body: &Value) -> Vec<Value> {
    body["input"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|i| i["type"] == "function_call_output" || i["type"] == "function_call")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn codex_reports_a_finding_through_mcp_after_fixing_a_rejected_one() {
    let s = Scratch::new();
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("exec_command", json!({"cmd": "cat src/app.py"}))
            .with_text("Reading the handler.")
            .with_usage(Usage::new(1200, 40).with_cache(0, 300).with_reasoning(8)),
        Turn::tool_calls(vec![report_call(report(4, 99))])
            .with_usage(Usage::new(1500, 90).with_cache(0, 300)),
        Turn::tool_calls(vec![report_call(report(4, 5))])
            .with_usage(Usage::new(1700, 95).with_cache(0, 300)),
        Turn::text("Reported one SQL injection in src/app.py.")
            .with_usage(Usage::new(1800, 12).with_cache(0, 300)),
    ]));
    let out = codex(&s, &mock, Mode::Investigate, KEY);
    let version = version_of(&s, &codex_bin());
    record_fixture(
        &format!("codex-{version}-mcp-success.jsonl"),
        &s,
        &out.stdout,
    );
    assert!(out.success, "codex failed:\n{}\n{}", out.stdout, out.stderr);

    let reqs = mock.generation_requests();
    assert!(
        offers_report_tool(&reqs[0].body),
        "tools offered: {:?}",
        tool_names(&reqs[0].body)
    );
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(reqs.len() >= 4, "{} requests:\n{}", reqs.len(), out.stdout);
    assert!(
        reqs[2]
            .body_contains("Finding rejected: lines 4-99 do not exist: `src/app.py` has 5 lines"),
        "{:#?}",
        tool_outputs(&reqs[2].body)
    );
    assert!(reqs[3].body_contains("Recorded finding 1: SQL injection in handler (src/app.py:4-5)."));
    let findings = s.findings();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["path"], "src/app.py");
}

#[test]
fn codex_error_runs_end_with_the_error_in_the_stream() {
    let cases: [(&str, ErrorKind); 7] = [
        ("quota", ErrorKind::OpenaiInsufficientQuota),
        ("invalid-key", ErrorKind::OpenaiInvalidApiKey),
        ("gateway-credits", ErrorKind::GatewayInsufficientFunds),
        (
            "rate-limit",
            ErrorKind::OpenaiRateLimit {
                retry_after_secs: 0,
            },
        ),
        ("server-error", ErrorKind::ServerError),
        ("context", ErrorKind::OpenaiContextLengthExceeded),
        (
            "bad-request",
            ErrorKind::Custom {
                status: 400,
                body: json!({"error": {"message": "The model `x` does not exist", "type": "invalid_request_error", "code": "model_not_found"}}),
                headers: vec![],
            },
        ),
    ];
    for (name, kind) in cases {
        let s = Scratch::new();
        let mock = MockLlm::start_blocking(Script::new(vec![Turn::error(kind.clone()); 8]));
        let out = codex(&s, &mock, Mode::Investigate, "sk-wrong");
        let version = version_of(&s, &codex_bin());
        record_fixture(&format!("codex-{version}-{name}.jsonl"), &s, &out.stdout);
        assert!(!out.success, "{name}: codex succeeded:\n{}", out.stdout);
        assert!(s.findings().is_empty());
    }
}
