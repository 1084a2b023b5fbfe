//! Graceful stops: whatever ends a run early, no file stays claimed.

use crate::common::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use warden_pipeline::{process, CancellationToken, Silent, Stop};
use warden_store::*;

fn tree() -> Env {
    env(&[
        ("api/a.py", 9.0),
        ("api/b.py", 8.0),
        ("api/c.py", 7.0),
        ("db/d.py", 6.0),
        ("db/e.py", 5.0),
        ("ui/f.py", 4.0),
    ])
}

#[tokio::test]
async fn an_interrupt_in_the_middle_of_a_batch_releases_every_file_of_it() {
    let e = tree();
    let agent = Arc::new(FakeAgent::always(8, Plan::Hang));
    let mut work = e.work();
    work.batch_size = 3;
    let interrupt = CancellationToken::new();
    let run = {
        let (store, agent, interrupt) = (Arc::clone(&e.store), agent.clone(), interrupt.clone());
        let queue = e.queue();
        tokio::spawn(async move { process(store, agent, work, queue, &Silent, interrupt).await })
    };
    until("the batch started", || {
        agent.started.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(e.leases().len(), 3, "the whole batch is claimed");
    interrupt.cancel();
    let out = run.await.unwrap().unwrap();
    assert!(
        matches!(out.stop, Some(Stop::Interrupted)),
        "{:?}",
        out.stop
    );
    assert_eq!(out.released, 3);
    assert_eq!(out.not_started, 3);
    assert_eq!((out.failed, out.investigated), (0, 0));
    assert!(e.leases().is_empty());
    for path in ["api/a.py", "api/b.py", "api/c.py"] {
        assert_eq!(e.status_of(path), FileStatus::Pending, "{path}");
    }
    // The spend of the cancelled call is kept.
    assert_eq!(e.store().spend(P).unwrap().calls, 1);
}

#[tokio::test]
async fn exhausted_credits_stop_the_run_and_give_back_every_batch_in_flight() {
    let e = tree();
    let agent = Arc::new(FakeAgent::new(8, |batch| {
        if batch[0] == "db/d.py" {
            Plan::After(Duration::from_millis(50), Box::new(Plan::Fail(credits)))
        } else {
            Plan::Hang
        }
    }));
    let mut work = e.work();
    work.batch_size = 3;
    work.concurrency = 3;
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
    assert!(
        matches!(&out.stop, Some(Stop::Llm(err)) if err.stops_run()),
        "{:?}",
        out.stop
    );
    assert_eq!(out.released, 6, "both batches and the single file");
    assert_eq!(agent.cancelled.load(Ordering::SeqCst), 2);
    assert_eq!(out.failed, 0);
    assert!(e.leases().is_empty());
    assert_eq!(e.store().status(P).unwrap().pending, 6);
}

#[tokio::test]
async fn an_interrupt_before_the_run_claims_nothing() {
    let e = tree();
    let agent = Arc::new(FakeAgent::always(8, Plan::Findings { cost: 0.0 }));
    let interrupt = CancellationToken::new();
    interrupt.cancel();
    let out = process(
        Arc::clone(&e.store),
        agent.clone(),
        e.work(),
        e.queue(),
        &Silent,
        interrupt,
    )
    .await
    .unwrap();
    assert!(matches!(out.stop, Some(Stop::Interrupted)));
    assert_eq!(out.not_started, 6);
    assert!(agent.batches().is_empty());
    assert!(e.leases().is_empty());
}

/// Interrupts land at many points of a run with batches, concurrency and agents of
/// different speeds: each time every claimed file is settled or back in the queue.
#[tokio::test]
async fn orchestration_never_leaves_a_claimed_file_behind_on_cancellation() {
    for (i, after_ms) in [0u64, 1, 3, 7, 12, 20, 35, 60].into_iter().enumerate() {
        let e = tree();
        let agent = Arc::new(FakeAgent::new(8, move |batch| {
            let wait = Duration::from_millis(5 * (batch.len() as u64 + i as u64 % 3));
            Plan::After(wait, Box::new(Plan::Findings { cost: 0.01 }))
        }));
        let mut work = e.work();
        work.batch_size = 2;
        work.concurrency = 2;
        let interrupt = CancellationToken::new();
        let fire = interrupt.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            fire.cancel();
        });
        let out = process(
            Arc::clone(&e.store),
            agent,
            work,
            e.queue(),
            &Silent,
            interrupt,
        )
        .await
        .unwrap();
        assert!(
            e.leases().is_empty(),
            "after {after_ms} ms: {:?}",
            e.leases()
        );
        let accounted = out.investigated + out.released + out.not_started + out.failed;
        assert_eq!(accounted, 6, "after {after_ms} ms: {out:?}");
        let status = e.store().status(P).unwrap();
        assert_eq!(status.analyzed as usize, out.investigated);
        assert_eq!(status.pending as usize, out.released + out.not_started);
    }
}

#[tokio::test]
async fn a_run_dropped_by_its_caller_gives_its_files_back() {
    let e = tree();
    let agent = Arc::new(FakeAgent::always(8, Plan::Hang));
    let mut work = e.work();
    work.batch_size = 3;
    work.concurrency = 2;
    let run = process(
        Arc::clone(&e.store),
        agent.clone(),
        work,
        e.queue(),
        &Silent,
        CancellationToken::new(),
    );
    let gave_up = tokio::time::timeout(Duration::from_millis(200), run).await;
    assert!(gave_up.is_err(), "the agent hangs, so the run does too");
    assert_eq!(agent.started.load(Ordering::SeqCst), 2);
    assert!(e.leases().is_empty(), "{:?}", e.leases());
    assert_eq!(e.store().status(P).unwrap().pending, 6);
}

#[tokio::test]
async fn an_agent_that_panics_fails_its_files_instead_of_holding_them() {
    let e = tree();
    let agent = Arc::new(FakeAgent::new(8, |batch| {
        if batch[0] == "api/a.py" {
            Plan::Panic
        } else {
            Plan::Findings { cost: 0.0 }
        }
    }));
    let mut work = e.work();
    work.batch_size = 3;
    let out = process(
        Arc::clone(&e.store),
        agent,
        work,
        e.queue(),
        &Silent,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!((out.failed, out.investigated), (3, 3));
    assert!(out.failures[0].1.contains("the investigation task failed"));
    assert!(e.leases().is_empty());
}

#[tokio::test]
async fn max_cost_stops_before_a_batch_that_would_pass_it() {
    let e = tree();
    let agent = Arc::new(FakeAgent::always(8, Plan::Findings { cost: 1.0 }));
    let mut work = e.work();
    work.batch_size = 3;
    work.max_cost = Some(1.5);
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
    // The first batch (3 files) cost 1.0; another at that average would reach 2.0.
    assert!(
        matches!(out.stop, Some(Stop::MaxCost { cap, .. }) if cap == 1.5),
        "{:?}",
        out.stop
    );
    assert_eq!(agent.batches().len(), 1);
    assert_eq!((out.investigated, out.not_started), (3, 3));
    assert!(e.leases().is_empty());
}
