//! Every built-in rule fires on its own examples and stays quiet on its look-alikes.

use warden_scan::rules::builtin_packs;

#[test]
fn every_rule_fires_on_its_examples_and_not_on_its_negatives() {
    let packs = builtin_packs().expect("built-in packs parse");
    let mut failures = Vec::new();
    let mut rules = 0;
    for rule in packs.iter().flat_map(|p| &p.rules) {
        rules += 1;
        let regex = match rule.regex() {
            Ok(regex) => regex,
            Err(err) => {
                failures.push(err.to_string());
                continue;
            }
        };
        for ex in &rule.examples {
            if !regex.is_match(ex.as_bytes()) {
                failures.push(format!("{}: example does not fire: {ex}", rule.id));
            }
        }
        for neg in &rule.negatives {
            if regex.is_match(neg.as_bytes()) {
                failures.push(format!("{}: look-alike fires: {neg}", rule.id));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(rules >= packs.len(), "every pack has rules");
}

#[test]
fn every_required_language_family_has_a_pack() {
    let packs = builtin_packs().expect("built-in packs parse");
    let ids: Vec<&str> = packs.iter().map(|p| p.id.as_str()).collect();
    for want in [
        "generic",
        "python",
        "javascript",
        "go",
        "java",
        "ruby",
        "php",
        "c",
        "csharp",
        "rust",
    ] {
        assert!(ids.contains(&want), "missing pack {want}: {ids:?}");
    }
}
