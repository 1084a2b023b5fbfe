//! `Scanner::scan_paths`: exactly the named files, with the caller's tech turning on
//! framework rules, and skips counted as a walk would count them.

use std::path::Path;
use warden_scan::{NoProgress, ScannerBuilder, SkipReason};

const RAILS_FILE: &str = "ruby/profiles_controller_vulnerable.rb";

fn fired(tech: &[String]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let scanner = ScannerBuilder::new().build().expect("scanner");
    let outcome = scanner
        .scan_paths(&root, &[RAILS_FILE.to_string()], tech, &NoProgress)
        .expect("scan");
    assert_eq!(outcome.files.len(), 1);
    assert_eq!(outcome.files[0].path, RAILS_FILE);
    let matched = outcome.files[0].matched.as_ref().expect("matched");
    matched.hits.iter().map(|h| h.rule_id.clone()).collect()
}

#[test]
fn framework_rules_follow_the_given_tech() {
    assert!(fired(&["rails".to_string()]).contains(&"ruby.csrf-disabled".to_string()));
    assert!(!fired(&[]).contains(&"ruby.csrf-disabled".to_string()));
}

#[test]
fn only_the_named_files_and_skips_are_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.py"), "import os\nos.system('ls ' + x)\n").expect("write");
    std::fs::write(dir.path().join("b.py"), "os.system(y)\n").expect("write");
    std::fs::write(dir.path().join("yarn.lock"), "x").expect("write");
    let scanner = ScannerBuilder::new().build().expect("scanner");
    let paths = ["a.py", "yarn.lock", "gone.py"].map(String::from);
    let outcome = scanner
        .scan_paths(dir.path(), &paths, &[], &NoProgress)
        .expect("scan");
    let scanned: Vec<&str> = outcome.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(scanned, ["a.py"]);
    assert_eq!(outcome.stats.skipped.get(&SkipReason::Lockfile), Some(&1));
    assert_eq!(outcome.stats.skipped.get(&SkipReason::Unreadable), Some(&1));
}
