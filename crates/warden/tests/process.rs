//! `warden process` end to end: the real binary against the mock LLM on loopback,
//! in a cleared environment with a throwaway HOME.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::Command;
use warden_store::{FileStatus, FindingFilter, Store};
use warden_testkit::mock_llm::{ErrorKind, MockLlm, Script, Turn, Usage};

/// A scanned tree with two candidate files: `app.py` (best) and `util.py`.
fn scanned() -> Tree {
    let tree = Tree::new();
    tree.write("app.py", VULN_PY);
    tree.write("util.py", ONE_CALL_PY);
    tree.write("safe.py", SAFE_PY);
    let scan = tree.scan_json(&[]);
    let paths = candidate_paths(&scan);
    assert_eq!(paths.len(), 2, "two candidates: {scan:#}");
    tree
}

/// `warden process <args>` in `tree.root` with nothing but the given credentials.
fn process(tree: &Tree, env: &[(&str, &str)], args: &[&str]) -> Run {
    let home = tree.tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.env_clear()
        .env("HOME", &home)
        .current_dir(&tree.root)
        .stdin(std::process::Stdio::null())
        .arg("process")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

fn with_mock(mock: &MockLlm) -> [(&'static str, &str); 2] {
    [
        ("ANTHROPIC_API_KEY", "test"),
        ("ANTHROPIC_BASE_URL", mock.url()),
    ]
}

fn report_finding(line: u32) -> Value {
    json!({
        "title": "Command injection in /run via p",
        "severity": "high",
        "confidence": "high",
        "cwe": "CWE-78",
        "category": "injection",
        "rule_id": "python.os-system",
        "file": "app.py",
        "start_line": line,
        "end_line": line,
        "description": "The query parameter p reaches os.system unescaped.",
        "attack_path": "GET /run?p=;id",
        "recommendation": "Use subprocess.run with an argument list."
    })
}

fn usage() -> Usage {
    Usage::new(2_000, 300)
}

/// First file (app.py): one finding then a final answer; second (util.py): nothing found.
fn healthy_script() -> Script {
    Script::new(vec![
        Turn::tool_call("report_finding", report_finding(8)).with_usage(usage()),
        Turn::text("Done: one command injection.").with_usage(usage()),
        Turn::text("Nothing exploitable here.").with_usage(usage()),
    ])
    .with_final_text("Nothing exploitable here.")
}

fn status_of(store: &Store, path: &str) -> FileStatus {
    store
        .candidates(PROJECT, None)
        .unwrap()
        .into_iter()
        .find(|c| c.path == path)
        .unwrap_or_else(|| panic!("{path} is no candidate"))
        .status
}

fn status_json(tree: &Tree) -> Value {
    let out = run(common::warden()
        .current_dir(&tree.root)
        .args(["status", "--json"]));
    out.ok().json()[0].clone()
}

#[test]
fn no_credentials_exits_2_with_the_credentials_line() {
    let tree = scanned();
    let out = process(&tree, &[], &[]);
    out.code(2);
    let line = out.error_line();
    assert!(
        line.contains("no usable Anthropic or OpenAI credentials"),
        "{line}"
    );
    assert_eq!(status_of(&tree.store(), "app.py"), FileStatus::Pending);
}

#[test]
fn bad_flags_are_usage_errors() {
    let tree = scanned();
    let out = process(
        &tree,
        &[("ANTHROPIC_API_KEY", "test")],
        &["--concurrency", "0"],
    );
    // Out-of-range numbers are refused by the argument parser (an error and a hint).
    out.code(2);
    assert!(out.stderr.contains("--concurrency"), "{}", out.stderr);
    let out = process(
        &tree,
        &[("ANTHROPIC_API_KEY", "test")],
        &["--model", "llama-3"],
    );
    out.code(2);
    assert!(out.error_line().contains("--model llama-3"));
    let out = process(
        &tree,
        &[("ANTHROPIC_API_KEY", "test")],
        &["--max-cost", "-1"],
    );
    out.code(2);
    assert!(out.stderr.contains("--max-cost"), "{}", out.stderr);
}

#[test]
fn findings_land_with_their_cost_and_rerunning_does_nothing() {
    let tree = scanned();
    let mock = MockLlm::start_blocking(healthy_script());
    let out = process(&tree, &with_mock(&mock), &["--concurrency", "1", "--json"]);
    out.ok();
    let summary = out.json();
    assert_eq!(summary["investigated"], 2, "{summary:#}");
    assert_eq!(summary["findings"], 1, "{summary:#}");
    assert_eq!(summary["findings_by_severity"]["high"], 1);
    assert!(summary["spend_usd"].as_f64().unwrap() > 0.0);

    let store = tree.store();
    assert_eq!(status_of(&store, "app.py"), FileStatus::Analyzed);
    assert_eq!(status_of(&store, "util.py"), FileStatus::Analyzed);
    let findings = store.findings(PROJECT, &FindingFilter::default()).unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].reported.path, "app.py");
    assert_eq!(findings[0].reported.start_line, 8);
    assert_eq!(findings[0].reported.run_id, summary["run_id"].as_i64());
    let spend = store.spend(PROJECT).unwrap();
    assert_eq!(spend.calls, 3);
    assert_eq!(spend.by_run[0].run_id, summary["run_id"].as_i64());
    let status = status_json(&tree);
    assert!(status["spend_usd"].as_f64().unwrap() > 0.0, "{status:#}");
    assert_eq!(status["analyzed"], 2);

    // Nothing pending: no model call, nothing changes.
    let served = mock.turns_served();
    let again = process(&tree, &with_mock(&mock), &["--json"]);
    again.ok();
    assert_eq!(again.json()["investigated"], 0);
    assert_eq!(mock.turns_served(), served);
    assert_eq!(
        tree.store()
            .findings(PROJECT, &FindingFilter::default())
            .unwrap()
            .len(),
        1
    );

    // --reinvestigate redoes both; the same finding is not duplicated.
    let mock = MockLlm::start_blocking(healthy_script());
    let redo = process(
        &tree,
        &with_mock(&mock),
        &["--reinvestigate", "--concurrency", "1", "--json"],
    );
    redo.ok();
    assert_eq!(redo.json()["investigated"], 2);
    assert_eq!(mock.turns_served(), 3);
    let store = tree.store();
    assert_eq!(
        store
            .findings(PROJECT, &FindingFilter::default())
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.spend(PROJECT).unwrap().calls, 6);
}

#[test]
fn the_text_summary_names_files_findings_spend_and_run() {
    let tree = scanned();
    let mock = MockLlm::start_blocking(healthy_script());
    let out = process(&tree, &with_mock(&mock), &["--concurrency", "1"]);
    out.ok();
    let text = out.stdout.trim();
    // The run header first: which agent, model and credential (and why).
    let (header, text) = text.split_once('\n').unwrap_or_default();
    assert!(
        header.starts_with("agent native, model claude-sonnet-4-5"),
        "{header}"
    );
    assert!(header.contains("ANTHROPIC_API_KEY"), "{header}");
    assert!(text.starts_with("Run "), "{text}");
    assert!(text.contains("investigated 2 of 2"), "{text}");
    assert!(text.contains("1 findings (1 high)"), "{text}");
    assert!(text.contains("spent $"), "{text}");
}

#[test]
fn exhausted_credits_stop_gracefully_and_a_rerun_resumes() {
    let tree = scanned();
    // app.py completes with its finding; util.py hits the exhausted balance.
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("report_finding", report_finding(8)).with_usage(usage()),
        Turn::text("Done.").with_usage(usage()),
        Turn::error(ErrorKind::AnthropicCreditBalanceTooLow),
    ]));
    let out = process(&tree, &with_mock(&mock), &["--concurrency", "1"]);
    out.code(5);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line on stderr:\n{}", out.stderr);
    assert!(lines[0].starts_with("warden: stopped: "), "{}", lines[0]);
    assert!(lines[0].contains("console.anthropic.com"), "{}", lines[0]);

    let store = tree.store();
    assert_eq!(status_of(&store, "app.py"), FileStatus::Analyzed);
    assert_eq!(status_of(&store, "util.py"), FileStatus::Pending);
    assert_eq!(
        store
            .findings(PROJECT, &FindingFilter::default())
            .unwrap()
            .len(),
        1
    );
    let status = status_json(&tree);
    assert_eq!(status["processing"], 0);

    // After a top-up: exactly the unfinished file.
    let mock = MockLlm::start_blocking(
        Script::new(vec![Turn::text("Nothing here.").with_usage(usage())])
            .with_final_text("Nothing here."),
    );
    let resumed = process(&tree, &with_mock(&mock), &["--json"]);
    resumed.ok();
    assert_eq!(resumed.json()["investigated"], 1);
    assert_eq!(mock.turns_served(), 1);
    let requests = mock.generation_requests();
    assert!(requests[0].body_contains("util.py"));
    let store = tree.store();
    assert_eq!(status_of(&store, "util.py"), FileStatus::Analyzed);
    assert_eq!(
        store
            .findings(PROJECT, &FindingFilter::default())
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn rejected_credentials_stop_gracefully_too() {
    let tree = scanned();
    let mock = MockLlm::start_blocking(Script::new(vec![Turn::error(
        ErrorKind::AnthropicAuthentication,
    )]));
    let out = process(&tree, &with_mock(&mock), &["--concurrency", "1"]);
    out.code(5);
    assert!(out.stderr.contains("warden: stopped: "), "{}", out.stderr);
    let status = status_json(&tree);
    assert_eq!(
        (status["pending"].as_u64(), status["processing"].as_u64()),
        (Some(2), Some(0))
    );
}

#[test]
fn max_cost_stops_after_the_first_file() {
    let tree = scanned();
    let mock = MockLlm::start_blocking(healthy_script());
    let out = process(
        &tree,
        &with_mock(&mock),
        &["--max-cost", "0.000001", "--concurrency", "1", "--json"],
    );
    out.code(5);
    assert!(out.stderr.contains("--max-cost"), "{}", out.stderr);
    assert_eq!(out.json()["investigated"], 1);
    let store = tree.store();
    assert_eq!(status_of(&store, "app.py"), FileStatus::Analyzed);
    assert_eq!(status_of(&store, "util.py"), FileStatus::Pending);
}

#[test]
fn max_cost_does_not_start_a_file_the_average_says_would_pass_the_cap() {
    let tree = scanned();
    // Each file: one call of 100,000 input tokens on claude-sonnet-4-5 ($3/Mtok) = $0.30.
    let file = || Turn::text("Nothing here.").with_usage(Usage::new(100_000, 0));
    let mock = MockLlm::start_blocking(
        Script::new(vec![file(), file(), file()]).with_final_text("Nothing here."),
    );
    let out = process(
        &tree,
        &with_mock(&mock),
        &["--max-cost", "0.45", "--concurrency", "1", "--json"],
    );
    out.code(5);
    let summary = out.json();
    assert_eq!(summary["investigated"], 1, "{summary:#}");
    assert_eq!(summary["not_started"], 1, "{summary:#}");
    assert_eq!(mock.generation_requests().len(), 1);
    let spent = summary["spend_usd"].as_f64().unwrap();
    assert!((spent - 0.30).abs() < 1e-9, "{summary:#}");
    let store = tree.store();
    let recorded = store.spend(PROJECT).unwrap().total_usd;
    assert!(recorded <= 0.45, "recorded spend {recorded} passed the cap");
    assert_eq!(status_of(&store, "util.py"), FileStatus::Pending);
}

#[test]
fn status_shows_the_spend_of_each_run() {
    let tree = scanned();
    let mock = MockLlm::start_blocking(healthy_script());
    let out = process(&tree, &with_mock(&mock), &["--concurrency", "1", "--json"]);
    out.ok();
    let run_id = out.json()["run_id"].as_i64().unwrap();
    let status = status_json(&tree);
    let runs = status["spend_by_run"].as_array().expect("spend_by_run");
    assert_eq!(runs.len(), 1, "{status:#}");
    let entry = &runs[0];
    assert_eq!(entry["run_id"].as_i64(), Some(run_id), "{status:#}");
    assert_eq!(entry["kind"], "process");
    assert_eq!(entry["status"], "done");
    assert_eq!(entry["calls"], 3);
    let total = status["spend_usd"].as_f64().unwrap();
    assert!(total > 0.0);
    assert!(
        (entry["usd"].as_f64().unwrap() - total).abs() < 1e-12,
        "{status:#}"
    );

    let text = run(common::warden().current_dir(&tree.root).arg("status"));
    let text = &text.ok().stdout;
    assert!(
        text.contains(&format!(
            "run {run_id} process (done): ${total:.4}, 3 calls"
        )),
        "{text}"
    );
}

#[test]
fn limit_caps_the_queue_best_first() {
    let tree = scanned();
    let mock = MockLlm::start_blocking(healthy_script());
    let out = process(&tree, &with_mock(&mock), &["--limit", "1", "--json"]);
    out.ok();
    assert_eq!(out.json()["investigated"], 1);
    let store = tree.store();
    assert_eq!(status_of(&store, "app.py"), FileStatus::Analyzed);
    assert_eq!(status_of(&store, "util.py"), FileStatus::Pending);
}

#[test]
fn a_stop_cancels_the_investigations_in_flight_and_gives_their_files_back() {
    let tree = scanned();
    // Whichever file asks first waits on a slow answer; the other hits the exhausted balance.
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::text("slow").with_delay(std::time::Duration::from_secs(30)),
        Turn::error(ErrorKind::AnthropicCreditBalanceTooLow),
    ]));
    let started = std::time::Instant::now();
    let out = process(&tree, &with_mock(&mock), &["--concurrency", "2", "--json"]);
    out.code(5);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the slow call was cancelled, not awaited"
    );
    let summary = out.json();
    assert_eq!(summary["released"], 2, "{summary:#}");
    let status = status_json(&tree);
    assert_eq!(
        (status["pending"].as_u64(), status["processing"].as_u64()),
        (Some(2), Some(0))
    );
}

#[test]
fn ctrl_c_stops_gracefully_and_files_go_back_to_pending() {
    let tree = scanned();
    let slow = || Turn::text("slow").with_delay(std::time::Duration::from_secs(30));
    let mock = MockLlm::start_blocking(Script::new(vec![slow(), slow()]));
    let home = tree.tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .env_clear()
        .env("HOME", &home)
        .env("ANTHROPIC_API_KEY", "test")
        .env("ANTHROPIC_BASE_URL", mock.url())
        .current_dir(&tree.root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .args(["process", "--concurrency", "2"])
        .spawn()
        .expect("spawn warden");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while mock.generation_requests().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no model call started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(killed.success());
    let out: Run = child.wait_with_output().expect("wait").into();
    out.code(5);
    assert!(
        out.stderr.contains("warden: stopped: interrupted"),
        "{}",
        out.stderr
    );
    let status = status_json(&tree);
    assert_eq!(
        (status["pending"].as_u64(), status["processing"].as_u64()),
        (Some(2), Some(0))
    );
}

#[test]
fn kill_9_mid_run_then_rerun_finishes_without_losing_or_duplicating() {
    let tree = scanned();
    // First run: app.py completes (finding + spend recorded), util.py hangs; then kill -9.
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("report_finding", report_finding(8)).with_usage(usage()),
        Turn::text("Done.").with_usage(usage()),
        Turn::text("slow").with_delay(std::time::Duration::from_secs(30)),
    ]));
    let home = tree.tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .env_clear()
        .env("HOME", &home)
        .env("ANTHROPIC_API_KEY", "test")
        .env("ANTHROPIC_BASE_URL", mock.url())
        .current_dir(&tree.root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .args(["process", "--concurrency", "1"])
        .spawn()
        .expect("spawn warden");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while mock.generation_requests().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "third call never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let store = tree.store();
    assert_eq!(status_of(&store, "app.py"), FileStatus::Analyzed);
    assert_eq!(status_of(&store, "util.py"), FileStatus::Processing);
    let calls_before = store.spend(PROJECT).unwrap().calls;
    assert_eq!(calls_before, 2);

    // The dead holder's lease is taken back at once; only util.py is investigated.
    let mock = MockLlm::start_blocking(
        Script::new(vec![Turn::text("Nothing here.").with_usage(usage())])
            .with_final_text("Nothing here."),
    );
    let out = process(&tree, &with_mock(&mock), &["--json"]);
    out.ok();
    assert_eq!(out.json()["investigated"], 1);
    let store = tree.store();
    assert_eq!(status_of(&store, "util.py"), FileStatus::Analyzed);
    assert_eq!(
        store
            .findings(PROJECT, &FindingFilter::default())
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.spend(PROJECT).unwrap().calls, calls_before + 1);
}

#[test]
fn two_processes_on_one_store_never_investigate_a_file_twice() {
    let tree = scanned();
    let slow = || {
        Turn::text("Nothing here.")
            .with_usage(usage())
            .with_delay(std::time::Duration::from_millis(300))
    };
    let mock = MockLlm::start_blocking(
        Script::new(vec![slow(), slow(), slow(), slow()]).with_final_text("Nothing here."),
    );
    let a = {
        let tree_root = tree.root.clone();
        let home = tree.tmp.path().join("home-a");
        std::fs::create_dir_all(&home).expect("home");
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .env_clear()
            .env("HOME", &home)
            .env("ANTHROPIC_API_KEY", "test")
            .env("ANTHROPIC_BASE_URL", mock.url())
            .current_dir(tree_root)
            .stdin(std::process::Stdio::null())
            .args(["process", "--concurrency", "2", "--json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn a")
    };
    let b = process(&tree, &with_mock(&mock), &["--concurrency", "2", "--json"]);
    let a: Run = a.wait_with_output().expect("wait a").into();
    a.ok();
    b.ok();
    let done =
        a.json()["investigated"].as_u64().unwrap() + b.json()["investigated"].as_u64().unwrap();
    assert_eq!(done, 2, "a: {}\nb: {}", a.stdout, b.stdout);
    assert_eq!(
        mock.generation_requests().len(),
        2,
        "each file investigated once"
    );
    let status = status_json(&tree);
    assert_eq!(status["analyzed"], 2);
}

#[test]
fn an_investigation_longer_than_its_lease_keeps_the_file() {
    let tree = scanned();
    // The first request (app.py, from `a`) takes 5 s, more than twice the 2 s lease.
    let mock = MockLlm::start_blocking(
        Script::new(vec![Turn::text("Nothing here.")
            .with_usage(usage())
            .with_delay(std::time::Duration::from_secs(5))])
        .with_final_text("Nothing here."),
    );
    let home = tree.tmp.path().join("home-a");
    std::fs::create_dir_all(&home).expect("home");
    let a = Command::new(env!("CARGO_BIN_EXE_warden"))
        .env_clear()
        .env("HOME", &home)
        .env("ANTHROPIC_API_KEY", "test")
        .env("ANTHROPIC_BASE_URL", mock.url())
        .current_dir(&tree.root)
        .stdin(std::process::Stdio::null())
        .args(["process", "--limit", "1", "--lease-secs", "2", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn a");
    // Past the first lease's expiry, while `a` is still investigating app.py.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let b = process(
        &tree,
        &with_mock(&mock),
        &["--lease-secs", "2", "--concurrency", "2", "--json"],
    );
    let a: Run = a.wait_with_output().expect("wait a").into();
    a.ok();
    b.ok();
    assert_eq!(a.json()["investigated"], 1, "a: {}", a.stdout);
    assert_eq!(b.json()["investigated"], 1, "b: {}", b.stdout);
    assert_eq!(
        mock.generation_requests().len(),
        2,
        "app.py was not taken over by b"
    );
    let store = tree.store();
    assert_eq!(status_of(&store, "app.py"), FileStatus::Analyzed);
    assert_eq!(status_of(&store, "util.py"), FileStatus::Analyzed);
}

#[test]
fn spend_of_calls_made_before_a_stop_is_recorded() {
    let tree = scanned();
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("read_file", json!({"path": "app.py"})).with_usage(usage()),
        Turn::error(ErrorKind::AnthropicCreditBalanceTooLow),
    ]));
    let out = process(&tree, &with_mock(&mock), &["--concurrency", "1", "--json"]);
    out.code(5);
    assert!(out.json()["spend_usd"].as_f64().unwrap() > 0.0);
    let store = tree.store();
    let spend = store.spend(PROJECT).unwrap();
    assert_eq!(spend.calls, 1);
    assert!(spend.total_usd > 0.0);
    assert_eq!(status_of(&store, "app.py"), FileStatus::Pending);
}

#[test]
fn a_failed_file_is_recorded_the_run_goes_on_and_the_next_run_retries_it() {
    let tree = scanned();
    let mock = MockLlm::start_blocking(
        Script::new(vec![
            Turn::error(ErrorKind::AnthropicPromptTooLong),
            Turn::text("Nothing here.").with_usage(usage()),
        ])
        .with_final_text("Nothing here."),
    );
    let out = process(&tree, &with_mock(&mock), &["--concurrency", "1", "--json"]);
    out.ok();
    let summary = out.json();
    assert_eq!(
        (summary["investigated"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(summary["failures"][0]["path"], "app.py", "{summary:#}");
    // Partly failed: exit 0, and the reason is on stderr, one line for the file.
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warden: "))
        .collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].starts_with("warden: app.py: context too long"),
        "{}",
        lines[0]
    );
    assert_eq!(
        mock.turns_served(),
        2,
        "the failed file is not retried in the same run"
    );
    let store = tree.store();
    assert_eq!(status_of(&store, "app.py"), FileStatus::Failed);
    assert_eq!(status_of(&store, "util.py"), FileStatus::Analyzed);

    let mock = MockLlm::start_blocking(
        Script::new(vec![Turn::text("Nothing here.").with_usage(usage())])
            .with_final_text("Nothing here."),
    );
    let again = process(&tree, &with_mock(&mock), &["--json"]);
    again.ok();
    assert_eq!(again.json()["investigated"], 1);
    assert_eq!(status_of(&tree.store(), "app.py"), FileStatus::Analyzed);
}

#[test]
fn with_only_an_openai_key_and_no_model_the_native_agent_uses_openai() {
    let tree = scanned();
    let mock = MockLlm::start_blocking(
        Script::new(vec![
            Turn::text("Nothing exploitable here.").with_usage(usage())
        ])
        .with_final_text("Nothing exploitable here."),
    );
    let base = mock.openai_base_url();
    let out = process(
        &tree,
        &[
            ("OPENAI_API_KEY", "sk-only-openai"),
            ("OPENAI_BASE_URL", &base),
        ],
        &["--json", "--limit", "1"],
    );
    out.ok();
    let summary = out.json();
    assert_eq!(summary["model"], "gpt-5.1", "{summary:#}");
    assert_eq!(summary["investigated"], 1, "{summary:#}");
    let requests = mock.generation_requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r.path == "/v1/responses"),
        "it spoke OpenAI's API"
    );
}
