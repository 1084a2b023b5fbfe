//! A secret the scan finds is never written out: not to the store, nor to the scan's
//! JSON, SARIF or text, nor to any report. `scan --show-secrets` opts in, for local use,
//! without the store ever holding the value.

mod common;

use common::*;
use warden_store::Severity;

const STRIPE: &str = "sk_live_51Hq8xYzAbCdEfGhIjKlMnOpQr";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYQ3kLm9Zp2X";

fn tree_with_secrets() -> Tree {
    let t = Tree::new();
    t.write(
        "billing.py",
        format!(
            "import stripe\nstripe.api_key = \"{STRIPE}\"\naws_secret_access_key = \"{AWS_SECRET}\"\n"
        ),
    );
    t
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    for secret in [STRIPE, AWS_SECRET, &STRIPE[12..], &AWS_SECRET[12..]] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{what} holds (part of) a secret"
        );
    }
}

fn store_bytes(t: &Tree) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(t.data_dir()).unwrap() {
        all.extend(std::fs::read(entry.unwrap().path()).unwrap_or_default());
    }
    all
}

#[test]
fn scan_outputs_and_the_store_hold_no_secret_value() {
    let t = tree_with_secrets();
    let json = t.scan(&["--json"]);
    json.ok();
    assert_no_secret("scan --json", &json.raw_stdout);
    assert!(json.stdout.contains("sk_live_"), "the prefix is kept");
    assert!(json.stdout.contains("[redacted:"), "{}", json.stdout);

    for format in ["sarif", "text"] {
        let out = t.scan(&["--format", format]);
        out.ok();
        assert_no_secret(format, &out.raw_stdout);
    }
    let out_file = t.tmp.path().join("cands.sarif");
    t.scan(&["--format", "sarif", "-o", out_file.to_str().unwrap()])
        .ok();
    assert_no_secret("-o file", &std::fs::read(&out_file).unwrap());
    assert_no_secret("the store", &store_bytes(&t));
}

#[test]
fn findings_quoting_a_secret_are_redacted_in_every_report() {
    let t = tree_with_secrets();
    t.scan(&["-q"]).ok();
    let mut f = finding(
        "billing.py",
        "Live Stripe key committed",
        Severity::Critical,
    );
    f.description = format!("`stripe.api_key = \"{STRIPE}\"` ships a live key.");
    f.patch = Some(format!(
        "-aws_secret_access_key = \"{AWS_SECRET}\"\n+aws_secret_access_key = os.environ[\"AWS\"]"
    ));
    store_with_findings(&t.data_dir(), &t.root, &[f]);
    for format in ["md", "json", "sarif"] {
        let out = run(warden()
            .current_dir(&t.root)
            .args(["report", "--format", format]));
        out.ok();
        assert!(
            out.stdout.contains("Live Stripe key"),
            "{format}: {}",
            out.stdout
        );
        assert_no_secret(format, &out.raw_stdout);
    }
    assert_no_secret("the store", &store_bytes(&t));
}

#[test]
fn show_secrets_prints_them_but_the_store_still_holds_none() {
    let t = tree_with_secrets();
    let out = t.scan(&["--json", "--show-secrets"]);
    out.ok();
    assert!(out.stdout.contains(STRIPE), "{}", out.stdout);
    assert!(out.stdout.contains(AWS_SECRET), "{}", out.stdout);
    assert_no_secret("the store", &store_bytes(&t));
}

/// Secrets-category rules whose matched line names a credential but holds no value:
/// a key file's header line, a password column, code that prints, stores or opens one.
const NO_VALUE_IN_LINE: &[&str] = &[
    "generic.private-key",
    "python.template-password-column",
    "c.credential-output",
    "c.password-stored-plain",
    "c.credential-file",
    "generic.actions-secret-transformed",
];

/// Every secret a built-in rule is written to find is one the store redacts: a rule
/// whose examples slip past redaction would put the value in every snippet it stores.
#[test]
fn every_secret_rule_example_is_redacted() {
    let packs = warden_scan::rules::builtin_packs().expect("built-in packs parse");
    let mut leaks = Vec::new();
    for rule in packs.iter().flat_map(|p| &p.rules) {
        let holds_a_secret = rule.role == warden_scan::Role::Sink
            && (rule.category == "secrets" || rule.cwe.as_deref() == Some("CWE-1188"))
            && !NO_VALUE_IN_LINE.contains(&rule.id.as_str());
        if !holds_a_secret {
            continue;
        }
        for example in &rule.examples {
            if warden_store::redact::redact_secrets(example) == example.as_str() {
                leaks.push(format!("{}: {example}", rule.id));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "examples kept unredacted:\n{}",
        leaks.join("\n")
    );
}
