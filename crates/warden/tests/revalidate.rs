//! `warden revalidate` end to end: the real binary against the mock LLM on
//! loopback, in a cleared environment with a throwaway HOME.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::Command;
use warden_store::{FindingFilter, Severity, Verdict};
use warden_testkit::mock_llm::{ErrorKind, MockLlm, Script, Turn, Usage};

/// A tree with app.py and two stored findings in it: a high (first) and a medium.
fn seeded() -> (Tree, Vec<String>) {
    let tree = Tree::new();
    tree.write("app.py", VULN_PY);
    let mut medium = finding("app.py", "Debug mode enabled", Severity::Medium);
    medium.start_line = 4;
    medium.end_line = 4;
    medium.cwe = Some("CWE-489".into());
    let ids = store_with_findings(
        &tree.data_dir(),
        &tree.root,
        &[
            finding("app.py", "Command injection in /run via p", Severity::High),
            medium,
        ],
    );
    (tree, ids)
}

fn warden_in(tree: &Tree, env: &[(&str, &str)], args: &[&str]) -> Run {
    let home = tree.tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.env_clear()
        .env("HOME", &home)
        .current_dir(&tree.root)
        .stdin(std::process::Stdio::null())
        .arg("--data-dir")
        .arg(tree.data_dir())
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

fn verdict_turn(verdict: &str) -> Turn {
    Turn::tool_call(
        "report_verdict",
        json!({"verdict": verdict, "reasoning": format!("judged {verdict}")}),
    )
    .with_usage(Usage::new(2_000, 200))
}

fn report_titles(tree: &Tree, extra: &[&str]) -> Vec<String> {
    let out = warden_in(
        tree,
        &[],
        &[&["report", "--format", "json"], extra].concat(),
    );
    out.ok().json()["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["title"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_false_positive_is_hidden_from_the_report_and_force_rejudges() {
    let (tree, ids) = seeded();
    // Most severe first: the high finding is judged a false positive.
    let mock = MockLlm::start_blocking(Script::new(vec![
        verdict_turn("false_positive"),
        verdict_turn("true_positive"),
    ]));
    let out = warden_in(
        &tree,
        &with_mock(&mock),
        &["revalidate", "--concurrency", "1", "--json"],
    );
    out.ok();
    let s = out.json();
    assert_eq!(s["judged"], 2, "{s:#}");
    assert_eq!(s["false_positive"], 1);
    assert_eq!(s["true_positive"], 1);
    assert!(s["spend_usd"].as_f64().unwrap() > 0.0);
    let reqs = mock.generation_requests();
    assert!(reqs[0].body_contains("Command injection in /run via p"));

    let store = tree.store();
    let all = FindingFilter {
        include_false_positives: true,
        ..FindingFilter::default()
    };
    let high = store.finding(PROJECT, &ids[0]).unwrap().unwrap();
    let v = high.verdict.expect("verdict");
    assert_eq!(v.verdict, Verdict::FalsePositive);
    assert_eq!(v.run_id, s["run_id"].as_i64());
    assert!(v.cost_usd.unwrap() > 0.0);
    assert_eq!(store.findings(PROJECT, &all).unwrap().len(), 2);
    let spend = store.spend(PROJECT).unwrap();
    assert_eq!(spend.calls, 2);
    drop(store);

    assert_eq!(report_titles(&tree, &[]), vec!["Debug mode enabled"]);
    let shown = report_titles(&tree, &["--include-false-positives"]);
    assert_eq!(shown.len(), 2, "{shown:?}");
    let md = warden_in(&tree, &[], &["report", "--include-false-positives"]);
    assert!(
        md.ok().stdout.contains("judged false_positive"),
        "{}",
        md.stdout
    );

    let status = warden_in(&tree, &[], &["status", "--json"]);
    assert_eq!(status.ok().json()[0]["verdicts"], 2);

    // Nothing left to judge: no model call.
    let idle = MockLlm::start_blocking(Script::new(vec![verdict_turn("uncertain")]));
    let again = warden_in(&tree, &with_mock(&idle), &["revalidate", "--json"]);
    assert_eq!(again.ok().json()["queued"], 0);
    assert_eq!(idle.turns_served(), 0);

    // --force judges both again; the high one is now a true positive.
    let mock = MockLlm::start_blocking(Script::new(vec![
        verdict_turn("true_positive"),
        verdict_turn("true_positive"),
    ]));
    let forced = warden_in(
        &tree,
        &with_mock(&mock),
        &["revalidate", "--force", "--concurrency", "1", "--json"],
    );
    assert_eq!(forced.ok().json()["true_positive"], 2);
    assert_eq!(report_titles(&tree, &[]).len(), 2);
}

#[test]
fn min_severity_and_limit_narrow_the_queue() {
    let (tree, _) = seeded();
    let mock = MockLlm::start_blocking(Script::new(vec![verdict_turn("uncertain")]));
    let out = warden_in(
        &tree,
        &with_mock(&mock),
        &["revalidate", "--min-severity", "high", "--json"],
    );
    let s: Value = out.ok().json();
    assert_eq!(s["queued"], 1);
    assert_eq!(s["uncertain"], 1);
    let mock = MockLlm::start_blocking(Script::new(vec![verdict_turn("uncertain")]));
    let out = warden_in(
        &tree,
        &with_mock(&mock),
        &["revalidate", "--limit", "1", "--json"],
    );
    assert_eq!(out.ok().json()["queued"], 1);
    assert_eq!(tree.store().status(PROJECT).unwrap().verdicts, 2);
}

#[test]
fn exhausted_credits_stop_with_exit_5_and_a_rerun_resumes() {
    let (tree, ids) = seeded();
    let mock = MockLlm::start_blocking(Script::new(vec![
        verdict_turn("true_positive"),
        Turn::error(ErrorKind::AnthropicCreditBalanceTooLow),
    ]));
    let out = warden_in(
        &tree,
        &with_mock(&mock),
        &["revalidate", "--concurrency", "1"],
    );
    out.code(5);
    assert!(
        out.stderr.contains("warden: stopped: ") && out.stderr.contains("console.anthropic.com"),
        "{}",
        out.stderr
    );
    let store = tree.store();
    assert!(store
        .finding(PROJECT, &ids[0])
        .unwrap()
        .unwrap()
        .verdict
        .is_some());
    assert!(store
        .finding(PROJECT, &ids[1])
        .unwrap()
        .unwrap()
        .verdict
        .is_none());
    drop(store);

    let mock = MockLlm::start_blocking(Script::new(vec![verdict_turn("uncertain")]));
    let resumed = warden_in(&tree, &with_mock(&mock), &["revalidate", "--json"]);
    let s = resumed.ok().json();
    assert_eq!(s["queued"], 1, "{s:#}");
    assert_eq!(s["uncertain"], 1);
    assert!(mock.generation_requests()[0].body_contains("Debug mode enabled"));
}

#[test]
fn no_credentials_is_a_usage_error() {
    let (tree, _) = seeded();
    let out = warden_in(&tree, &[], &["revalidate"]);
    out.code(2);
    assert!(out.error_line().contains("credentials"), "{}", out.stderr);
}

#[test]
fn a_base_url_that_is_no_http_url_is_a_configuration_error_before_any_judgement() {
    let (tree, _) = seeded();
    for url in [
        "not a url",
        "ftp://example.com",
        "javascript:alert(1)",
        "http://[::1",
    ] {
        let env = [("ANTHROPIC_API_KEY", "test"), ("ANTHROPIC_BASE_URL", url)];
        let out = warden_in(&tree, &env, &["revalidate"]);
        out.code(2);
        let line = out.error_line();
        assert!(line.contains("ANTHROPIC_BASE_URL"), "{url:?}: {line}");
    }
    let store = tree.store();
    let all = store.findings(PROJECT, &FindingFilter::default()).unwrap();
    assert!(
        all.iter().all(|f| f.verdict.is_none()),
        "nothing was judged"
    );
}

#[test]
fn each_failed_judgement_is_a_line_on_stderr_and_all_failed_exits_4() {
    let (tree, ids) = seeded();
    // The high finding's judgement fails; the medium one gets its verdict.
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::error(ErrorKind::AnthropicPromptTooLong),
        verdict_turn("true_positive"),
    ]));
    let out = warden_in(
        &tree,
        &with_mock(&mock),
        &["revalidate", "--concurrency", "1", "--json"],
    );
    out.ok();
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warden: app.py: finding "))
        .collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(lines[0].contains(&ids[0]), "{}", lines[0]);
    assert!(lines[0].contains("context too long"), "{}", lines[0]);
    assert_eq!(out.json()["failures"][0]["path"], "app.py");
    assert_eq!(out.json()["status"], "done");

    // Every judgement fails: exit 4, one line per finding.
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::error(ErrorKind::AnthropicPromptTooLong),
        Turn::error(ErrorKind::AnthropicPromptTooLong),
    ]));
    let out = warden_in(
        &tree,
        &with_mock(&mock),
        &["revalidate", "--force", "--concurrency", "1"],
    );
    out.code(4);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warden: app.py: finding "))
        .collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        !out.stdout.contains("context too long"),
        "the summary on stdout only counts failures: {}",
        out.stdout
    );
}
