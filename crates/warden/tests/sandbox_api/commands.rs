//! Commands with ids: detached, output in host files no process inside can reach, a
//! record of how each ended that outlives the client, and signals to their group.

use crate::fixture::{library, run, runtime, sh};
use std::time::Duration;
use warden_sandbox::{parse_signal, CommandStatus, Sandbox, SandboxError, SandboxSpec, Sandboxes};

fn wait(lib: &Sandboxes, id: &str, cmd: &str) -> warden_sandbox::CommandInfo {
    runtime()
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(30), lib.wait_command(id, cmd)).await
        })
        .expect("the command did not end")
        .unwrap()
}

fn read(path: &std::path::Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

#[test]
fn a_spawned_command_writes_host_files_and_its_exit_is_recorded_without_a_client() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let sandbox = Sandbox::create(&lib, &SandboxSpec::default()).unwrap();
    let id = sandbox.id().to_string();
    let info = lib
        .spawn_command(
            &id,
            &sh("echo out; echo err >&2; read x; sleep 0.3; echo \"got $x\"; exit 3").cwd("/tmp"),
            Some(b"hello\n"),
        )
        .unwrap();
    assert!(info.id.starts_with("cmd-"), "{info:?}");
    assert_eq!(info.cwd.lossy(), "/tmp");
    assert_eq!(info.status, CommandStatus::Running);
    // Another program (a restarted server) sees the same command through its own handle.
    let other = library(tmp.path());
    let done = wait(&other, &id, &info.id);
    assert_eq!(
        (done.status, done.exit_code, done.signal),
        (CommandStatus::Exited, Some(3), None)
    );
    assert!(done.ended_ms.is_some_and(|e| e >= done.started_ms));
    assert_eq!(read(&done.stdout), "out\ngot hello\n");
    assert_eq!(read(&done.stderr), "err\n");
    assert_eq!(lib.commands(&id).unwrap(), vec![done.clone()]);
    // The logs are on the host only: nothing inside can see or reach them.
    let (seen, _) = run(
        &lib,
        &id,
        &format!("find / -name '{}*' 2>/dev/null; echo searched", done.id),
    );
    assert_eq!(seen, "searched\n");
    for bad in ["cmd-0000000000", "../meta", "cmd-../../x"] {
        let err = lib.command(&id, bad).unwrap_err();
        assert!(
            matches!(err, SandboxError::CommandNotFound { .. }),
            "{bad}: {err}"
        );
    }
    // A command that cannot start is an error now, and leaves nothing behind.
    let logs = lib.root().sandbox_dir(&id).logs_dir();
    let before = std::fs::read_dir(&logs).unwrap().count();
    let err = lib
        .spawn_command(
            &id,
            &warden_sandbox::ExecRequest::new(["no-such-program-x"]),
            None,
        )
        .unwrap_err();
    assert!(
        err.is_usage() && err.to_string().contains("no-such-program-x"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&logs).unwrap().count(), before);
    sandbox.destroy().unwrap();
}

#[test]
fn signals_reach_the_whole_process_group_and_killed_commands_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let sandbox = Sandbox::create(&lib, &SandboxSpec::default()).unwrap();
    let id = sandbox.id().to_string();
    // The shell traps it, and its sleeping child (in its group) is gone too.
    let trapped = lib
        .spawn_command(
            &id,
            &sh("trap 'echo term; exit 7' TERM; sleep 60 & echo ready; wait"),
            None,
        )
        .unwrap();
    assert!(crate::sandbox_support::wait_until(
        Duration::from_secs(10),
        || read(&trapped.stdout) == "ready\n"
    ));
    lib.kill_command(&id, &trapped.id, parse_signal("SIGTERM").unwrap())
        .unwrap();
    let done = wait(&lib, &id, &trapped.id);
    assert_eq!(
        (done.status, done.exit_code),
        (CommandStatus::Exited, Some(7))
    );
    assert_eq!(read(&done.stdout), "ready\nterm\n");
    // The group's sleep dies with the shell; the sandbox's init reaps it a moment later.
    assert!(
        crate::sandbox_support::wait_until(Duration::from_secs(10), || {
            run(&lib, &id, "pgrep -x sleep || echo none").0 == "none\n"
        }),
        "the trapped shell's sleeping child outlived the signal"
    );

    let sleeper = lib.spawn_command(&id, &sh("sleep 60"), None).unwrap();
    lib.kill_command(&id, &sleeper.id, 9).unwrap();
    let done = wait(&lib, &id, &sleeper.id);
    assert_eq!(
        (done.status, done.signal, done.exit_code),
        (CommandStatus::Killed, Some(9), Some(137))
    );
    let err = lib.kill_command(&id, &sleeper.id, 15).unwrap_err();
    assert!(matches!(err, SandboxError::CommandEnded { .. }), "{err}");
    for bad in [0, 99, -15] {
        assert!(lib
            .kill_command(&id, &sleeper.id, bad)
            .unwrap_err()
            .is_usage());
    }
    // A timeout kills it too, and is recorded as such.
    let slow = lib
        .spawn_command(
            &id,
            &sh("sleep 60").timeout(Duration::from_millis(300)),
            None,
        )
        .unwrap();
    let done = wait(&lib, &id, &slow.id);
    assert_eq!((done.status, done.timed_out), (CommandStatus::Killed, true));
    sandbox.destroy().unwrap();
}

#[test]
fn a_captured_command_takes_signals_from_its_caller() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let sandbox = Sandbox::create(&lib, &SandboxSpec::default()).unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let request = sh("trap 'echo int; exit 5' INT; sleep 60 & echo ready > /tmp/ready; wait");
    let rt = runtime();
    let out = rt.block_on(async {
        let run = lib.exec_captured_with_signals(
            sandbox.id(),
            &request,
            warden_sandbox::ExecIo::default(),
            std::future::pending(),
            rx,
        );
        let send = async {
            while run_ok(&lib, sandbox.id(), "cat /tmp/ready 2>/dev/null").await != "ready\n" {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tx.send(parse_signal("INT").unwrap()).unwrap();
            std::future::pending::<()>().await
        };
        tokio::select! {
            out = run => out,
            () = send => unreachable!(),
        }
    });
    let out = out.unwrap();
    assert_eq!(out.exit, warden_sandbox::Exit::Code(5));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "int\n");
    sandbox.destroy().unwrap();
}

async fn run_ok(lib: &Sandboxes, id: &str, script: &str) -> String {
    let out = lib
        .exec_captured(
            id,
            &sh(script),
            warden_sandbox::ExecIo::default(),
            std::future::pending(),
        )
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
