//! Ranking for `--limit`: application code above tests, fixtures, examples, docs and
//! rule definitions, which are still scanned, listed and counted; `--include-tests`
//! (or `include_tests` under `[scan]` in .warden/config.toml) ranks them alike.

mod common;

use common::*;
use serde_json::Value;

/// A command injection and a private key: strong enough to be a candidate anywhere.
const STRONG_PY: &str = "import os, subprocess\nfrom flask import request\n\n\
def run():\n    cmd = request.args.get('cmd')\n    os.system(cmd)\n    \
subprocess.call(cmd, shell=True)\n    eval(request.args.get('x'))\n";
/// One bare dangerous call, weaker than STRONG_PY.
const WEAK_PY: &str = "import os\n\ndef run(cmd):\n    os.system(cmd)\n";
/// A secret scanner's detectors, each with an example it must catch: every hit is a
/// rule's own test value, not a leaked key.
const DETECTORS_PY: &str = r#"DETECTORS = [
    {"id": "aws", "regex": r"AKIA[0-9A-Z]{16}", "example": "AKIAQ3EGRTYBN6MUSW2X"},
    {"id": "slack", "regex": r"xox[baprs]-[0-9A-Za-z-]{10,48}", "example": "xoxb-2741986350-8823746102-QmZx7Lp2Vn9Rt4Ks"},
    {"id": "pem", "regex": r"-----BEGIN [A-Z ]+PRIVATE KEY-----\s", "example": "-----BEGIN RSA PRIVATE KEY-----"},
]
"#;

fn tree() -> Tree {
    let t = Tree::new();
    t.write("app/weak.py", WEAK_PY);
    t.write("tests/test_run.py", STRONG_PY);
    t.write("tests/fixtures/run.py", STRONG_PY);
    t.write("examples/run.py", STRONG_PY);
    t.write("docs/snippets/run.py", STRONG_PY);
    t.write("app/strong.py", STRONG_PY);
    t
}

fn kind_of<'a>(scan: &'a Value, path: &str) -> &'a str {
    scan["candidates"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["path"] == path))
        .and_then(|c| c["kind"].as_str())
        .unwrap_or_else(|| panic!("{path} is not a candidate: {:#}", scan["candidates"]))
}

fn score_of(scan: &Value, path: &str) -> f64 {
    scan["candidates"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["path"] == path))
        .and_then(|c| c["score"].as_f64())
        .unwrap_or_else(|| panic!("{path} is not a candidate"))
}

#[test]
fn application_code_ranks_above_tests_fixtures_examples_and_docs() {
    let t = tree();
    let scan = t.scan_json(&[]);
    let order = candidate_paths(&scan);
    let at = |p: &str| order.iter().position(|c| c == p).unwrap_or(usize::MAX);
    // The same code: first in the app, and still listed (as candidates) elsewhere.
    assert_eq!(at("app/strong.py"), 0, "{order:?}");
    for demoted in [
        "tests/test_run.py",
        "tests/fixtures/run.py",
        "examples/run.py",
        "docs/snippets/run.py",
    ] {
        assert!(
            at(demoted) != usize::MAX,
            "{demoted} still listed: {order:?}"
        );
        assert!(at("app/strong.py") < at(demoted), "{order:?}");
    }
    assert_eq!(kind_of(&scan, "app/strong.py"), "app");
    assert_eq!(kind_of(&scan, "tests/test_run.py"), "test");
    assert_eq!(kind_of(&scan, "tests/fixtures/run.py"), "fixture");
    assert_eq!(kind_of(&scan, "examples/run.py"), "example");
    assert_eq!(kind_of(&scan, "docs/snippets/run.py"), "docs");
    assert_eq!(
        scan["by_kind"]["app"],
        1 + u64::from(at("app/weak.py") != usize::MAX)
    );
    assert_eq!(scan["by_kind"]["fixture"], 1);

    // --limit keeps application code first.
    let limited = t.scan_json(&["--limit", "1"]);
    assert_eq!(candidate_paths(&limited), vec!["app/strong.py".to_string()]);

    let text = t.scan(&[]).ok().stdout.clone();
    assert!(text.contains("tests/fixtures/run.py [fixture]"), "{text}");
    assert!(text.contains("--include-tests"), "{text}");
}

#[test]
fn include_tests_ranks_them_alike_from_the_flag_or_the_config() {
    let t = tree();
    let alike = t.scan_json(&["--include-tests"]);
    let app = score_of(&alike, "app/strong.py");
    for p in [
        "tests/test_run.py",
        "tests/fixtures/run.py",
        "examples/run.py",
    ] {
        assert_eq!(score_of(&alike, p), app, "{p}");
    }
    // Back to the default: the unchanged files are re-scored, not kept from last time.
    let default = t.scan_json(&[]);
    assert!(score_of(&default, "tests/fixtures/run.py") < app / 2.0);

    t.write(".warden/config.toml", "[scan]\ninclude_tests = true\n");
    let configured = t.scan_json(&[]);
    assert_eq!(score_of(&configured, "tests/fixtures/run.py"), app);

    t.write(".warden/config.toml", "[scan]\ninclude_test = true\n");
    let run = t.scan(&[]);
    run.code(2);
    let line = run.error_line();
    assert!(
        line.contains("config.toml") && line.contains("include_test"),
        "{line}"
    );
}

#[test]
fn a_file_of_detection_patterns_ranks_below_the_code_it_would_flag() {
    let t = Tree::new();
    t.write("scanner/detectors.py", DETECTORS_PY);
    t.write("app/weak.py", WEAK_PY);
    // Its raw score is that of a file of leaked keys...
    let alike = t.scan_json(&["--include-tests"]);
    assert_eq!(kind_of(&alike, "scanner/detectors.py"), "rule-definition");
    assert!(score_of(&alike, "scanner/detectors.py") >= warden_scan::DEFAULT_MIN_SCORE);
    // ...but once known for what it is, the one bare call in the application is the
    // only candidate.
    let demoted = t.scan_json(&[]);
    assert_eq!(candidate_paths(&demoted), vec!["app/weak.py".to_string()]);
}

/// A request value that reaches a shell through variables, over several lines.
const FLOW_PY: &str = "import subprocess\nfrom flask import Flask, request\n\napp = Flask(__name__)\n\n\n\
@app.route(\"/ping\")\ndef ping():\n    host = request.args.get(\"host\", \"\")\n    target = host.strip()\n    \
command = \"ping -c 1 \" + target\n    return subprocess.check_output(command, shell=True)\n";
/// The same dangerous call, fed by a parameter nobody outside controls (as far as a
/// scan can tell).
const BARE_PY: &str = "import subprocess\n\n\ndef run_maintenance(command):\n    \
return subprocess.check_output(command, shell=True)\n";

#[test]
fn a_tainted_flow_ranks_above_a_bare_dangerous_call_and_says_why() {
    let t = Tree::new();
    t.write("app/bare.py", BARE_PY);
    t.write("app/flow.py", FLOW_PY);
    let scan = t.scan_json(&[]);
    assert_eq!(
        candidate_paths(&scan),
        vec!["app/flow.py".to_string(), "app/bare.py".to_string()]
    );
    assert!(score_of(&scan, "app/flow.py") > 2.0 * score_of(&scan, "app/bare.py"));
    let labels: Vec<&str> = scan["candidates"][0]["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["snippet"].as_str())
        .collect();
    assert!(
        labels.iter().any(|l| l.contains("request value")
            && l.contains("reaches subprocess.check_output (line 12)")),
        "{labels:?}"
    );
}
