//! `warden process --agent opencode`: the real OpenCode from npm, in a sandbox from the
//! agent image, against the mock LLM on loopback (Anthropic and OpenAI-compatible).

mod agent_support;
mod common;

use agent_support::*;
use serde_json::json;
use warden_testkit::mock_llm::{ErrorKind, MockLlm, Script, Turn, Usage};

const TOOL: &str = "warden_report_finding";

#[test]
fn opencode_on_anthropic_reads_and_reports_through_mcp() {
    let p = Project::new();
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("read", json!({"filePath": "/workspace/app.py"}))
            .with_usage(Usage::new(900, 40)),
        Turn::tool_call(TOOL, report()).with_usage(Usage::new(1100, 90)),
        Turn::text("Reported one command injection.").with_usage(Usage::new(1200, 10)),
    ]));
    let s = summary(&p.process_anthropic("opencode", &mock, &[]));
    assert_eq!(
        (s["investigated"].as_u64(), s["findings"].as_u64()),
        (Some(1), Some(1)),
        "{s:#}"
    );
    let g = generations(&mock, 3);
    for r in &g {
        assert_eq!(r.header("x-api-key"), Some(REAL_ANTHROPIC_KEY));
    }
    assert_not_in_bodies(&mock, REAL_ANTHROPIC_KEY);
    assert!(
        g[1].raw_body.contains("os.system"),
        "OpenCode read the tree"
    );
    let rows = p.query("SELECT cost_usd FROM findings");
    assert!(rows[0][0].as_f64().is_some_and(|c| c > 0.0), "{rows:?}");
    let sessions = p.query("SELECT agent, session_id FROM agent_sessions");
    assert_eq!(sessions[0][0], "opencode");
    assert!(sessions[0][1]
        .as_str()
        .is_some_and(|s| s.starts_with("ses_")));
}

#[test]
fn opencode_on_openai_holds_only_a_placeholder() {
    let p = Project::new();
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call(TOOL, report()).with_delay(std::time::Duration::from_secs(3)),
        Turn::text("Done."),
    ]));
    let url = mock.openai_base_url();
    let (out, seen) = p.run_watching(
        &[
            ("OPENAI_API_KEY", REAL_OPENAI_KEY),
            ("OPENAI_BASE_URL", &url),
        ],
        &[
            "process", "--agent", "opencode", "--model", "gpt-5.1", "--json",
        ],
        "--format",
    );
    let s = summary(&out);
    assert_eq!(s["findings"], 1, "{s:#}");
    assert!(!seen.cli_environs.is_empty(), "never saw OpenCode running");
    for env in &seen.environs {
        assert!(
            !env.contains(REAL_OPENAI_KEY),
            "the real key is in a process of the sandbox"
        );
    }
    assert!(
        seen.cli_environs
            .iter()
            .any(|env| env.contains("OPENAI_API_KEY=")),
        "{:?}",
        seen.cli_environs
    );
    assert!(!String::from_utf8_lossy(&seen.home_files).contains(REAL_OPENAI_KEY));
    for r in generations(&mock, 2) {
        assert_eq!(r.path, "/v1/chat/completions");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {REAL_OPENAI_KEY}").as_str())
        );
    }
    assert_not_in_bodies(&mock, REAL_OPENAI_KEY);
}

#[test]
fn opencode_out_of_credits_stops_gracefully() {
    let p = Project::new();
    let mock = MockLlm::start_blocking(Script::new(vec![Turn::error(
        ErrorKind::AnthropicCreditBalanceTooLow,
    )]));
    let out = p.process_anthropic("opencode", &mock, &[]);
    out.code(5);
    let status = p.query("SELECT status FROM files WHERE path = 'app.py'");
    assert_eq!(status[0][0], "pending");
}
