//! The real Claude Code and Codex CLIs, installed from npm, complete a
//! tool-use turn against the mock LLM on loopback.
//!
//! The CLIs are installed once into `<target>/tmp/agents/<versions>` (a fresh
//! directory renamed into place, so parallel test processes never see a
//! half-finished install). A failed install fails the tests.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use warden_testkit::agents::{run_with_timeout, RUN_TIMEOUT};
use warden_testkit::mock_llm::{ErrorKind, MockLlm, RecordedRequest, Script, Turn};

fn agents_bin() -> &'static Path {
    warden_testkit::agents::agents_bin(Path::new(env!("CARGO_TARGET_TMPDIR")))
}

fn summary(requests: &[RecordedRequest]) -> String {
    requests
        .iter()
        .map(|r| {
            format!(
                "{} {}{} ({} bytes, turn {:?})",
                r.method,
                r.path,
                r.query
                    .as_deref()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default(),
                r.raw_body.len(),
                r.turn
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A base environment without the host's credentials or agent settings.
fn clean_command(program: &Path, home: &Path, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .current_dir(cwd)
        .stdin(Stdio::null());
    cmd
}

fn canary(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("warden-mock-canary-{tag}-{}-{nanos}", std::process::id())
}

#[test]
fn claude_code_completes_a_read_tool_turn_against_the_mock() {
    let bin = agents_bin();
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let content = canary("claude");
    let file = work.path().join("notes.txt");
    std::fs::write(&file, format!("{content}\n")).unwrap();
    let final_text = "MOCK-FINAL: the file holds the canary.";
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("Read", json!({"file_path": file.to_str().unwrap()})),
        Turn::text(final_text),
    ]));

    let mut cmd = clean_command(&bin.join("claude"), home.path(), work.path());
    cmd.env("ANTHROPIC_BASE_URL", mock.url())
        .env("ANTHROPIC_API_KEY", "test")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .args([
            "-p",
            "Read notes.txt and tell me what it says.",
            "--allowedTools",
            "Read",
            "--output-format",
            "json",
        ]);
    let out = run_with_timeout(cmd, RUN_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\nmock saw:\n{}", summary(&mock.requests())));
    let requests = mock.requests();
    let context = format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}\nmock saw:\n{}",
        out.code,
        out.stdout,
        out.stderr,
        summary(&requests)
    );
    assert!(out.success, "claude failed\n{context}");

    let generations: Vec<_> = requests.iter().filter(|r| r.is_generation()).collect();
    assert!(
        generations.len() >= 2,
        "two model calls expected\n{context}"
    );
    let first = generations[0];
    assert_eq!(first.path, "/v1/messages", "{context}");
    assert_eq!(first.header("x-api-key"), Some("test"));
    assert!(first.header("anthropic-version").is_some());
    assert_eq!(first.body["stream"], true);
    assert!(
        first.body["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == "Read")),
        "the Read tool is offered\n{context}"
    );
    let tool_results: Vec<Value> = generations[1..]
        .iter()
        .flat_map(|r| r.body["messages"].as_array().cloned().unwrap_or_default())
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .filter(|b| b["type"] == "tool_result")
        .collect();
    assert!(
        tool_results
            .iter()
            .any(|b| b["tool_use_id"] == "toolu_mock_000100" && b.to_string().contains(&content)),
        "a tool_result for the scripted Read with the file's content\n{context}"
    );

    let printed: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("--output-format json prints JSON ({e})\n{context}"));
    assert_eq!(printed["result"], final_text, "{context}");
    assert_eq!(printed["is_error"], false, "{context}");
}

#[test]
fn codex_completes_an_exec_command_turn_against_the_mock() {
    let bin = agents_bin();
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let codex_home = tempfile::tempdir().unwrap();
    let content = canary("codex");
    let file = work.path().join("notes.txt");
    std::fs::write(&file, format!("{content}\n")).unwrap();
    let final_text = "MOCK-FINAL: codex saw the canary.";
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call(
            "exec_command",
            json!({"cmd": format!("cat {}", file.display())}),
        ),
        Turn::text(final_text),
    ]));
    std::fs::write(
        codex_home.path().join("config.toml"),
        format!(
            "model_provider = \"mock\"\nmodel = \"gpt-5.5\"\n\n[model_providers.mock]\nname = \"Mock\"\nbase_url = \"{}\"\nenv_key = \"MOCK_API_KEY\"\nwire_api = \"responses\"\n",
            mock.openai_base_url()
        ),
    )
    .unwrap();

    let mut cmd = clean_command(&bin.join("codex"), home.path(), work.path());
    cmd.env("CODEX_HOME", codex_home.path())
        .env("MOCK_API_KEY", "test")
        .args([
            "exec",
            "--skip-git-repo-check",
            "--disable",
            "plugins",
            // This test is about the wire format, not Codex's own sandbox (which, where
            // bubblewrap is installed, needs helper binaries it refuses to put under /tmp).
            "--sandbox",
            "danger-full-access",
            "Print the contents of notes.txt.",
        ]);
    let out = run_with_timeout(cmd, RUN_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\nmock saw:\n{}", summary(&mock.requests())));
    let requests = mock.requests();
    let context = format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}\nmock saw:\n{}",
        out.code,
        out.stdout,
        out.stderr,
        summary(&requests)
    );
    assert!(out.success, "codex failed\n{context}");

    let generations: Vec<_> = requests.iter().filter(|r| r.is_generation()).collect();
    assert!(
        generations.len() >= 2,
        "two model calls expected\n{context}"
    );
    let first = generations[0];
    assert_eq!(first.path, "/v1/responses", "{context}");
    assert_eq!(first.header("authorization"), Some("Bearer test"));
    assert_eq!(first.body["stream"], true);
    let exec_tool = first.body["tools"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "exec_command"))
        .unwrap_or_else(|| panic!("codex offers exec_command\n{context}"));
    assert!(
        exec_tool["parameters"]["properties"]["cmd"].is_object(),
        "exec_command takes `cmd`: {exec_tool}"
    );
    let outputs: Vec<Value> = generations[1..]
        .iter()
        .flat_map(|r| r.body["input"].as_array().cloned().unwrap_or_default())
        .filter(|item| item["type"] == "function_call_output")
        .collect();
    assert!(
        outputs
            .iter()
            .any(|o| o["call_id"] == "call_mock_000100" && o.to_string().contains(&content)),
        "a function_call_output for the scripted call with the file's content\n{context}\noutputs: {outputs:?}"
    );
    assert!(out.stdout.contains(final_text), "{context}");
}

#[test]
fn claude_code_reports_the_mocks_credit_balance_error() {
    let bin = agents_bin();
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mock = MockLlm::start_blocking(Script::new(vec![Turn::error(
        ErrorKind::AnthropicCreditBalanceTooLow,
    )]));
    let mut cmd = clean_command(&bin.join("claude"), home.path(), work.path());
    cmd.env("ANTHROPIC_BASE_URL", mock.url())
        .env("ANTHROPIC_API_KEY", "test")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .args(["-p", "hi", "--output-format", "json"]);
    let out = run_with_timeout(cmd, RUN_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\nmock saw:\n{}", summary(&mock.requests())));
    let context = format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}\nmock saw:\n{}",
        out.code,
        out.stdout,
        out.stderr,
        summary(&mock.requests())
    );
    assert!(!out.success, "{context}");
    let printed: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("--output-format json prints JSON ({e})\n{context}"));
    assert_eq!(printed["is_error"], true, "{context}");
    assert_eq!(printed["api_error_status"], 400, "{context}");
    assert!(
        printed["result"]
            .as_str()
            .is_some_and(|r| r.contains("Credit balance is too low")),
        "{context}"
    );
    assert_eq!(mock.turns_served(), 1, "a 400 is not retried\n{context}");
}

#[test]
fn codex_reports_the_mocks_insufficient_quota_error() {
    let bin = agents_bin();
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let codex_home = tempfile::tempdir().unwrap();
    let mock = MockLlm::start_blocking(Script::new(vec![Turn::error(
        ErrorKind::OpenaiInsufficientQuota,
    )]));
    std::fs::write(
        codex_home.path().join("config.toml"),
        format!(
            "model_provider = \"mock\"\nmodel = \"gpt-5.5\"\n\n[model_providers.mock]\nname = \"Mock\"\nbase_url = \"{}\"\nenv_key = \"MOCK_API_KEY\"\nwire_api = \"responses\"\n",
            mock.openai_base_url()
        ),
    )
    .unwrap();
    let mut cmd = clean_command(&bin.join("codex"), home.path(), work.path());
    cmd.env("CODEX_HOME", codex_home.path())
        .env("MOCK_API_KEY", "test")
        .args([
            "exec",
            "--skip-git-repo-check",
            "--disable",
            "plugins",
            "hi",
        ]);
    let out = run_with_timeout(cmd, RUN_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\nmock saw:\n{}", summary(&mock.requests())));
    let context = format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}\nmock saw:\n{}",
        out.code,
        out.stdout,
        out.stderr,
        summary(&mock.requests())
    );
    assert!(!out.success, "{context}");
    assert!(out.stderr.contains("Quota exceeded"), "{context}");
    assert_eq!(
        mock.turns_served(),
        1,
        "insufficient_quota is not retried\n{context}"
    );
}
