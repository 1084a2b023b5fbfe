//! `warden scan` output: the JSON summary, SARIF, `--output`, `--quiet`, pipes.

mod common;

use common::*;
use serde_json::Value;
use std::process::Stdio;

fn tree() -> Tree {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    t.write("my dir/run.py", ONE_CALL_PY);
    t.write("café.py", ONE_CALL_PY);
    t.write("keys.py", KEY_PY);
    t.write("util.py", SAFE_PY);
    t.write("README.md", "# demo\n");
    t
}

#[test]
fn json_summary_has_the_documented_fields() {
    let t = tree();
    let scan = t.scan_json(&[]);
    let root = std::fs::canonicalize(&t.root).unwrap();
    assert_eq!(scan["project"], PROJECT);
    assert_eq!(scan["root"], root.to_str().unwrap());
    assert_eq!(
        scan["store"],
        root.join(".warden/warden.db").to_str().unwrap()
    );
    assert!(scan["elapsed"].as_f64().is_some_and(|s| s >= 0.0));
    assert!(scan["tech"]
        .as_array()
        .unwrap()
        .contains(&Value::from("python")));
    for key in [
        "files_walked",
        "files_matched",
        "files_unchanged",
        "bytes_read",
        "non_utf8",
        "pruned_dirs",
    ] {
        assert!(scan["stats"][key].is_u64(), "stats.{key}: {scan:#}");
    }
    assert_eq!(stat(&scan, "files_walked"), 5);
    assert_eq!(skipped(&scan, "unsupported-type"), 1, "README.md");
    assert!(scan["stats"]["walk_errors"].as_array().unwrap().is_empty());
    for key in [
        "new",
        "changed",
        "unchanged",
        "gone",
        "requeued",
        "candidates",
    ] {
        assert!(scan["delta"][key].is_u64(), "delta.{key}: {scan:#}");
    }
    assert_eq!(scan["candidate_files"], 4);
    assert_eq!(candidate_paths(&scan).len(), 4);
    assert_eq!(scan["by_language"]["python"], 4);
    assert!(scan["by_category"]["secrets"].as_u64() >= Some(1));

    // `--format json` is the same thing; `--json` and another format conflict.
    let again = t.scan(&["--format", "json"]).ok().json();
    assert_eq!(again["candidates"], scan["candidates"]);
    let clash = t.scan(&["--json", "--format", "sarif"]);
    clash.code(2);
    assert!(clash.usage_line().contains("--json"), "{}", clash.stderr);
}

fn check_candidates_sarif(doc: &Value) {
    assert_valid_sarif(doc);
    assert_eq!(doc["version"], "2.1.0");
    let results = sarif_results(doc);
    assert!(results.len() >= 4, "one result per hit: {doc:#}");
    for r in results {
        assert_eq!(r["level"], "note", "{r:#}");
    }
    let uris: Vec<&str> = results
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(uris.contains(&"my%20dir/run.py"), "{uris:?}");
    assert!(uris.contains(&"caf%C3%A9.py"), "{uris:?}");
    assert!(!uris.iter().any(|u| u.contains("util.py")), "{uris:?}");
    let rules = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    for id in ["python.os-system", "generic.private-key"] {
        assert!(rules.iter().any(|r| r["id"] == id), "{id} described");
    }
}

#[test]
fn sarif_output_validates_against_the_schema() {
    let t = tree();
    let run = t.scan(&["--format", "sarif"]);
    let doc = run.ok().json();
    check_candidates_sarif(&doc);
}

#[test]
fn sarif_to_a_file_validates_and_leaves_stdout_empty() {
    let t = tree();
    let out = t.tmp.path().join("scan.sarif");
    let run = t.scan(&["--format", "sarif", "-o", out.to_str().unwrap()]);
    run.ok();
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    check_candidates_sarif(&doc);
    // Written through a temporary file renamed into place: nothing else is left behind.
    let names: Vec<String> = std::fs::read_dir(t.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["proj", "scan.sarif"]);
}

#[test]
fn piped_output_has_no_progress_bar() {
    let t = tree();
    let run = t.scan(&[]);
    run.ok();
    for (name, bytes) in [("stdout", &run.raw_stdout), ("stderr", &run.raw_stderr)] {
        assert!(!bytes.contains(&0x1b), "escape codes on {name}: {bytes:?}");
        assert!(!bytes.contains(&b'\r'), "carriage returns on {name}");
    }
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(run.stdout.contains("app.py"), "{}", run.stdout);
    assert!(run.stdout.contains("candidates"), "{}", run.stdout);
}

#[test]
fn quiet_prints_nothing_for_the_text_format_but_still_scans() {
    let t = tree();
    let run = t.scan(&["--quiet"]);
    run.ok();
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert_eq!(t.store().status(PROJECT).unwrap().candidates, 4);

    // Output that was asked for is still written.
    let json = t.scan(&["-q", "--json"]).ok().json();
    assert_eq!(json["candidate_files"], 4);
    let out = t.tmp.path().join("summary.txt");
    let run = t.scan(&["-q", "-o", out.to_str().unwrap()]);
    run.ok();
    assert!(run.stdout.is_empty());
    assert!(std::fs::read_to_string(&out).unwrap().contains("app.py"));
}

#[test]
fn output_to_a_missing_directory_fails_naming_it() {
    let t = tree();
    let out = t.tmp.path().join("no/such/dir/scan.json");
    let run = t.scan(&["--json", "-o", out.to_str().unwrap()]);
    run.code(4);
    let line = run.error_line();
    assert!(line.contains("--output"), "{line}");
    assert!(line.contains(out.to_str().unwrap()), "{line}");
}

#[test]
fn output_onto_a_directory_fails_and_leaves_no_temporary_file() {
    let t = tree();
    let out = t.tmp.path().join("reports");
    std::fs::create_dir(&out).unwrap();
    let run = t.scan(&["--json", "-o", out.to_str().unwrap()]);
    run.code(4);
    assert!(
        run.error_line().contains(out.to_str().unwrap()),
        "{}",
        run.stderr
    );
    let mut names: Vec<String> = std::fs::read_dir(t.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["proj", "reports"], "nothing left behind");
}

#[test]
fn output_written_inside_the_root_is_not_scanned_next_time() {
    // `warden scan . --json -o warden.json` is the obvious CI invocation. The
    // summary quotes the private key's line, so the next scan must not take its
    // own output for a file with a private key in it.
    let t = tree();
    let out = t.path("warden.json");
    let args = ["--json", "-o", out.to_str().unwrap()];
    t.scan(&args).ok();
    t.scan(&args).ok();
    let scan: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert!(
        candidate(&scan, "warden.json").is_none(),
        "{:#}",
        scan["candidates"]
    );
    assert_eq!(stat(&scan, "files_walked"), 5);
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    // `warden scan --json | head -1`: the reader goes away before warden writes.
    let t = tree();
    let mut child = warden()
        .arg("scan")
        .arg(&t.root)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let run: Run = child.wait_with_output().unwrap().into();
    assert!(!run.stderr.contains("error"), "{}", run.stderr);
    run.ok();
    // The scan itself was recorded.
    assert_eq!(t.store().status(PROJECT).unwrap().candidates, 4);
}

#[test]
fn the_text_summary_lists_top_candidates_and_top_zero_lists_none() {
    let t = tree();
    let text = t.scan(&["--top", "1"]).ok().stdout.clone();
    assert!(text.contains("Top candidates:"), "{text}");
    let listed = text
        .lines()
        .skip_while(|l| !l.starts_with("Top candidates:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .count();
    assert_eq!(listed, 1, "{text}");
    assert!(
        text.contains(".warden/warden.db"),
        "names the store: {text}"
    );

    // Listing none is not the same as having none.
    let text = t.scan(&["--top", "0"]).ok().stdout.clone();
    assert!(!text.contains("Top candidates:"), "{text}");
    assert!(!text.contains("No candidates"), "{text}");
    assert!(text.contains("candidates            4"), "{text}");
}
