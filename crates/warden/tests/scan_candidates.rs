//! `warden scan`: which files become candidates, in which order, under which rules.

mod common;

use common::*;
use serde_json::Value;

fn rule_ids(candidate: &Value) -> Vec<&str> {
    candidate["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["rule"].as_str().expect("rule id"))
        .collect()
}

fn scores(scan: &Value) -> Vec<f64> {
    scan["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["score"].as_f64().expect("score"))
        .collect()
}

#[test]
fn a_vulnerable_file_is_a_candidate_and_a_harmless_one_is_not() {
    let t = Tree::new();
    t.write("app/views.py", VULN_PY);
    t.write("app/util.py", SAFE_PY);
    let scan = t.scan_json(&[]);
    assert_eq!(candidate_paths(&scan), ["app/views.py"]);
    assert_eq!(scan["candidate_files"], 1);
    let c = candidate(&scan, "app/views.py").unwrap();
    assert_eq!(c["language"], "python");
    assert_eq!(c["status"], "pending");
    let hit = c["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["rule"] == "python.os-system")
        .expect("a python.os-system hit");
    assert_eq!(hit["line"], 8);
    assert_eq!(hit["role"], "sink");
    assert!(hit["snippet"].as_str().unwrap().contains("os.system("));
    assert!(scan["by_category"]["command-execution"].as_u64() >= Some(1));
    assert_eq!(scan["by_language"]["python"], 1);
    assert!(c["score"].as_f64().unwrap() >= 3.0);
    // Both files were read and matched, and both are in the store.
    assert_eq!(stat(&scan, "files_walked"), 2);
    assert_eq!(stat(&scan, "files_matched"), 2);
    assert_eq!(delta(&scan, "new"), 2);
    assert_eq!(delta(&scan, "candidates"), 1);
    assert!(t.db().is_file());
}

#[test]
fn an_empty_tree_scans_cleanly_with_no_candidates() {
    let t = Tree::new();
    let run = t.scan(&[]);
    run.ok();
    assert!(run.stdout.contains("No candidates"), "{}", run.stdout);
    let scan = t.scan_json(&[]);
    assert_eq!(candidate_paths(&scan), Vec::<String>::new());
    assert_eq!(stat(&scan, "files_walked"), 0);
}

/// `three.py` has three sinks, `one.py` one, `tests/test_one.py` one in a test file.
fn ranked_tree() -> Tree {
    let t = Tree::new();
    t.write("one.py", ONE_CALL_PY);
    t.write(
        "three.py",
        "import os\nos.system(a)\nos.system(b)\nos.popen(c)\n",
    );
    t.write("tests/test_one.py", ONE_CALL_PY);
    t
}

#[test]
fn candidates_are_ordered_by_score() {
    let t = ranked_tree();
    let scan = t.scan_json(&["--min-score", "0.5"]);
    assert_eq!(
        candidate_paths(&scan),
        ["three.py", "one.py", "tests/test_one.py"]
    );
    let s = scores(&scan);
    assert!(s[0] > s[1] && s[1] > s[2], "strictly decreasing: {s:?}");

    // The text summary lists them in the same order.
    let text = t.scan(&["--min-score", "0.5"]);
    let at = |p: &str| text.ok().stdout.find(p).unwrap_or_else(|| panic!("{p}"));
    assert!(at("three.py") < at("one.py") && at("one.py") < at("tests/test_one.py"));
}

#[test]
fn min_score_decides_what_is_a_candidate() {
    let t = ranked_tree();
    // A sink in a test file scores below the default threshold.
    let scan = t.scan_json(&[]);
    assert_eq!(candidate_paths(&scan), ["three.py", "one.py"]);
    let scan = t.scan_json(&["--min-score", "100000"]);
    assert_eq!(candidate_paths(&scan), Vec::<String>::new());
    assert_eq!(delta(&scan, "candidates"), 0);
}

#[test]
fn limit_keeps_the_best_candidates_only() {
    let t = ranked_tree();
    let scan = t.scan_json(&["--limit", "1"]);
    assert_eq!(candidate_paths(&scan), ["three.py"]);
    assert_eq!(scan["candidate_files"], 1);
    assert_eq!(t.store().status(PROJECT).unwrap().candidates, 1);
    // The limit belongs to that scan: the next one without it lists all again.
    let scan = t.scan_json(&[]);
    assert_eq!(candidate_paths(&scan), ["three.py", "one.py"]);
}

#[test]
fn limit_zero_is_a_usage_error() {
    let t = ranked_tree();
    let run = t.scan(&["--limit", "0"]);
    run.code(2);
    assert!(run.usage_line().contains("--limit"), "{}", run.stderr);
    assert!(!t.db().exists(), "a refused scan creates no store");
}

#[test]
fn rules_runs_only_the_named_rules() {
    let t = Tree::new();
    t.write("both.py", format!("{ONE_CALL_PY}{KEY_PY}"));
    t.write("key_only.py", KEY_PY);
    t.write("shell_only.py", ONE_CALL_PY);

    let all = t.scan_json(&[]);
    let mut paths = candidate_paths(&all);
    paths.sort();
    assert_eq!(paths, ["both.py", "key_only.py", "shell_only.py"]);

    let only = t.scan_json(&["--rules", "python.os-system"]);
    let mut paths = candidate_paths(&only);
    paths.sort();
    assert_eq!(paths, ["both.py", "shell_only.py"]);
    for c in only["candidates"].as_array().unwrap() {
        assert_eq!(rule_ids(c), ["python.os-system"], "{c:#}");
    }
    // A different rule selection re-matches every file instead of trusting stored hits.
    assert_eq!(stat(&only, "files_matched"), 3);
    assert_eq!(stat(&only, "files_unchanged"), 0);

    // Packs can be named too, several at once.
    let packs = t.scan_json(&["--rules", "generic,python.os-system"]);
    assert_eq!(candidate_paths(&packs).len(), 3);
    let key = t.scan_json(&["--rules", "generic"]);
    let mut paths = candidate_paths(&key);
    paths.sort();
    assert_eq!(paths, ["both.py", "key_only.py"]);
}

#[test]
fn an_unknown_rule_is_a_usage_error_and_creates_no_store() {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    let run = t.scan(&["--rules", "python.os-system,no.such.rule"]);
    run.code(2);
    let line = run.error_line();
    assert!(line.contains("no.such.rule"), "{line}");
    assert!(line.contains("--rules"), "{line}");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(!t.data_dir().exists(), "no store may be created");
}

#[test]
fn rules_lists_every_language_pack() {
    let run = run(warden().arg("rules").arg("--json"));
    let rules = run.ok().json();
    let rules = rules.as_array().expect("an array of rules");
    let packs: std::collections::BTreeSet<&str> =
        rules.iter().map(|r| r["pack"].as_str().unwrap()).collect();
    for pack in [
        "python",
        "javascript",
        "go",
        "java",
        "ruby",
        "php",
        "c",
        "csharp",
        "rust",
        "generic",
    ] {
        assert!(packs.contains(pack), "pack {pack} missing: {packs:?}");
    }
    for id in ["python.os-system", "generic.private-key"] {
        let rule = rules
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("rule {id} missing"));
        assert_eq!(rule["role"], "sink");
        assert!(rule["weight"].as_f64().unwrap() > 0.0);
        assert!(!rule["title"].as_str().unwrap().is_empty());
    }
    let mut ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let total = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), total, "rule ids are unique");

    // The text listing names every pack and rule too.
    let text = run_text();
    for pack in &packs {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{pack} ("))),
            "{pack} in:\n{text}"
        );
    }
    assert!(text.contains("python.os-system"));
}

fn run_text() -> String {
    let r = run(warden().arg("rules"));
    r.ok();
    r.stdout
}
