//! The per-sandbox supervisor: a host process that owns one sandbox's life.
//!
//! `warden sandbox create` starts it detached (`warden __sandbox-supervise DIR`), so
//! the sandbox outlives the command. It starts the egress proxy, bubblewrap (with
//! `--die-with-parent`, so the sandbox cannot outlive it) and the published ports,
//! then waits for one of: a `destroy` or `policy` request on `ctl.sock`, the deadline,
//! or the sandbox ending on its own.

use crate::error::{IoContext, Result, SandboxError};
use crate::init::{InitConfig, Ready};
use crate::launch::{self, Launch, Mode, Place};
use crate::limits::Cgroup;
use crate::net::Net;
use crate::spec::NetworkPolicy;
use crate::state::{now_ms, SandboxDir, SandboxMeta, Status};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Stdio;
use std::time::Duration;

/// How often the supervisor checks that its sandbox can still be reached.
const ORPHAN_CHECK: Duration = Duration::from_secs(2);

pub const SUPERVISE_ARG: &str = "__sandbox-supervise";
/// The descriptor number on which a starting supervisor reports to `create`.
pub const READY_FD_ENV: &str = "WARDEN_SUPERVISOR_READY_FD";

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub(crate) enum CtlRequest {
    /// A new policy; `deny` and `transforms` are replaced too when given, else kept.
    Policy {
        policy: NetworkPolicy,
        #[serde(default)]
        deny: Option<Vec<String>>,
        #[serde(default)]
        transforms: Option<Vec<crate::rules::TransformWire>>,
    },
    Destroy,
    Ping,
    /// Start a command whose output goes to files and whose end is recorded
    /// ([`crate::commands`]); answers its `CommandInfo`.
    Spawn {
        request: crate::proto::ExecRequest,
        stdin: Option<crate::os_arg::OsArg>,
    },
    /// Send a signal to a spawned command's process group.
    Signal {
        command: String,
        signal: i32,
    },
    /// Move the deadline this much later; answers the new `deadline_ms`.
    ExtendTimeout {
        by_ms: u64,
    },
    /// End every process and keep the files (status `stopped`); the supervisor exits.
    Stop,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CtlReply {
    pub ok: bool,
    pub error: Option<String>,
    /// What a request that answers something answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// Entry point of `warden __sandbox-supervise DIR`. Returns the exit code.
pub fn main(args: &[std::ffi::OsString]) -> i32 {
    let Some(dir) = args.first() else {
        eprintln!("usage: {SUPERVISE_ARG} DIR");
        return 2;
    };
    // A session of its own: the supervisor outlives the command that created it.
    // SAFETY: setsid has no memory effects; failing (already a leader) is fine.
    unsafe { libc::setsid() };
    let ready_fd = std::env::var(READY_FD_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("supervisor: no runtime: {e}");
            return 1;
        }
    };
    let sandbox = SandboxDir::at(dir);
    // The brokered credentials and header transforms, from `create` on stdin; then
    // stdin is closed for good.
    let input: crate::control::SupervisorInput = {
        let mut text = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut text);
        if text.is_empty() {
            Default::default()
        } else {
            match serde_json::from_slice(&text) {
                Ok(input) => input,
                Err(e) => {
                    // Position only: serde's message may quote a value.
                    report(
                        ready_fd,
                        Err(SandboxError::Start(format!(
                            "bad brokered credentials (at byte column {})",
                            e.column()
                        ))),
                    );
                    return 1;
                }
            }
        }
    };
    let transforms = crate::rules::from_wire(input.transforms);
    let plans = input.plans;
    runtime.block_on(async move {
        match Started::start(&sandbox, &plans, &transforms).await {
            Err(e) => {
                let message = e.to_string();
                eprintln!("supervisor: {message}");
                let _ = sandbox.update(|m| {
                    m.status = Status::Failed;
                    m.ended_ms = Some(now_ms());
                    m.end_reason = Some(message.clone());
                });
                report(ready_fd, Err(e));
                1
            }
            Ok(started) => {
                report(ready_fd, Ok(()));
                started.serve().await
            }
        }
    })
}

/// Tells `create` how the start went: `ok`, `usage MESSAGE` (the user's input was
/// wrong: exit 2) or `error MESSAGE`. The message is the bare reason: `create` adds
/// "the sandbox failed to start" once.
fn report(fd: Option<i32>, outcome: Result<()>) {
    let Some(fd) = fd else { return };
    if fd == 1 {
        // The ready pipe is our stdout: say the word, then point stdout at the log
        // (our stderr), which also closes the pipe for `create`.
        let _ = std::io::Write::write_all(&mut std::io::stdout(), ready_line(outcome).as_bytes());
        let _ = std::io::Write::flush(&mut std::io::stdout());
        // SAFETY: duplicating our own stderr over our own stdout.
        unsafe { libc::dup2(2, 1) };
        return;
    }
    // SAFETY: `create` passed this descriptor to us alone.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    let _ = std::io::Write::write_all(&mut file, ready_line(outcome).as_bytes());
}

fn ready_line(outcome: Result<()>) -> String {
    match outcome {
        Ok(()) => "ok\n".to_string(),
        Err(e) => {
            let kind = if e.is_usage() { "usage" } else { "error" };
            let message = match e {
                SandboxError::Start(m) => m,
                other => other.to_string(),
            };
            format!("{kind} {}\n", message.replace('\n', " "))
        }
    }
}

#[path = "supervisor_ctl.rs"]
mod ctl;

/// How long until `deadline_ms` (none: a century).
fn until(deadline_ms: Option<u64>) -> Duration {
    deadline_ms
        .map(|d| Duration::from_millis(d.saturating_sub(now_ms())))
        .unwrap_or(Duration::from_secs(86400 * 365 * 100))
}

struct Started {
    sandbox: SandboxDir,
    /// Commands started through `Spawn`, by id.
    running: crate::command_runner::Running,
    /// The control socket's listener, bound before the sandbox is reported running.
    ctl: Option<tokio::net::UnixListener>,
    child: tokio::process::Child,
    cgroup: Option<Cgroup>,
    net: Net,
    meta: SandboxMeta,
    _lifeline: OwnedFd,
}

/// Starts the proxy, the cgroup and bubblewrap, and waits for the init to be ready.
/// A started sandbox: bubblewrap's process, the cgroup, and the lifeline whose closing ends it.
pub(crate) struct Launched {
    pub child: tokio::process::Child,
    pub cgroup: Option<Cgroup>,
    pub init_pid: Option<i32>,
    pub lifeline: OwnedFd,
}

pub(crate) async fn launch(
    exe: &std::path::Path,
    sandbox: &SandboxDir,
    meta: &SandboxMeta,
    net: &Net,
    mode: Mode,
    stdio: (Stdio, Stdio, Stdio),
) -> Result<Launched> {
    let (cgroup, limits_report) =
        crate::lifecycle::make_cgroup(meta, matches!(mode, Mode::Run(_)))?;
    let attach = match &cgroup {
        Some(cg) => Some(cg.prepare_attach()?),
        None => None,
    };
    let serve = matches!(mode, Mode::Serve);
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| SandboxError::io("pipe", e.into()))?;
    let (info_r, info_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| SandboxError::io("pipe", e.into()))?;
    let (lifeline_r, lifeline_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| SandboxError::io("pipe", e.into()))?;
    let config = InitConfig {
        env: crate::lifecycle::base_env(meta, net),
        egress: net.init_egress.clone(),
        publish: meta.ports.iter().map(|p| p.sandbox).collect(),
        sock_dir: launch::SOCK_DIR.into(),
        ready_fd: serve.then_some(ready_w.as_raw_fd()),
        read_only: launch::readable_paths(),
        read_write: launch::writable_paths(),
        default_cwd: launch::WORKSPACE.into(),
        become_uid: launch::as_root().then_some(launch::SANDBOX_UID),
        lifeline_fd: Some(lifeline_r.as_raw_fd()),
        deadline_ms: None,
    };
    let mut launch = Launch::new(
        exe,
        Place::Dir(sandbox, meta),
        &config,
        &mode,
        attach,
        &[info_w.as_raw_fd(), lifeline_r.as_raw_fd()],
        Some(info_w.as_raw_fd()),
    )?;
    launch.stdio(stdio.0, stdio.1, stdio.2);
    let child = launch.spawn_tokio()?;
    drop(ready_w);
    drop(info_w);
    drop(lifeline_r);
    let init_pid = tokio::task::spawn_blocking(move || read_child_pid(info_r))
        .await
        .ok()
        .flatten();
    let ready = if serve {
        let line = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::task::spawn_blocking(move || read_line(ready_r)),
        )
        .await
        .map_err(|_| SandboxError::Start("the sandbox did not become ready within 30 s".into()))?
        .map_err(|e| SandboxError::Start(e.to_string()))?;
        let ready: Ready = serde_json::from_str(&line).map_err(|_| {
            let log = crate::files::read_small(&sandbox.supervisor_log()).unwrap_or_default();
            let last = log
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no output");
            SandboxError::Start(format!(
                "bubblewrap exited before the sandbox was ready: {last}"
            ))
        })?;
        if !ready.ok {
            return Err(SandboxError::Start(ready.error.unwrap_or_default()));
        }
        Some(ready)
    } else {
        None
    };
    let _ = sandbox.update(|m| {
        m.limits_report = Some(limits_report.clone());
        m.cgroup = cgroup
            .as_ref()
            .map(|_| crate::lifecycle::cgroup_name(&m.id));
        m.init_pid = init_pid;
        if let Some(r) = &ready {
            m.confinement = r.confinement.clone();
        }
    });
    Ok(Launched {
        child,
        cgroup,
        init_pid,
        lifeline: lifeline_w,
    })
}

fn read_line(fd: OwnedFd) -> String {
    let mut line = String::new();
    let _ = BufReader::new(std::fs::File::from(fd)).read_line(&mut line);
    line
}

/// bubblewrap's `--info-fd` JSON: `{"child-pid": N, ...}`.
fn read_child_pid(fd: OwnedFd) -> Option<i32> {
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("child-pid")?.as_i64().map(|p| p as i32)
}

impl Started {
    async fn start(
        sandbox: &SandboxDir,
        plans: &[crate::broker::BrokerPlan],
        transforms: &[crate::rules::HeaderTransform],
    ) -> Result<Started> {
        let meta = sandbox.load()?;
        let net = Net::start(sandbox, &meta, plans, transforms).await?;
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(sandbox.supervisor_log())
            .context(|| "opening supervisor.log".into())?;
        let log2 = log
            .try_clone()
            .context(|| "opening supervisor.log".into())?;
        let Launched {
            child,
            cgroup,
            lifeline,
            ..
        } = launch(
            &std::env::current_exe().context(|| "finding the warden executable".into())?,
            sandbox,
            &meta,
            &net,
            Mode::Serve,
            (Stdio::null(), Stdio::from(log), Stdio::from(log2)),
        )
        .await?;
        let mut ports = meta.ports.clone();
        for port in &mut ports {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .context(|| format!("publishing port {}", port.sandbox))?;
            port.host = listener.local_addr().map(|a| a.port()).unwrap_or(0);
            tokio::spawn(forward_port(
                listener,
                sandbox
                    .sock_dir()
                    .join(format!("port-{}.sock", port.sandbox)),
            ));
        }
        // Listening before the record says running (and `create` returns): a request
        // sent right after `create` finds the socket.
        let ctl_path = sandbox.ctl_socket();
        let _ = std::fs::remove_file(&ctl_path);
        let ctl = tokio::net::UnixListener::bind(&ctl_path)
            .context(|| format!("listening on {}", ctl_path.display()))?;
        let bwrap_pid = child.id().map(|p| p as i32);
        let meta = sandbox.update(|m| {
            m.status = Status::Running;
            m.supervisor_pid = Some(std::process::id() as i32);
            m.bwrap_pid = bwrap_pid;
            m.brokered = net.brokered.clone();
            m.ports = ports;
        })?;
        Ok(Started {
            sandbox: sandbox.clone(),
            running: Default::default(),
            ctl: Some(ctl),
            child,
            cgroup,
            net,
            meta,
            _lifeline: lifeline,
        })
    }

    async fn serve(mut self) -> i32 {
        let Some(ctl) = self.ctl.take() else {
            return 1;
        };
        let sleep = tokio::time::sleep(until(self.meta.deadline_ms));
        tokio::pin!(sleep);
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        // A sandbox whose state directory was removed (its data dir deleted by hand) can
        // no longer be reached by `exec` or `destroy`: it ends instead of running on.
        let mut orphan_check = tokio::time::interval(ORPHAN_CHECK);
        loop {
            tokio::select! {
                _ = orphan_check.tick() => {
                    if std::fs::symlink_metadata(self.sandbox.ctl_socket()).is_err() {
                        self.kill().await;
                        return 0;
                    }
                    // Its owner died without destroying it (kill -9, a crash): nobody
                    // will; it goes now, state and all.
                    if self.meta.owner.is_some_and(|o| !o.alive()) {
                        self.kill().await;
                        let _ = std::fs::remove_dir_all(self.sandbox.path());
                        return 0;
                    }
                }
                _ = &mut sleep => {
                    self.stop(Status::TimedOut, "its timeout passed: every process was killed").await;
                    return 0;
                }
                status = self.child.wait() => {
                    let how = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                    self.stop(Status::Stopped, &format!("the sandbox ended on its own ({how})")).await;
                    return 0;
                }
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {
                    self.stop(Status::Stopped, "its supervisor was terminated").await;
                    return 0;
                }
                conn = ctl.accept() => {
                    let Ok((conn, _)) = conn else { continue };
                    if self.handle_ctl(conn).await {
                        return 0;
                    }
                    // A request may have moved the deadline.
                    sleep.as_mut().reset(tokio::time::Instant::now() + until(self.meta.deadline_ms));
                }
            }
        }
    }

    async fn kill(&mut self) {
        crate::command_runner::mark_all_killed(&self.sandbox);
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.kill_all();
            let _ = cg.remove();
        }
        crate::lifecycle::kill_init(self.meta.init_pid);
    }

    async fn stop(&mut self, status: Status, reason: &str) {
        self.kill().await;
        let _ = std::fs::remove_file(self.sandbox.ctl_socket());
        let _ = self.sandbox.update(|m| {
            m.status = status;
            m.ended_ms = Some(now_ms());
            m.end_reason = Some(reason.to_string());
        });
    }
}

async fn forward_port(listener: tokio::net::TcpListener, target: std::path::PathBuf) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        let target = target.clone();
        tokio::spawn(async move {
            if let Ok(mut inside) = tokio::net::UnixStream::connect(&target).await {
                let _ = conn.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut conn, &mut inside).await;
            }
        });
    }
}
