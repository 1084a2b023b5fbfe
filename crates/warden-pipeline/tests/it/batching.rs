//! Batches: consecutive queue entries of one directory go to one investigation,
//! and every file of a batch is settled on its own.

use crate::common::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use warden_pipeline::{process, CancellationToken, Silent};
use warden_store::*;

/// Scores fix the queue order: src/a, src/b, src/c, lib/d, src/e, top.
fn tree() -> Env {
    env(&[
        ("src/a.py", 9.0),
        ("src/b.py", 8.0),
        ("src/c.py", 7.0),
        ("lib/d.py", 6.0),
        ("src/e.py", 5.0),
        ("top.py", 4.0),
    ])
}

#[tokio::test]
async fn batches_group_consecutive_files_of_a_directory_and_settle_each_file() {
    let e = tree();
    let agent = Arc::new(FakeAgent::always(8, Plan::Findings { cost: 0.5 }));
    let mut work = e.work();
    work.batch_size = 2;
    let progress = Recorder::default();
    let out = process(
        Arc::clone(&e.store),
        agent.clone(),
        work,
        e.queue(),
        &progress,
        CancellationToken::new(),
    )
    .await
    .expect("run");

    let want: Vec<Vec<&str>> = vec![
        vec!["src/a.py", "src/b.py"],
        vec!["src/c.py"],
        vec!["lib/d.py"],
        vec!["src/e.py"],
        vec!["top.py"],
    ];
    assert_eq!(agent.batches(), want);
    assert_eq!(out.queued, 6);
    assert_eq!(out.investigated, 6);
    assert_eq!(out.findings.len(), 6);
    assert!(
        (out.spend_usd - 2.5).abs() < 1e-9,
        "one call per batch: {}",
        out.spend_usd
    );
    assert_eq!(progress.done.load(Ordering::SeqCst), 6, "one tick per file");
    assert_eq!(progress.finished.load(Ordering::SeqCst), 1);
    for (path, _) in [("src/a.py", 0), ("src/b.py", 0), ("top.py", 0)] {
        assert_eq!(e.status_of(path), FileStatus::Analyzed, "{path}");
    }
    // Each file got its own finding, stored under this run.
    let store = e.store();
    let findings = store.findings(P, &FindingFilter::default()).unwrap();
    let mut paths: Vec<&str> = findings.iter().map(|f| f.reported.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["lib/d.py", "src/a.py", "src/b.py", "src/c.py", "src/e.py", "top.py"]
    );
    assert!(findings.iter().all(|f| f.reported.run_id == Some(e.run)));
    // The batch's one call is recorded once, under its first file.
    let by_file = store.spend_by_file(P, None).unwrap();
    let a = by_file.iter().find(|f| f.path == "src/a.py").unwrap();
    assert_eq!(a.calls, 1);
    assert!(by_file.iter().all(|f| f.path != "src/b.py"), "{by_file:?}");
}

#[tokio::test]
async fn the_batch_size_is_clamped_to_what_the_agent_takes() {
    let e = tree();
    let agent = Arc::new(FakeAgent::always(1, Plan::Findings { cost: 0.0 }));
    let mut work = e.work();
    work.batch_size = 4;
    let out = process(
        Arc::clone(&e.store),
        agent.clone(),
        work,
        e.queue(),
        &Silent,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(agent.batches().iter().all(|b| b.len() == 1));
    assert_eq!(out.investigated, 6);

    // And a size of 0 means one file each, not none.
    let e = tree();
    let agent = Arc::new(FakeAgent::always(8, Plan::Findings { cost: 0.0 }));
    let mut work = e.work();
    work.batch_size = 0;
    work.concurrency = 0;
    let out = process(
        Arc::clone(&e.store),
        agent.clone(),
        work,
        e.queue(),
        &Silent,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(agent.batches().len(), 6);
    assert_eq!(out.investigated, 6);
}

#[tokio::test]
async fn a_failed_or_incomplete_batch_fails_each_of_its_files_with_the_reason() {
    let e = tree();
    let agent = Arc::new(FakeAgent::new(8, |batch| {
        if batch[0] == "src/a.py" {
            Plan::Fail(unparseable)
        } else if batch[0] == "src/c.py" {
            Plan::Incomplete("turn limit reached")
        } else {
            Plan::Findings { cost: 0.0 }
        }
    }));
    let mut work = e.work();
    work.batch_size = 2;
    let out = process(
        Arc::clone(&e.store),
        agent.clone(),
        work,
        e.queue(),
        &Silent,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.failed, 3, "{:?}", out.failures);
    let failures: Vec<(&str, &str)> = out
        .failures
        .iter()
        .map(|(p, r)| (p.as_str(), r.as_str()))
        .collect();
    assert!(failures.contains(&("src/a.py", "the agent's output could not be parsed")));
    assert!(failures.contains(&("src/b.py", "the agent's output could not be parsed")));
    assert!(failures.contains(&("src/c.py", "turn limit reached")));
    assert_eq!(out.investigated, 3);
    assert!(!out.all_failed());
    // The incomplete batch's finding is kept; its file is not done.
    assert_eq!(e.status_of("src/c.py"), FileStatus::Failed);
    let status = e.store().status(P).unwrap();
    assert_eq!(status.failed, 3);
    let reasons: Vec<_> = status
        .failed_files
        .iter()
        .map(|f| (f.path.as_str(), f.reason.as_deref()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("src/a.py", Some("the agent's output could not be parsed")),
            ("src/b.py", Some("the agent's output could not be parsed")),
            ("src/c.py", Some("turn limit reached")),
        ]
    );
    assert_eq!(
        status.findings_total, 4,
        "3 complete + 1 kept from the incomplete one"
    );
}

#[tokio::test]
async fn a_file_another_process_holds_is_left_out_of_the_batch() {
    let e = tree();
    // Queued first, then taken by another process before this run claims it.
    let queue = e.queue();
    let mut other = e.other_handle();
    assert!(other
        .claim_file(
            P,
            "src/b.py",
            "another",
            std::time::Duration::from_secs(600)
        )
        .unwrap());
    let agent = Arc::new(FakeAgent::always(8, Plan::Findings { cost: 0.0 }));
    let mut work = e.work();
    work.batch_size = 3;
    let out = process(
        Arc::clone(&e.store),
        agent.clone(),
        work,
        queue,
        &Silent,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(agent.batches()[0], ["src/a.py", "src/c.py"]);
    assert_eq!((out.skipped, out.investigated), (1, 5));
    assert_eq!(e.status_of("src/b.py"), FileStatus::Processing);
}
