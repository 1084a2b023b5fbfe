//! Workers sharing a store: claiming the next best file, heartbeats and the per-worker
//! view `status` shows, and the tree's record and blobs.

use crate::common::*;
use std::collections::HashSet;
use std::time::Duration;
use warden_store::*;

const HOUR: Duration = Duration::from_secs(3600);

fn claim_next_takes_the_best_claimable_file_with_its_hits(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![matched("low.py", "1", 1.0), matched("hi.py", "2", 3.0)],
    );
    let run = store.begin_run(P, RunKind::Process, "w1").unwrap();
    let first = store
        .claim_next(P, "w1", run, HOUR)
        .unwrap()
        .expect("a file");
    assert_eq!(first.path, "hi.py");
    assert_eq!(first.hits.len(), 3, "its hits come with it");
    let second = store
        .claim_next(P, "w1", run, HOUR)
        .unwrap()
        .expect("a file");
    assert_eq!(second.path, "low.py");
    assert!(store.claim_next(P, "w1", run, HOUR).unwrap().is_none());
    assert_eq!(store.status(P).unwrap().processing, 2);
}

fn a_file_failed_in_this_run_is_not_claimed_again_by_it_but_is_by_another(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(&mut store, vec![matched("a.py", "1", 2.0)]);
    let run = store.begin_run(P, RunKind::Process, "w1").unwrap();
    let file = store.claim_next(P, "w1", run, HOUR).unwrap().expect("a.py");
    store
        .fail_file(P, &file.path, "w1", "bytes differ")
        .unwrap();
    assert!(store.claim_next(P, "w1", run, HOUR).unwrap().is_none());
    let other = store.begin_run(P, RunKind::Process, "w2").unwrap();
    let again = store.claim_next(P, "w2", other, HOUR).unwrap();
    assert_eq!(again.map(|f| f.path).as_deref(), Some("a.py"));
}

fn an_expired_lease_is_taken_over_by_the_next_claim(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(&mut store, vec![matched("a.py", "1", 2.0)]);
    let dead = store.begin_run(P, RunKind::Process, "dead").unwrap();
    let short = Duration::from_millis(50);
    assert!(store.claim_next(P, "dead", dead, short).unwrap().is_some());
    let live = store.begin_run(P, RunKind::Process, "live").unwrap();
    assert!(
        store.claim_next(P, "live", live, HOUR).unwrap().is_none(),
        "still leased"
    );
    std::thread::sleep(Duration::from_millis(120));
    let taken = store
        .claim_next(P, "live", live, HOUR)
        .unwrap()
        .expect("taken over");
    assert_eq!(taken.path, "a.py");
    assert!(matches!(
        store.complete_file(P, "a.py", "dead", &[]),
        Err(StoreError::NotHolder { .. })
    ));
    store.complete_file(P, "a.py", "live", &[]).unwrap();
}

fn concurrent_workers_claim_each_file_exactly_once(b: Backend) {
    let (dir, mut store) = store(b);
    let files = (0..80)
        .map(|i| matched(&format!("f{i:02}.py"), &format!("h{i}"), 2.0))
        .collect();
    scan(&mut store, files);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let mut handle = reopen(&dir);
            std::thread::spawn(move || {
                let holder = format!("w{w}");
                let run = handle.begin_run(P, RunKind::Process, &holder).unwrap();
                let mut mine = Vec::new();
                while let Some(f) = handle.claim_next(P, &holder, run, HOUR).expect("claim") {
                    handle
                        .complete_file(P, &f.path, &holder, &[])
                        .expect("complete");
                    mine.push(f.path);
                }
                mine
            })
        })
        .collect();
    let all: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 80, "every file once");
    assert_eq!(unique.len(), 80, "no file twice");
    assert_eq!(store.status(P).unwrap().analyzed, 80);
}

fn workers_show_files_done_held_spend_and_heartbeat(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![matched("a.py", "1", 3.0), matched("b.py", "2", 2.0)],
    );
    let run = store
        .begin_run(P, RunKind::Process, "w1: pid 7 on h")
        .unwrap();
    let done = store
        .claim_next(P, "w1: pid 7 on h", run, HOUR)
        .unwrap()
        .unwrap();
    store
        .complete_file(P, &done.path, "w1: pid 7 on h", &[])
        .unwrap();
    store
        .claim_next(P, "w1: pid 7 on h", run, HOUR)
        .unwrap()
        .unwrap();
    store
        .record_llm_call(
            P,
            &LlmCall {
                run_id: Some(run),
                path: Some("a.py".to_string()),
                finding_id: None,
                provider: "anthropic".to_string(),
                model: "claude-test".to_string(),
                input_tokens: 10,
                output_tokens: 5,
                cache_write_tokens: 0,
                cache_read_tokens: 0,
                cost_usd: Some(0.25),
            },
        )
        .unwrap();
    let before = store.workers(P, HOUR).unwrap();
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(before[0].heartbeat_at.is_none());
    store.heartbeat(run).unwrap();
    let w = &store.workers(P, HOUR).unwrap()[0];
    assert_eq!(w.run_id, run);
    assert_eq!(w.status, RunStatus::Running);
    assert_eq!(w.holder, "w1: pid 7 on h");
    assert_eq!((w.files_done, w.files_held), (1, 1));
    assert!((w.spend_usd - 0.25).abs() < 1e-9, "{w:?}");
    assert!(
        w.heartbeat_at.as_deref() >= Some(w.started_at.as_str()),
        "{w:?}"
    );

    // An ended run is listed for a while, then no more; scans are never workers.
    store.begin_run(P, RunKind::Scan, "scanner").unwrap();
    store
        .finish_run(run, RunStatus::Done, &serde_json::json!({}))
        .unwrap();
    assert_eq!(store.workers(P, HOUR).unwrap().len(), 1);
    assert!(store.workers(P, Duration::ZERO).unwrap().is_empty());
}

fn the_tree_record_and_blobs_round_trip_and_unused_blobs_are_dropped(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![matched("a.py", "ha", 2.0), matched("b.py", "hb", 1.0)],
    );
    assert_eq!(store.tree_record(P).unwrap(), Some(TreeRecord::default()));
    assert_eq!(store.tree_record("nope").unwrap(), None);
    let info = TreeInfo {
        commit: Some("0123abc".to_string()),
        origin: Some("https://example.invalid/app.git".to_string()),
    };
    store.set_tree(P, &info).unwrap();
    let bytes_a = b"print(1)\n\0\xff".to_vec();
    store
        .put_blobs(
            P,
            &[
                ("ha".to_string(), bytes_a.clone()),
                ("hb".to_string(), b"b".to_vec()),
                ("orphan".to_string(), b"gone".to_vec()),
            ],
        )
        .unwrap();
    // Storing one again keeps the first.
    store
        .put_blobs(P, &[("ha".to_string(), b"other".to_vec())])
        .unwrap();
    let record = store.tree_record(P).unwrap().unwrap();
    assert_eq!(record.commit, info.commit);
    assert_eq!(record.origin, info.origin);
    assert_eq!(record.blobs, 2, "the orphan is dropped");
    let got = store.blobs(P, &["ha", "hb", "zz"]).unwrap();
    assert_eq!(got.get("ha"), Some(&bytes_a), "bytes survive as they were");
    assert_eq!(got.len(), 2);
    let missing = store.missing_blobs(P, &["ha", "zz"]).unwrap();
    assert_eq!(missing, HashSet::from(["zz".to_string()]));
    assert!(store.blobs(P, &[]).unwrap().is_empty());
}

fn call(run: i64, path: &str, cost: f64) -> LlmCall {
    LlmCall {
        run_id: Some(run),
        path: Some(path.to_string()),
        finding_id: None,
        provider: "anthropic".to_string(),
        model: "claude-test".to_string(),
        input_tokens: 10,
        output_tokens: 5,
        cache_write_tokens: 0,
        cache_read_tokens: 0,
        cost_usd: Some(cost),
    }
}

fn a_settlement_records_spend_findings_and_ends_together_or_not_at_all(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![matched("a.py", "1", 3.0), matched("b.py", "2", 2.0)],
    );
    let run = store.begin_run(P, RunKind::Process, "w1").unwrap();
    store.claim_next(P, "w1", run, HOUR).unwrap().unwrap();
    store.claim_next(P, "w1", run, HOUR).unwrap().unwrap();

    // A bad call (a cost that is not a number) fails the whole settlement: nothing lands.
    let broken = Settlement {
        calls: vec![call(run, "a.py", 0.5), call(run, "a.py", f64::NAN)],
        files: vec![(
            "a.py".to_string(),
            FileEnd::Complete(vec![finding("a.py", "SQLi", 3, Severity::High)]),
        )],
        ..Settlement::default()
    };
    assert!(store.settle(P, "w1", &broken).is_err());
    assert_eq!(store.spend(P).unwrap().calls, 0);
    assert_eq!(store.status(P).unwrap().findings_total, 0);
    assert_eq!(store.status(P).unwrap().processing, 2);

    // b.py's lease went to another holder meanwhile: its end is not ours to write, but
    // the spend and a.py's result are.
    store.release_file(P, "b.py", "w1").unwrap();
    let other = store.begin_run(P, RunKind::Process, "w2").unwrap();
    assert_eq!(
        store
            .claim_next(P, "w2", other, HOUR)
            .unwrap()
            .unwrap()
            .path,
        "b.py"
    );
    let good = Settlement {
        calls: vec![call(run, "a.py", 0.5)],
        files: vec![
            (
                "a.py".to_string(),
                FileEnd::Complete(vec![finding("a.py", "SQLi", 3, Severity::High)]),
            ),
            ("b.py".to_string(), FileEnd::Fail("timeout".to_string())),
        ],
        ..Settlement::default()
    };
    assert_eq!(store.settle(P, "w1", &good).unwrap(), [true, false]);
    let status = store.status(P).unwrap();
    assert_eq!(
        (status.analyzed, status.failed, status.processing),
        (1, 0, 1)
    );
    assert_eq!(status.findings_total, 1);
    assert!((store.spend(P).unwrap().total_usd - 0.5).abs() < 1e-9);
}

backend_tests!(
    a_settlement_records_spend_findings_and_ends_together_or_not_at_all,
    claim_next_takes_the_best_claimable_file_with_its_hits,
    a_file_failed_in_this_run_is_not_claimed_again_by_it_but_is_by_another,
    an_expired_lease_is_taken_over_by_the_next_claim,
    concurrent_workers_claim_each_file_exactly_once,
    workers_show_files_done_held_spend_and_heartbeat,
    the_tree_record_and_blobs_round_trip_and_unused_blobs_are_dropped,
);
