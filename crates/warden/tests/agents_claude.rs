//! `warden process|revalidate --agent claude`: the real Claude Code from npm, in a
//! sandbox from the agent image, against the mock LLM on loopback.

mod agent_support;
mod common;

use agent_support::*;
use serde_json::json;
use warden_testkit::mock_llm::{ErrorKind, MockLlm, Script, Turn, Usage};

const TOOL: &str = "mcp__warden__report_finding";

fn usage() -> Usage {
    Usage::new(1200, 60).with_cache(0, 400)
}

#[test]
fn claude_reads_with_its_own_tool_and_reports_through_mcp() {
    let p = Project::new();
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("Read", json!({"file_path": "/workspace/app.py"})).with_usage(usage()),
        Turn::tool_call(TOOL, report()).with_usage(usage()),
        Turn::text("Reported one command injection.").with_usage(usage()),
    ]));
    let s = summary(&p.process_anthropic("claude", &mock, &[]));
    assert_eq!(
        (s["investigated"].as_u64(), s["findings"].as_u64()),
        (Some(1), Some(1)),
        "{s:#}"
    );
    assert_eq!(s["agent"], "claude");

    let g = generations(&mock, 3);
    // The proxy added the real key; the sandbox sent a placeholder, never the key.
    for r in &g {
        assert_eq!(r.header("x-api-key"), Some(REAL_ANTHROPIC_KEY));
    }
    assert_not_in_bodies(&mock, REAL_ANTHROPIC_KEY);
    // Claude read the tree with its own Read tool, inside the sandbox.
    assert!(
        g[1].raw_body.contains("os.system"),
        "the Read result reached the model"
    );
    // Warden's MCP tool was offered under its own server.
    assert!(g[0].raw_body.contains(TOOL));

    let rows = p.query("SELECT path, start_line, severity, cost_usd FROM findings");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], "app.py");
    assert_eq!(rows[0][1], SINK_LINE);
    assert!(
        rows[0][3].as_f64().is_some_and(|c| c > 0.0),
        "the finding carries its cost"
    );
    let spend = p.query("SELECT COUNT(*), SUM(input_tokens), SUM(cost_usd) FROM llm_calls");
    assert_eq!(
        spend[0][0], 3,
        "one priced call per model request: {spend:?}"
    );
    assert!(spend[0][2].as_f64().is_some_and(|c| c > 0.0));
    let sessions = p.query("SELECT agent, session_id, turns FROM agent_sessions");
    assert_eq!(sessions[0][0], "claude");
    assert!(sessions[0][1].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        sessions[0][2].as_u64().is_some_and(|t| t >= 3),
        "{sessions:?}"
    );
    // No sandbox outlives its investigation.
    let left = std::fs::read_dir(image_root().join("sandboxes"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(left <= 8, "sandboxes pile up: {left}");
}

#[test]
fn claude_holds_only_a_placeholder_and_cannot_read_the_host() {
    let p = Project::new();
    // A login on the host that the sandbox must not see.
    let host_claude = p.home().join(".claude");
    std::fs::create_dir_all(&host_claude).unwrap();
    std::fs::write(host_claude.join("SECRET-MARKER.txt"), "host-only-marker-42").unwrap();
    p.tree.write("notes.txt", "tree-only-marker-77\n");
    let mock = MockLlm::start_blocking(Script::new(vec![
        // A slow first answer keeps Claude running while the test looks at it.
        Turn::tool_call(
            "Read",
            json!({"file_path": host_claude.join("SECRET-MARKER.txt")}),
        )
        .with_delay(std::time::Duration::from_secs(3)),
        Turn::tool_call("Read", json!({"file_path": p.tree.root.join("notes.txt")})),
        Turn::text("Nothing to report."),
    ]));
    let url = mock.url().to_string();
    let (out, seen) = p.run_watching(
        &[
            ("ANTHROPIC_API_KEY", REAL_ANTHROPIC_KEY),
            ("ANTHROPIC_BASE_URL", &url),
        ],
        &["process", "--agent", "claude", "--json"],
        "stream-json",
    );
    assert_eq!(summary(&out)["investigated"], 1);
    // Claude's environment, as /proc shows it: the front door and a placeholder.
    assert!(!seen.cli_environs.is_empty(), "never saw Claude running");
    for env in &seen.environs {
        assert!(
            !env.contains(REAL_ANTHROPIC_KEY),
            "the real key is in a process of the sandbox"
        );
    }
    // Claude itself got the front door and a placeholder (children it starts may get less).
    assert!(
        seen.cli_environs.iter().any(|env| {
            env.contains("ANTHROPIC_BASE_URL=http://127.0.0.1:3129")
                && env.contains("ANTHROPIC_API_KEY=")
        }),
        "{:?}",
        seen.cli_environs
    );
    let files = String::from_utf8_lossy(&seen.home_files);
    assert!(
        files.contains("__mcp-report"),
        "the home held Warden's config"
    );
    assert!(
        !files.contains(REAL_ANTHROPIC_KEY),
        "the real key is in a file of the sandbox"
    );
    assert_not_in_bodies(&mock, REAL_ANTHROPIC_KEY);
    // The host's ~/.claude and the real tree are not there.
    let g = generations(&mock, 3);
    assert!(!g[1].raw_body.contains("host-only-marker-42"));
    let tree_path = p.tree.root.join("notes.txt").display().to_string();
    assert!(g[2].raw_body.contains(&tree_path), "the read was attempted");
    assert!(
        !g[2].raw_body.contains("tree-only-marker-77"),
        "the real tree is not in the sandbox"
    );
}

#[test]
fn claude_out_of_credits_stops_gracefully_and_a_rerun_resumes() {
    let p = Project::new();
    let broke = MockLlm::start_blocking(Script::new(vec![Turn::error(
        ErrorKind::AnthropicCreditBalanceTooLow,
    )]));
    let out = p.process_anthropic("claude", &broke, &[]);
    out.code(5);
    assert!(out.stderr.contains("credit"), "{}", out.stderr);
    let status = p.query("SELECT status FROM files WHERE path = 'app.py'");
    assert_eq!(status[0][0], "pending", "the file goes back to the queue");

    let healthy = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call(TOOL, report()),
        Turn::text("Done."),
    ]));
    let s = summary(&p.process_anthropic("claude", &healthy, &[]));
    assert_eq!(
        (s["investigated"].as_u64(), s["findings"].as_u64()),
        (Some(1), Some(1)),
        "{s:#}"
    );
}

#[test]
fn claude_s_unreadable_answer_gets_one_repair_turn() {
    let p = Project::new();
    let fixed = serde_json::to_string(&json!([{
        "path": "app.py", "start_line": SINK_LINE, "end_line": SINK_LINE,
        "title": "Command injection", "severity": "high", "confidence": "medium",
        "cwe": "CWE-78", "description": "p reaches os.system", "attack_path": "GET /run?p=;id",
        "recommendation": "use a list of arguments"
    }]))
    .unwrap();
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::text("Here are the findings:\n```json\n[{\"path\": \"app.py\", \"start_line\": "),
        Turn::text(format!("```json\n{fixed}\n```")),
    ]));
    let s = summary(&p.process_anthropic("claude", &mock, &[]));
    assert_eq!(
        s["findings"], 1,
        "the fenced answer of the repair turn counts: {s:#}"
    );
    let g = generations(&mock, 2);
    assert!(
        g[1].raw_body.contains("could not be read"),
        "the repair prompt went to the same session"
    );
}

#[test]
fn claude_revalidates_through_report_verdict() {
    let p = Project::new();
    let first = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call(TOOL, report()),
        Turn::text("Done."),
    ]));
    summary(&p.process_anthropic("claude", &first, &[]));
    let judge = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call(
            "mcp__warden__report_verdict",
            json!({"verdict": "true_positive", "reasoning": "p is attacker-controlled and reaches os.system (app.py:8)."}),
        ),
        Turn::text("Confirmed."),
    ]));
    let url = judge.url().to_string();
    let out = p.warden(
        &[
            ("ANTHROPIC_API_KEY", REAL_ANTHROPIC_KEY),
            ("ANTHROPIC_BASE_URL", &url),
        ],
        &["revalidate", "--agent", "claude", "--json"],
    );
    let s = summary(&out);
    assert_eq!(s["agent"], "claude", "{s:#}");
    let verdicts = p.query("SELECT verdict FROM verdicts");
    assert_eq!(verdicts[0][0], "true_positive", "{verdicts:?}");
}

#[test]
fn a_claude_subscription_login_is_brokered_and_never_enters_the_sandbox() {
    let p = Project::new();
    let token = "sk-ant-oat01-e2eSUBSCRIPTIONtokenNEVERinsideCCCCCCCCCCCCCCCCCCCCCCCC";
    let creds = p.home().join(".claude");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(
        creds.join(".credentials.json"),
        json!({"claudeAiOauth": {"accessToken": token, "refreshToken": "sk-ant-ort01-never",
            "expiresAt": 4102444800000u64, "scopes": ["user:inference"], "subscriptionType": "max"}})
        .to_string(),
    )
    .unwrap();
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call(TOOL, report()),
        Turn::text("Done."),
    ]));
    let url = mock.url().to_string();
    // No API key: only the login, and the base URL set on the host.
    let out = p.warden(
        &[("ANTHROPIC_BASE_URL", &url)],
        &["process", "--agent", "claude", "--json"],
    );
    let s = summary(&out);
    assert_eq!(s["findings"], 1, "{s:#}");
    assert!(
        s["credential"].as_str().unwrap().contains("subscription"),
        "{s:#}"
    );
    for r in generations(&mock, 2) {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {token}").as_str())
        );
        assert!(r
            .header("anthropic-beta")
            .unwrap_or("")
            .contains("oauth-2025-04-20"));
        assert!(!r.raw_body.contains(token));
    }
    // The native agent does not send a subscription token as an API key.
    let native = p.warden(&[("ANTHROPIC_BASE_URL", &url)], &["process", "--json"]);
    native.code(2);
    assert!(
        native.stderr.contains("--agent claude"),
        "{}",
        native.stderr
    );
}

#[test]
fn kill_9_mid_investigation_leaves_no_sandbox_and_a_rerun_finishes() {
    let p = Project::new();
    // The model takes its time: Claude waits inside its sandbox.
    let slow = MockLlm::start_blocking(Script::new(vec![
        Turn::text("Slow.").with_delay(std::time::Duration::from_secs(60))
    ]));
    let url = slow.url().to_string();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", p.home())
        .env("WARDEN_SANDBOX_DIR", image_root())
        .env("ANTHROPIC_API_KEY", REAL_ANTHROPIC_KEY)
        .env("ANTHROPIC_BASE_URL", &url)
        .current_dir(&p.tree.root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .args(["process", "--agent", "claude"]);
    let mut child = cmd.spawn().unwrap();
    // Our sandbox: the one whose workspace is this run's tree copy (`process-<pid>`).
    let tag = format!("process-{}", child.id());
    let started = std::time::Instant::now();
    let sandbox = loop {
        let found = std::fs::read_dir(image_root().join("sandboxes"))
            .into_iter()
            .flatten()
            .flatten()
            .find(|d| {
                std::fs::read_to_string(d.path().join("meta.json")).is_ok_and(|m| m.contains(&tag))
            })
            .map(|d| d.file_name().to_string_lossy().into_owned());
        if let Some(id) = found.filter(|_| !slow.requests().is_empty()) {
            break id;
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "Claude never asked the model"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    child.kill().unwrap(); // SIGKILL: no destructor runs.
    child.wait().unwrap();
    let dir = image_root().join("sandboxes").join(&sandbox);
    let gone = (0..150).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        !dir.exists() && processes_with(&sandbox).is_empty()
    });
    assert!(gone, "sandbox {sandbox} outlived the warden that owned it");

    // The file was claimed by a process that is gone: a re-run takes it back at once.
    let healthy = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call(TOOL, report()),
        Turn::text("Done."),
    ]));
    let s = summary(&p.process_anthropic("claude", &healthy, &[]));
    assert_eq!(
        (s["investigated"].as_u64(), s["findings"].as_u64()),
        (Some(1), Some(1)),
        "{s:#}"
    );
}
