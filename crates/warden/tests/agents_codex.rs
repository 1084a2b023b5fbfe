//! `warden process --agent codex`: the real Codex CLI from npm, in a sandbox from the
//! agent image, against the mock LLM (Responses API) on loopback.

mod agent_support;
mod common;

use agent_support::*;
use serde_json::json;
use warden_testkit::mock_llm::{ErrorKind, MockLlm, Script, ToolCall, Turn, Usage};

/// Codex offers an MCP server's tools inside one namespace tool.
fn report_call() -> Turn {
    Turn::tool_calls(vec![
        ToolCall::new("report_finding", report()).with_namespace("mcp__warden")
    ])
}

fn usage() -> Usage {
    Usage::new(2000, 80).with_cache(0, 500)
}

#[test]
fn codex_reads_with_its_shell_and_reports_through_mcp() {
    let p = Project::new();
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("exec_command", json!({"cmd": "cat app.py"})).with_usage(usage()),
        report_call().with_usage(usage()),
        Turn::text("Reported one command injection.").with_usage(usage()),
    ]));
    let s = summary(&p.process_openai("codex", &mock, &[]));
    assert_eq!(
        (s["investigated"].as_u64(), s["findings"].as_u64()),
        (Some(1), Some(1)),
        "{s:#}"
    );
    let g = generations(&mock, 3);
    for r in &g {
        assert_eq!(r.path, "/v1/responses");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {REAL_OPENAI_KEY}").as_str())
        );
    }
    assert_not_in_bodies(&mock, REAL_OPENAI_KEY);
    assert!(
        g[1].raw_body.contains("os.system"),
        "the command ran on the read-only tree"
    );
    let rows = p.query("SELECT path, start_line, cost_usd FROM findings");
    assert_eq!(rows[0][0], "app.py");
    assert!(rows[0][2].as_f64().is_some_and(|c| c > 0.0), "{rows:?}");
    let sessions = p.query("SELECT agent, session_id FROM agent_sessions");
    assert_eq!(sessions[0][0], "codex");
    assert!(sessions[0][1].as_str().is_some_and(|s| !s.is_empty()));
}

#[test]
fn codex_holds_only_a_placeholder_and_the_tree_is_read_only() {
    let p = Project::new();
    p.tree.write("notes.txt", "tree-only-marker-77\n");
    let host = p.tree.root.join("notes.txt").display().to_string();
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("exec_command", json!({"cmd": "env"}))
            .with_delay(std::time::Duration::from_secs(3)),
        Turn::tool_call(
            "exec_command",
            json!({"cmd": format!("cat {host}; echo x > /workspace/app.py; echo write=$?")}),
        ),
        Turn::text("Nothing to report."),
    ]));
    let url = mock.openai_base_url();
    let (out, seen) = p.run_watching(
        &[
            ("OPENAI_API_KEY", REAL_OPENAI_KEY),
            ("OPENAI_BASE_URL", &url),
        ],
        &["process", "--agent", "codex", "--json"],
        "--skip-git-repo-check",
    );
    assert_eq!(summary(&out)["investigated"], 1);
    assert!(!seen.cli_environs.is_empty(), "never saw Codex running");
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
    let g = generations(&mock, 3);
    // `env` inside: the placeholder under its name, never the key.
    assert!(
        g[1].raw_body.contains("OPENAI_API_KEY="),
        "the env output reached the model"
    );
    assert_not_in_bodies(&mock, REAL_OPENAI_KEY);
    // The host path is not there, and /workspace cannot be written.
    assert!(!g[2].raw_body.contains("tree-only-marker-77"));
    assert!(!g[2].raw_body.contains("write=0"), "{}", g[2].raw_body);
    let app = std::fs::read_to_string(p.tree.root.join("app.py")).unwrap();
    assert!(app.contains("os.system"), "the real tree is untouched");
}

#[test]
fn codex_out_of_quota_stops_gracefully() {
    let p = Project::new();
    let mock = MockLlm::start_blocking(Script::new(vec![Turn::error(
        ErrorKind::OpenaiInsufficientQuota,
    )]));
    let out = p.process_openai("codex", &mock, &[]);
    out.code(5);
    assert!(
        out.stderr.to_lowercase().contains("quota"),
        "{}",
        out.stderr
    );
    let status = p.query("SELECT status FROM files WHERE path = 'app.py'");
    assert_eq!(status[0][0], "pending");
}

#[test]
fn a_chatgpt_login_is_brokered_to_codex() {
    let p = Project::new();
    const ACCESS: &str = "chatgpt-e2e-ACCESS-token-NEVER-inside-0123456789";
    const ACCOUNT: &str = "acct-e2e-7";
    std::fs::create_dir_all(p.home().join(".codex")).unwrap();
    std::fs::write(
        p.home().join(".codex/auth.json"),
        json!({"tokens": {"access_token": ACCESS, "account_id": ACCOUNT}}).to_string(),
    )
    .unwrap();
    let mock = MockLlm::start_blocking(Script::new(vec![report_call(), Turn::text("Done.")]));
    let url = mock.openai_base_url();
    let s = summary(&p.warden(
        &[("OPENAI_BASE_URL", &url)],
        &["process", "--agent", "codex", "--json"],
    ));
    assert_eq!(s["findings"], 1, "{s:#}");
    for r in generations(&mock, 2) {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {ACCESS}").as_str())
        );
        assert_eq!(r.header("chatgpt-account-id"), Some(ACCOUNT));
        assert!(!r.raw_body.contains(ACCESS));
    }
}
