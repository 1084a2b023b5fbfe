//! Stores the CLI must not use (corrupt, foreign, newer) and the scan lock.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::Duration;
use warden_store::{LockOutcome, Store};

const SCAN_LOCK: &str = "scan";

fn this_host() -> String {
    let me = warden_store::default_holder();
    me.split_once(" on ").expect("pid N on HOST").1.to_string()
}

/// A tree with one candidate and a store holding its project, but no scan yet.
fn tree_with_project() -> (Tree, Store) {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    let mut store = Store::open(&t.data_dir()).unwrap();
    store
        .ensure_project(PROJECT, &t.root.to_string_lossy())
        .unwrap();
    (t, store)
}

fn hold(store: &mut Store, holder: &str, ttl: Duration) {
    let got = store.try_lock(PROJECT, SCAN_LOCK, holder, ttl).unwrap();
    assert!(got.acquired(), "{got:?}");
}

/// Asserts `warden <cmd>` refuses the store at `db` with exit 3, naming it, leaving it untouched.
fn assert_refused(t: &Tree, db: &std::path::Path, cmd: &[&str], why: &str) {
    let before = std::fs::read(db).unwrap();
    let run = if cmd[0] == "scan" {
        t.scan(&cmd[1..])
    } else {
        run(warden()
            .args(cmd)
            .arg("--data-dir")
            .arg(db.parent().unwrap()))
    };
    run.code(3);
    let line = run.error_line();
    assert!(line.contains(db.to_str().unwrap()), "{cmd:?}: {line}");
    assert!(line.contains(why), "{cmd:?}: {line}");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        std::fs::read(db).unwrap() == before,
        "{cmd:?} changed {}",
        db.display()
    );
}

#[test]
fn a_corrupt_store_is_refused_and_left_untouched() {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    let db = t.db();
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&db, &garbage).unwrap();
    for cmd in [&["scan"][..], &["status"], &["report"]] {
        assert_refused(&t, &db, cmd, "not a usable Warden database");
    }
    assert_eq!(std::fs::read(&db).unwrap(), garbage);
}

#[test]
fn a_store_with_damaged_pages_is_refused() {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    t.scan(&[]).ok();
    let db = t.db();
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 16384, "the store has several pages");
    // Keep the header page, wreck the b-tree pages after it.
    for b in &mut bytes[4096..16384] {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).unwrap();
    let run = t.scan(&[]);
    run.code(3);
    assert!(run.error_line().contains(db.to_str().unwrap()));
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "left untouched");
}

#[test]
fn a_foreign_sqlite_database_is_refused_and_left_untouched() {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    let db = t.db();
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
             INSERT INTO users (name) VALUES ('alice');",
        )
        .unwrap();
    }
    for cmd in [&["scan"][..], &["status"], &["report"]] {
        assert_refused(&t, &db, cmd, "another application");
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let tables: i64 = conn
        .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1, "no Warden table was added");
}

#[test]
fn a_store_from_a_newer_warden_is_refused() {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    t.scan(&[]).ok();
    {
        let conn = rusqlite::Connection::open(t.db()).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 'x')",
            [],
        )
        .unwrap();
    }
    let run = t.scan(&[]);
    run.code(3);
    let line = run.error_line();
    assert!(line.contains(t.db().to_str().unwrap()), "{line}");
    assert!(line.contains("newer"), "{line}");
}

#[test]
fn a_scan_held_by_a_live_process_is_refused_naming_the_holder() {
    let (t, mut store) = tree_with_project();
    let holder = warden_store::default_holder(); // this test process: alive, same host
    hold(&mut store, &holder, Duration::from_secs(600));
    let run = t.scan(&["--json"]);
    run.code(3);
    let line = run.error_line();
    assert!(line.contains(&holder), "{line}");
    assert!(line.contains("--wait"), "{line}");
    assert!(run.stdout.is_empty());
    // The lock is still ours, and nothing was scanned.
    assert_eq!(
        store
            .lock_holder(PROJECT, SCAN_LOCK)
            .unwrap()
            .unwrap()
            .holder,
        holder
    );
    let status = store.status(PROJECT).unwrap();
    assert_eq!((status.files, status.last_scan_at), (0, None));
    // Readers do not need the lock.
    run_ok_status(&t);
}

fn run_ok_status(t: &Tree) {
    run(warden().arg("status").arg("--data-dir").arg(t.data_dir())).ok();
}

#[test]
fn a_scan_held_on_another_host_is_refused() {
    let (t, mut store) = tree_with_project();
    let holder = "pid 1 on some-other-host.example";
    hold(&mut store, holder, Duration::from_secs(600));
    let run = t.scan(&[]);
    run.code(3);
    assert!(run.error_line().contains(holder), "{}", run.stderr);
}

#[test]
fn a_lock_left_by_a_dead_process_on_this_host_is_taken_over() {
    let (t, mut store) = tree_with_project();
    let mut gone = warden()
        .arg("--version")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let holder = format!("pid {dead_pid} on {}", this_host());
    hold(&mut store, &holder, Duration::from_secs(600));

    let scan = t.scan_json(&[]);
    assert_eq!(candidate_paths(&scan), ["app.py"]);
    assert_eq!(
        store.lock_holder(PROJECT, SCAN_LOCK).unwrap(),
        None,
        "released after the scan"
    );
}

#[test]
fn an_expired_lease_is_taken_over() {
    let (t, mut store) = tree_with_project();
    let holder = "pid 1 on some-other-host.example";
    hold(&mut store, holder, Duration::from_millis(1));
    std::thread::sleep(Duration::from_millis(5));
    let scan = t.scan_json(&[]);
    assert_eq!(candidate_paths(&scan), ["app.py"]);
}

#[test]
fn a_finished_scan_releases_its_lock() {
    let (t, store) = tree_with_project();
    t.scan_json(&[]);
    assert_eq!(store.lock_holder(PROJECT, SCAN_LOCK).unwrap(), None);
    // So the next scan runs without --wait.
    t.scan_json(&[]);
}

#[test]
fn wait_waits_for_the_holder_to_release_the_lock() {
    let (t, mut store) = tree_with_project();
    let holder = warden_store::default_holder();
    hold(&mut store, &holder, Duration::from_secs(600));

    let mut child = warden()
        .arg("scan")
        .arg(&t.root)
        .args(["--json", "--wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    // The scan says whom it waits for, and has not scanned anything yet.
    assert!(
        first.contains("waiting") && first.contains(&holder),
        "expected a waiting message, got: {first:?}"
    );
    assert_eq!(store.status(PROJECT).unwrap().last_scan_at, None);
    assert!(matches!(
        store
            .try_lock(PROJECT, SCAN_LOCK, &holder, Duration::from_secs(600))
            .unwrap(),
        LockOutcome::Acquired(_)
    ));

    store.release_lock(PROJECT, SCAN_LOCK, &holder).unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{first}{rest}");
    assert!(rest.is_empty(), "{rest}");
    let scan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(candidate_paths(&scan), ["app.py"]);
    assert!(store.status(PROJECT).unwrap().last_scan_at.is_some());
}
