//! Scans `tests/fixtures/` and checks each file against the expectations in its header.
//!
//! A fixture file states, in comments anywhere in the file:
//! - `warden-expect: rule.id, rule.id` — these rules must fire;
//! - `warden-expect-not: rule.id` — these must not;
//! - `warden-candidate: yes|no` — whether the file must reach the candidate score.
//!
//! In JSON, which has no comments, a string value holds them, one per key:
//! `"_expect": "warden-expect: rule.id",` (the closing quote and comma are not part of it).
//! Vulnerable and safe twins live side by side, so a rule that cannot tell them
//! apart fails here.

use std::collections::BTreeSet;
use std::path::Path;
use warden_scan::{NoProgress, Prior, ScannerBuilder, DEFAULT_MIN_SCORE};

fn list(content: &str, key: &str) -> Vec<String> {
    content
        .lines()
        .filter_map(|l| l.split_once(key).map(|(_, rest)| rest))
        .flat_map(|rest| {
            rest.split(',').map(|s| {
                s.trim()
                    .trim_end_matches("*/")
                    .trim_end_matches(',')
                    .trim_end_matches('"')
                    .trim()
                    .to_string()
            })
        })
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn fixtures_fire_exactly_the_rules_they_declare() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let scanner = ScannerBuilder::new().build().expect("scanner");
    let outcome = scanner
        .scan(&root, &Prior::default(), &NoProgress)
        .expect("scan");
    assert!(
        !outcome.files.is_empty(),
        "no fixtures found under {}",
        root.display()
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in &outcome.files {
        let content = std::fs::read_to_string(root.join(&file.path)).expect("fixture readable");
        let matched = file
            .matched
            .as_ref()
            .expect("fresh scan matches every file");
        let fired: BTreeSet<&str> = matched.hits.iter().map(|h| h.rule_id.as_str()).collect();
        for want in list(&content, "warden-expect:") {
            checked += 1;
            if !fired.contains(want.as_str()) {
                failures.push(format!(
                    "{}: expected {want} to fire; fired {fired:?}",
                    file.path
                ));
            }
        }
        for not in list(&content, "warden-expect-not:") {
            checked += 1;
            if fired.contains(not.as_str()) {
                failures.push(format!("{}: {not} must not fire", file.path));
            }
        }
        if let Some(want) = list(&content, "warden-candidate:").first() {
            checked += 1;
            let is = matched.score >= DEFAULT_MIN_SCORE;
            if is != (want == "yes") {
                failures.push(format!(
                    "{}: candidate should be {want}, score {} (fired {fired:?})",
                    file.path, matched.score
                ));
            }
        }
    }
    assert!(checked > 0, "fixtures declare no expectations");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
