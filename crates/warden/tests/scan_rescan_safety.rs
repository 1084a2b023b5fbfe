//! A re-scan that cannot see part of the tree must not take that for deleted files, and
//! a scan whose store vanished under it must not report success.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `warden scan --json` of `t` as a user that permissions stop: this one, or (as root,
/// whom they do not) `nobody`, which then needs to be able to write the store.
fn scan_unprivileged(t: &Tree) -> Run {
    let mut cmd = warden();
    cmd.arg("scan").arg(&t.root).arg("--json");
    if as_root() {
        chmod(t.tmp.path(), 0o755);
        let data = t.data_dir();
        for entry in std::fs::read_dir(&data).unwrap() {
            chmod(&entry.unwrap().path(), 0o666);
        }
        chmod(&data, 0o777);
        cmd.uid(65534).gid(65534);
    }
    run(&mut cmd)
}

fn statuses(t: &Tree) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(t.db()).unwrap();
    let mut stmt = conn
        .prepare("SELECT path, status FROM files ORDER BY path")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_root_that_became_unreadable_is_an_error_and_nothing_is_marked_gone() {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    t.write("lib/util.py", ONE_CALL_PY);
    t.scan(&["-q"]).ok();
    let before = statuses(&t);
    // Searchable but not listable: the store inside stays reachable.
    chmod(&t.root, 0o311);
    let run = scan_unprivileged(&t);
    chmod(&t.root, 0o755);
    run.code(2);
    let line = run.error_line();
    assert!(line.contains(t.root.to_str().unwrap()), "{line}");
    assert!(line.contains("Permission denied"), "{line}");
    assert_eq!(statuses(&t), before, "the store is as it was");
}

#[test]
fn files_under_an_unreadable_directory_keep_their_state() {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    t.write("lib/util.py", ONE_CALL_PY);
    t.write("gone.py", ONE_CALL_PY);
    t.scan(&["-q"]).ok();
    std::fs::remove_file(t.path("gone.py")).unwrap();
    chmod(&t.path("lib"), 0o000);
    let run = scan_unprivileged(&t);
    chmod(&t.path("lib"), 0o755);
    let scan = run.ok().json();
    assert_eq!(
        delta(&scan, "gone"),
        1,
        "only the deleted file: {:#}",
        scan["delta"]
    );
    let unvisited = scan["stats"]["unvisited"].as_array().unwrap();
    assert_eq!(unvisited, &[serde_json::json!("lib")]);
    let statuses = statuses(&t);
    let status = |p: &str| {
        statuses
            .iter()
            .find(|(f, _)| f == p)
            .map(|(_, s)| s.clone())
    };
    assert_eq!(status("lib/util.py").as_deref(), Some("pending"));
    assert_eq!(status("gone.py").as_deref(), Some("gone"));
    // And the summary names the directory it could not read.
    assert!(
        scan["stats"]["walk_errors"][0]
            .as_str()
            .unwrap()
            .contains("lib"),
        "{:#}",
        scan["stats"]
    );
}

#[test]
fn a_store_deleted_during_the_scan_is_not_a_success() {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    t.scan(&["-q"]).ok();
    // Hold the scan lock so the next scan waits, delete the database under it, then let
    // it go: the waiting scan finishes its work into a file nobody will open again.
    let mut store = t.store();
    let holder = warden_store::default_holder();
    store
        .try_lock(PROJECT, "scan", &holder, Duration::from_secs(600))
        .unwrap();
    let mut child = warden()
        .arg("scan")
        .arg(&t.root)
        .arg("--wait")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The waiting scan has the database open once it says it waits.
    let started = Instant::now();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("waiting for the scan") {
        use std::io::Read;
        let mut buf = [0u8; 256];
        let n = stderr.read(&mut buf).unwrap();
        assert!(
            n > 0 && started.elapsed() < Duration::from_secs(60),
            "no wait"
        );
        seen.extend_from_slice(&buf[..n]);
    }
    std::fs::remove_file(t.db()).unwrap();
    store.release_lock(PROJECT, "scan", &holder).unwrap();
    drop(store);
    let mut rest = String::new();
    use std::io::Read;
    stderr.read_to_string(&mut rest).unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "the store could not be used");
    let all = format!("{}{rest}", String::from_utf8_lossy(&seen));
    assert!(
        all.contains("deleted or replaced while warden was using it"),
        "{all}\n--- stdout\n{stdout}"
    );
    assert!(!stdout.contains("Scanned"), "no success summary: {stdout}");
}
