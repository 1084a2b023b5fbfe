//! Agent sessions, the failed files `warden status` lists, and batch claims and renewals.

use crate::common::*;
use std::time::Duration;
use warden_store::*;

const HOUR: Duration = Duration::from_secs(3600);
const STRIPE: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc9a";

fn session(path: &str, outcome: SessionOutcome, tail: Option<&str>) -> SessionRecord {
    SessionRecord {
        run_id: None,
        path: path.to_string(),
        finding_id: None,
        agent: "claude".to_string(),
        session_id: Some(format!("sess-{path}")),
        turns: 7,
        outcome,
        output_tail: tail.map(str::to_string),
        created_at: String::new(),
    }
}

fn sessions_round_trip_with_their_run_and_a_redacted_capped_tail(b: Backend) {
    let (dir, mut store) = store(b);
    let run = store.begin_run(P, RunKind::Process, "w").unwrap();
    let long = format!("{STRIPE} {}the end", "x".repeat(2 * MAX_OUTPUT_TAIL));
    let mut first = session("a.py", SessionOutcome::Failed, Some(&long));
    first.run_id = Some(run);
    let second = session("b.py", SessionOutcome::Complete, None);
    store.record_sessions(P, &[first, second]).unwrap();
    store
        .record_session(P, &session("c.py", SessionOutcome::Cancelled, Some(STRIPE)))
        .unwrap();

    let all = store.sessions(P, None).unwrap();
    let paths: Vec<&str> = all.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["a.py", "b.py", "c.py"]);
    assert_eq!(all[0].run_id, Some(run));
    assert_eq!(all[0].turns, 7);
    assert_eq!(all[0].outcome, SessionOutcome::Failed);
    assert_eq!(all[0].session_id.as_deref(), Some("sess-a.py"));
    assert!(!all[0].created_at.is_empty());
    let tail = all[0].output_tail.as_deref().unwrap();
    assert!(tail.len() <= MAX_OUTPUT_TAIL && tail.ends_with("the end"));
    let short = all[2].output_tail.as_deref().unwrap();
    assert!(
        !short.contains(STRIPE) && short.contains(redact::REDACTED_MARK),
        "{short}"
    );
    assert_eq!(store.sessions(P, Some(run)).unwrap().len(), 1);

    // In a SQLite store, not even in the raw file.
    if let Some(dir) = dir.sqlite_dir() {
        let db = std::fs::read(dir.join(DB_FILE)).unwrap_or_default();
        let wal = std::fs::read(dir.join("warden.db-wal")).unwrap_or_default();
        for bytes in [db, wal] {
            assert!(!bytes.windows(STRIPE.len()).any(|w| w == STRIPE.as_bytes()));
        }
    }
}

fn a_session_of_an_unknown_project_is_refused(b: Backend) {
    let (_dir, mut store) = store(b);
    let err = store
        .record_session("nope", &session("a.py", SessionOutcome::Failed, None))
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownProject { .. }), "{err:?}");
}

fn status_lists_failed_files_with_reason_and_the_latest_investigation_session(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![
            matched("a.py", "1", 3.0),
            matched("b.py", "2", 2.0),
            matched("c.py", "3", 1.0),
        ],
    );
    let claimed = store.claim_files(P, "w", 3, HOUR).unwrap();
    assert_eq!(claimed.len(), 3);
    store
        .fail_file(P, "a.py", "w", "unparseable output")
        .unwrap();
    store
        .fail_file(P, "b.py", "w", &format!("leaked {STRIPE}"))
        .unwrap();
    store.complete_file(P, "c.py", "w", &[]).unwrap();
    store
        .record_sessions(
            P,
            &[
                session("a.py", SessionOutcome::Failed, Some("old tail")),
                session("a.py", SessionOutcome::Failed, Some("{\"type\": \"resu")),
                session("c.py", SessionOutcome::Complete, None),
            ],
        )
        .unwrap();
    // A revalidation of a finding in a.py is not the investigation that failed.
    let mut judged = session("a.py", SessionOutcome::Complete, Some("verdict"));
    judged.finding_id = Some("f1".to_string());
    store.record_session(P, &judged).unwrap();

    let status = store.status(P).unwrap();
    assert_eq!(status.failed, 2);
    let failed = &status.failed_files;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].path, "a.py");
    assert_eq!(failed[0].reason.as_deref(), Some("unparseable output"));
    assert_eq!(failed[0].agent.as_deref(), Some("claude"));
    assert_eq!(failed[0].output_tail.as_deref(), Some("{\"type\": \"resu"));
    assert_eq!(failed[1].path, "b.py");
    assert!(!failed[1].reason.as_deref().unwrap().contains(STRIPE));
    assert_eq!(
        (failed[1].agent.as_ref(), failed[1].output_tail.as_ref()),
        (None, None)
    );
}

fn claim_paths_takes_only_claimable_files_in_one_go(b: Backend) {
    let (dir, mut store) = store(b);
    scan(
        &mut store,
        vec![
            matched("d/a.py", "1", 3.0),
            matched("d/b.py", "2", 2.0),
            matched("d/c.py", "3", 2.0),
            matched("d/none.py", "4", 0.0),
        ],
    );
    let mut other = reopen(&dir);
    assert!(other.claim_file(P, "d/b.py", "other", HOUR).unwrap());
    let got = store
        .claim_paths(P, &["d/a.py", "d/b.py", "d/none.py", "d/c.py"], "w", HOUR)
        .unwrap();
    assert_eq!(got, ["d/a.py", "d/c.py"]);
    let leases = store.file_leases(P).unwrap();
    let mine: Vec<&str> = leases
        .iter()
        .filter(|l| l.holder == "w")
        .map(|l| l.path.as_str())
        .collect();
    assert_eq!(mine, ["d/a.py", "d/c.py"]);
    assert!(store.claim_paths(P, &[], "w", HOUR).unwrap().is_empty());
    assert!(store.claim_paths(P, &["d/a.py"], " ", HOUR).is_err());
}

fn renew_leases_extends_each_held_lease_and_names_the_lost_ones(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![matched("a.py", "1", 3.0), matched("b.py", "2", 2.0)],
    );
    store
        .claim_paths(P, &["a.py", "b.py"], "w", Duration::from_secs(60))
        .unwrap();
    let before = store.file_leases(P).unwrap();
    store.release_file(P, "b.py", "w").unwrap();
    let lost = store.renew_leases(P, &["a.py", "b.py"], "w", HOUR).unwrap();
    assert_eq!(lost, ["b.py"]);
    let after = store.file_leases(P).unwrap();
    assert_eq!(after.len(), 1);
    assert!(after[0].until > before[0].until, "{after:?} vs {before:?}");
}

#[test]
fn a_store_of_schema_1_gains_the_sessions_table_on_open() {
    let (dir, store) = store(Backend::Sqlite);
    drop(store);
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch(
            "DROP TABLE agent_sessions; ALTER TABLE files DROP COLUMN surface;
             DROP TABLE blobs; DROP INDEX files_last_run; DROP INDEX runs_status;
             ALTER TABLE runs DROP COLUMN heartbeat_at;
             ALTER TABLE projects DROP COLUMN tree_commit;
             ALTER TABLE projects DROP COLUMN tree_origin;
             DROP INDEX files_claim_queue; DROP INDEX files_leases;
             DELETE FROM schema_migrations WHERE version >= 2; PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let mut store = reopen(&dir);
    store
        .record_session(P, &session("a.py", SessionOutcome::Incomplete, None))
        .unwrap();
    assert_eq!(store.sessions(P, None).unwrap().len(), 1);
}

backend_tests!(
    sessions_round_trip_with_their_run_and_a_redacted_capped_tail,
    a_session_of_an_unknown_project_is_refused,
    status_lists_failed_files_with_reason_and_the_latest_investigation_session,
    claim_paths_takes_only_claimable_files_in_one_go,
    renew_leases_extends_each_held_lease_and_names_the_lost_ones,
);
