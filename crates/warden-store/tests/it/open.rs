//! Opening stores: creation, reopening, and every kind of file that is not ours.

use crate::common::*;
use std::path::Path;
use warden_store::*;

fn db_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join(DB_FILE)).expect("read db")
}

fn assert_names_path(err: &StoreError, dir: &Path) {
    let msg = err.to_string();
    assert!(
        msg.contains(&dir.join(DB_FILE).display().to_string()),
        "{msg}"
    );
}

#[test]
fn open_creates_dir_and_db_marked_as_warden_in_wal_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested").join(".warden");
    let mut store = Store::open(&dir).unwrap();
    assert_eq!(store.path(), dir.join(DB_FILE));
    store.ensure_project(P, "/repo").unwrap();
    drop(store);

    let bytes = db_bytes(&dir);
    assert!(bytes.starts_with(b"SQLite format 3\0"));
    // Header bytes 68..72: application_id, big-endian "WRDN".
    assert_eq!(&bytes[68..72], b"WRDN");
    // Header bytes 18 and 19 are 2 in WAL mode.
    assert_eq!((bytes[18], bytes[19]), (2, 2));

    let store = Store::open_existing(&dir).unwrap();
    let project = store.project(P).unwrap().expect("project kept");
    assert_eq!(project.root, "/repo");
}

#[test]
fn reopening_applies_no_migration_twice_and_keeps_data() {
    let (dir, mut store) = store(Backend::Sqlite);
    scan(&mut store, vec![matched("a.py", "h1", 2.0)]);
    drop(store);
    for _ in 0..3 {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.candidates(P, None).unwrap().len(), 1);
    }
}

#[test]
fn open_existing_without_a_store_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let missing_dir = tmp.path().join("nope");
    let err = Store::open_existing(&missing_dir).unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { store } if store.as_str() == missing_dir.join(DB_FILE).display().to_string()),
        "{err:?}"
    );
    assert_names_path(&err, &missing_dir);
    assert!(
        !missing_dir.exists(),
        "open_existing must not create anything"
    );

    // An empty file is no store either, and stays empty.
    std::fs::write(tmp.path().join(DB_FILE), b"").unwrap();
    let err = Store::open_existing(tmp.path()).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert!(db_bytes(tmp.path()).is_empty());
}

#[test]
fn open_initialises_an_empty_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join(DB_FILE), b"").unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    store.ensure_project(P, "/r").unwrap();
    assert_eq!(store.projects().unwrap().len(), 1);
}

#[test]
fn garbage_file_is_corrupt_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(tmp.path().join(DB_FILE), &garbage).unwrap();
    for result in [Store::open(tmp.path()), Store::open_existing(tmp.path())] {
        let err = result.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        assert_names_path(&err, tmp.path());
    }
    assert_eq!(db_bytes(tmp.path()), garbage);
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no journal or WAL files appear: {names:?}");
}

#[test]
fn sqlite_header_with_garbage_body_is_corrupt_and_left_untouched() {
    let (dir, mut store) = store(Backend::Sqlite);
    let files = (0..200)
        .map(|i| matched(&format!("src/f{i}.py"), &format!("h{i}"), 2.0))
        .collect();
    scan(&mut store, files);
    drop(store);
    let mut bytes = db_bytes(dir.path());
    assert!(
        bytes.len() > 4 * 4096,
        "db too small for the test: {}",
        bytes.len()
    );
    // Keep the 100-byte header, destroy the rest of page 1 (the schema) and page 2.
    for (i, b) in bytes[100..8192].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    std::fs::write(dir.path().join(DB_FILE), &bytes).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert_names_path(&err, dir.path());
    assert_eq!(db_bytes(dir.path()), bytes);
}

#[test]
fn foreign_sqlite_database_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(DB_FILE);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
            .unwrap();
    }
    let before = db_bytes(tmp.path());
    let err = Store::open(tmp.path()).unwrap_err();
    assert!(matches!(err, StoreError::Foreign { .. }), "{err:?}");
    assert_names_path(&err, tmp.path());
    assert_eq!(db_bytes(tmp.path()), before);
}

#[test]
fn database_claimed_by_another_application_is_foreign_even_without_tables() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(tmp.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "application_id", 42).unwrap();
    }
    let err = Store::open(tmp.path()).unwrap_err();
    assert!(matches!(err, StoreError::Foreign { .. }), "{err:?}");
}

#[test]
fn newer_schema_is_too_new_and_left_untouched() {
    let (dir, store) = store(Backend::Sqlite);
    drop(store);
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')",
            [],
        )
        .unwrap();
    }
    let before = db_bytes(dir.path());
    let err = Store::open(dir.path()).unwrap_err();
    match &err {
        StoreError::TooNew {
            found, supported, ..
        } => {
            assert_eq!(*found, 99);
            assert!(*supported < 99);
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    assert_names_path(&err, dir.path());
    assert_eq!(db_bytes(dir.path()), before);
}

#[test]
fn a_writer_that_never_lets_go_makes_writes_busy() {
    let (dir, mut store) = store(Backend::Sqlite);
    let blocker = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = store
        .begin_run(P, RunKind::Scan, "pid 1 on test")
        .unwrap_err();
    assert!(matches!(err, StoreError::Busy { .. }), "{err:?}");
    assert_names_path(&err, dir.path());
    // Reads still work under WAL while another connection writes.
    assert!(store.project(P).unwrap().is_some());
    blocker.execute_batch("ROLLBACK").unwrap();
    assert!(store.begin_run(P, RunKind::Scan, "pid 1 on test").is_ok());
}

fn unknown_project_is_an_error_naming_project_and_db(b: Backend) {
    let (dir, mut store) = store(b);
    let err = store.known_files("other").unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownProject { id, .. } if id == "other"),
        "{err:?}"
    );
    assert!(err.to_string().contains("`other`"));
    assert!(err.to_string().contains(&dir.name()), "{err}");
    assert!(matches!(
        store.begin_run("other", RunKind::Scan, "h"),
        Err(StoreError::UnknownProject { .. })
    ));
    assert!(matches!(
        store.set_tech("other", &[]),
        Err(StoreError::UnknownProject { .. })
    ));
    assert!(matches!(
        store.status("other"),
        Err(StoreError::UnknownProject { .. })
    ));
    assert!(matches!(
        store.scan_fingerprint("other"),
        Err(StoreError::UnknownProject { .. })
    ));
    assert!(store.project("other").unwrap().is_none());
}

fn projects_upsert_root_and_keep_sorted_tech(b: Backend) {
    let (_dir, mut store) = store(b);
    store.ensure_project(P, "/moved").unwrap();
    store.ensure_project("b", "/b").unwrap();
    store
        .set_tech(P, &["python".into(), "flask".into(), "python".into()])
        .unwrap();
    let projects = store.projects().unwrap();
    assert_eq!(
        projects.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["b", P]
    );
    let p = store.project(P).unwrap().unwrap();
    assert_eq!(p.root, "/moved");
    assert_eq!(p.tech, ["flask", "python"]);
    assert!(matches!(
        store.ensure_project(" ", "/x"),
        Err(StoreError::InvalidInput { .. })
    ));
}

fn runs_finish_and_unknown_runs_are_errors(b: Backend) {
    let (_dir, mut store) = store(b);
    let run = store
        .begin_run(P, RunKind::Process, "pid 1 on test")
        .unwrap();
    let next = store
        .begin_run(P, RunKind::Process, "pid 1 on test")
        .unwrap();
    assert!(next > run);
    store
        .finish_run(run, RunStatus::Done, &serde_json::json!({"files": 3}))
        .unwrap();
    let err = store
        .finish_run(9999, RunStatus::Done, &serde_json::json!({}))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownRun { id: 9999, .. }),
        "{err:?}"
    );
    assert!(matches!(
        store.begin_run(P, RunKind::Scan, " "),
        Err(StoreError::InvalidInput { .. })
    ));
}

#[test]
fn store_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
    assert_send::<StoreError>();
}

#[test]
fn default_holder_names_pid_and_host() {
    let holder = default_holder();
    assert!(
        holder.starts_with(&format!("pid {} on ", std::process::id())),
        "{holder}"
    );
}

fn connect_existing_finds_only_a_store_that_is_there(b: Backend) {
    let fixture = Fixture::new(b);
    let err = Store::connect_existing(fixture.location()).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains(&fixture.name()), "{err}");
    assert!(err.to_string().contains("no Warden store here"), "{err}");

    let mut store = Store::connect(fixture.location()).unwrap();
    store.ensure_project(P, "/repo").unwrap();
    let existing = Store::connect_existing(fixture.location()).unwrap();
    assert_eq!(existing.projects().unwrap().len(), 1);
}

backend_tests!(
    connect_existing_finds_only_a_store_that_is_there,
    unknown_project_is_an_error_naming_project_and_db,
    projects_upsert_root_and_keep_sorted_tech,
    runs_finish_and_unknown_runs_are_errors,
);
