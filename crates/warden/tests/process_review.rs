//! `warden process --diff/--staged/--files/--files-from` (change review) end to end:
//! real git repositories in temp dirs, the real binary against the mock LLM.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use warden_testkit::mock_llm::{MockLlm, Script, Turn, Usage};

fn git(root: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(root)
        .env_remove("GIT_DIR")
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

/// A git repository with `app.py` (vulnerable), `util.py` and `safe.py` committed, then scanned.
fn repo() -> Tree {
    let tree = Tree::new();
    tree.write(".gitignore", ".warden/\n");
    tree.write("app.py", VULN_PY);
    tree.write("util.py", ONE_CALL_PY);
    tree.write("safe.py", SAFE_PY);
    git(&tree.root, &["init", "-q"]);
    git(&tree.root, &["add", "."]);
    git(&tree.root, &["commit", "-q", "-m", "base"]);
    tree.scan_json(&[]);
    tree
}

fn process(tree: &Tree, mock: &MockLlm, args: &[&str]) -> Run {
    let home = tree.tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.env_clear()
        .env("HOME", &home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ANTHROPIC_API_KEY", "test")
        .env("ANTHROPIC_BASE_URL", mock.url())
        .current_dir(&tree.root)
        .stdin(std::process::Stdio::null())
        .args(["process", "--concurrency", "1", "--json"])
        .args(args);
    run(&mut cmd)
}

fn finding_in(file: &str, line: u32) -> Value {
    json!({
        "title": "Command injection in /run via p",
        "severity": "high",
        "confidence": "high",
        "cwe": "CWE-78",
        "category": "injection",
        "rule_id": "python.os-system",
        "file": file,
        "start_line": line,
        "end_line": line,
        "description": "The query parameter p reaches os.system unescaped.",
        "attack_path": "GET /run?p=;id",
        "recommendation": "Use subprocess.run with an argument list."
    })
}

/// Every investigation reports nothing.
fn quiet() -> MockLlm {
    MockLlm::start_blocking(Script::new(Vec::new()).with_final_text("Nothing exploitable here."))
}

/// The first investigation reports one finding in `file`; the rest report nothing.
fn one_finding(file: &str, line: u32) -> MockLlm {
    MockLlm::start_blocking(
        Script::new(vec![
            Turn::tool_call("report_finding", finding_in(file, line))
                .with_usage(Usage::new(2_000, 300)),
            Turn::text("Done: one command injection.").with_usage(Usage::new(2_000, 300)),
        ])
        .with_final_text("Nothing exploitable here."),
    )
}

#[test]
fn files_reviews_a_file_without_rule_hits() {
    let tree = repo();
    let mock = quiet();
    let out = process(&tree, &mock, &["--files", "safe.py"]);
    out.ok();
    let json = out.json();
    assert_eq!(json["investigated"], 1, "{json:#}");
    assert_eq!(json["reviewed"], 1);
    assert!(mock.generation_requests()[0].body_contains("safe.py"));
    assert!(!mock
        .generation_requests()
        .iter()
        .any(|r| r.body_contains("app.py")));
}

#[test]
fn diff_reviews_exactly_the_changed_files_and_a_new_finding_fails_once() {
    let tree = repo();
    tree.write("safe.py", format!("{SAFE_PY}\n# touched\n"));
    tree.write("lib/extra.py", VULN_PY);
    git(&tree.root, &["add", "."]);
    git(&tree.root, &["commit", "-q", "-m", "change"]);
    let comment = tree.tmp.path().join("comment.md");
    let comment_arg = comment.to_str().unwrap();

    let mock = one_finding("lib/extra.py", 8);
    let out = process(
        &tree,
        &mock,
        &["--diff", "HEAD~1", "--comment-out", comment_arg],
    );
    out.code(1);
    let json = out.json();
    assert_eq!(json["reviewed"], 2, "{json:#}");
    assert_eq!(json["investigated"], 2, "{json:#}");
    assert_eq!(json["new_findings"].as_array().unwrap().len(), 1);
    let reqs = mock.generation_requests();
    assert!(reqs
        .iter()
        .all(|r| !r.body_contains("app.py") && !r.body_contains("util.py")));
    let md = std::fs::read_to_string(&comment).unwrap();
    assert!(md.contains("1 new finding"), "{md}");
    assert!(md.contains("HIGH Command injection in /run via p"), "{md}");
    assert!(md.contains("`lib/extra.py:8`"), "{md}");
    assert!(md.contains("Use subprocess.run"), "{md}");

    // The same finding again: not new, exit 0, the comment says so.
    let mock = one_finding("lib/extra.py", 8);
    let out = process(
        &tree,
        &mock,
        &["--diff", "HEAD~1", "--comment-out", comment_arg],
    );
    out.ok();
    assert_eq!(out.json()["investigated"], 2);
    let md = std::fs::read_to_string(&comment).unwrap();
    assert!(md.contains("No new findings in 2 changed files"), "{md}");
}

#[test]
fn staged_reviews_the_index() {
    let tree = repo();
    tree.write("new.py", ONE_CALL_PY);
    tree.write("util.py", format!("{ONE_CALL_PY}# changed, not staged\n"));
    git(&tree.root, &["add", "new.py"]);
    let mock = quiet();
    let out = process(&tree, &mock, &["--staged"]);
    out.ok();
    let json = out.json();
    assert_eq!(json["reviewed"], 1, "{json:#}");
    assert_eq!(json["investigated"], 1);
    assert!(mock.generation_requests()[0].body_contains("new.py"));
}

#[test]
fn files_from_reads_a_list_and_reinvestigates_analyzed_files() {
    let tree = repo();
    // A full run first: app.py and util.py end analyzed.
    let mock = quiet();
    process(&tree, &mock, &[]).ok();
    let list = tree.tmp.path().join("list.txt");
    std::fs::write(&list, "app.py\n\n# a comment\nsafe.py\n").unwrap();
    let mock = quiet();
    let out = process(&tree, &mock, &["--files-from", list.to_str().unwrap()]);
    out.ok();
    let json = out.json();
    assert_eq!(json["reviewed"], 2, "{json:#}");
    assert_eq!(json["investigated"], 2, "{json:#}");
}

#[test]
fn a_path_outside_the_root_or_missing_is_a_usage_error() {
    let tree = repo();
    let outside = tree.tmp.path().join("outside.py");
    std::fs::write(&outside, SAFE_PY).unwrap();
    let mock = quiet();
    let out = process(&tree, &mock, &["--files", outside.to_str().unwrap()]);
    out.code(2);
    assert!(
        out.error_line().contains("outside the project root"),
        "{}",
        out.stderr
    );
    let out = process(&tree, &mock, &["--files", "../outside.py"]);
    out.code(2);
    assert!(
        out.error_line().contains("outside the project root"),
        "{}",
        out.stderr
    );
    let out = process(&tree, &mock, &["--files", "nope.py"]);
    out.code(2);
    assert!(out.error_line().contains("nope.py"), "{}", out.stderr);
    assert!(mock.generation_requests().is_empty());
}

#[test]
fn diff_outside_a_git_repository_is_a_usage_error() {
    let tree = Tree::new();
    tree.write("app.py", VULN_PY);
    tree.scan_json(&[]);
    let mock = quiet();
    let out = process(&tree, &mock, &["--diff", "HEAD~1"]);
    out.code(2);
    let line = out.error_line();
    assert!(
        line.contains("--diff HEAD~1") && line.contains("not in a git repository"),
        "{line}"
    );
    assert!(mock.generation_requests().is_empty());
}

#[test]
fn change_set_flags_are_exclusive() {
    let tree = repo();
    let mock = quiet();
    let out = process(&tree, &mock, &["--staged", "--files", "app.py"]);
    out.code(2);
}

#[test]
fn a_ref_is_never_taken_for_a_git_option() {
    let tree = repo();
    let mock = quiet();
    let planted = tree.tmp.path().join("planted");
    let cases = [
        format!("--diff=--output={}", planted.display()),
        "--diff=--output=planted".to_string(),
        "--diff=-p".to_string(),
        "--diff=".to_string(),
        "--diff=HEAD extra".to_string(),
    ];
    for arg in &cases {
        let out = process(&tree, &mock, &[arg]);
        out.code(2);
        let line = out.error_line();
        assert!(line.contains("--diff"), "{arg}: {line}");
    }
    // Neither the file git would have written nor its `...HEAD` variant exists.
    for name in ["planted", "planted...HEAD"] {
        assert!(!tree.tmp.path().join(name).exists(), "{name}");
        assert!(!tree.root.join(name).exists(), "{name}");
    }
    assert!(mock.generation_requests().is_empty());
}

#[test]
fn file_names_that_look_like_options_are_just_files() {
    let tree = repo();
    // A change that adds files named like git options: git lists them, warden reviews them.
    tree.write("--output=x.py", VULN_PY);
    tree.write("-p.py", ONE_CALL_PY);
    git(&tree.root, &["add", "--", "--output=x.py", "-p.py"]);
    git(&tree.root, &["commit", "-q", "-m", "odd names"]);
    let mock = quiet();
    let out = process(&tree, &mock, &["--diff", "HEAD~1"]);
    out.ok();
    assert_eq!(out.json()["reviewed"], 2, "{}", out.stdout);
    assert!(!tree.root.join("x.py").exists());

    let mock = quiet();
    let out = process(&tree, &mock, &["--files=-p.py"]);
    out.ok();
    assert_eq!(out.json()["reviewed"], 1, "{}", out.stdout);
    let list = tree.tmp.path().join("list.txt");
    std::fs::write(&list, "--output=x.py\n-p.py\n").unwrap();
    let mock = quiet();
    let out = process(&tree, &mock, &["--files-from", list.to_str().unwrap()]);
    out.ok();
    assert_eq!(out.json()["reviewed"], 2, "{}", out.stdout);
}
