//! Findings: dedupe, fingerprints, filters, verdicts and dispositions.

use crate::common::*;
use warden_store::*;

fn verdict(v: Verdict, corrected: Option<Severity>) -> VerdictRecord {
    VerdictRecord {
        verdict: v,
        reasoning: "checked the call chain".into(),
        corrected_severity: corrected,
        run_id: None,
        cost_usd: Some(0.02),
        created_at: String::new(),
    }
}

fn same_fingerprint_dedupes_and_follows_the_code(b: Backend) {
    let (_dir, mut store) = store(b);
    let first = finding("src/db.py", "SQL injection in login", 10, Severity::High);
    let ids = store
        .insert_findings(P, std::slice::from_ref(&first))
        .unwrap();
    // Same issue reported again after the code moved, with a differently spaced title.
    let mut moved = finding(
        "src/db.py",
        "  sql   INJECTION in login ",
        42,
        Severity::High,
    );
    moved.description = "reworded".into();
    let again = store.insert_findings(P, &[moved.clone(), moved]).unwrap();
    assert_eq!(again, [ids[0].clone(), ids[0].clone()]);

    let all = store.findings(P, &FindingFilter::default()).unwrap();
    assert_eq!(all.len(), 1, "no duplicate row");
    let f = &all[0];
    assert_eq!(f.id, ids[0]);
    assert_eq!(f.fingerprint, first.fingerprint());
    assert_eq!(
        f.reported.start_line, 42,
        "location follows the latest report"
    );
    assert_eq!(
        f.reported.description, first.description,
        "content of the first report kept"
    );
    assert_eq!(f.id, finding_id(P, &f.fingerprint));
    assert!(f.id.starts_with("WF-") && f.id.len() == 15);
}

#[test]
fn fingerprint_ignores_lines_but_not_path_class_or_title() {
    let a = finding("src/db.py", "SQL injection", 10, Severity::High);
    let mut b = a.clone();
    b.start_line = 300;
    b.end_line = 310;
    b.severity = Severity::Low;
    assert_eq!(a.fingerprint(), b.fingerprint());

    let mut other_path = a.clone();
    other_path.path = "src/other.py".into();
    let mut other_cwe = a.clone();
    other_cwe.cwe = Some("CWE-79".into());
    let mut other_title = a.clone();
    other_title.title = "Command injection".into();
    for other in [other_path, other_cwe, other_title] {
        assert_ne!(a.fingerprint(), other.fingerprint());
    }
    // The fingerprint is project-independent; the id is not.
    assert_ne!(
        finding_id("p1", &a.fingerprint()),
        finding_id("p2", &a.fingerprint())
    );
}

fn same_finding_in_two_projects_is_two_findings(b: Backend) {
    let (_dir, mut store) = store(b);
    store.ensure_project("other", "/o").unwrap();
    let f = finding("a.py", "XSS", 1, Severity::Medium);
    let a = store.insert_findings(P, std::slice::from_ref(&f)).unwrap();
    let b = store.insert_findings("other", &[f]).unwrap();
    assert_ne!(a, b);
    assert!(store.finding("other", &a[0]).unwrap().is_none());
    assert!(store.finding(P, &a[0]).unwrap().is_some());
}

fn filters_and_order(b: Backend) {
    let (_dir, mut store) = store(b);
    let ids = store
        .insert_findings(
            P,
            &[
                finding("b.py", "low one", 1, Severity::Low),
                finding("b.py", "high later", 50, Severity::High),
                finding("a.py", "high early", 90, Severity::High),
                finding("a.py", "critical", 5, Severity::Critical),
                finding("c.py", "info", 1, Severity::Info),
                finding("c.py", "false alarm", 2, Severity::Critical),
                finding("d.py", "accepted", 3, Severity::High),
            ],
        )
        .unwrap();
    store
        .record_verdict(P, &ids[5], &verdict(Verdict::FalsePositive, None))
        .unwrap();
    store
        .set_disposition(P, &ids[6], Disposition::AcceptedRisk, Some("internal only"))
        .unwrap();

    let titles = |filter: FindingFilter| -> Vec<String> {
        store
            .findings(P, &filter)
            .unwrap()
            .into_iter()
            .map(|f| f.reported.title)
            .collect()
    };
    assert_eq!(
        titles(FindingFilter::default()),
        ["critical", "high early", "high later", "low one", "info"]
    );
    assert_eq!(
        titles(FindingFilter {
            min_severity: Some(Severity::High),
            ..FindingFilter::default()
        }),
        ["critical", "high early", "high later"]
    );
    assert_eq!(
        titles(FindingFilter {
            min_severity: Some(Severity::High),
            include_false_positives: true,
            include_dispositioned: true,
        }),
        [
            "critical",
            "false alarm",
            "high early",
            "high later",
            "accepted"
        ]
    );
    assert_eq!(
        titles(FindingFilter {
            min_severity: Some(Severity::Critical),
            include_false_positives: true,
            ..FindingFilter::default()
        }),
        ["critical", "false alarm"]
    );
}

fn corrected_severity_drives_filter_and_order(b: Backend) {
    let (_dir, mut store) = store(b);
    let ids = store
        .insert_findings(
            P,
            &[
                finding("a.py", "overrated", 1, Severity::Critical),
                finding("b.py", "real", 1, Severity::High),
            ],
        )
        .unwrap();
    store
        .record_verdict(
            P,
            &ids[0],
            &verdict(Verdict::TruePositive, Some(Severity::Low)),
        )
        .unwrap();
    let high = store
        .findings(
            P,
            &FindingFilter {
                min_severity: Some(Severity::High),
                ..FindingFilter::default()
            },
        )
        .unwrap();
    assert_eq!(high.len(), 1);
    assert_eq!(high[0].reported.title, "real");
    let all = store.findings(P, &FindingFilter::default()).unwrap();
    assert_eq!(all[1].effective_severity(), Severity::Low);
    assert_eq!(
        all[1].reported.severity,
        Severity::Critical,
        "reported severity kept"
    );
}

fn verdict_round_trip_latest_wins(b: Backend) {
    let (_dir, mut store) = store(b);
    let run = store.begin_run(P, RunKind::Revalidate, "h").unwrap();
    let id = store
        .insert_findings(P, &[finding("a.py", "t", 1, Severity::High)])
        .unwrap()
        .remove(0);
    assert!(store.finding(P, &id).unwrap().unwrap().verdict.is_none());

    store
        .record_verdict(P, &id, &verdict(Verdict::FalsePositive, None))
        .unwrap();
    let mut second = verdict(Verdict::TruePositive, Some(Severity::Medium));
    second.run_id = Some(run);
    second.created_at = "2030-01-02T03:04:05.000000Z".into();
    store.record_verdict(P, &id, &second).unwrap();

    let got = store.finding(P, &id).unwrap().unwrap().verdict.unwrap();
    assert_eq!(got, second);
    assert_eq!(store.status(P).unwrap().verdicts, 1);

    let err = store
        .record_verdict(P, "WF-000000000000", &verdict(Verdict::Uncertain, None))
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownFinding { .. }), "{err:?}");
}

fn disposition_round_trip(b: Backend) {
    let (_dir, mut store) = store(b);
    let id = store
        .insert_findings(P, &[finding("a.py", "t", 1, Severity::High)])
        .unwrap()
        .remove(0);
    let f = store.finding(P, &id).unwrap().unwrap();
    assert_eq!(
        (f.disposition, f.disposition_reason),
        (Disposition::Open, None)
    );

    store
        .set_disposition(P, &id, Disposition::WontFix, Some("legacy code"))
        .unwrap();
    let f = store.finding(P, &id).unwrap().unwrap();
    assert_eq!(f.disposition, Disposition::WontFix);
    assert_eq!(f.disposition_reason.as_deref(), Some("legacy code"));
    assert!(store
        .findings(P, &FindingFilter::default())
        .unwrap()
        .is_empty());

    store
        .set_disposition(P, &id, Disposition::Open, None)
        .unwrap();
    assert_eq!(
        store.findings(P, &FindingFilter::default()).unwrap().len(),
        1
    );

    let err = store
        .set_disposition(P, "WF-nope", Disposition::WontFix, None)
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownFinding { .. }), "{err:?}");
}

fn all_reported_fields_round_trip(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(&mut store, vec![matched("a.py", "ha", 2.0)]);
    let run = store.begin_run(P, RunKind::Process, "h").unwrap();
    let mut f = finding("a.py", "Path traversal", 7, Severity::Medium);
    f.run_id = Some(run);
    f.patch = Some("--- a\n+++ b\n".into());
    f.cwe = None;
    f.category = None;
    f.cost_usd = None;
    f.confidence = Confidence::Low;
    let id = store.insert_findings(P, &[f.clone()]).unwrap().remove(0);
    let got = store.finding(P, &id).unwrap().unwrap();
    assert_eq!(got.reported, f);
    assert!(got.created_at.ends_with('Z'));
    assert_eq!(got.duplicate_of, None);
}

fn duplicates_can_be_grouped(b: Backend) {
    let (_dir, mut store) = store(b);
    let ids = store
        .insert_findings(
            P,
            &[
                finding("a.py", "one", 1, Severity::High),
                finding("b.py", "two", 1, Severity::High),
            ],
        )
        .unwrap();
    store.set_duplicate_of(P, &ids[1], Some(&ids[0])).unwrap();
    assert_eq!(
        store
            .finding(P, &ids[1])
            .unwrap()
            .unwrap()
            .duplicate_of
            .as_deref(),
        Some(ids[0].as_str())
    );
    assert!(matches!(
        store.set_duplicate_of(P, &ids[0], Some(&ids[0])),
        Err(StoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        store.set_duplicate_of(P, &ids[0], Some("WF-x")),
        Err(StoreError::UnknownFinding { .. })
    ));
    store.set_duplicate_of(P, &ids[1], None).unwrap();
    assert_eq!(
        store.finding(P, &ids[1]).unwrap().unwrap().duplicate_of,
        None
    );
}

fn errors_never_echo_finding_content(b: Backend) {
    let (_dir, mut store) = store(b);
    let secret = "sk-live-THIS-MUST-NOT-LEAK";
    let mut f = finding("a.py", secret, 1, Severity::High);
    f.description = secret.into();
    let err = store
        .insert_findings("no-such-project", &[f.clone()])
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(secret));
    f.cost_usd = Some(f64::INFINITY);
    let err = store.insert_findings(P, &[f]).unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(secret));
    let mut hit_file = matched("a.py", "h", 2.0);
    if let Some(m) = hit_file.matched.as_mut() {
        m.hits[0].snippet = secret.into();
    }
    let run = store.begin_run(P, RunKind::Scan, "h").unwrap();
    let record = ScanRecord {
        files: vec![hit_file.clone(), hit_file],
        limit: None,
        min_score: 1.0,
        unvisited: Vec::new(),
    };
    let err = store.record_scan(P, run, "fp", &record).unwrap_err();
    assert!(!format!("{err} {err:?}").contains(secret));
}

backend_tests!(
    same_fingerprint_dedupes_and_follows_the_code,
    same_finding_in_two_projects_is_two_findings,
    filters_and_order,
    corrected_severity_drives_filter_and_order,
    verdict_round_trip_latest_wins,
    disposition_round_trip,
    all_reported_fields_round_trip,
    duplicates_can_be_grouped,
    errors_never_echo_finding_content,
);
