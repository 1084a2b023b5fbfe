//! `warden sandbox`: create, exec, cp, snapshot, ls, destroy, run, ports, timeouts.

mod sandbox_support;

use sandbox_support::{error_lines, processes_mentioning, wait_until, Sandboxes};
use std::io::{Read, Write};
use std::time::Duration;

#[test]
fn run_returns_the_commands_output_and_exit_code() {
    let s = Sandboxes::new();
    let (code, out, _) = s.run_sh(&[], "echo hello; echo oops >&2; exit 7");
    assert_eq!(code, 7);
    assert_eq!(out, "hello\n");
    let out = s.output(&["run", "--", "no-such-command-xyz"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-command-xyz: command not found"));
    // Nothing is left behind by a one-shot run.
    let left: Vec<_> = std::fs::read_dir(s.data_dir().join("sandboxes"))
        .map(|d| d.count())
        .into_iter()
        .collect();
    assert_eq!(
        left.iter().sum::<usize>(),
        0,
        "run left sandbox directories"
    );
}

#[test]
fn run_timeout_kills_the_command_and_everything_it_started() {
    let s = Sandboxes::new();
    let started = std::time::Instant::now();
    let (code, _, err) = s.run_sh(&["--timeout", "1s"], "sleep 3017 & sleep 3018");
    assert_eq!(code, 124, "{err}");
    assert!(err.contains("timeout"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        wait_until(Duration::from_secs(5), || processes_mentioning(
            "sleep 3017"
        )
        .is_empty()
            && processes_mentioning("sleep 3018").is_empty()),
        "the command's processes outlived its timeout"
    );
}

#[test]
fn exec_streams_output_with_env_cwd_and_exit_code() {
    let s = Sandboxes::new();
    let id = s.create(&["--name", "lab"]);
    let out = s.output(&[
        "exec",
        "lab",
        "--env",
        "GREETING=hi there",
        "--cwd",
        "/tmp",
        "--",
        "sh",
        "-c",
        "echo \"$GREETING from $(pwd) as $(id -u)\"; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("hi there from /tmp as "), "{text}");
    // Files written by one exec are seen by the next: one sandbox, many commands.
    assert_eq!(
        s.sh(&id, "echo state > /workspace/f; echo tmp > /tmp/t").0,
        0
    );
    assert_eq!(s.sh(&id, "cat /workspace/f /tmp/t").1, "state\ntmp\n");
    // Variables given at create reach every command; exec's own win.
    let with_env = s.create(&["--env", "STAGE=create", "--env", "KEEP=1"]);
    let out = s.output(&[
        "exec",
        &with_env,
        "--env",
        "STAGE=exec",
        "--",
        "sh",
        "-c",
        "echo $STAGE $KEEP",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "exec 1\n");
    assert_eq!(s.run_sh(&["--env", "ONE=shot"], "echo $ONE").1, "shot\n");
    let record = s.record(&id);
    assert_eq!(record["status"], "running");
    assert_eq!(record["name"], "lab");
    assert!(
        record["confinement"]
            .as_str()
            .unwrap_or("")
            .contains("seccomp"),
        "{record}"
    );
    let ls = s.ok(&["ls"]);
    assert!(
        ls.contains(&id) && ls.contains("running") && ls.contains("deny-all"),
        "{ls}"
    );
}

#[test]
fn exec_timeout_kills_the_command_and_its_children() {
    let s = Sandboxes::new();
    let id = s.create(&[]);
    let out = s.output(&[
        "exec",
        &id,
        "--timeout",
        "1s",
        "--",
        "sh",
        "-c",
        "sleep 300 & sleep 301; echo never",
    ]);
    assert_eq!(
        out.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("never"));
    let (_, ps, _) = s.sh(&id, "ps -eo args");
    assert!(
        !ps.contains("sleep 30"),
        "the command's processes survived its timeout:\n{ps}"
    );
}

#[test]
fn destroy_leaves_no_process_and_no_state() {
    let s = Sandboxes::new();
    let id = s.create(&[]);
    let out = s.output(&["exec", &id, "--detach", "--", "sh", "-c", "sleep 600"]);
    assert!(out.status.success());
    let before = processes_mentioning(&id);
    assert!(!before.is_empty(), "no process of the sandbox found");
    s.ok(&["destroy", &id]);
    assert!(
        wait_until(Duration::from_secs(5), || processes_mentioning(&id)
            .is_empty()),
        "survivors: {:?}",
        processes_mentioning(&id)
    );
    assert!(!s.sandbox_dir(&id).exists());
    let out = s.output(&["exec", &id, "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no sandbox"));
}

#[test]
fn a_killed_supervisor_takes_the_sandbox_with_it() {
    let s = Sandboxes::new();
    let id = s.create(&[]);
    assert!(s
        .output(&["exec", &id, "--detach", "--", "sleep", "600"])
        .status
        .success());
    let supervisor = s.record(&id)["supervisor_pid"]
        .as_i64()
        .expect("supervisor pid") as i32;
    // SAFETY: plain kill(2) of the supervisor this test started.
    unsafe { libc_kill(supervisor, 9) };
    assert!(
        wait_until(Duration::from_secs(5), || processes_mentioning(&id)
            .is_empty()),
        "orphans: {:?}",
        processes_mentioning(&id)
    );
    assert_eq!(
        s.record(&id)["status"],
        "running",
        "the record itself still says running"
    );
    assert!(
        s.ok(&["ls"]).contains("stopped"),
        "ls must show a sandbox without supervisor as stopped"
    );
    let out = s.output(&["exec", &id, "--", "true"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not running"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.ok(&["destroy", &id]);
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn sandbox_timeout_kills_everything_and_keeps_files() {
    let s = Sandboxes::new();
    let id = s.create(&["--timeout", "2s"]);
    s.sh(&id, "echo evidence > /workspace/left.txt");
    assert!(s
        .output(&["exec", &id, "--detach", "--", "sleep", "600"])
        .status
        .success());
    assert!(
        wait_until(Duration::from_secs(10), || s.record(&id)["status"]
            == "timed-out"),
        "{}",
        s.record(&id)
    );
    assert!(
        wait_until(Duration::from_secs(5), || processes_mentioning(&id)
            .is_empty()),
        "survivors after the deadline: {:?}",
        processes_mentioning(&id)
    );
    let out = s.output(&["exec", &id, "--", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("timed-out") && err.contains("destroy"),
        "{err}"
    );
    let dest = s.tmp.path().join("left.txt");
    s.ok(&[
        "cp",
        &format!("{id}:/workspace/left.txt"),
        dest.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(dest).unwrap(), "evidence\n");
    s.ok(&["destroy", &id]);
}

#[test]
fn published_port_answers_from_the_host() {
    let s = Sandboxes::new();
    let id = s.create(&["--port", "8000"]);
    let server = "import http.server as h\nclass H(h.BaseHTTPRequestHandler):\n  def do_GET(self):\n    self.send_response(200); self.end_headers(); self.wfile.write(b'from-inside')\nh.HTTPServer(('0.0.0.0', 8000), H).serve_forever()\n";
    assert!(s
        .output(&["exec", &id, "--detach", "--", "python3", "-c", server])
        .status
        .success());
    let host_port = s.record(&id)["ports"][0]["host"]
        .as_u64()
        .expect("host port") as u16;
    assert_ne!(host_port, 0);
    assert!(s.ok(&["ls"]).contains(&format!("8000→{host_port}")));
    let mut body = String::new();
    let ok = wait_until(Duration::from_secs(10), || {
        let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", host_port)) else {
            return false;
        };
        let _ = conn.write_all(b"GET / HTTP/1.0\r\n\r\n");
        body.clear();
        let _ = conn.read_to_string(&mut body);
        body.contains("from-inside")
    });
    assert!(ok, "the published port never answered: {body:?}");
}

#[test]
fn workspace_is_a_copy_without_env_files_or_the_findings_store() {
    let s = Sandboxes::new();
    let project = s.tmp.path().join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("src/app.py"), "print('hi')\n").unwrap();
    std::fs::write(project.join(".env"), "API_KEY=sk-real-secret\n").unwrap();
    std::fs::write(project.join("src/.env.local"), "TOKEN=also-secret\n").unwrap();
    std::fs::write(project.join(".env.example"), "API_KEY=\n").unwrap();
    // Warden's findings store, at the top and in a nested project.
    for store in [".warden", "src/.warden"] {
        std::fs::create_dir_all(project.join(store)).unwrap();
        std::fs::write(project.join(store).join("warden.db"), "findings").unwrap();
    }
    let id = s.create(&["--workspace", project.to_str().unwrap()]);
    assert!(
        s.record(&id)["source"]
            .as_str()
            .is_some_and(|src| src.contains("(4 secret, .warden or special files left out)")),
        "{}",
        s.record(&id)["source"]
    );
    let (code, out, _) = s.sh(
        &id,
        "cd /workspace && find . -type f | sort; cat src/app.py; echo changed > src/app.py",
    );
    assert_eq!(code, 0);
    assert_eq!(out, "./.env.example\n./src/app.py\nprint('hi')\n");
    assert_eq!(
        std::fs::read_to_string(project.join("src/app.py")).unwrap(),
        "print('hi')\n",
        "the host tree changed"
    );
}

#[test]
fn snapshot_then_restore_keeps_what_was_installed() {
    let s = Sandboxes::new();
    let id = s.create(&[]);
    let script = "mkdir -p ~/.local/bin && printf '#!/bin/sh\\necho tool-ok\\n' > ~/.local/bin/mytool && chmod +x ~/.local/bin/mytool && echo data > /workspace/w.txt";
    assert_eq!(s.sh(&id, script).0, 0);
    // Two identical large files (as npm leaves a native binary beside its copy) share
    // their bytes in the snapshot, and come back apart when restored.
    let dup =
        "head -c 3000000 /dev/urandom > ~/.local/big && cp ~/.local/big ~/.local/bin/big-copy";
    assert_eq!(s.sh(&id, dup).0, 0);
    let snap = s.ok(&["snapshot", &id]).trim().to_string();
    assert!(snap.starts_with("snap-"), "{snap}");
    let snap_home = s
        .data_dir()
        .join("snapshots")
        .join(&snap)
        .join("home/.local");
    let ino = |p: &str| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(snap_home.join(p))
            .expect("snapshot file")
            .ino()
    };
    assert_eq!(ino("big"), ino("bin/big-copy"), "duplicates not linked");
    assert_ne!(ino("big"), ino("bin/mytool"));
    assert!(s.ok(&["snapshots"]).contains(&snap));
    let restored = s.create(&["--snapshot", &snap]);
    let (code, out, err) = s.sh(&restored, "mytool; cat /workspace/w.txt");
    assert_eq!((code, out.as_str()), (0, "tool-ok\ndata\n"), "{err}");
    // The restored sandbox has its own copy.
    s.sh(&restored, "echo changed > /workspace/w.txt");
    assert_eq!(s.sh(&id, "cat /workspace/w.txt").1, "data\n");
    let apart = "echo x >> ~/.local/big && cmp -s ~/.local/big ~/.local/bin/big-copy || echo apart";
    assert_eq!(s.sh(&restored, apart).1, "apart\n");
    s.ok(&["snapshots", "--rm", &snap]);
    assert!(!s.ok(&["snapshots"]).contains(&snap));
    let out = s.output(&["create", "--snapshot", &snap]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no snapshot"));
}

#[test]
fn cp_copies_both_ways_and_refuses_escapes() {
    let s = Sandboxes::new();
    let id = s.create(&[]);
    let host_file = s.tmp.path().join("in.txt");
    std::fs::write(&host_file, "payload\n").unwrap();
    s.ok(&[
        "cp",
        host_file.to_str().unwrap(),
        &format!("{id}:/workspace/dir-in.txt"),
    ]);
    assert_eq!(s.sh(&id, "cat /workspace/dir-in.txt").1, "payload\n");
    let host_dir = s.tmp.path().join("tree");
    std::fs::create_dir_all(host_dir.join("a/b")).unwrap();
    std::fs::write(host_dir.join("a/b/c.txt"), "deep\n").unwrap();
    s.ok(&[
        "cp",
        host_dir.to_str().unwrap(),
        &format!("{id}:/workspace"),
    ]);
    assert_eq!(s.sh(&id, "cat /workspace/tree/a/b/c.txt").1, "deep\n");
    s.sh(&id, "echo made-inside > /workspace/out.txt; ln -s /etc/passwd /workspace/link; mkdir -p /workspace/d; ln -s / /workspace/d/root");
    let out_file = s.tmp.path().join("out.txt");
    s.ok(&["cp", &format!("{id}:out.txt"), out_file.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "made-inside\n");
    for (src, dst) in [
        (
            format!("{id}:/workspace/link"),
            s.tmp.path().join("x1").display().to_string(),
        ),
        (
            format!("{id}:/workspace/d/root/etc/passwd"),
            s.tmp.path().join("x2").display().to_string(),
        ),
        (
            format!("{id}:../../etc/passwd"),
            s.tmp.path().join("x3").display().to_string(),
        ),
        (
            format!("{id}:/etc/passwd"),
            s.tmp.path().join("x4").display().to_string(),
        ),
        (
            host_file.display().to_string(),
            format!("{id}:/workspace/d/root/tmp/planted"),
        ),
        (
            host_file.display().to_string(),
            format!("{id}:/workspace/../outside"),
        ),
    ] {
        let out = s.output(&["cp", &src, &dst]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "cp {src} {dst} was not refused: {err}"
        );
        assert!(err.contains("would leave the sandbox"), "{err}");
    }
    assert!(!s.tmp.path().join("x1").exists() && !std::path::Path::new("/tmp/planted").exists());
}

#[test]
fn bad_input_gets_one_line_and_exit_2() {
    let s = Sandboxes::new();
    for args in [
        vec!["exec", "sb-nope", "--", "true"],
        vec!["destroy", "sb-nope"],
        vec!["create", "--timeout", "soon"],
        vec!["create", "--memory", "lots"],
        vec!["create", "--port", "0"],
        vec!["create", "--name", "bad name"],
        vec!["create", "--workspace", "/no/such/dir"],
        vec!["create", "--broker", "acme"],
        vec!["policy", "sb-nope", "--deny-all"],
        vec!["snapshot", "sb-nope"],
    ] {
        let out = s.output(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(error_lines(&out.stderr).len(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
    assert!(
        !s.data_dir().join("sandboxes").exists()
            || std::fs::read_dir(s.data_dir().join("sandboxes"))
                .unwrap()
                .count()
                == 0
    );
}

#[test]
fn limits_are_enforced_and_reported() {
    let s = Sandboxes::new();
    let id = s.create(&["--pids", "24", "--memory", "128M"]);
    let report = s.record(&id)["limits_report"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        report.contains("pids=24") && report.contains("memory=128 MiB"),
        "{report}"
    );
    let ls = s.ok(&["ls"]);
    assert!(ls.contains("pids=24"), "{ls}");
    if report.contains("cgroup") {
        // More processes than the limit cannot be started.
        let script = "import subprocess\nps=[]\ntry:\n  for i in range(60): ps.append(subprocess.Popen(['sleep','30']))\nexcept OSError as e: print('stopped at', len(ps))\nfor p in ps: p.kill()\n";
        let out = s.output(&["exec", &id, "--", "python3", "-c", script]);
        let text = String::from_utf8_lossy(&out.stdout);
        let n: usize = text
            .trim()
            .strip_prefix("stopped at ")
            .and_then(|n| n.parse().ok())
            .unwrap_or(999);
        assert!(
            n < 24,
            "started {n} processes under pids=24: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
