//! `stage_review`: exactly the given files are queued, whatever their score or state.

use crate::common::*;
use std::time::Duration;
use warden_store::*;

fn review_run(store: &mut Store) -> i64 {
    store
        .begin_run(P, RunKind::Process, "pid 1 on test")
        .expect("run")
}

fn a_file_without_hits_and_an_analyzed_file_are_queued_others_untouched(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![
            matched("a.py", "h1", 2.0),
            matched("b.py", "h2", 2.0),
            matched("quiet.py", "h3", 0.0),
        ],
    );
    let lease = Duration::from_secs(60);
    assert!(store.claim_file(P, "a.py", "w", lease).unwrap());
    store.complete_file(P, "a.py", "w", &[]).unwrap();
    assert_eq!(status_of(&store, "a.py"), FileStatus::Analyzed);

    let run = review_run(&mut store);
    let queued = store
        .stage_review(
            P,
            run,
            &[
                matched("a.py", "h1", 2.0),
                matched("quiet.py", "h3", 0.0),
                matched("new.py", "h4", 0.0),
            ],
        )
        .unwrap();
    assert_eq!(queued, 3);
    let queue: Vec<String> = store
        .pending_queue(P, None)
        .unwrap()
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(queue, ["a.py", "b.py", "new.py", "quiet.py"]);
    // Nothing else was marked gone.
    assert_eq!(store.known_files(P).unwrap().len(), 4);
    let a = store
        .candidates(P, None)
        .unwrap()
        .into_iter()
        .find(|c| c.path == "a.py")
        .unwrap();
    assert_eq!(a.hits.len(), 2);
}

fn a_file_leased_by_another_holder_keeps_its_state(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(&mut store, vec![matched("a.py", "h1", 2.0)]);
    assert!(store
        .claim_file(P, "a.py", "other", Duration::from_secs(600))
        .unwrap());
    let run = review_run(&mut store);
    let queued = store
        .stage_review(P, run, &[matched("a.py", "h1", 2.0)])
        .unwrap();
    assert_eq!(queued, 0);
    assert_eq!(status_of(&store, "a.py"), FileStatus::Processing);
}

fn a_file_without_a_match_result_is_rejected(b: Backend) {
    let (_dir, mut store) = store(b);
    let run = review_run(&mut store);
    let err = store
        .stage_review(P, run, &[unchanged("a.py", "h1")])
        .unwrap_err();
    assert!(err.to_string().contains("a.py"), "{err}");
    assert!(store.known_files(P).unwrap().is_empty());
}

backend_tests!(
    a_file_without_hits_and_an_analyzed_file_are_queued_others_untouched,
    a_file_leased_by_another_holder_keeps_its_state,
    a_file_without_a_match_result_is_rejected,
);
