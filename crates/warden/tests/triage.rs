//! `warden triage` end to end: duplicates grouped, ranking, and `--ignore`
//! respected by `report` and `revalidate` (no model involved in triage).

mod common;

use common::*;
use serde_json::Value;
use warden_store::Severity;
use warden_testkit::mock_llm::{MockLlm, Script, Turn};

fn in_tree(tree: &Tree, args: &[&str]) -> Run {
    run(warden()
        .current_dir(&tree.root)
        .env_remove("ANTHROPIC_API_KEY")
        .arg("--data-dir")
        .arg(tree.data_dir())
        .args(args))
}

/// Two reports of one root cause (same CWE, same title up to case and
/// punctuation, different files), one overlapping the first's lines, and one
/// unrelated finding.
fn seeded() -> (Tree, Vec<String>) {
    let tree = Tree::new();
    tree.write("app.py", VULN_PY);
    tree.write("other.py", VULN_PY);
    let a = finding("app.py", "Command injection in /run via p", Severity::High);
    let b = finding(
        "other.py",
        "command injection in /run via P!",
        Severity::Medium,
    );
    let mut c = finding("app.py", "Shell call with user input", Severity::Low);
    c.cwe = Some("CWE-88".into());
    c.start_line = 7;
    c.end_line = 9;
    let mut d = finding("util.py", "Hard-coded secret", Severity::Medium);
    d.cwe = Some("CWE-798".into());
    d.start_line = 1;
    d.end_line = 1;
    let ids = store_with_findings(&tree.data_dir(), &tree.root, &[a, b, c, d]);
    (tree, ids)
}

#[test]
fn duplicates_are_grouped_under_the_most_urgent_finding() {
    let (tree, ids) = seeded();
    let out = in_tree(&tree, &["triage", "--json"]);
    let groups: Value = out.ok().json();
    let groups = groups.as_array().unwrap();
    assert_eq!(groups.len(), 2, "{groups:#?}");
    assert_eq!(groups[0]["id"], ids[0].as_str());
    let mut dups: Vec<&str> = groups[0]["duplicates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    dups.sort();
    let mut want = vec![ids[1].as_str(), ids[2].as_str()];
    want.sort();
    assert_eq!(dups, want);
    assert_eq!(groups[1]["id"], ids[3].as_str());
    assert!(groups[0]["rank"].as_u64() > groups[1]["rank"].as_u64());

    let store = tree.store();
    let dup = store.finding(PROJECT, &ids[1]).unwrap().unwrap();
    assert_eq!(dup.duplicate_of.as_deref(), Some(ids[0].as_str()));
    let primary = store.finding(PROJECT, &ids[0]).unwrap().unwrap();
    assert_eq!(primary.duplicate_of, None);

    let text = in_tree(&tree, &["triage"]);
    let text = &text.ok().stdout;
    assert!(
        text.contains("4 findings in 2 groups (2 duplicates)"),
        "{text}"
    );
    assert!(text.contains("duplicate "), "{text}");
}

#[test]
fn an_ignored_finding_leaves_the_report_and_revalidate() {
    let (tree, ids) = seeded();
    let out = in_tree(
        &tree,
        &[
            "triage",
            "--ignore",
            &ids[3][..10],
            "--reason",
            "test fixture key",
        ],
    );
    assert!(out.ok().stdout.contains("accepted risk"), "{}", out.stdout);
    let store = tree.store();
    let f = store.finding(PROJECT, &ids[3]).unwrap().unwrap();
    assert_eq!(f.disposition, warden_store::Disposition::AcceptedRisk);
    assert_eq!(f.disposition_reason.as_deref(), Some("test fixture key"));
    drop(store);

    let titles = |extra: &[&str]| -> Vec<String> {
        let r = in_tree(&tree, &[&["report", "--format", "json"], extra].concat());
        r.ok().json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(!titles(&[]).contains(&"Hard-coded secret".to_string()));
    assert!(titles(&["--include-ignored"]).contains(&"Hard-coded secret".to_string()));

    // --wont-fix on another one.
    in_tree(
        &tree,
        &[
            "triage",
            "--ignore",
            &ids[2],
            "--reason",
            "legacy",
            "--wont-fix",
        ],
    )
    .ok();
    assert_eq!(
        tree.store()
            .finding(PROJECT, &ids[2])
            .unwrap()
            .unwrap()
            .disposition,
        warden_store::Disposition::WontFix
    );

    // revalidate --force judges only the two open findings.
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call(
            "report_verdict",
            serde_json::json!({"verdict": "true_positive", "reasoning": "reachable"}),
        ),
        Turn::tool_call(
            "report_verdict",
            serde_json::json!({"verdict": "true_positive", "reasoning": "reachable"}),
        ),
    ]));
    let home = tree.tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = run(std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .env_clear()
        .env("HOME", &home)
        .env("ANTHROPIC_API_KEY", "test")
        .env("ANTHROPIC_BASE_URL", mock.url())
        .current_dir(&tree.root)
        .arg("--data-dir")
        .arg(tree.data_dir())
        .args(["revalidate", "--force", "--concurrency", "1", "--json"]));
    let s = out.ok().json();
    assert_eq!(s["queued"], 2, "{s:#}");
    let store = tree.store();
    assert!(store
        .finding(PROJECT, &ids[3])
        .unwrap()
        .unwrap()
        .verdict
        .is_none());
    assert!(store
        .finding(PROJECT, &ids[2])
        .unwrap()
        .unwrap()
        .verdict
        .is_none());
}

#[test]
fn ignore_needs_a_reason_and_a_known_id() {
    let (tree, _) = seeded();
    in_tree(&tree, &["triage", "--ignore", "nope"]).code(2);
    let out = in_tree(&tree, &["triage", "--ignore", "nope", "--reason", "x"]);
    out.code(2);
    assert!(
        out.error_line().contains("no such finding"),
        "{}",
        out.stderr
    );
}
