//! Leases of a batch are renewed together while the agent works, so another
//! process cannot take over a file of a long investigation.

use crate::common::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use warden_pipeline::{process, CancellationToken, Silent};
use warden_store::*;

#[tokio::test]
async fn a_batch_lease_is_renewed_while_its_investigation_runs() {
    let e = env(&[("api/a.py", 9.0), ("api/b.py", 8.0)]);
    // Four lease lengths long.
    let agent = Arc::new(FakeAgent::always(
        4,
        Plan::After(
            Duration::from_millis(1600),
            Box::new(Plan::Findings { cost: 0.0 }),
        ),
    ));
    let mut work = e.work();
    work.batch_size = 2;
    work.lease = Duration::from_millis(400);
    let run = {
        let (store, agent, queue) = (Arc::clone(&e.store), agent.clone(), e.queue());
        tokio::spawn(async move {
            process(store, agent, work, queue, &Silent, CancellationToken::new()).await
        })
    };
    until("the batch started", || {
        agent.started.load(Ordering::SeqCst) == 1
    })
    .await;
    let first = e.leases();
    assert_eq!(first.len(), 2);
    // Past two first leases: another process finds both files still held, for longer.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let mut other = e.other_handle();
    let taken = other
        .claim_paths(
            P,
            &["api/a.py", "api/b.py"],
            "another",
            Duration::from_secs(60),
        )
        .unwrap();
    assert!(taken.is_empty(), "took over {taken:?}");
    let later = e.leases();
    assert_eq!(later.len(), 2);
    for (before, after) in first.iter().zip(&later) {
        assert_eq!(after.holder, HOLDER);
        assert!(after.until > before.until, "{after:?} vs {before:?}");
    }
    let out = run.await.unwrap().unwrap();
    assert_eq!((out.investigated, out.skipped), (2, 0));
    assert_eq!(e.status_of("api/b.py"), FileStatus::Analyzed);
}

#[tokio::test]
async fn a_file_taken_over_after_its_lease_ran_out_keeps_the_other_result() {
    let e = env(&[("api/a.py", 9.0), ("api/b.py", 8.0)]);
    let agent = Arc::new(FakeAgent::always(
        4,
        Plan::After(
            Duration::from_millis(300),
            Box::new(Plan::Findings { cost: 0.0 }),
        ),
    ));
    let mut work = e.work();
    work.batch_size = 2;
    let run = {
        let (store, agent, queue) = (Arc::clone(&e.store), agent.clone(), e.queue());
        tokio::spawn(async move {
            process(store, agent, work, queue, &Silent, CancellationToken::new()).await
        })
    };
    until("the batch started", || {
        agent.started.load(Ordering::SeqCst) == 1
    })
    .await;
    // Another holder takes b.py as if our lease had run out (it gives it back first).
    let mut other = e.other_handle();
    other.release_file(P, "api/b.py", HOLDER).unwrap();
    assert!(other
        .claim_file(P, "api/b.py", "another", Duration::from_secs(60))
        .unwrap());
    let out = run.await.unwrap().unwrap();
    assert_eq!((out.investigated, out.skipped), (1, 1));
    assert_eq!(e.status_of("api/a.py"), FileStatus::Analyzed);
    let leases = e.leases();
    assert_eq!(leases.len(), 1);
    assert_eq!(
        (leases[0].path.as_str(), leases[0].holder.as_str()),
        ("api/b.py", "another")
    );
}
