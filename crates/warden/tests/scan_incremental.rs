//! `warden scan` run again over the same store: what it re-reads, and what later
//! stages (marked through the store API, as `process` would) keep.

mod common;

use common::*;
use serde_json::Value;
use std::time::{Duration, SystemTime};
use warden_store::{FindingFilter, Severity, StoreError};

const LEASE: Duration = Duration::from_secs(600);

fn three_files() -> Tree {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    t.write("util.py", SAFE_PY);
    t.write("keys.py", KEY_PY);
    t
}

/// Sets a file's mtime without touching its content.
fn set_mtime(path: &std::path::Path, when: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(when))
        .expect("set mtime");
}

fn status_of<'a>(scan: &'a Value, path: &str) -> &'a str {
    candidate(scan, path)
        .unwrap_or_else(|| panic!("{path} is not a candidate: {:#}", scan["candidates"]))["status"]
        .as_str()
        .unwrap()
}

/// Claims the only candidate and completes it with one finding, as `process` would.
fn analyze(t: &Tree, path: &str) {
    let mut store = t.store();
    let claimed = store
        .claim_files(PROJECT, "agent-1", 1, LEASE)
        .expect("claim");
    assert_eq!(claimed, [path]);
    store
        .complete_file(
            PROJECT,
            path,
            "agent-1",
            &[finding(path, "Command injection in /run", Severity::High)],
        )
        .expect("complete");
}

#[test]
fn an_unchanged_tree_is_not_read_again() {
    let t = three_files();
    let first = t.scan_json(&[]);
    assert_eq!(delta(&first, "new"), 3);
    let second = t.scan_json(&[]);
    assert_eq!(stat(&second, "files_walked"), 3);
    assert_eq!(stat(&second, "files_unchanged"), 3);
    assert_eq!(stat(&second, "files_matched"), 0);
    assert_eq!(stat(&second, "bytes_read"), 0);
    assert_eq!(delta(&second, "unchanged"), 3);
    for d in ["new", "changed", "gone", "requeued"] {
        assert_eq!(delta(&second, d), 0, "delta.{d}");
    }
    // Stored hits and scores still hold.
    assert_eq!(first["candidates"], second["candidates"]);
}

#[test]
fn a_new_mtime_with_the_same_content_is_unchanged() {
    let t = three_files();
    let first = t.scan_json(&[]);
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    set_mtime(&t.path("app.py"), old);
    set_mtime(&t.path("util.py"), old);
    let second = t.scan_json(&[]);
    // The touched files were read again to compare content hashes...
    assert_eq!(
        stat(&second, "bytes_read"),
        (VULN_PY.len() + SAFE_PY.len()) as u64
    );
    // ...and found unchanged.
    assert_eq!(stat(&second, "files_unchanged"), 3);
    assert_eq!(delta(&second, "unchanged"), 3);
    assert_eq!(delta(&second, "changed"), 0);
    assert_eq!(first["candidates"], second["candidates"]);
    // The new mtime is remembered: a third scan reads nothing.
    let third = t.scan_json(&[]);
    assert_eq!(stat(&third, "bytes_read"), 0);
}

#[test]
fn a_modified_file_is_matched_again() {
    let t = three_files();
    t.scan_json(&[]);
    // Two lines above the sink: its hit must move from line 8 to line 10.
    t.write("app.py", format!("# one\n# two\n{VULN_PY}"));
    // And the harmless file becomes vulnerable.
    t.write("util.py", format!("{SAFE_PY}{ONE_CALL_PY}"));
    let scan = t.scan_json(&[]);
    assert_eq!(delta(&scan, "changed"), 2);
    assert_eq!(delta(&scan, "unchanged"), 1);
    assert_eq!(stat(&scan, "files_matched"), 2);
    let app = candidate(&scan, "app.py").unwrap();
    let lines: Vec<&Value> = app["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["rule"] == "python.os-system")
        .map(|h| &h["line"])
        .collect();
    assert_eq!(lines, [10]);
    assert_eq!(status_of(&scan, "util.py"), "pending");

    // Made harmless again: no longer a candidate.
    t.write("util.py", SAFE_PY);
    let scan = t.scan_json(&[]);
    assert!(candidate(&scan, "util.py").is_none());
}

#[test]
fn a_deleted_file_is_gone_and_a_restored_one_new() {
    let t = three_files();
    t.scan_json(&[]);
    std::fs::remove_file(t.path("keys.py")).unwrap();
    let scan = t.scan_json(&[]);
    assert_eq!(delta(&scan, "gone"), 1);
    assert_eq!(delta(&scan, "unchanged"), 2);
    assert!(candidate(&scan, "keys.py").is_none());
    assert_eq!(t.store().status(PROJECT).unwrap().gone, 1);
    // Gone is counted once, not again on every scan.
    let scan = t.scan_json(&[]);
    assert_eq!(delta(&scan, "gone"), 0);

    t.write("keys.py", KEY_PY);
    let scan = t.scan_json(&[]);
    assert_eq!(delta(&scan, "new"), 1);
    assert_eq!(status_of(&scan, "keys.py"), "pending");
    assert_eq!(t.store().status(PROJECT).unwrap().gone, 0);
}

#[test]
fn an_analyzed_file_keeps_its_state_until_its_content_changes() {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    t.write("util.py", SAFE_PY);
    t.scan_json(&[]);
    analyze(&t, "app.py");

    let scan = t.scan_json(&[]);
    assert_eq!(status_of(&scan, "app.py"), "analyzed");
    assert_eq!(delta(&scan, "requeued"), 0);
    let status = t.store().status(PROJECT).unwrap();
    assert_eq!((status.analyzed, status.pending), (1, 0));
    assert_eq!(status.findings_total, 1);

    // A new mtime alone does not undo the analysis.
    set_mtime(
        &t.path("app.py"),
        SystemTime::now() - Duration::from_secs(3600),
    );
    let scan = t.scan_json(&[]);
    assert_eq!(status_of(&scan, "app.py"), "analyzed");

    // New content needs a new look.
    t.write("app.py", format!("{VULN_PY}# edited\n"));
    let scan = t.scan_json(&[]);
    assert_eq!(status_of(&scan, "app.py"), "pending");
    assert_eq!(delta(&scan, "changed"), 1);
    assert_eq!(delta(&scan, "requeued"), 1);
    let status = t.store().status(PROJECT).unwrap();
    assert_eq!((status.analyzed, status.pending), (0, 1));
    let findings = t
        .store()
        .findings(PROJECT, &FindingFilter::default())
        .unwrap();
    assert_eq!(findings.len(), 1, "earlier findings are not thrown away");
}

#[test]
fn an_analyzed_file_that_comes_back_unchanged_stays_analyzed() {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    t.scan_json(&[]);
    analyze(&t, "app.py");
    std::fs::rename(t.path("app.py"), t.tmp.path().join("app.py.bak")).unwrap();
    assert_eq!(delta(&t.scan_json(&[]), "gone"), 1);
    std::fs::rename(t.tmp.path().join("app.py.bak"), t.path("app.py")).unwrap();
    let scan = t.scan_json(&[]);
    assert_eq!(status_of(&scan, "app.py"), "analyzed");
}

#[test]
fn a_file_changed_while_claimed_is_requeued_and_the_stale_claim_refused() {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    t.scan_json(&[]);
    let mut agent = t.store();
    assert_eq!(
        agent.claim_files(PROJECT, "agent-1", 1, LEASE).unwrap(),
        ["app.py"]
    );
    // An unchanged rescan leaves the claim alone.
    let scan = t.scan_json(&[]);
    assert_eq!(status_of(&scan, "app.py"), "processing");

    t.write("app.py", format!("{VULN_PY}# edited\n"));
    let scan = t.scan_json(&[]);
    assert_eq!(status_of(&scan, "app.py"), "pending");
    assert_eq!(delta(&scan, "requeued"), 1);
    // The agent looked at the old content: its result must not mark the new one analyzed.
    let stale = agent.complete_file(
        PROJECT,
        "app.py",
        "agent-1",
        &[finding("app.py", "stale", Severity::Low)],
    );
    assert!(
        matches!(stale, Err(StoreError::NotHolder { .. })),
        "{stale:?}"
    );
    assert_eq!(t.store().status(PROJECT).unwrap().findings_total, 0);
}
