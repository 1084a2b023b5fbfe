//! Named project locks between two handles on the same database file.

use crate::common::*;
use std::time::Duration;
use warden_store::*;

const HOUR: Duration = Duration::from_secs(3600);

fn lock_is_exclusive_between_handles_until_released(b: Backend) {
    let (dir, mut a) = store(b);
    let mut b = reopen(&dir);
    let got = a.try_lock(P, "scan", "pid 1 on host-a", HOUR).unwrap();
    assert!(got.acquired());

    match b.try_lock(P, "scan", "pid 2 on host-b", HOUR).unwrap() {
        LockOutcome::Held(info) => assert_eq!(info.holder, "pid 1 on host-a"),
        other => panic!("expected Held, got {other:?}"),
    }
    let err = b
        .acquire_lock(P, "scan", "pid 2 on host-b", HOUR)
        .unwrap_err();
    match &err {
        StoreError::Locked {
            holder,
            since,
            until,
            name,
            ..
        } => {
            assert_eq!(holder, "pid 1 on host-a");
            assert_eq!(name, "scan");
            assert!(since < until);
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("pid 1 on host-a") && msg.contains(&dir.name()),
        "{msg}"
    );
    assert_eq!(
        b.lock_holder(P, "scan").unwrap().unwrap().holder,
        "pid 1 on host-a"
    );

    // Another name is another lock.
    assert!(b
        .try_lock(P, "process", "pid 2 on host-b", HOUR)
        .unwrap()
        .acquired());
    // Only the holder may release.
    let err = b.release_lock(P, "scan", "pid 2 on host-b").unwrap_err();
    assert!(matches!(err, StoreError::NotHolder { .. }), "{err:?}");
    a.release_lock(P, "scan", "pid 1 on host-a").unwrap();
    assert!(b.lock_holder(P, "scan").unwrap().is_none());
    // Releasing a free lock is fine.
    a.release_lock(P, "scan", "pid 1 on host-a").unwrap();
    assert!(b
        .try_lock(P, "scan", "pid 2 on host-b", HOUR)
        .unwrap()
        .acquired());
}

fn expired_lease_is_taken_over(b: Backend) {
    let (dir, mut a) = store(b);
    let mut b = reopen(&dir);
    assert!(a
        .try_lock(P, "scan", "a", Duration::from_millis(1))
        .unwrap()
        .acquired());
    std::thread::sleep(Duration::from_millis(20));
    assert!(
        a.lock_holder(P, "scan").unwrap().is_none(),
        "expired lease shows no holder"
    );
    match b.try_lock(P, "scan", "b", HOUR).unwrap() {
        LockOutcome::Acquired(info) => assert_eq!(info.holder, "b"),
        other => panic!("expected Acquired, got {other:?}"),
    }
    // The old holder can neither renew nor take it back.
    assert!(!a.renew_lock(P, "scan", "a", HOUR).unwrap());
    assert!(!a.try_lock(P, "scan", "a", HOUR).unwrap().acquired());
}

fn holder_retaking_its_lock_extends_the_lease_and_keeps_since(b: Backend) {
    let (_dir, mut a) = store(b);
    let first = match a.try_lock(P, "scan", "a", Duration::from_secs(1)).unwrap() {
        LockOutcome::Acquired(info) => info,
        other => panic!("{other:?}"),
    };
    let again = match a.try_lock(P, "scan", "a", HOUR).unwrap() {
        LockOutcome::Acquired(info) => info,
        other => panic!("{other:?}"),
    };
    assert_eq!(again.since, first.since);
    assert!(again.until > first.until);
    assert!(a.renew_lock(P, "scan", "a", HOUR).unwrap());
    assert!(!a.renew_lock(P, "scan", "someone else", HOUR).unwrap());
}

fn locks_need_a_known_project_and_a_holder(b: Backend) {
    let (_dir, mut a) = store(b);
    let err = a.try_lock("nope", "scan", "a", HOUR).unwrap_err();
    assert!(matches!(err, StoreError::UnknownProject { .. }), "{err:?}");
    let err = a.try_lock(P, "scan", "", HOUR).unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    // A huge lease saturates instead of overflowing.
    assert!(a
        .try_lock(P, "scan", "a", Duration::MAX)
        .unwrap()
        .acquired());
}

backend_tests!(
    lock_is_exclusive_between_handles_until_released,
    expired_lease_is_taken_over,
    holder_retaking_its_lock_extends_the_lease_and_keeps_since,
    locks_need_a_known_project_and_a_holder,
);
