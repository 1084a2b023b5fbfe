//! Every structural rule fires on its own examples and stays quiet on its look-alikes,
//! through the real parser and analyzer (not just its prefilter).

use warden_scan::structural::{analyze, builtin_packs};

#[test]
fn every_structural_rule_fires_on_its_examples_and_not_on_its_negatives() {
    let packs = builtin_packs().expect("structural packs parse");
    let mut failures = Vec::new();
    let mut checked = 0;
    for pack in &packs {
        for (i, rule) in pack.rules.iter().enumerate() {
            let spec = rule
                .structural
                .as_ref()
                .expect("a structural rule has a spec");
            for &lang in &pack.languages {
                for ex in &rule.examples {
                    checked += 1;
                    let a = analyze(lang, ex.as_bytes(), &pack.rules, &[i]);
                    if !a.hits.iter().any(|h| h.rule == i) {
                        failures.push(format!(
                            "{} ({}): example does not fire:\n{ex}\n",
                            rule.id,
                            lang.name()
                        ));
                    }
                }
                for neg in &spec.negatives {
                    checked += 1;
                    let a = analyze(lang, neg.as_bytes(), &pack.rules, &[i]);
                    if let Some(h) = a.hits.iter().find(|h| h.rule == i) {
                        failures.push(format!(
                            "{} ({}): look-alike fires ({}):\n{neg}\n",
                            rule.id,
                            lang.name(),
                            h.snippet
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 0, "structural packs have examples");
}

#[test]
fn every_structural_pack_has_rules_and_negatives() {
    let packs = builtin_packs().expect("structural packs parse");
    for want in [
        "python-flow",
        "javascript-flow",
        "go-flow",
        "java-flow",
        "php-flow",
    ] {
        let pack = packs
            .iter()
            .find(|p| p.id == want)
            .unwrap_or_else(|| panic!("missing structural pack {want}"));
        assert!(!pack.rules.is_empty(), "{want} has no rules");
        for rule in &pack.rules {
            let spec = rule.structural.as_ref().expect("spec");
            assert!(!spec.negatives.is_empty(), "{} has no look-alikes", rule.id);
        }
    }
}
