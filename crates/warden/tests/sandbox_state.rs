//! Tampered and corrupt state files: what is read from the data directory is checked
//! like what a user types, nothing outside the data directory is ever removed, and a
//! sandbox whose record is broken stays visible and can still be destroyed.

mod sandbox_support;

use sandbox_support::{processes_mentioning, wait_until, Sandboxes};
use std::path::Path;
use std::time::Duration;

fn write_meta_id(meta: &Path, id: &str) {
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(meta).unwrap()).unwrap();
    record["id"] = id.into();
    std::fs::write(meta, serde_json::to_string(&record).unwrap()).unwrap();
}

#[test]
fn a_tampered_snapshot_id_never_removes_anything_outside_the_data_dir() {
    let s = Sandboxes::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let victim = elsewhere.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("precious"), "keep me\n").unwrap();
    let id = s.create(&[]);
    let snap = s.ok(&["snapshot", &id]).trim().to_string();
    let snaps = s.data_dir().join("snapshots");
    // data/snapshots/../../<elsewhere>/victim is the victim.
    let evil = format!(
        "../../{}/victim",
        elsewhere.path().file_name().unwrap().to_str().unwrap()
    );
    assert!(snaps.join(&evil).join("precious").exists());
    write_meta_id(&snaps.join(&snap).join("meta.json"), &evil);

    let out = s.output(&["snapshots", "--rm", &evil]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(victim.join("precious").exists(), "the victim was removed");
    // The tampered record is no snapshot at all: not listed, not restorable.
    assert!(!s.ok(&["snapshots"]).contains("victim"));
    let out = s.output(&["create", "--snapshot", &evil]);
    assert_eq!(out.status.code(), Some(2));

    // A snapshot directory that is a symlink to the victim, with a record that fits it.
    let planted = snaps.join("snap-00ff00ff00");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    std::fs::write(
        victim.join("meta.json"),
        r#"{"id":"snap-00ff00ff00","source_sandbox":"sb-0","created_ms":1,"files":0,"bytes":0}"#,
    )
    .unwrap();
    let out = s.output(&["snapshots", "--rm", "snap-00ff00ff00"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(victim.join("precious").exists(), "the symlink was followed");
    let out = s.output(&["create", "--snapshot", "snap-00ff00ff00"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!s.ok(&["snapshots"]).contains("snap-00ff00ff00"));
}

#[test]
fn a_corrupt_record_keeps_a_running_sandbox_visible_and_destroyable() {
    let s = Sandboxes::new();
    let id = s.create(&[]);
    assert!(s
        .output(&[
            "exec",
            &id,
            "--detach",
            "--",
            "sh",
            "-c",
            "sleep 3021; true"
        ])
        .status
        .success());
    assert!(!processes_mentioning("sleep 3021").is_empty());
    std::fs::write(s.sandbox_dir(&id).join("meta.json"), "{ not json").unwrap();

    let ls = s.ok(&["ls"]);
    assert!(
        ls.lines().any(|l| l.contains(&id) && l.contains("corrupt")),
        "{ls}"
    );
    assert_eq!(s.record(&id)["status"], "corrupt");
    let out = s.output(&["exec", &id, "--", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("corrupt") && err.contains("destroy"), "{err}");

    s.ok(&["destroy", &id]);
    assert!(
        wait_until(Duration::from_secs(5), || processes_mentioning(
            "sleep 3021"
        )
        .is_empty()),
        "the sandbox's processes survived destroy"
    );
    assert!(!s.sandbox_dir(&id).exists());
    assert!(!s.ok(&["ls"]).contains(&id));
}

#[test]
fn a_record_naming_another_sandbox_is_corrupt_and_only_its_own_dir_goes() {
    let s = Sandboxes::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let victim = elsewhere.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    let id = s.create(&[]);
    let other = s.create(&[]);
    let evil = format!(
        "../../{}/victim",
        elsewhere.path().file_name().unwrap().to_str().unwrap()
    );
    write_meta_id(&s.sandbox_dir(&id).join("meta.json"), &evil);
    // A record claiming to be another sandbox must not make that one ambiguous either.
    write_meta_id(&s.sandbox_dir(&other).join("meta.json"), &other);
    let ls = s.ok(&["ls"]);
    assert!(
        ls.lines().any(|l| l.contains(&id) && l.contains("corrupt")),
        "{ls}"
    );
    assert!(!ls.contains("victim"), "{ls}");
    assert_eq!(s.output(&["destroy", &evil]).status.code(), Some(2));
    s.ok(&["destroy", &id]);
    assert!(victim.exists(), "destroy followed the id in the record");
    assert!(!s.sandbox_dir(&id).exists());
    assert_eq!(s.record(&other)["status"], "running");
}

#[test]
fn a_sandbox_whose_state_was_deleted_ends_instead_of_running_unreachable() {
    let s = Sandboxes::new();
    let id = s.create(&["--timeout", "10m"]);
    assert!(s
        .output(&[
            "exec",
            &id,
            "--detach",
            "--",
            "sh",
            "-c",
            "sleep 3022; true"
        ])
        .status
        .success());
    assert!(!processes_mentioning("sleep 3022").is_empty());
    // Nothing can reach it any more: neither `exec` nor `destroy` find its record.
    std::fs::remove_dir_all(s.sandbox_dir(&id)).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || processes_mentioning(
            "sleep 3022"
        )
        .is_empty()),
        "the sandbox's processes outlived its state"
    );
    assert!(
        wait_until(Duration::from_secs(5), || processes_mentioning(&id)
            .is_empty()),
        "its supervisor outlived its state"
    );
}
