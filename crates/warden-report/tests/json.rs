//! The JSON report.

mod common;

use common::*;
use serde_json::{json, Value};
use warden_report::render_json;
use warden_store::model::{Disposition, Severity, Verdict};

#[test]
fn has_the_documented_shape_and_round_trips() {
    let mut a = finding("a", "src/a.rs", Severity::Critical);
    a.verdict = Some(verdict(
        Verdict::TruePositive,
        "Confirmed.",
        Some(Severity::High),
    ));
    a.reported.patch = Some("+fix".into());
    let mut b = finding("b", "src/b.rs", Severity::Low);
    b.disposition = Disposition::WontFix;
    b.duplicate_of = Some("a".into());
    b.reported.cost_usd = None;
    let doc = render_json(&ctx(), &[b, a]);

    let text = serde_json::to_string_pretty(&doc).unwrap();
    let back: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back, doc);

    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["tool"], json!({ "name": "warden", "version": "0.1.0" }));
    assert_eq!(doc["project"]["id"], "demo");
    assert_eq!(doc["generated_at"], "2025-01-02T03:04:05Z");
    assert_eq!(
        doc["summary"]["by_severity"],
        json!({ "critical": 0, "high": 1, "medium": 0, "low": 1, "info": 0 })
    );
    assert_eq!(doc["summary"]["total"], 2);
    let spend = doc["summary"]["spend_usd"].as_f64().unwrap();
    assert!((spend - 0.012).abs() < 1e-9, "{spend}");

    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2);
    let keys = [
        "id",
        "fingerprint",
        "path",
        "start_line",
        "end_line",
        "title",
        "severity",
        "reported_severity",
        "confidence",
        "cwe",
        "category",
        "rule_id",
        "description",
        "attack_path",
        "recommendation",
        "patch",
        "cost_usd",
        "verdict",
        "disposition",
        "duplicate_of",
    ];
    for f in findings {
        for key in keys {
            assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
        }
    }

    let first = &findings[0];
    assert_eq!(first["id"], "a", "most severe first");
    assert_eq!(first["fingerprint"], "fp-a");
    assert_eq!(first["severity"], "high");
    assert_eq!(first["reported_severity"], "critical");
    assert_eq!(first["cwe"], "CWE-89");
    assert_eq!(first["start_line"], 10);
    assert_eq!(first["patch"], "+fix");
    assert_eq!(first["verdict"]["verdict"], "true_positive");
    assert_eq!(first["verdict"]["reasoning"], "Confirmed.");
    assert_eq!(first["verdict"]["corrected_severity"], "high");
    assert_eq!(first["disposition"], "open");
    assert_eq!(first["duplicate_of"], Value::Null);

    let second = &findings[1];
    assert_eq!(second["verdict"], Value::Null);
    assert_eq!(second["patch"], Value::Null);
    assert_eq!(second["cost_usd"], Value::Null);
    assert_eq!(second["disposition"], "wont_fix");
    assert_eq!(second["duplicate_of"], "a");
}

#[test]
fn empty_reports_have_zero_totals() {
    let doc = render_json(&ctx(), &[]);
    assert_eq!(doc["summary"]["total"], 0);
    assert_eq!(doc["summary"]["spend_usd"], 0.0);
    assert_eq!(doc["summary"]["by_severity"]["critical"], 0);
    assert_eq!(doc["findings"], json!([]));
}
