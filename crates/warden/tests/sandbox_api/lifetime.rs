//! Stop (processes end, files stay) and extend-timeout (the supervisor's deadline moves).

use crate::fixture::{library, run};
use crate::sandbox_support::{processes_mentioning, wait_until};
use std::path::Path;
use std::time::Duration;
use warden_sandbox::{
    CommandStatus, NetworkPolicy, PolicyUpdate, SandboxError, SandboxSpec, Status,
};

#[test]
fn stop_ends_every_process_keeps_the_files_and_destroy_still_removes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let meta = lib.create(&SandboxSpec::default()).unwrap();
    let id = meta.id.clone();
    run(&lib, &id, "echo kept > /workspace/file.txt");
    let sleeper = lib
        .spawn_command(&id, &crate::fixture::sh("sleep 300"), None)
        .unwrap();
    let stopped = lib.stop(&id).unwrap();
    assert_eq!(stopped.status, Status::Stopped);
    assert!(stopped
        .end_reason
        .unwrap_or_default()
        .contains("stopped on request"));
    assert_eq!(lib.find(&id).unwrap().1.effective_status(), Status::Stopped);
    assert!(
        wait_until(Duration::from_secs(5), || processes_mentioning(&id)
            .is_empty()),
        "left running: {:?}",
        processes_mentioning(&id)
    );
    assert_eq!(
        lib.command(&id, &sleeper.id).unwrap().status,
        CommandStatus::Killed
    );
    // Stopping again answers the same; running things in it does not work.
    assert_eq!(lib.stop(&id).unwrap().status, Status::Stopped);
    let err = lib
        .spawn_command(&id, &crate::fixture::sh("true"), None)
        .unwrap_err();
    assert!(matches!(err, SandboxError::NotRunning { .. }), "{err}");
    let err = lib
        .update_policy(
            &id,
            &PolicyUpdate {
                policy: NetworkPolicy::AllowAll,
                ..PolicyUpdate::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, SandboxError::NotRunning { .. }), "{err}");
    // Its files are still there: copied out, snapshotted, then removed with it.
    let out = tmp.path().join("out.txt");
    lib.copy_out(&id, Path::new("/workspace/file.txt"), &out)
        .unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "kept\n");
    let snap = lib.snapshot(&id).unwrap();
    assert!(snap.files >= 1, "{snap:?}");
    lib.destroy(&id).unwrap();
    assert!(!lib.root().sandbox_dir(&id).path().exists());
}

#[test]
fn an_extended_deadline_moves_the_supervisors_own() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let meta = lib
        .create(&SandboxSpec {
            timeout: Some(Duration::from_secs(2)),
            ..SandboxSpec::default()
        })
        .unwrap();
    let id = meta.id.clone();
    let before = meta.deadline_ms.unwrap();
    let after = lib.extend_timeout(&id, Duration::from_secs(4)).unwrap();
    let moved = after.deadline_ms.unwrap();
    assert!(moved >= before + 4000, "{before} -> {moved}");
    assert_eq!(lib.find(&id).unwrap().1.deadline_ms, Some(moved));
    // Past the first deadline it still runs; past the new one it is ended.
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(run(&lib, &id, "echo alive").0, "alive\n");
    assert!(wait_until(Duration::from_secs(20), || lib
        .find(&id)
        .is_ok_and(|(_, m)| m.status == Status::TimedOut)));
    assert!(lib.extend_timeout(&id, Duration::from_secs(1)).is_err());
    let none = lib
        .create(&SandboxSpec {
            timeout: None,
            ..SandboxSpec::default()
        })
        .unwrap();
    let same = lib
        .extend_timeout(&none.id, Duration::from_secs(60))
        .unwrap();
    assert_eq!(same.deadline_ms, None);
    lib.destroy(&none.id).unwrap();
    lib.destroy(&id).unwrap();
}

#[test]
fn the_cli_stops_and_extends() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let warden = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
            .arg("sandbox")
            .args(args)
            .env("WARDEN_DATA_DIR", tmp.path().join("data"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let id = lib.create(&SandboxSpec::default()).unwrap().id;
    let before = lib.find(&id).unwrap().1.deadline_ms.unwrap();
    let out = warden(&["extend", &id, "30m"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(printed >= before + 30 * 60 * 1000, "{before} -> {printed}");
    assert_eq!(warden(&["extend", &id, "soon"]).status.code(), Some(2));
    assert!(warden(&["stop", &id]).status.success());
    assert_eq!(lib.find(&id).unwrap().1.status, Status::Stopped);
    assert!(warden(&["destroy", &id]).status.success());
}
