//! `warden report`: findings put in a real store through its API, rendered by the binary.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use warden_store::{Disposition, Severity, Store, Verdict, VerdictRecord};

/// A store with a high, a medium and a low finding; returns (tree, data dir, ids).
fn three_findings() -> (Tree, PathBuf, Vec<String>) {
    let t = Tree::new();
    let data = t.tmp.path().join("data");
    let ids = store_with_findings(
        &data,
        &t.root,
        &[
            finding(
                "web app/run.py",
                "Command injection in /run",
                Severity::High,
            ),
            finding("files.py", "Path traversal in download", Severity::Medium),
            finding("errors.py", "Stack traces shown to users", Severity::Low),
        ],
    );
    assert_eq!(ids.len(), 3);
    (t, data, ids)
}

fn report(data: &Path, args: &[&str]) -> Run {
    run(warden()
        .arg("report")
        .arg("--data-dir")
        .arg(data)
        .args(args))
}

fn json_titles(doc: &Value) -> Vec<&str> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect()
}

fn verdict(v: Verdict, corrected: Option<Severity>) -> VerdictRecord {
    VerdictRecord {
        verdict: v,
        reasoning: "checked by hand".to_string(),
        corrected_severity: corrected,
        run_id: None,
        cost_usd: None,
        created_at: String::new(),
    }
}

#[test]
fn markdown_lists_every_finding() {
    let (_t, data, _) = three_findings();
    let run = report(&data, &[]);
    let md = &run.ok().stdout;
    assert!(md.starts_with("# Warden security report"), "{md}");
    for title in [
        "Command injection in /run",
        "Path traversal in download",
        "Stack traces shown to users",
    ] {
        assert!(md.contains(title), "{title} in:\n{md}");
    }
    let md_flag = report(&data, &["--format", "md"]).ok().stdout.clone();
    assert!(md_flag.contains("Path traversal in download"));
}

#[test]
fn json_has_the_findings_most_severe_first() {
    let (_t, data, ids) = three_findings();
    let doc = report(&data, &["--format", "json"]).ok().json();
    assert_eq!(doc["project"]["id"], PROJECT);
    assert_eq!(doc["summary"]["total"], 3);
    assert_eq!(doc["summary"]["by_severity"]["high"], 1);
    assert_eq!(
        json_titles(&doc),
        [
            "Command injection in /run",
            "Path traversal in download",
            "Stack traces shown to users"
        ]
    );
    assert_eq!(doc["findings"][0]["id"], ids[0].as_str());
    assert_eq!(doc["findings"][0]["severity"], "high");
    assert_eq!(doc["findings"][0]["path"], "web app/run.py");
}

#[test]
fn findings_sarif_validates_against_the_schema() {
    let (_t, data, _) = three_findings();
    let doc = report(&data, &["--format", "sarif"]).ok().json();
    assert_valid_sarif(&doc);
    let results = sarif_results(&doc);
    let levels: Vec<&str> = results
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["error", "warning", "note"]);
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "web%20app/run.py"
    );
    let rules = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert!(rules.iter().any(|r| r["id"] == "python.os-system"));

    // An empty store is a valid, empty log.
    let empty = Tree::new();
    store_with_findings(&empty.data_dir(), &empty.root, &[]);
    let doc = report(&empty.data_dir(), &["--format", "sarif"])
        .ok()
        .json();
    assert_valid_sarif(&doc);
    assert!(sarif_results(&doc).is_empty());
}

#[test]
fn output_file_is_written_atomically_in_place_of_stdout() {
    let (t, data, _) = three_findings();
    let out = t.tmp.path().join("out").join("report.sarif");
    std::fs::create_dir(out.parent().unwrap()).unwrap();
    std::fs::write(&out, "stale").unwrap();
    let run = report(
        &data,
        &["--format", "sarif", "--output", out.to_str().unwrap()],
    );
    run.ok();
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_valid_sarif(&doc);
    assert_eq!(sarif_results(&doc).len(), 3);
    let names: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["report.sarif"], "no temporary file left");

    let run = report(&data, &["-o", "/nonexistent-dir/r.md"]);
    run.code(4);
    assert!(run.error_line().contains("/nonexistent-dir/r.md"));
}

#[test]
fn min_severity_filters() {
    let (_t, data, _) = three_findings();
    let doc = report(&data, &["--format", "json", "--min-severity", "high"])
        .ok()
        .json();
    assert_eq!(json_titles(&doc), ["Command injection in /run"]);
    let doc = report(&data, &["--format", "json", "--min-severity", "MEDIUM"])
        .ok()
        .json();
    assert_eq!(json_titles(&doc).len(), 2);
    let md = report(&data, &["--min-severity", "high"])
        .ok()
        .stdout
        .clone();
    assert!(!md.contains("Path traversal"), "{md}");

    let run = report(&data, &["--min-severity", "bogus"]);
    run.code(2);
    let line = run.usage_line();
    assert!(
        line.contains("--min-severity") && line.contains("bogus"),
        "{line}"
    );
}

#[test]
fn fail_on_exits_1_only_at_or_above_the_threshold() {
    let (_t, data, _) = three_findings();
    let run = report(&data, &["--fail-on", "high"]);
    run.code(1);
    assert!(
        run.stdout.contains("Command injection"),
        "the report is still written"
    );
    assert!(run.stderr.contains("--fail-on high"), "{}", run.stderr);
    report(&data, &["--fail-on", "critical"]).ok();
    report(&data, &["--fail-on", "low", "--format", "json"]).code(1);
    // --quiet drops the explanation, not the exit code.
    let quiet = report(&data, &["--fail-on", "medium", "--quiet"]);
    quiet.code(1);
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
    assert!(!quiet.stdout.is_empty(), "the requested report is printed");

    let (_t, data, _) = {
        let t = Tree::new();
        let data = t.data_dir();
        let ids = store_with_findings(
            &data,
            &t.root,
            &[finding("a.py", "Minor thing", Severity::Medium)],
        );
        (t, data, ids)
    };
    report(&data, &["--fail-on", "high"]).ok();
    report(&data, &["--fail-on", "medium"]).code(1);
}

#[test]
fn false_positives_are_hidden_and_do_not_trip_the_gate() {
    let (_t, data, ids) = three_findings();
    let mut store = Store::open(&data).unwrap();
    store
        .record_verdict(PROJECT, &ids[0], &verdict(Verdict::FalsePositive, None))
        .unwrap();

    let doc = report(&data, &["--format", "json"]).ok().json();
    assert_eq!(json_titles(&doc).len(), 2);
    assert!(!json_titles(&doc).contains(&"Command injection in /run"));
    report(&data, &["--fail-on", "high"]).ok();

    let doc = report(&data, &["--format", "json", "--include-false-positives"])
        .ok()
        .json();
    assert!(json_titles(&doc).contains(&"Command injection in /run"));
    let fp = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == ids[0].as_str())
        .unwrap();
    assert_eq!(fp["verdict"]["verdict"], "false_positive");
    // Shown, but still not something to fail a build on.
    report(&data, &["--include-false-positives", "--fail-on", "high"]).ok();
    let doc = report(&data, &["--format", "sarif", "--include-false-positives"])
        .ok()
        .json();
    assert_valid_sarif(&doc);
    assert_eq!(sarif_results(&doc).len(), 3);
}

#[test]
fn a_corrected_severity_counts_for_filters_and_the_gate() {
    let (_t, data, ids) = three_findings();
    let mut store = Store::open(&data).unwrap();
    // The medium finding turns out critical; the high one only low.
    store
        .record_verdict(
            PROJECT,
            &ids[1],
            &verdict(Verdict::TruePositive, Some(Severity::Critical)),
        )
        .unwrap();
    store
        .record_verdict(
            PROJECT,
            &ids[0],
            &verdict(Verdict::TruePositive, Some(Severity::Low)),
        )
        .unwrap();
    report(&data, &["--fail-on", "critical"]).code(1);
    let doc = report(&data, &["--format", "json", "--min-severity", "high"])
        .ok()
        .json();
    assert_eq!(json_titles(&doc), ["Path traversal in download"]);
    assert_eq!(doc["findings"][0]["severity"], "critical");
    assert_eq!(doc["findings"][0]["reported_severity"], "medium");
}

#[test]
fn accepted_risks_are_hidden_unless_asked_for() {
    let (_t, data, ids) = three_findings();
    let mut store = Store::open(&data).unwrap();
    store
        .set_disposition(
            PROJECT,
            &ids[0],
            Disposition::AcceptedRisk,
            Some("internal only"),
        )
        .unwrap();
    let doc = report(&data, &["--format", "json"]).ok().json();
    assert_eq!(json_titles(&doc).len(), 2);
    report(&data, &["--fail-on", "high"]).ok();
    let doc = report(&data, &["--format", "json", "--include-ignored"])
        .ok()
        .json();
    assert_eq!(json_titles(&doc).len(), 3);
    report(&data, &["--include-ignored", "--fail-on", "high"]).ok();
}

#[test]
fn the_store_is_found_by_flag_env_or_working_directory() {
    let t = Tree::new();
    store_with_findings(
        &t.data_dir(),
        &t.root,
        &[finding("app.py", "Command injection", Severity::High)],
    );
    let by_env = run(warden()
        .args(["report", "--format", "json"])
        .env("WARDEN_DATA_DIR", t.data_dir())
        .current_dir(t.tmp.path()));
    assert_eq!(json_titles(&by_env.ok().json()), ["Command injection"]);
    let by_cwd = run(warden()
        .args(["report", "--format", "json"])
        .current_dir(&t.root));
    assert_eq!(json_titles(&by_cwd.ok().json()), ["Command injection"]);
    // The flag wins over the environment.
    let elsewhere = tempfile::tempdir().unwrap();
    let by_flag = run(warden()
        .args(["report", "--format", "json", "--data-dir"])
        .arg(t.data_dir())
        .env("WARDEN_DATA_DIR", elsewhere.path()));
    assert_eq!(json_titles(&by_flag.ok().json()), ["Command injection"]);
    // An env value without a store is the same usage error as a bad flag.
    let run = run(warden()
        .arg("report")
        .env("WARDEN_DATA_DIR", elsewhere.path()));
    run.code(2);
    assert!(run
        .error_line()
        .contains(elsewhere.path().to_str().unwrap()));
}

#[test]
fn a_closed_stdout_keeps_the_fail_on_exit_code() {
    // `warden report --fail-on high | head`: the gate must not turn into an I/O error.
    let (_t, data, _) = three_findings();
    let mut child = warden()
        .args(["report", "--fail-on", "high", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let run: Run = child.wait_with_output().unwrap().into();
    run.code(1);
    assert!(!run.stderr.contains("error"), "{}", run.stderr);
}
