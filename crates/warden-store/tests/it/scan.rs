//! Recording scans: incremental semantics and candidate ranking.

use crate::common::*;
use std::time::Duration;
use warden_store::*;

const HOUR: Duration = Duration::from_secs(3600);

fn first_scan_inserts_everything_as_pending(b: Backend) {
    let (_dir, mut store) = store(b);
    let delta = scan(
        &mut store,
        vec![
            matched("a.py", "ha", 3.0),
            matched("b.py", "hb", 2.0),
            matched("c.py", "hc", 0.0),
        ],
    );
    assert_eq!(
        delta,
        ScanDelta {
            new: 3,
            candidates: 2,
            ..ScanDelta::default()
        }
    );
    let known = store.known_files(P).unwrap();
    assert_eq!(known.len(), 3);
    assert_eq!(
        known["a.py"],
        KnownFile {
            size: 100,
            mtime_ns: 1,
            hash: "ha".into()
        }
    );
    assert_eq!(
        store.scan_fingerprint(P).unwrap().as_deref(),
        Some("rules-v1")
    );
    assert_eq!(status_of(&store, "a.py"), FileStatus::Pending);
    assert!(store.status(P).unwrap().last_scan_at.is_some());
}

fn incremental_scan_keeps_unchanged_requeues_changed_and_marks_gone(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![
            matched("a.py", "ha", 3.0),
            matched("b.py", "hb", 3.0),
            matched("c.py", "hc", 3.0),
        ],
    );
    // An agent analyzes a.py (with a finding) and b.py.
    let claimed = store.claim_files(P, "w", 2, HOUR).unwrap();
    assert_eq!(claimed, ["a.py", "b.py"]);
    let ids = store
        .complete_file(
            P,
            "a.py",
            "w",
            &[finding("a.py", "SQL injection", 4, Severity::High)],
        )
        .unwrap();
    store.complete_file(P, "b.py", "w", &[]).unwrap();

    let delta = scan(
        &mut store,
        vec![
            unchanged("a.py", "ha"),
            matched("b.py", "hb2", 2.0),
            matched("d.py", "hd", 1.0),
        ],
    );
    assert_eq!(
        delta,
        ScanDelta {
            new: 1,
            changed: 1,
            unchanged: 1,
            gone: 1,
            requeued: 1,
            candidates: 3,
            ..ScanDelta::default()
        }
    );
    // Unchanged: still analyzed, finding kept, hits kept, mtime updated.
    assert_eq!(status_of(&store, "a.py"), FileStatus::Analyzed);
    assert!(store.finding(P, &ids[0]).unwrap().is_some());
    let a = store
        .candidates(P, None)
        .unwrap()
        .into_iter()
        .find(|c| c.path == "a.py")
        .unwrap();
    assert_eq!(a.hits.len(), 3);
    assert_eq!(a.score, 3.0);
    let known = store.known_files(P).unwrap();
    assert_eq!(known["a.py"].mtime_ns, 2);
    // Changed: pending again with the new hits.
    let b = store
        .candidates(P, None)
        .unwrap()
        .into_iter()
        .find(|c| c.path == "b.py")
        .unwrap();
    assert_eq!(
        (b.status, b.hits.len(), b.score),
        (FileStatus::Pending, 2, 2.0)
    );
    assert_eq!(known["b.py"].hash, "hb2");
    // Gone: not known, not a candidate, counted.
    assert!(!known.contains_key("c.py"));
    assert!(store
        .candidates(P, None)
        .unwrap()
        .iter()
        .all(|c| c.path != "c.py"));
    let status = store.status(P).unwrap();
    assert_eq!(
        (status.files, status.gone, status.analyzed, status.pending),
        (3, 1, 1, 2)
    );
    // The next claim picks up the requeued file, not the analyzed one.
    let claimed = store.claim_files(P, "w", 10, HOUR).unwrap();
    assert_eq!(claimed, ["b.py", "d.py"]);
}

fn gone_file_comes_back(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![matched("a.py", "ha", 2.0), matched("b.py", "hb", 2.0)],
    );
    store.claim_files(P, "w", 2, HOUR).unwrap();
    store.complete_file(P, "a.py", "w", &[]).unwrap();
    store.complete_file(P, "b.py", "w", &[]).unwrap();

    let delta = scan(&mut store, vec![]);
    assert_eq!((delta.gone, delta.candidates), (2, 0));
    assert!(store.known_files(P).unwrap().is_empty());

    // a.py returns with the content that was analyzed, b.py with new content.
    let delta = scan(
        &mut store,
        vec![matched("a.py", "ha", 2.0), matched("b.py", "hb2", 2.0)],
    );
    assert_eq!((delta.new, delta.gone, delta.candidates), (2, 0, 2));
    assert_eq!(store.known_files(P).unwrap().len(), 2);
    assert_eq!(status_of(&store, "a.py"), FileStatus::Analyzed);
    assert_eq!(status_of(&store, "b.py"), FileStatus::Pending);
}

fn unchanged_file_in_processing_keeps_its_lease_but_a_change_revokes_it(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![matched("a.py", "ha", 2.0), matched("b.py", "hb", 2.0)],
    );
    assert_eq!(store.claim_files(P, "w", 2, HOUR).unwrap().len(), 2);
    let delta = scan(
        &mut store,
        vec![unchanged("a.py", "ha"), matched("b.py", "hb2", 2.0)],
    );
    assert_eq!((delta.unchanged, delta.changed, delta.requeued), (1, 1, 1));
    // a.py: lease intact, the holder can complete it.
    store.complete_file(P, "a.py", "w", &[]).unwrap();
    // b.py: the content changed under the agent; its result no longer counts.
    let err = store
        .complete_file(
            P,
            "b.py",
            "w",
            &[finding("b.py", "stale", 1, Severity::Low)],
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::NotHolder { .. }), "{err:?}");
    assert!(store
        .findings(P, &FindingFilter::default())
        .unwrap()
        .is_empty());
    assert_eq!(status_of(&store, "b.py"), FileStatus::Pending);
}

fn candidates_ranked_by_score_then_path_with_min_score_and_limit(b: Backend) {
    let (_dir, mut store) = store(b);
    let files = vec![
        matched("m.py", "1", 5.0),
        matched("z.py", "2", 9.0),
        matched("a.py", "3", 9.0),
        matched("low.py", "4", 1.0),
        matched("mid.py", "5", 3.0),
    ];
    let delta = scan_with(&mut store, files.clone(), Some(3), 3.0);
    assert_eq!(delta.candidates, 3);
    let paths: Vec<_> = store
        .candidates(P, None)
        .unwrap()
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(paths, ["a.py", "z.py", "m.py"]);
    let top: Vec<_> = store
        .candidates(P, Some(2))
        .unwrap()
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(top, ["a.py", "z.py"]);

    // Without a limit every file reaching min_score is a candidate; the rest is recomputed.
    let delta = scan_with(&mut store, files, None, 3.0);
    assert_eq!((delta.unchanged, delta.candidates), (5, 4));
    let paths: Vec<_> = store
        .candidates(P, None)
        .unwrap()
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(paths, ["a.py", "z.py", "m.py", "mid.py"]);
    // Hits come back in the order the scan reported them.
    let first = &store.candidates(P, Some(1)).unwrap()[0];
    let rules: Vec<_> = first.hits.iter().map(|h| h.rule_id.as_str()).collect();
    assert_eq!(rules, ["rule-0", "rule-1", "rule-2"]);
    assert_eq!(first.language.as_deref(), Some("python"));
}

fn a_file_that_drops_out_of_the_candidates_is_not_claimed(b: Backend) {
    let (_dir, mut store) = store(b);
    scan_with(
        &mut store,
        vec![matched("a.py", "1", 5.0), matched("b.py", "2", 4.0)],
        Some(1),
        1.0,
    );
    assert_eq!(store.claim_files(P, "w", 10, HOUR).unwrap(), ["a.py"]);
}

fn bad_records_change_nothing(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(&mut store, vec![matched("a.py", "ha", 2.0)]);
    let run = store.begin_run(P, RunKind::Scan, "h").unwrap();
    let bad = [
        // Content changed but no match result.
        vec![
            matched("new.py", "hn", 2.0),
            unchanged("a.py", "other-hash"),
        ],
        // The same path twice.
        vec![matched("new.py", "hn", 2.0), matched("new.py", "hn", 2.0)],
        // A score that cannot be ranked.
        vec![matched("new.py", "hn", f64::NAN)],
    ];
    for files in bad {
        let record = ScanRecord {
            files,
            limit: None,
            min_score: 1.0,
            unvisited: Vec::new(),
        };
        let err = store.record_scan(P, run, "fp2", &record).unwrap_err();
        assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
        let known = store.known_files(P).unwrap();
        assert_eq!(known.len(), 1, "rolled back");
        assert_eq!(known["a.py"].hash, "ha");
        assert_eq!(
            store.scan_fingerprint(P).unwrap().as_deref(),
            Some("rules-v1")
        );
    }
}

fn scan_needs_a_run_of_the_same_project(b: Backend) {
    let (_dir, mut store) = store(b);
    store.ensure_project("other", "/o").unwrap();
    let foreign_run = store.begin_run("other", RunKind::Scan, "h").unwrap();
    let record = ScanRecord {
        files: vec![matched("a.py", "ha", 2.0)],
        limit: None,
        min_score: 1.0,
        unvisited: Vec::new(),
    };
    for run in [foreign_run, 12345] {
        let err = store.record_scan(P, run, "fp", &record).unwrap_err();
        assert!(
            matches!(err, StoreError::UnknownRun { id, .. } if id == run),
            "{err:?}"
        );
    }
    assert!(store.known_files(P).unwrap().is_empty());
    let err = store
        .record_scan("nope", foreign_run, "fp", &record)
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownProject { .. }), "{err:?}");
}

fn projects_do_not_see_each_others_files(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(&mut store, vec![matched("a.py", "ha", 2.0)]);
    store.ensure_project("other", "/o").unwrap();
    let run = store.begin_run("other", RunKind::Scan, "h").unwrap();
    let record = ScanRecord {
        files: vec![matched("b.py", "hb", 2.0)],
        limit: None,
        min_score: 1.0,
        unvisited: Vec::new(),
    };
    let delta = store.record_scan("other", run, "fp", &record).unwrap();
    assert_eq!((delta.new, delta.gone), (1, 0));
    assert_eq!(
        store.known_files(P).unwrap().keys().collect::<Vec<_>>(),
        ["a.py"]
    );
    assert_eq!(store.candidates("other", None).unwrap()[0].path, "b.py");
}

fn files_under_unvisited_paths_are_kept_not_gone(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![
            matched("src/a.py", "ha", 2.0),
            matched("src/deep/b.py", "hb", 2.0),
            matched("srcx/c.py", "hc", 2.0),
            matched("d.py", "hd", 2.0),
        ],
    );
    let run = store.begin_run(P, RunKind::Scan, "h").unwrap();
    // `src` could not be listed and `d.py` could not be read; `srcx` really went away.
    let record = ScanRecord {
        files: Vec::new(),
        limit: None,
        min_score: 1.0,
        unvisited: vec!["src".to_string(), "d.py".to_string()],
    };
    let delta = store.record_scan(P, run, "rules-v1", &record).unwrap();
    assert_eq!(delta.gone, 1, "only srcx/c.py is gone: {delta:?}");
    let known = store.known_files(P).unwrap();
    let mut kept: Vec<_> = known.keys().map(String::as_str).collect();
    kept.sort();
    assert_eq!(kept, ["d.py", "src/a.py", "src/deep/b.py"]);
    assert_eq!(store.candidates(P, None).unwrap().len(), 3);

    // An error that names no path keeps the whole tree.
    let run = store.begin_run(P, RunKind::Scan, "h").unwrap();
    let record = ScanRecord {
        files: Vec::new(),
        limit: None,
        min_score: 1.0,
        unvisited: vec![String::new()],
    };
    let delta = store.record_scan(P, run, "rules-v1", &record).unwrap();
    assert_eq!(delta.gone, 0);
    assert_eq!(store.known_files(P).unwrap().len(), 3);
}

backend_tests!(
    first_scan_inserts_everything_as_pending,
    incremental_scan_keeps_unchanged_requeues_changed_and_marks_gone,
    gone_file_comes_back,
    unchanged_file_in_processing_keeps_its_lease_but_a_change_revokes_it,
    candidates_ranked_by_score_then_path_with_min_score_and_limit,
    a_file_that_drops_out_of_the_candidates_is_not_claimed,
    bad_records_change_nothing,
    scan_needs_a_run_of_the_same_project,
    projects_do_not_see_each_others_files,
    files_under_unvisited_paths_are_kept_not_gone,
);
