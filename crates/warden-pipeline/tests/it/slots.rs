//! Slots: each takes the next file as it frees up (no partitions), and each
//! investigation is prepared before its file is claimed.

use crate::common::*;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use warden_pipeline::{process, CancellationToken};

/// The files each slot investigated, in order.
fn by_slot(log: &[(usize, String)]) -> HashMap<usize, Vec<String>> {
    let mut out: HashMap<usize, Vec<String>> = HashMap::new();
    for (slot, what) in log {
        if what != "preparing" && what != "idle" {
            out.entry(*slot).or_default().push(what.clone());
        }
    }
    out
}

#[tokio::test]
async fn a_slow_file_holds_only_its_own_slot() {
    let e = env(&[
        ("slow.py", 9.0),
        ("a.py", 8.0),
        ("b.py", 7.0),
        ("c.py", 6.0),
        ("d.py", 5.0),
    ]);
    let agent = Arc::new(FakeAgent::new(1, |paths| {
        let wait = if paths[0] == "slow.py" { 1500 } else { 10 };
        Plan::After(
            Duration::from_millis(wait),
            Box::new(Plan::Findings { cost: 0.1 }),
        )
    }));
    let mut work = e.work();
    work.concurrency = 2;
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
    assert_eq!(out.investigated, 5);
    let log = progress.slot_log();
    let slots = by_slot(&log);
    let slow_slot = slots
        .iter()
        .find(|(_, files)| files.contains(&"slow.py".to_string()))
        .map(|(slot, _)| *slot)
        .expect("slow.py was investigated");
    assert_eq!(slots[&slow_slot], ["slow.py"], "{log:?}");
    let other = 1 - slow_slot;
    assert_eq!(slots[&other], ["a.py", "b.py", "c.py", "d.py"], "{log:?}");
    // ...all of them while slow.py was still being investigated.
    let slow_started = log.iter().position(|(_, w)| w == "slow.py").expect("start");
    let slow_done = log[slow_started..]
        .iter()
        .position(|(s, w)| *s == slow_slot && w == "idle")
        .map(|i| i + slow_started)
        .expect("slow.py's slot went idle");
    let last_other = log.iter().rposition(|(_, w)| w == "d.py").expect("d.py");
    assert!(last_other < slow_done, "{log:?}");
}

#[tokio::test]
async fn each_investigation_is_prepared_before_its_claim_and_few_are_wasted() {
    let e = env(&[
        ("a.py", 9.0),
        ("b.py", 8.0),
        ("c.py", 7.0),
        ("d.py", 6.0),
        ("e.py", 5.0),
    ]);
    let agent = Arc::new(
        FakeAgent::always(
            1,
            Plan::After(
                Duration::from_millis(30),
                Box::new(Plan::Findings { cost: 0.1 }),
            ),
        )
        .preparing_for(Duration::from_millis(50)),
    );
    let mut work = e.work();
    work.concurrency = 3;
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
    assert_eq!(out.investigated, 5);
    // One per investigation, and at most one per other slot left unused at the end.
    let prepared = agent.prepared.load(Ordering::SeqCst);
    assert!((5..=7).contains(&prepared), "{prepared} preparations");
    let log = progress.slot_log();
    // Replayed, the log never has more than three slots investigating, and every slot
    // prepares before its first file and ends idle.
    let mut busy: HashMap<usize, bool> = HashMap::new();
    for (slot, what) in &log {
        assert!(*slot < 3, "{log:?}");
        busy.insert(*slot, what != "preparing" && what != "idle");
        assert!(busy.values().filter(|b| **b).count() <= 3);
    }
    for slot in 0..3 {
        let states: Vec<&str> = log
            .iter()
            .filter(|(s, _)| *s == slot)
            .map(|(_, w)| w.as_str())
            .collect();
        assert_eq!(
            states.first(),
            Some(&"preparing"),
            "slot {slot}: {states:?}"
        );
        assert_eq!(states.last(), Some(&"idle"), "slot {slot}: {states:?}");
    }
    assert_eq!(by_slot(&log).values().map(Vec::len).sum::<usize>(), 5);
}

#[tokio::test]
async fn two_files_and_eight_slots_prepare_two_investigations() {
    let e = env(&[("a.py", 9.0), ("b.py", 8.0)]);
    let agent = Arc::new(FakeAgent::always(1, Plan::Findings { cost: 0.1 }));
    let mut work = e.work();
    work.concurrency = 8;
    let out = process(
        Arc::clone(&e.store),
        agent.clone(),
        work,
        e.queue(),
        &Recorder::default(),
        CancellationToken::new(),
    )
    .await
    .expect("run");
    assert_eq!(out.investigated, 2);
    assert_eq!(agent.prepared.load(Ordering::SeqCst), 2);
}
