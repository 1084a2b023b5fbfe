//! The sandbox's PID 1: `warden __sandbox-init (serve|run) CONFIG [-- CMD...]`.
//!
//! bubblewrap starts it as the first process of the new namespaces (`--as-pid-1`).
//! It stays unconfined by seccomp and Landlock itself, because it must create the
//! unix sockets of the bridges, but it has no capabilities and never runs user code:
//! every command it starts is forked, confined (`confine`) and exec'd by `spawn`.
//! When it dies the kernel kills every process in the sandbox's PID namespace.

use crate::bridge;
use crate::confine::{ConfineSpec, Confinement};
use crate::os_arg::OsArg;
use crate::proto::{recv_line_with_fds, ExecEvent, ExecRequest, ExecSignal};
use crate::reaper::Reaper;
use crate::spawn::Prepared;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The first argument that selects the init instead of the CLI.
pub const INIT_ARG: &str = "__sandbox-init";

/// The longest exec request line: argv and environment as large as Linux allows
/// (a few MiB), with non-UTF-8 bytes written as numbers (up to four bytes each).
pub const MAX_REQUEST: usize = 32 << 20;

/// What the host tells the init, as JSON in its argv.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InitConfig {
    /// The environment every command starts with (values are bytes: see [`OsArg`]).
    pub env: Vec<(String, OsArg)>,
    /// Loopback ports inside carried to unix sockets of the host's egress proxy.
    pub egress: Vec<(u16, String)>,
    /// Ports inside reachable from the host through `<sock_dir>/port-<P>.sock`.
    pub publish: Vec<u16>,
    /// The directory inside where the exec and port sockets go.
    pub sock_dir: String,
    /// Descriptor to write one JSON readiness line to, then close.
    pub ready_fd: Option<i32>,
    /// Landlock: paths commands may read and execute, and paths they may also write.
    pub read_only: Vec<String>,
    pub read_write: Vec<String>,
    pub default_cwd: String,
    /// As root: the uid (and gid) to become before anything else.
    pub become_uid: Option<u32>,
    /// The read end of a pipe only the host side can write: when it closes (the
    /// supervisor died, however it died) the init exits and the kernel ends the sandbox.
    pub lifeline_fd: Option<i32>,
    /// `run` without a supervisor: after this many milliseconds the command is killed
    /// and the init exits with 124.
    pub deadline_ms: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Ready {
    pub ok: bool,
    pub error: Option<String>,
    pub confinement: Option<String>,
}

/// Entry point; `args` are the arguments after `__sandbox-init`: the mode and config
/// (written by warden, UTF-8), then the command, byte for byte. Returns the exit code.
pub fn main(args: &[OsString]) -> i32 {
    let (mode, config) = match (args.first().and_then(|m| m.to_str()), args.get(1)) {
        (Some(mode), Some(json)) => {
            match serde_json::from_slice::<InitConfig>(json.as_encoded_bytes()) {
                Ok(c) => (mode, c),
                Err(e) => return fatal(None, &format!("bad init config: {e}")),
            }
        }
        _ => return fatal(None, "usage: __sandbox-init (serve|run) CONFIG [-- CMD...]"),
    };
    if let Some(uid) = config.become_uid {
        if let Err(e) = crate::launch::become_user(uid) {
            return fatal(config.ready_fd, &format!("becoming uid {uid}: {e}"));
        }
        // Changing credentials cleared the parent-death signal bubblewrap set.
        // SAFETY: prctl with constant arguments.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    }
    if let Some(fd) = config.lifeline_fd {
        watch_lifeline(fd);
    }
    let confinement = match Confinement::prepare(&ConfineSpec {
        read_only: config.read_only.iter().map(PathBuf::from).collect(),
        read_write: config.read_write.iter().map(PathBuf::from).collect(),
    }) {
        Ok(c) => Arc::new(c),
        Err(e) => return fatal(config.ready_fd, &e.to_string()),
    };
    for (port, target) in &config.egress {
        if let Err(e) = bridge::loopback_to_unix(*port, PathBuf::from(target)) {
            return fatal(
                config.ready_fd,
                &format!("egress bridge on 127.0.0.1:{port}: {e}"),
            );
        }
    }
    for port in &config.publish {
        let path = PathBuf::from(&config.sock_dir).join(format!("port-{port}.sock"));
        if let Err(e) = bridge::unix_to_loopback(path, *port) {
            return fatal(config.ready_fd, &format!("publishing port {port}: {e}"));
        }
    }
    match mode {
        "run" => {
            let argv: Vec<OsArg> = args
                .iter()
                .skip(2)
                .skip_while(|a| *a == "--")
                .map(|a| OsArg::from(a.as_os_str()))
                .collect();
            run_one(&config, &confinement, &argv)
        }
        "serve" => serve(config, confinement),
        other => fatal(config.ready_fd, &format!("unknown init mode {other:?}")),
    }
}

fn watch_lifeline(fd: i32) {
    // SAFETY: the host passed this descriptor for this purpose alone.
    let mut pipe = unsafe { std::fs::File::from_raw_fd(fd) };
    let _ = std::thread::Builder::new()
        .name("lifeline".into())
        .spawn(move || {
            let mut buf = [0u8; 16];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                    Ok(_) => {}
                }
            }
            // PID 1 exiting takes every process of the namespace with it.
            std::process::exit(137);
        });
}

fn fatal(ready_fd: Option<i32>, message: &str) -> i32 {
    eprintln!("warden sandbox init: {message}");
    if let Some(fd) = ready_fd {
        write_ready(
            fd,
            &Ready {
                ok: false,
                error: Some(message.to_string()),
                confinement: None,
            },
        );
    }
    125
}

fn write_ready(fd: i32, ready: &Ready) {
    // SAFETY: the host passed this descriptor for us alone; we close it after writing.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut line = serde_json::to_vec(ready).unwrap_or_default();
    line.push(b'\n');
    let _ = file.write_all(&line);
}

/// The one-shot path of [`crate::direct`]: confine and run `argv`, as PID 1, in namespaces
/// the caller already set up. Returns the exit code.
pub(crate) fn run_confined(config: &InitConfig, argv: &[OsArg]) -> i32 {
    let confinement = match Confinement::prepare(&ConfineSpec {
        read_only: config.read_only.iter().map(PathBuf::from).collect(),
        read_write: config.read_write.iter().map(PathBuf::from).collect(),
    }) {
        Ok(c) => c,
        Err(e) => return fatal(None, &e.to_string()),
    };
    run_one(config, &confinement, argv)
}

/// `warden sandbox run`: one command on the init's own stdio; its exit code is ours.
fn run_one(config: &InitConfig, confinement: &Confinement, argv: &[OsArg]) -> i32 {
    let prepared = match Prepared::new(argv, &config.env, OsStr::new(&config.default_cwd)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("warden sandbox: {e}");
            return 127;
        }
    };
    let pid = match prepared.spawn([0, 1, 2], confinement) {
        Ok(pid) => pid,
        Err(e) => {
            eprintln!("warden sandbox: {e}");
            return 126;
        }
    };
    if let Some(ms) = config.deadline_ms {
        let _ = std::thread::Builder::new()
            .name("deadline".into())
            .spawn(move || {
                std::thread::sleep(Duration::from_millis(ms));
                eprintln!("warden sandbox: the command was killed after its timeout");
                // PID 1 exiting takes every process of the namespace with it.
                std::process::exit(124);
            });
    }
    loop {
        match nix::sys::wait::waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => return code,
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return 125,
        }
    }
}

fn serve(config: InitConfig, confinement: Arc<Confinement>) -> i32 {
    let path = PathBuf::from(&config.sock_dir).join("exec.sock");
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            return fatal(
                config.ready_fd,
                &format!("exec socket {}: {e}", path.display()),
            )
        }
    };
    let reaper = Reaper::start();
    if let Some(fd) = config.ready_fd {
        write_ready(
            fd,
            &Ready {
                ok: true,
                error: None,
                confinement: Some(confinement.report().summary()),
            },
        );
    }
    let config = Arc::new(config);
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let (config, confinement, reaper) = (config.clone(), confinement.clone(), reaper.clone());
        let _ = std::thread::Builder::new()
            .name("exec".into())
            .spawn(move || handle_exec(conn, &config, &confinement, &reaper));
    }
    0
}

fn send(conn: &mut UnixStream, event: &ExecEvent) {
    let mut line = serde_json::to_vec(event).unwrap_or_default();
    line.push(b'\n');
    let _ = conn.write_all(&line);
}

fn handle_exec(
    mut conn: UnixStream,
    config: &InitConfig,
    confinement: &Confinement,
    reaper: &Reaper,
) {
    let (line, fds) = match recv_line_with_fds(&conn, MAX_REQUEST) {
        Ok(got) => got,
        Err(e) => {
            return send(
                &mut conn,
                &ExecEvent::Error {
                    message: format!("bad request: {e}"),
                },
            )
        }
    };
    let request: ExecRequest = match serde_json::from_slice(&line) {
        Ok(r) => r,
        Err(e) => {
            return send(
                &mut conn,
                &ExecEvent::Error {
                    message: format!("bad request: {e}"),
                },
            )
        }
    };
    if fds.len() != 3 {
        return send(
            &mut conn,
            &ExecEvent::Error {
                message: "expected stdin, stdout and stderr".into(),
            },
        );
    }
    let mut env = config.env.clone();
    env.extend(request.env.iter().cloned());
    let cwd = match &request.cwd {
        Some(dir) => dir.as_os_str(),
        None => OsStr::new(&config.default_cwd),
    };
    let prepared = match Prepared::new(&request.argv, &env, cwd) {
        Ok(p) => p,
        Err(e) => {
            return send(
                &mut conn,
                &ExecEvent::Error {
                    message: e.to_string(),
                },
            )
        }
    };
    let stdio = [fds[0].as_raw_fd(), fds[1].as_raw_fd(), fds[2].as_raw_fd()];
    let started = prepared.spawn(stdio, confinement);
    drop(fds);
    let pid = match started {
        Ok(pid) => pid,
        Err(e) => {
            return send(
                &mut conn,
                &ExecEvent::Error {
                    message: e.to_string(),
                },
            )
        }
    };
    reaper.started();
    send(&mut conn, &ExecEvent::Started { pid });
    if request.detach {
        reaper.forget(pid);
        return;
    }
    // A closed connection (the client was killed or interrupted) ends the command;
    // until then each `ExecSignal` line is sent to its process group.
    let gone = Arc::new(AtomicBool::new(false));
    if let Ok(watch) = conn.try_clone() {
        let gone = gone.clone();
        let _ = std::thread::Builder::new()
            .name("exec-watch".into())
            .spawn(move || {
                let mut lines = std::io::BufReader::new(watch.take(1 << 20));
                let mut line = String::new();
                while matches!(std::io::BufRead::read_line(&mut lines, &mut line), Ok(n) if n > 0) {
                    let wanted = serde_json::from_str::<ExecSignal>(&line)
                        .ok()
                        .and_then(|s| Signal::try_from(s.signal).ok());
                    if let Some(signal) = wanted {
                        let _ = killpg(Pid::from_raw(pid), signal);
                    }
                    line.clear();
                }
                gone.store(true, Ordering::SeqCst);
            });
    }
    let deadline = request
        .timeout_ms
        .and_then(|ms| Instant::now().checked_add(Duration::from_millis(ms)));
    let group = Pid::from_raw(pid);
    loop {
        let step = Instant::now() + Duration::from_millis(100);
        let until = deadline.map_or(step, |d| d.min(step));
        if let Some(status) = reaper.wait(pid, until) {
            let (code, signal) = match status {
                WaitStatus::Exited(_, code) => (code, None),
                WaitStatus::Signaled(_, sig, _) => (128 + sig as i32, Some(sig as i32)),
                _ => (125, None),
            };
            send(
                &mut conn,
                &ExecEvent::Exited {
                    code,
                    signal,
                    timed_out: false,
                },
            );
            break;
        }
        let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
        if timed_out || gone.load(Ordering::SeqCst) {
            let _ = killpg(group, Signal::SIGKILL);
            let _ = reaper.wait(pid, Instant::now() + Duration::from_secs(5));
            send(
                &mut conn,
                &ExecEvent::Exited {
                    code: 124,
                    signal: Some(9),
                    timed_out,
                },
            );
            break;
        }
    }
    let _ = conn.shutdown(std::net::Shutdown::Both);
}
