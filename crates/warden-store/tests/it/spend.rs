//! Model spend and the status summary.

use crate::common::*;
use std::time::Duration;
use warden_store::*;

fn call(run_id: Option<i64>, cost: Option<f64>) -> LlmCall {
    LlmCall {
        run_id,
        path: Some("a.py".into()),
        finding_id: None,
        provider: "anthropic".into(),
        model: "claude-test".into(),
        input_tokens: 1000,
        output_tokens: 200,
        cache_write_tokens: 10,
        cache_read_tokens: 5,
        cost_usd: cost,
    }
}

fn spend_sums_priced_calls_and_counts_unpriced_apart(b: Backend) {
    let (_dir, mut store) = store(b);
    let r1 = store.begin_run(P, RunKind::Process, "h").unwrap();
    let r2 = store.begin_run(P, RunKind::Revalidate, "h").unwrap();
    store
        .record_llm_call(P, &call(Some(r1), Some(0.25)))
        .unwrap();
    store
        .record_llm_call(P, &call(Some(r1), Some(0.5)))
        .unwrap();
    store.record_llm_call(P, &call(Some(r1), None)).unwrap();
    store.record_llm_call(P, &call(Some(r2), None)).unwrap();
    store.record_llm_call(P, &call(None, Some(1.0))).unwrap();
    // Another project's spend is not ours.
    store.ensure_project("other", "/o").unwrap();
    store
        .record_llm_call("other", &call(None, Some(100.0)))
        .unwrap();

    let spend = store.spend(P).unwrap();
    assert!((spend.total_usd - 1.75).abs() < 1e-9, "{spend:?}");
    assert_eq!((spend.calls, spend.unpriced_calls), (5, 2));
    assert_eq!((spend.input_tokens, spend.output_tokens), (5000, 1000));
    assert_eq!(
        (spend.cache_write_tokens, spend.cache_read_tokens),
        (50, 25)
    );
    let runs: Vec<_> = spend
        .by_run
        .iter()
        .map(|r| (r.run_id, r.calls, r.unpriced_calls))
        .collect();
    assert_eq!(runs, [(Some(r1), 3, 1), (Some(r2), 1, 1), (None, 1, 0)]);
    assert!((spend.by_run[0].usd - 0.75).abs() < 1e-9);
    assert_eq!(spend.by_run[1].usd, 0.0);

    let status = store.status(P).unwrap();
    assert!((status.spend_usd - 1.75).abs() < 1e-9);
    assert_eq!(status.unpriced_calls, 2);
}

fn bad_calls_are_rejected(b: Backend) {
    let (_dir, mut store) = store(b);
    let err = store
        .record_llm_call("nope", &call(None, Some(1.0)))
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownProject { .. }), "{err:?}");
    let err = store
        .record_llm_call(P, &call(None, Some(f64::NAN)))
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    let mut huge = call(None, None);
    huge.input_tokens = u64::MAX;
    let err = store.record_llm_call(P, &huge).unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    // A run that does not exist is refused by the schema, without echoing the call.
    let err = store
        .record_llm_call(P, &call(Some(777), Some(1.0)))
        .unwrap_err();
    assert!(matches!(err, StoreError::Database { .. }), "{err:?}");
    assert!(!err.to_string().contains("claude-test"));
    assert_eq!(store.spend(P).unwrap().calls, 0);
}

fn status_summarises_every_stage(b: Backend) {
    let (_dir, mut store) = store(b);
    store.set_tech(P, &["python".into()]).unwrap();
    scan(
        &mut store,
        vec![
            matched("a.py", "1", 3.0),
            matched("b.py", "2", 2.0),
            matched("c.py", "3", 1.0),
            matched("d.py", "4", 0.0),
            matched("gone.py", "5", 0.0),
        ],
    );
    scan(
        &mut store,
        vec![
            unchanged("a.py", "1"),
            unchanged("b.py", "2"),
            unchanged("c.py", "3"),
            unchanged("d.py", "4"),
        ],
    );
    let hour = Duration::from_secs(3600);
    store.claim_files(P, "w", 2, hour).unwrap();
    let ids = store
        .complete_file(
            P,
            "a.py",
            "w",
            &[
                finding("a.py", "one", 1, Severity::Critical),
                finding("a.py", "two", 2, Severity::Medium),
                finding("a.py", "three", 3, Severity::Medium),
            ],
        )
        .unwrap();
    store
        .record_verdict(
            P,
            &ids[2],
            &VerdictRecord {
                verdict: Verdict::FalsePositive,
                reasoning: String::new(),
                corrected_severity: None,
                run_id: None,
                cost_usd: None,
                created_at: String::new(),
            },
        )
        .unwrap();

    let s = store.status(P).unwrap();
    assert_eq!(s.project_id, P);
    assert_eq!(s.root, "/repo");
    assert_eq!(s.tech, ["python"]);
    assert_eq!((s.files, s.gone, s.candidates), (4, 1, 3));
    assert_eq!(
        (s.pending, s.processing, s.analyzed, s.failed),
        (1, 1, 1, 0)
    );
    assert_eq!(s.findings_by_severity, [1, 0, 1, 0, 0]);
    assert_eq!((s.findings_total, s.verdicts), (3, 1));
}

fn spend_per_file_most_expensive_first(b: Backend) {
    let (_dir, mut store) = store(b);
    let on = |path: Option<&str>, cost: Option<f64>| LlmCall {
        path: path.map(str::to_string),
        ..call(None, cost)
    };
    store
        .record_llm_call(P, &on(Some("a.py"), Some(0.25)))
        .unwrap();
    store
        .record_llm_call(P, &on(Some("b.py"), Some(1.0)))
        .unwrap();
    store.record_llm_call(P, &on(Some("a.py"), None)).unwrap();
    store
        .record_llm_call(P, &on(Some("a.py"), Some(0.5)))
        .unwrap();
    // Calls about no file (e.g. triage) are not attributed to any.
    store.record_llm_call(P, &on(None, Some(9.0))).unwrap();

    let files = store.spend_by_file(P, None).unwrap();
    let got: Vec<_> = files
        .iter()
        .map(|f| (f.path.as_str(), f.calls, f.unpriced_calls))
        .collect();
    assert_eq!(got, [("b.py", 1, 0), ("a.py", 3, 1)]);
    assert!((files[1].usd - 0.75).abs() < 1e-9);
    assert_eq!(store.spend_by_file(P, Some(1)).unwrap().len(), 1);
    assert_eq!(store.status(P).unwrap().top_files_by_spend, files);
}

backend_tests!(
    spend_sums_priced_calls_and_counts_unpriced_apart,
    bad_calls_are_rejected,
    status_summarises_every_stage,
    spend_per_file_most_expensive_first,
);
