//! Claiming candidate files under leases, and completing them.

use crate::common::*;
use std::collections::HashSet;
use std::time::Duration;
use warden_store::*;

const HOUR: Duration = Duration::from_secs(3600);

fn claims_best_score_first_and_only_candidates(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![
            matched("low.py", "1", 1.0),
            matched("hi.py", "2", 3.0),
            matched("none.py", "3", 0.0),
        ],
    );
    assert_eq!(store.claim_files(P, "w", 1, HOUR).unwrap(), ["hi.py"]);
    assert_eq!(store.claim_files(P, "w", 5, HOUR).unwrap(), ["low.py"]);
    assert!(store.claim_files(P, "w", 5, HOUR).unwrap().is_empty());
    assert!(store.claim_files(P, "w", 0, HOUR).unwrap().is_empty());
    assert_eq!(store.status(P).unwrap().processing, 2);
}

fn two_handles_claiming_concurrently_never_get_the_same_file(b: Backend) {
    let (dir, mut store) = store(b);
    let files = (0..60)
        .map(|i| matched(&format!("f{i:02}.py"), &format!("h{i}"), 2.0))
        .collect();
    scan(&mut store, files);
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let mut handle = reopen(&dir);
            std::thread::spawn(move || {
                let holder = format!("pid {w} on test");
                let mut mine = Vec::new();
                loop {
                    let got = handle.claim_files(P, &holder, 3, HOUR).expect("claim");
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got);
                }
            })
        })
        .collect();
    let results: Vec<Vec<String>> = workers
        .into_iter()
        .map(|w| w.join().expect("worker"))
        .collect();
    let total: usize = results.iter().map(Vec::len).sum();
    let distinct: HashSet<&String> = results.iter().flatten().collect();
    assert_eq!(total, 60, "every file claimed once: {results:?}");
    assert_eq!(distinct.len(), 60, "no file claimed twice");
}

fn expired_lease_is_reclaimed_and_the_old_holder_loses_it(b: Backend) {
    let (dir, mut a) = store(b);
    let mut b = reopen(&dir);
    scan(&mut a, vec![matched("a.py", "ha", 2.0)]);
    assert_eq!(
        a.claim_files(P, "a", 1, Duration::from_millis(1)).unwrap(),
        ["a.py"]
    );
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(b.claim_files(P, "b", 1, HOUR).unwrap(), ["a.py"]);

    assert!(!a.renew_lease(P, "a.py", "a", HOUR).unwrap());
    let err = a
        .complete_file(
            P,
            "a.py",
            "a",
            &[finding("a.py", "late", 1, Severity::High)],
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::NotHolder { .. }), "{err:?}");
    assert!(err.to_string().contains("a.py"));
    assert!(a.findings(P, &FindingFilter::default()).unwrap().is_empty());
    assert_eq!(status_of(&a, "a.py"), FileStatus::Processing);
    assert!(matches!(
        a.release_file(P, "a.py", "a"),
        Err(StoreError::NotHolder { .. })
    ));
    assert!(matches!(
        a.fail_file(P, "a.py", "a", "x"),
        Err(StoreError::NotHolder { .. })
    ));
    b.complete_file(P, "a.py", "b", &[]).unwrap();
    assert_eq!(status_of(&a, "a.py"), FileStatus::Analyzed);
}

fn expired_and_fresh_files_are_claimed_in_one_score_order_up_to_n(b: Backend) {
    let (dir, mut a) = store(b);
    let mut b = reopen(&dir);
    scan(
        &mut a,
        vec![
            matched("hi.py", "h1", 3.0),
            matched("mid.py", "h2", 2.0),
            matched("lo.py", "h3", 1.0),
        ],
    );
    assert_eq!(
        a.claim_files(P, "a", 1, Duration::from_millis(1)).unwrap(),
        ["hi.py"]
    );
    std::thread::sleep(Duration::from_millis(20));
    // The expired best file comes first, and one claim never takes more than n.
    assert_eq!(b.claim_files(P, "b", 1, HOUR).unwrap(), ["hi.py"]);
    assert_eq!(
        a.claim_files(P, "a", 1, Duration::from_millis(1)).unwrap(),
        ["mid.py"]
    );
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(b.claim_files(P, "b", 5, HOUR).unwrap(), ["mid.py", "lo.py"]);
    assert!(b.claim_files(P, "b", 5, HOUR).unwrap().is_empty());
}

fn renewed_lease_is_not_reclaimed(b: Backend) {
    let (dir, mut a) = store(b);
    let mut b = reopen(&dir);
    scan(&mut a, vec![matched("a.py", "ha", 2.0)]);
    a.claim_files(P, "a", 1, Duration::from_millis(1)).unwrap();
    assert!(a.renew_lease(P, "a.py", "a", HOUR).unwrap());
    std::thread::sleep(Duration::from_millis(20));
    assert!(b.claim_files(P, "b", 1, HOUR).unwrap().is_empty());
}

fn complete_file_stores_findings_iff_the_file_becomes_analyzed(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![matched("a.py", "ha", 2.0), matched("b.py", "hb", 2.0)],
    );
    store.claim_files(P, "w", 2, HOUR).unwrap();

    // A finding the store cannot keep fails the whole call: file stays claimed, no finding.
    let mut bad = finding("a.py", "bad cost", 1, Severity::High);
    bad.cost_usd = Some(f64::NAN);
    let good = finding("a.py", "SQL injection", 3, Severity::High);
    let err = store
        .complete_file(P, "a.py", "w", &[good.clone(), bad])
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    assert!(store
        .findings(P, &FindingFilter::default())
        .unwrap()
        .is_empty());
    assert_eq!(status_of(&store, "a.py"), FileStatus::Processing);

    let ids = store.complete_file(P, "a.py", "w", &[good]).unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(status_of(&store, "a.py"), FileStatus::Analyzed);
    let stored = store.finding(P, &ids[0]).unwrap().expect("finding stored");
    assert_eq!(stored.reported.title, "SQL injection");

    // Completing twice is not allowed: the lease is gone.
    let err = store.complete_file(P, "a.py", "w", &[]).unwrap_err();
    assert!(matches!(err, StoreError::NotHolder { .. }), "{err:?}");
    // A file never claimed by this holder cannot be completed.
    let err = store.complete_file(P, "b.py", "intruder", &[]).unwrap_err();
    assert!(matches!(err, StoreError::NotHolder { .. }), "{err:?}");
    assert_eq!(status_of(&store, "b.py"), FileStatus::Processing);
}

fn failed_and_released_files_are_claimable_again(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![matched("a.py", "ha", 3.0), matched("b.py", "hb", 2.0)],
    );
    store.claim_files(P, "w", 2, HOUR).unwrap();
    store
        .fail_file(P, "a.py", "w", "agent hit its turn limit")
        .unwrap();
    store.release_file(P, "b.py", "w").unwrap();
    assert_eq!(status_of(&store, "a.py"), FileStatus::Failed);
    assert_eq!(status_of(&store, "b.py"), FileStatus::Pending);
    let status = store.status(P).unwrap();
    assert_eq!(
        (status.failed, status.pending, status.processing),
        (1, 1, 0)
    );
    assert_eq!(
        store.claim_files(P, "w2", 5, HOUR).unwrap(),
        ["a.py", "b.py"]
    );
}

fn claim_file_takes_one_claimable_candidate_once(b: Backend) {
    let (dir, mut a) = store(b);
    let mut b = reopen(&dir);
    scan(
        &mut a,
        vec![matched("a.py", "ha", 2.0), matched("none.py", "hn", 0.0)],
    );
    assert!(a.claim_file(P, "a.py", "a", HOUR).unwrap());
    assert!(!b.claim_file(P, "a.py", "b", HOUR).unwrap(), "held by a");
    assert!(!a.claim_file(P, "a.py", "a", HOUR).unwrap(), "not twice");
    assert!(
        !a.claim_file(P, "none.py", "a", HOUR).unwrap(),
        "not a candidate"
    );
    assert!(!a.claim_file(P, "missing.py", "a", HOUR).unwrap());
    assert_eq!(status_of(&a, "a.py"), FileStatus::Processing);

    a.fail_file(P, "a.py", "a", "timeout").unwrap();
    assert!(
        b.claim_file(P, "a.py", "b", HOUR).unwrap(),
        "failed is claimable"
    );
    b.complete_file(P, "a.py", "b", &[]).unwrap();
    assert!(
        !a.claim_file(P, "a.py", "a", HOUR).unwrap(),
        "analyzed is done"
    );
    assert!(matches!(
        a.claim_file("nope", "a.py", "a", HOUR),
        Err(StoreError::UnknownProject { .. })
    ));
    assert!(matches!(
        a.claim_file(P, "a.py", " ", HOUR),
        Err(StoreError::InvalidInput { .. })
    ));
}

fn claim_file_takes_over_an_expired_lease(b: Backend) {
    let (dir, mut a) = store(b);
    let mut b = reopen(&dir);
    scan(&mut a, vec![matched("a.py", "ha", 2.0)]);
    assert!(a
        .claim_file(P, "a.py", "a", Duration::from_millis(1))
        .unwrap());
    std::thread::sleep(Duration::from_millis(20));
    assert!(b.claim_file(P, "a.py", "b", HOUR).unwrap());
    assert!(matches!(
        a.complete_file(P, "a.py", "a", &[]),
        Err(StoreError::NotHolder { .. })
    ));
}

fn racing_claim_file_has_exactly_one_winner_per_file(b: Backend) {
    let (dir, mut store) = store(b);
    let files = (0..30)
        .map(|i| matched(&format!("f{i:02}.py"), &format!("h{i}"), 2.0))
        .collect();
    scan(&mut store, files);
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let mut handle = reopen(&dir);
            std::thread::spawn(move || {
                (0..30)
                    .filter(|i| {
                        handle
                            .claim_file(P, &format!("f{i:02}.py"), &format!("w{w}"), HOUR)
                            .expect("claim")
                    })
                    .count()
            })
        })
        .collect();
    let won: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(won, 30);
}

fn pending_queue_lists_claimable_files_best_first(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![
            matched("low.py", "1", 1.0),
            matched("hi.py", "2", 3.0),
            matched("mid.py", "3", 2.0),
            matched("done.py", "4", 2.5),
            matched("none.py", "5", 0.0),
        ],
    );
    assert!(store.claim_file(P, "done.py", "w", HOUR).unwrap());
    store.complete_file(P, "done.py", "w", &[]).unwrap();
    assert!(store.claim_file(P, "mid.py", "w", HOUR).unwrap());
    let queue = store.pending_queue(P, None).unwrap();
    let paths: Vec<&str> = queue.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["hi.py", "low.py"]);
    assert_eq!(queue[0].hits.len(), 3);
    assert_eq!(queue[0].status, FileStatus::Pending);
    let capped = store.pending_queue(P, Some(1)).unwrap();
    assert_eq!(capped.len(), 1);
    assert_eq!(capped[0].path, "hi.py");
}

fn requeue_analyzed_puts_done_files_back_and_keeps_findings(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![
            matched("a.py", "ha", 3.0),
            matched("b.py", "hb", 2.0),
            matched("c.py", "hc", 1.0),
        ],
    );
    store.claim_files(P, "w", 3, HOUR).unwrap();
    store
        .complete_file(P, "a.py", "w", &[finding("a.py", "XSS", 1, Severity::High)])
        .unwrap();
    store.complete_file(P, "b.py", "w", &[]).unwrap();
    assert_eq!(store.requeue_analyzed(P).unwrap(), 2);
    assert_eq!(status_of(&store, "a.py"), FileStatus::Pending);
    assert_eq!(status_of(&store, "b.py"), FileStatus::Pending);
    assert_eq!(status_of(&store, "c.py"), FileStatus::Processing);
    assert_eq!(
        store.findings(P, &FindingFilter::default()).unwrap().len(),
        1
    );
    assert_eq!(store.requeue_analyzed(P).unwrap(), 0);
}

fn file_leases_lists_claims_so_a_dead_holders_files_can_be_released(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![matched("a.py", "ha", 2.0), matched("b.py", "hb", 2.0)],
    );
    assert!(store.file_leases(P).unwrap().is_empty());
    assert!(store.claim_file(P, "b.py", "dead", HOUR).unwrap());
    let leases = store.file_leases(P).unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!(
        (leases[0].path.as_str(), leases[0].holder.as_str()),
        ("b.py", "dead")
    );
    assert!(leases[0].until.is_some());
    store.release_file(P, "b.py", &leases[0].holder).unwrap();
    assert_eq!(status_of(&store, "b.py"), FileStatus::Pending);
    assert!(store.file_leases(P).unwrap().is_empty());
}

backend_tests!(
    expired_and_fresh_files_are_claimed_in_one_score_order_up_to_n,
    claims_best_score_first_and_only_candidates,
    two_handles_claiming_concurrently_never_get_the_same_file,
    expired_lease_is_reclaimed_and_the_old_holder_loses_it,
    renewed_lease_is_not_reclaimed,
    complete_file_stores_findings_iff_the_file_becomes_analyzed,
    failed_and_released_files_are_claimable_again,
    claim_file_takes_one_claimable_candidate_once,
    claim_file_takes_over_an_expired_lease,
    racing_claim_file_has_exactly_one_winner_per_file,
    pending_queue_lists_claimable_files_best_first,
    requeue_analyzed_puts_done_files_back_and_keeps_findings,
    file_leases_lists_claims_so_a_dead_holders_files_can_be_released,
);
