//! `warden sandbox` given what a careless user or an attacker would give it: bytes that
//! are not UTF-8, out-of-range numbers, allow-list entries the proxy always refuses,
//! special files, and flags that do not fit together. Each gets a clear line naming
//! what is wrong and exit 2, and nothing is left behind; bytes reach the command as given.

mod sandbox_support;

use sandbox_support::{error_lines, Sandboxes};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Output;
use std::time::{Duration, Instant};

fn os(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts exit 2 with one error line that contains every phrase.
fn assert_usage(out: &Output, what: &str, phrases: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    let lines = error_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{what}: not one line: {err}");
    for phrase in phrases {
        assert!(
            lines[0].contains(phrase),
            "{what}: {phrase:?} missing in {err}"
        );
    }
    assert!(!err.contains("panicked"), "{what}: {err}");
}

fn no_sandbox_left(s: &Sandboxes) -> bool {
    std::fs::read_dir(s.data_dir().join("sandboxes")).map_or(true, |d| d.count() == 0)
}

#[test]
fn non_utf8_arguments_and_values_reach_the_command_byte_for_byte() {
    let s = Sandboxes::new();
    let script = "printf '%s|%s' \"$1\" \"$V\"";
    // A one-shot run (namespaces built in-process), and one through bubblewrap and a
    // supervisor (a limit makes it need a cgroup, hence a sandbox directory).
    for flags in [&[][..], &["--pids", "64"][..]] {
        let out = s
            .cmd(&["run"])
            .args(flags)
            .arg("--env")
            .arg(os(b"V=\xff\xfe"))
            .args(["--", "sh", "-c", script, "sh"])
            .arg(os(b"a\xffb"))
            .output()
            .unwrap();
        assert_eq!(
            out.stdout,
            b"a\xffb|\xff\xfe",
            "run {flags:?}: {}",
            stderr(&out)
        );
        assert_eq!(out.status.code(), Some(0));
    }

    let id = s.create(&["--env", "PLAIN=1"]);
    let with_bytes = {
        let out = s
            .cmd(&["create", "--env"])
            .arg(os(b"V=\xff"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let mkdir = s
        .cmd(&["exec", &with_bytes, "--", "mkdir"])
        .arg(os(b"/tmp/d\xff"))
        .output()
        .unwrap();
    assert!(mkdir.status.success(), "{}", stderr(&mkdir));
    let out = s
        .cmd(&["exec", &with_bytes, "--cwd"])
        .arg(os(b"/tmp/d\xff"))
        .arg("--env")
        .arg(os(b"E=\xfe"))
        .args([
            "--",
            "sh",
            "-c",
            "printf '%s|%s|%s|%s' \"$1\" \"$V\" \"$E\" \"$(pwd)\"",
            "sh",
        ])
        .arg(os(b"a\xffb"))
        .output()
        .unwrap();
    assert_eq!(
        out.stdout,
        b"a\xffb|\xff|\xfe|/tmp/d\xff",
        "{}",
        stderr(&out)
    );
    // As large as Linux allows one argument (128 KiB), six times over, all non-UTF-8:
    // several MiB once encoded, and still byte for byte.
    let big = vec![0xffu8; 120_000];
    let out = s
        .cmd(&[
            "exec",
            &with_bytes,
            "--",
            "sh",
            "-c",
            "printf %s \"$@\" | wc -c; printf %s \"$@\" | tr -d '\\377' | wc -c",
            "sh",
        ])
        .args(std::iter::repeat_n(os(&big), 6))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["720000", "0"],
        "{}",
        stderr(&out)
    );
    // The record keeps the value's bytes (as byte values: JSON strings are Unicode).
    assert_eq!(s.record(&with_bytes)["env"][0][1], serde_json::json!([255]));
    assert_eq!(s.record(&id)["env"][0][1], "1");

    // cp both ways with host paths (and a sandbox path) that are not UTF-8.
    let host_in = s.tmp.path().join(os(b"in-\xff.txt"));
    std::fs::write(&host_in, "payload\n").unwrap();
    let mut dest = format!("{id}:/workspace/").into_bytes();
    dest.extend_from_slice(b"copied-\xfe.txt");
    let out = s
        .cmd(&["cp"])
        .arg(&host_in)
        .arg(os(&dest))
        .output()
        .unwrap();
    assert!(out.status.success(), "cp in: {}", stderr(&out));
    let listed = s.output(&["exec", &id, "--", "ls", "/workspace"]);
    assert_eq!(listed.stdout, b"copied-\xfe.txt\n");
    let host_out = s.tmp.path().join(os(b"out-\xfd.txt"));
    let out = s
        .cmd(&["cp"])
        .arg(os(&dest))
        .arg(&host_out)
        .output()
        .unwrap();
    assert!(out.status.success(), "cp out: {}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&host_out).unwrap(), "payload\n");
}

#[test]
fn exec_errors_name_what_is_wrong() {
    let s = Sandboxes::new();
    let id = s.create(&[]);
    let out = s.output(&["exec", &id, "--cwd", "/missing", "--", "pwd"]);
    assert_usage(&out, "exec --cwd /missing", &["/missing"]);
    assert!(!stderr(&out).contains("/usr/bin"), "{}", stderr(&out));

    let out = s.output(&["exec", &id, "--env", "NOVALUE", "--", "true"]);
    assert_usage(&out, "exec --env NOVALUE", &["--env", "K=V"]);
    let out = s.output(&["exec", &id, "--env", "=x", "--", "true"]);
    assert_usage(&out, "exec --env =x", &["--env"]);
    let out = s.output(&["exec", &id, "--timeout", "10ms", "--", "true"]);
    assert_usage(&out, "exec --timeout 10ms", &["--timeout", "100ms"]);
    let out = s.output(&["exec", &id, "--", "no-such-program-xyz"]);
    assert_usage(&out, "exec of a missing program", &["no-such-program-xyz"]);

    // cp of something that is not there is the user's mistake (2), either way.
    let out = s.output(&[
        "cp",
        s.tmp.path().join("absent").to_str().unwrap(),
        &format!("{id}:/workspace/x"),
    ]);
    assert_usage(&out, "cp of a missing host file", &["absent"]);
    let out = s.output(&[
        "cp",
        &format!("{id}:/workspace/absent"),
        s.tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_usage(&out, "cp of a missing sandbox file", &["/workspace/absent"]);
    // A FIFO given as the source is refused, not read forever.
    let fifo = s.tmp.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let out = s.output(&["cp", fifo.to_str().unwrap(), &format!("{id}:/workspace/f")]);
    assert_usage(&out, "cp of a FIFO", &["not a regular file"]);
}

#[test]
fn numeric_flags_are_checked_at_parse_time_and_documented() {
    let s = Sandboxes::new();
    let table: &[(&[&str], &str, &str)] = &[
        (&["--memory", "1K"], "--memory", "32M"),
        (&["--memory", "2048G"], "--memory", "1024G"),
        (&["--memory", "lots"], "--memory", "size"),
        (&["--pids", "0"], "--pids", "16"),
        (&["--pids", "99999999999"], "--pids", "4194304"),
        (&["--cpus", "0"], "--cpus", "0.01"),
        (&["--cpus", "NaN"], "--cpus", "0.01"),
        (&["--cpus", "100000"], "--cpus", "1024"),
        (&["--port", "0"], "--port", "1-65535"),
        (&["--port", "65536"], "--port", "1-65535"),
        (&["--port", "80", "--port", "80"], "--port 80", "twice"),
        (
            &["--timeout", "99999999999999999999d"],
            "--timeout",
            "duration",
        ),
        (&["--timeout", "18446744073709551615s"], "--timeout", "30d"),
        (&["--timeout", "100ms"], "--timeout", "1s"),
    ];
    for (args, flag, phrase) in table {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        let out = s.output(&all);
        assert_usage(&out, &format!("{args:?}"), &[flag, phrase]);
        // The same flags on `run` are the same flags.
        let mut run = vec!["run"];
        run.extend_from_slice(args);
        run.extend_from_slice(&["--", "true"]);
        assert_eq!(s.output(&run).status.code(), Some(2), "run {args:?}");
    }
    assert!(no_sandbox_left(&s));
    let help = String::from_utf8_lossy(&s.output(&["create", "--help"]).stdout).into_owned();
    for range in [
        "32M to 1024G",
        "16 to 4194304",
        "0.01 to 1024",
        "1-65535",
        "1s to 30d",
    ] {
        assert!(help.contains(range), "create --help lacks {range}: {help}");
    }
    let help = String::from_utf8_lossy(&s.output(&["exec", "--help"]).stdout).into_owned();
    assert!(help.contains("100ms to 30d"), "{help}");
    // The minimums are real: a sandbox at the smallest limits starts and runs a command.
    let id = s.create(&["--memory", "32M", "--pids", "16", "--cpus", "0.01"]);
    let (code, out, err) = s.sh(&id, "echo $(echo ok)");
    assert_eq!((code, out.as_str()), (0, "ok\n"), "{err}");
}

#[test]
fn create_refuses_what_the_proxy_would_always_refuse() {
    let s = Sandboxes::new();
    for entry in [
        "169.254.169.254",
        "127.0.0.1",
        "10.0.0.7",
        "[::1]",
        "localhost",
    ] {
        let out = s.output(&["create", "--allow", entry]);
        assert_usage(&out, entry, &["--allow", entry, "never connects"]);
    }
    assert!(no_sandbox_left(&s));
    let id = s.create(&[]);
    let out = s.output(&["policy", &id, "--allow", "localhost"]);
    assert_usage(&out, "policy --allow localhost", &["--allow localhost"]);
    assert_eq!(s.record(&id)["policy"], "deny-all");
}

#[test]
fn bad_secrets_are_usage_errors_at_create_and_never_block() {
    let s = Sandboxes::new();
    let fifo = s.tmp.path().join("key.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let fifo_spec = format!("api.test:x-api-key=file:{}", fifo.display());
    let cases: &[(&str, &[&str])] = &[
        ("garbage", &["--secret", "garbage"]),
        (&fifo_spec, &["--secret", "FIFO"]),
        ("api.test:x-api-key=file:/dev/zero", &["--secret", "device"]),
        (
            "api.test:x-api-key=env:WARDEN_TEST_SURELY_UNSET",
            &["--secret", "WARDEN_TEST_SURELY_UNSET"],
        ),
        ("localhost:x-api-key=env:HOME", &["--secret", "localhost"]),
    ];
    for (spec, phrases) in cases {
        let started = Instant::now();
        let mut child = s
            .cmd(&["create", "--secret", spec])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("create --secret {spec} blocked");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert_usage(&out, spec, phrases);
    }
    assert!(no_sandbox_left(&s));
}

#[test]
fn names_ports_and_ids_that_do_not_fit_are_refused() {
    let s = Sandboxes::new();
    for (args, phrase) in [
        (vec!["create", "--name", "a/b"], "--name"),
        (vec!["create", "--name", "../x"], "--name"),
        (vec!["create", "--name", &"n".repeat(65)], "--name"),
        (vec!["create", "--env", "NOVALUE"], "--env"),
        (vec!["create", "--broker", "acme"], "--broker"),
        (vec!["create", "--snapshot", "../../etc"], "snapshot"),
        (vec!["snapshots", "--rm", "../../etc"], "snapshot"),
        (vec!["destroy", "../../etc"], "no sandbox"),
        (vec!["exec", "../x", "--", "true"], "no sandbox"),
    ] {
        let out = s.output(&args);
        assert_usage(&out, &format!("{args:?}"), &[phrase]);
    }
    let out = s
        .cmd(&["create", "--name"])
        .arg(os(b"n\xff"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(no_sandbox_left(&s));
}
