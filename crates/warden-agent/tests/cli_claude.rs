//! Claude Code (from npm) headless on the host against the mock LLM, reporting
//! through Warden's MCP server as `mcp__warden__report_finding`.

mod cli_support;

use cli_support::*;
use serde_json::{json, Value};
use warden_agent::mcp::Mode;
use warden_testkit::mock_llm::{ErrorKind, MockLlm, RecordedRequest, Script, Turn, Usage};

const TOOL: &str = "mcp__warden__report_finding";
const MODEL: &str = "claude-sonnet-4-5";

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

/// Runs `claude -p` with the MCP config; returns its output.
fn claude(s: &Scratch, mock: &MockLlm, mode: Mode, key: &str) -> Output {
    let (program, args) = mcp_command(&s.root, &s.out, mode);
    let config =
        json!({"mcpServers": {"warden": {"type": "stdio", "command": program, "args": args}}});
    let config_path = s.base.join("mcp.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let tool = match mode {
        Mode::Investigate => TOOL,
        Mode::Verdict => "mcp__warden__report_verdict",
    };
    let mut cmd = s.command(&claude_bin());
    cmd.args([
        "-p",
        "Investigate src/app.py and report findings with report_finding.",
    ])
    .args(["--output-format", "stream-json", "--verbose"])
    .arg("--mcp-config")
    .arg(&config_path)
    .arg("--strict-mcp-config")
    .args(["--allowedTools", &format!("Read,Grep,Glob,{tool}")])
    .args(["--model", MODEL])
    .env("ANTHROPIC_BASE_URL", mock.url())
    .env("ANTHROPIC_API_KEY", key)
    .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    .env("CLAUDE_CODE_MAX_RETRIES", "0")
    // Newer releases (2.1.332) defer MCP tools behind ToolSearch: the model would
    // have to search for report_finding before it may call it. Offer it up front.
    .env("ENABLE_TOOL_SEARCH", "false");
    run(cmd)
}

fn generation(mock: &MockLlm) -> Vec<RecordedRequest> {
    mock.generation_requests()
}

#[test]
fn claude_reports_a_finding_through_mcp_after_fixing_a_rejected_one() {
    let s = Scratch::new();
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("Read", json!({"file_path": s.root.join("src/app.py")}))
            .with_text("Reading the handler.")
            .with_usage(Usage::new(1200, 40).with_cache(300, 0)),
        Turn::tool_call(TOOL, report(4, 99)).with_usage(Usage::new(1500, 90).with_cache(0, 300)),
        Turn::tool_call(TOOL, report(4, 5)).with_usage(Usage::new(1700, 95).with_cache(0, 300)),
        Turn::text("Reported one SQL injection in src/app.py.")
            .with_usage(Usage::new(1800, 12).with_cache(0, 300)),
    ]));
    let out = claude(&s, &mock, Mode::Investigate, KEY);
    let version = version_of(&s, &claude_bin());
    record_fixture(
        &format!("claude-{version}-mcp-success.jsonl"),
        &s,
        &out.stdout,
    );
    assert!(
        out.success,
        "claude failed:\n{}\n{}",
        out.stdout, out.stderr
    );

    // The tool was offered with Warden's schema.
    let reqs = generation(&mock);
    assert!(reqs.len() >= 4, "{} generation requests", reqs.len());
    let tools = reqs[0].body["tools"].as_array().unwrap();
    let ours = tools.iter().find(|t| t["name"] == TOOL).unwrap_or_else(|| {
        let names: Vec<&Value> = tools.iter().map(|t| &t["name"]).collect();
        panic!("the MCP tool is not offered up front: {names:?}")
    });
    assert_eq!(
        ours["input_schema"]["required"],
        warden_agent::finding::report_definition().input_schema["required"]
    );
    // The rejection reached the model in the next request, the acceptance after it.
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
    assert_eq!(
        (
            findings[0]["start_line"].as_u64(),
            findings[0]["end_line"].as_u64()
        ),
        (Some(4), Some(5))
    );
    assert_eq!(findings[0]["cwe"], "CWE-89");
}

#[test]
fn claude_reports_a_verdict_through_mcp() {
    let s = Scratch::new();
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call(
            "mcp__warden__report_verdict",
            json!({"verdict": "true_positive", "reasoning": "q flows from the request into SQL (src/app.py:4-5)"}),
        ),
        Turn::text("Confirmed."),
    ]));
    let out = claude(&s, &mock, Mode::Verdict, KEY);
    assert!(
        out.success,
        "claude failed:\n{}\n{}",
        out.stdout, out.stderr
    );
    let v = warden_agent::mcp::read_verdict(&read_lossy(&s.out)).expect("a verdict");
    assert_eq!(v.verdict, warden_store::Verdict::TruePositive);
}

/// Error runs recorded as parser fixtures: out of credits, a rejected key, and
/// (with retries off) a rate limit and an overload.
#[test]
fn claude_error_runs_end_with_the_error_in_the_stream() {
    let cases: [(&str, ErrorKind); 4] = [
        ("credit", ErrorKind::AnthropicCreditBalanceTooLow),
        ("invalid-key", ErrorKind::AnthropicAuthentication),
        (
            "rate-limit",
            ErrorKind::AnthropicRateLimit {
                retry_after_secs: 0,
            },
        ),
        ("overloaded", ErrorKind::AnthropicOverloaded),
    ];
    for (name, kind) in cases {
        let s = Scratch::new();
        let mock = MockLlm::start_blocking(Script::new(vec![Turn::error(kind.clone()); 3]));
        let out = claude(&s, &mock, Mode::Investigate, "sk-ant-wrong");
        let version = version_of(&s, &claude_bin());
        record_fixture(&format!("claude-{version}-{name}.jsonl"), &s, &out.stdout);
        assert!(!out.success, "{name}: claude succeeded:\n{}", out.stdout);
        assert!(
            out.stdout.contains("\"is_error\":true"),
            "{name}: {}",
            out.stdout
        );
        assert!(s.findings().is_empty());
    }
}
