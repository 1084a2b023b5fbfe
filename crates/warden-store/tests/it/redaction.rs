//! The store never keeps a secret value: matched lines, findings, verdicts and failure
//! reasons are redacted on the way in, and the database file holds no trace of them.

use crate::common::*;
use warden_store::*;

const STRIPE: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc9a";
const AWS_ID: &str = "AKIAZ7QWERTYUIOPASDF";

fn raw_db_bytes(dir: &Fixture) -> Vec<u8> {
    let mut all = Vec::new();
    for name in [DB_FILE, "warden.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(name)) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn secrets_never_reach_the_database_file() {
    let (dir, mut store) = store(Backend::Sqlite);
    let mut file = matched("billing.py", "h1", 2.0);
    if let Some(m) = file.matched.as_mut() {
        m.hits[0].snippet = format!("stripe.api_key = \"{STRIPE}\"");
        m.hits[1].snippet = format!("AWS_KEY_ID = '{AWS_ID}'");
    }
    scan(&mut store, vec![file]);

    let mut f = finding(
        "billing.py",
        &format!("Hard-coded Stripe key {STRIPE}"),
        1,
        Severity::High,
    );
    f.description = format!("The key `{STRIPE}` is live.");
    f.patch = Some(format!(
        "-stripe.api_key = \"{STRIPE}\"\n+stripe.api_key = os.environ[\"STRIPE\"]"
    ));
    let ids = store.insert_findings(P, &[f]).unwrap();
    store
        .record_verdict(
            P,
            &ids[0],
            &VerdictRecord {
                verdict: Verdict::TruePositive,
                reasoning: format!("{AWS_ID} is a real key id"),
                corrected_severity: None,
                run_id: None,
                cost_usd: None,
                created_at: String::new(),
            },
        )
        .unwrap();

    // What the store gives back is redacted, with the prefix and a fingerprint kept.
    let hits = &store.candidates(P, None).unwrap()[0].hits;
    assert!(!hits[0].snippet.contains(STRIPE), "{}", hits[0].snippet);
    assert!(hits[0].snippet.contains("sk_live_"), "{}", hits[0].snippet);
    assert!(hits[0].snippet.contains(redact::REDACTED_MARK));
    assert!(!hits[1].snippet.contains(AWS_ID));
    let stored = store.finding(P, &ids[0]).unwrap().unwrap();
    for text in [
        &stored.reported.title,
        &stored.reported.description,
        stored.reported.patch.as_ref().unwrap(),
        &stored.verdict.as_ref().unwrap().reasoning,
    ] {
        assert!(!text.contains(STRIPE) && !text.contains(AWS_ID), "{text}");
    }
    assert!(stored.reported.patch.unwrap().contains("os.environ"));

    // And not a byte of either secret is anywhere in the file.
    drop(store);
    let bytes = raw_db_bytes(&dir);
    assert!(!contains(&bytes, STRIPE));
    assert!(!contains(&bytes, AWS_ID));
    assert!(!contains(&bytes, "4eC39HqLyjWDarjtT1zdp7dc9a"));
}

fn the_same_finding_about_the_same_secret_keeps_one_id(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(&mut store, vec![matched("a.py", "h", 2.0)]);
    let f = finding(
        "a.py",
        &format!("Key {STRIPE} committed"),
        1,
        Severity::High,
    );
    let first = store.insert_findings(P, std::slice::from_ref(&f)).unwrap();
    let again = store.insert_findings(P, &[f]).unwrap();
    assert_eq!(first, again);
}

backend_tests!(the_same_finding_about_the_same_secret_keeps_one_id,);
