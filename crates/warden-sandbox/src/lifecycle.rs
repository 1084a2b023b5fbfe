//! What the CLI calls: create, exec, policy, snapshot, list, destroy and run.

use crate::broker::BrokerPlan;
use crate::control::{ctl, start_supervisor};
use crate::error::{IoContext, Result, SandboxError};
use crate::files::{self, Copied};
use crate::launch;
use crate::limits::Cgroup;
use crate::net::Net;
use crate::os_arg::OsArg;
use crate::proto::{send_with_fds, ExecEvent, ExecRequest};
use crate::spec::{NetworkPolicy, SandboxSpec, WorkspaceSource};
use crate::state::{
    new_id, now_ms, remove_state_dir, PublishedPort, SandboxDir, SandboxMeta, SandboxRoot,
    SnapshotMeta, Status,
};
use crate::supervisor::CtlRequest;
use std::io::{BufRead, BufReader};
use std::os::fd::RawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Every sandbox and snapshot under one root directory.
#[derive(Debug, Clone)]
pub struct Sandboxes {
    root: SandboxRoot,
    exe: Option<PathBuf>,
}

impl Sandboxes {
    pub fn new(root: SandboxRoot) -> Sandboxes {
        Sandboxes { root, exe: None }
    }

    /// Uses `exe` as the warden binary that supervises sandboxes and runs as their init,
    /// instead of this process's own executable (for programs other than `warden`
    /// itself, such as tests, that drive sandboxes through this library).
    pub fn with_executable(mut self, exe: impl Into<PathBuf>) -> Sandboxes {
        self.exe = Some(exe.into());
        self
    }

    /// The warden binary sandboxes are run with.
    pub fn executable(&self) -> Result<PathBuf> {
        match &self.exe {
            Some(exe) => Ok(exe.clone()),
            None => std::env::current_exe().context(|| "finding the warden executable".into()),
        }
    }

    pub fn root(&self) -> &SandboxRoot {
        &self.root
    }

    /// Creates a sandbox and returns once its supervisor reports it running (and, for a
    /// git source, once the clone is in /workspace; a failed clone removes the sandbox).
    pub fn create(&self, spec: &SandboxSpec) -> Result<SandboxMeta> {
        if matches!(spec.workspace, WorkspaceSource::Git { .. }) {
            return self.create_from_git(spec);
        }
        self.create_started(spec)
    }

    /// Creates and starts a sandbox, its workspace populated on the host.
    pub(crate) fn create_started(&self, spec: &SandboxSpec) -> Result<SandboxMeta> {
        let (sandbox, _, plans) = self.prepare(spec)?;
        match start_supervisor(&self.executable()?, &sandbox, &plans, &spec.transforms) {
            Ok(()) => sandbox.load(),
            Err(e) => {
                let _ = std::fs::remove_dir_all(sandbox.path());
                Err(e)
            }
        }
    }

    /// The sandbox directory and record, before anything runs in it, and the brokered
    /// credentials (`--broker` names resolved here, on the host, plus the spec's plans).
    pub(crate) fn prepare(
        &self,
        spec: &SandboxSpec,
    ) -> Result<(SandboxDir, SandboxMeta, Vec<BrokerPlan>)> {
        spec.validate()?;
        let read_only_binds = crate::binds::validate(&spec.read_only_binds, &spec.workspace)?;
        let workspace_bind = match &spec.workspace {
            WorkspaceSource::BindReadOnly(dir) => Some(
                std::path::absolute(dir)
                    .context(|| format!("the read-only workspace {}", dir.display()))?,
            ),
            _ => None,
        };
        crate::rules::validate(&spec.policy_update())?;
        let mut plans = if spec.brokers.is_empty() {
            Vec::new()
        } else {
            BrokerPlan::for_names(&spec.brokers, &warden_creds::discover_from_process())?
        };
        plans.extend(spec.broker_plans.iter().cloned());
        crate::net::validate_credentials(&spec.secrets, &plans)?;
        crate::net::check_rules(&spec.secrets, &plans, &spec.policy_update())?;
        launch::find_bwrap()?;
        if let Some(name) = &spec.name {
            if self.root.name_taken(name)? {
                return Err(SandboxError::Invalid(format!(
                    "--name {name}: a sandbox with that name exists"
                )));
            }
        }
        let snapshot = match &spec.workspace {
            WorkspaceSource::Snapshot(id) => Some(self.find_snapshot(id)?),
            _ => None,
        };
        let id = new_id("sb");
        let sandbox = self.root.sandbox_dir(&id);
        std::fs::create_dir_all(sandbox.path())
            .context(|| format!("creating {}", sandbox.path().display()))?;
        let _ = std::fs::set_permissions(sandbox.path(), std::fs::Permissions::from_mode(0o700));
        let result = self
            .populate(&sandbox, spec, snapshot.as_ref(), &read_only_binds)
            .and_then(|source| {
                let meta = SandboxMeta {
                    id: id.clone(),
                    name: spec.name.clone(),
                    status: Status::Starting,
                    created_ms: now_ms(),
                    deadline_ms: spec
                        .timeout
                        .map(|t| now_ms().saturating_add(crate::state::millis(t))),
                    policy: spec.policy.clone(),
                    deny: spec.deny.clone(),
                    transforms: crate::rules::header_names(&spec.transforms),
                    ports: spec
                        .ports
                        .iter()
                        .map(|p| PublishedPort {
                            sandbox: *p,
                            host: 0,
                        })
                        .collect(),
                    limits: spec.limits,
                    limits_report: None,
                    confinement: None,
                    source,
                    workspace_bind: workspace_bind.clone(),
                    read_only_binds: read_only_binds.clone(),
                    brokered: Vec::new(),
                    env: spec.env.clone(),
                    secrets: spec.secrets.clone(),
                    brokers: plans.iter().map(|p| p.label().to_string()).collect(),
                    supervisor_pid: None,
                    bwrap_pid: None,
                    init_pid: None,
                    host_uid: launch::host_uid(),
                    cgroup: None,
                    ended_ms: None,
                    owner: spec.owner.and_then(crate::state::ProcessRef::of),
                    end_reason: None,
                    labels: spec.labels.clone(),
                };
                sandbox.save(&meta)?;
                Ok(meta)
            });
        match result {
            Ok(meta) => Ok((sandbox, meta, plans)),
            Err(e) => {
                let _ = std::fs::remove_dir_all(sandbox.path());
                Err(e)
            }
        }
    }

    fn populate(
        &self,
        sandbox: &SandboxDir,
        spec: &SandboxSpec,
        snapshot: Option<&SnapshotMeta>,
        binds: &[crate::binds::ReadOnlyBind],
    ) -> Result<Option<String>> {
        let owner = launch::as_root().then_some(launch::host_uid());
        let source = match (&spec.workspace, snapshot) {
            (WorkspaceSource::Copy(dir), _) => {
                let copied = files::copy_tree(dir, &sandbox.workspace(), true, owner)?;
                std::fs::create_dir_all(sandbox.home()).context(|| "creating home".into())?;
                let note = if copied.skipped > 0 {
                    format!(
                        " ({} secret, .warden or special files left out)",
                        copied.skipped
                    )
                } else {
                    String::new()
                };
                Some(format!("{}{note}", dir.display()))
            }
            (WorkspaceSource::BindReadOnly(dir), _) => {
                for d in [sandbox.workspace(), sandbox.home()] {
                    std::fs::create_dir_all(&d).context(|| format!("creating {}", d.display()))?;
                }
                Some(format!("{} (bound read-only)", dir.display()))
            }
            (WorkspaceSource::Git { url, revision, .. }, _) => {
                for d in [sandbox.workspace(), sandbox.home()] {
                    std::fs::create_dir_all(&d).context(|| format!("creating {}", d.display()))?;
                }
                Some(match revision {
                    Some(rev) => format!("git {url} ({rev})"),
                    None => format!("git {url}"),
                })
            }
            (WorkspaceSource::Snapshot(_), Some(snap)) => {
                let from = self.root.snapshots_dir().join(&snap.id);
                files::copy_tree(&from.join("workspace"), &sandbox.workspace(), false, None)?;
                files::copy_tree(&from.join("home"), &sandbox.home(), false, None)?;
                Some(format!("snapshot {}", snap.id))
            }
            _ => {
                std::fs::create_dir_all(sandbox.workspace())
                    .context(|| "creating workspace".into())?;
                std::fs::create_dir_all(sandbox.home()).context(|| "creating home".into())?;
                None
            }
        };
        for dir in [
            sandbox.sock_dir(),
            sandbox.logs_dir(),
            sandbox.ca_dir(),
            sandbox.empty_dir(),
        ] {
            std::fs::create_dir_all(&dir).context(|| format!("creating {}", dir.display()))?;
        }
        // Mount points in the sandbox's own trees are made here, owned by the sandbox's
        // user, so the directories above a bind stay writable by it.
        for bind in binds {
            let Some(point) = host_mount_point(sandbox, spec, &bind.inside) else {
                continue;
            };
            std::fs::create_dir_all(&point).context(|| format!("creating {}", point.display()))?;
            if let Some(uid) = owner {
                let base = if bind.inside.starts_with(launch::HOME) {
                    sandbox.home()
                } else {
                    sandbox.workspace()
                };
                for dir in point
                    .ancestors()
                    .take_while(|d| d.starts_with(&base) && *d != base)
                {
                    std::os::unix::fs::chown(dir, Some(uid), Some(uid))
                        .context(|| format!("chown {}", dir.display()))?;
                }
            }
        }
        for dir in [sandbox.workspace(), sandbox.home(), sandbox.sock_dir()] {
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
            if let Some(uid) = owner {
                std::os::unix::fs::chown(&dir, Some(uid), Some(uid))
                    .context(|| format!("chown {}", dir.display()))?;
            }
        }
        Ok(source)
    }

    pub fn find(&self, id_or_name: &str) -> Result<(SandboxDir, SandboxMeta)> {
        self.root.find(id_or_name)
    }

    pub fn find_running(&self, id_or_name: &str) -> Result<(SandboxDir, SandboxMeta)> {
        let (dir, meta) = self.find(id_or_name)?;
        let status = meta.effective_status();
        if status != Status::Running {
            let hint = match status {
                Status::TimedOut | Status::Stopped | Status::Failed => format!(
                    " ({}); its files stay until `warden sandbox destroy {}`",
                    meta.end_reason
                        .clone()
                        .unwrap_or_else(|| "its supervisor is gone".into()),
                    meta.id
                ),
                Status::Corrupt => format!(
                    " ({}); `warden sandbox destroy {}` still ends it and removes it",
                    meta.end_reason.clone().unwrap_or_default(),
                    meta.id
                ),
                _ => String::new(),
            };
            return Err(SandboxError::NotRunning {
                id: meta.id.clone(),
                status: status.to_string(),
                hint,
            });
        }
        Ok((dir, meta))
    }

    /// Runs a command in a running sandbox with the given descriptors as its stdio.
    /// Returns the final event: `Exited`, or `Started` for a detached command.
    pub fn exec(
        &self,
        id_or_name: &str,
        request: &ExecRequest,
        stdio: [RawFd; 3],
    ) -> Result<ExecEvent> {
        let (sandbox, meta) = self.find_running(id_or_name)?;
        let proto = |message: String| SandboxError::Protocol {
            id: meta.id.clone(),
            message,
        };
        let line = request_line(request)?;
        let conn = UnixStream::connect(sandbox.exec_socket())
            .map_err(|e| proto(format!("connecting: {e}")))?;
        send_with_fds(&conn, &line, &stdio)
            .map_err(|e| proto(format!("sending the command: {e}")))?;
        let mut last = None;
        for line in BufReader::new(&conn).lines() {
            let Ok(line) = line else { break };
            let event: ExecEvent =
                serde_json::from_str(&line).map_err(|e| proto(format!("bad reply: {e}")))?;
            match event {
                ExecEvent::Started { .. } if request.detach => return Ok(event),
                ExecEvent::Started { .. } => last = Some(event),
                ExecEvent::Exited { .. } => return Ok(event),
                ExecEvent::Error { message } => return Err(SandboxError::Invalid(message)),
            }
        }
        match last {
            Some(_) => Err(proto("the sandbox ended while the command ran".into())),
            None => Err(proto("no reply".into())),
        }
    }

    /// A file in the sandbox's log directory for a detached command's output.
    pub fn detached_log(&self, id_or_name: &str) -> Result<std::path::PathBuf> {
        let (sandbox, _) = self.find(id_or_name)?;
        Ok(sandbox.logs_dir().join(format!("{}.log", new_id("exec"))))
    }

    /// Changes the allowed hosts of a running sandbox (its deny list and header
    /// transforms stay); new connections see it at once.
    pub fn set_policy(&self, id_or_name: &str, policy: NetworkPolicy) -> Result<()> {
        crate::net::validate_policy(&policy)?;
        let (sandbox, meta) = self.find_running(id_or_name)?;
        let request = CtlRequest::Policy {
            policy,
            deny: None,
            transforms: None,
        };
        ctl(&sandbox, &meta.id, &request).map(drop)
    }

    /// Kills every process in the sandbox and removes its state. Works from the
    /// directory alone when the record is corrupt: the supervisor is asked through its
    /// control socket (it knows what it started), else the sandbox's cgroup is emptied.
    pub fn destroy(&self, id_or_name: &str) -> Result<String> {
        let (sandbox, meta) = self.find(id_or_name)?;
        let ask = meta.supervisor_alive()
            || (meta.status == Status::Corrupt && sandbox.ctl_socket().exists());
        if ask {
            if let Ok(supervisor) = ctl(&sandbox, &meta.id, &CtlRequest::Destroy) {
                // It replies once every process is gone, then exits itself: wait for that
                // too, so nothing of the sandbox is left when `destroy` returns.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                while supervisor.is_some_and(crate::state::process_alive)
                    && std::time::Instant::now() < deadline
                {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                return Ok(meta.id);
            }
        }
        // No supervisor to ask: end what may remain ourselves.
        kill_init(meta.init_pid);
        let group = meta.cgroup.clone().unwrap_or_else(|| cgroup_name(&meta.id));
        if let Some(cg) = Cgroup::open(&group) {
            let _ = cg.kill_all();
            let _ = cg.remove();
        }
        remove_state_dir(&self.root.sandboxes_dir(), "sb", &meta.id)?;
        Ok(meta.id)
    }

    pub fn list(&self) -> Result<Vec<SandboxMeta>> {
        Ok(self.root.list()?.into_iter().map(|(_, m)| m).collect())
    }

    pub fn copy_in(&self, id_or_name: &str, host: &Path, inside: &Path) -> Result<Copied> {
        let (sandbox, meta) = self.find(id_or_name)?;
        files::copy_in(
            &sandbox,
            &meta,
            host,
            inside,
            launch::as_root().then_some(meta.host_uid),
        )
    }

    pub fn copy_out(&self, id_or_name: &str, inside: &Path, host: &Path) -> Result<Copied> {
        let (sandbox, meta) = self.find(id_or_name)?;
        files::copy_out(&sandbox, &meta, inside, host)
    }
}

/// Where the mount point of a bind at `inside` lives on the host, when it is in one of
/// the sandbox's own writable trees (not in a read-only workspace, not under /opt/warden).
fn host_mount_point(sandbox: &SandboxDir, spec: &SandboxSpec, inside: &Path) -> Option<PathBuf> {
    if let Ok(rest) = inside.strip_prefix(launch::HOME) {
        return Some(sandbox.home().join(rest));
    }
    match (&spec.workspace, inside.strip_prefix(launch::WORKSPACE)) {
        (WorkspaceSource::BindReadOnly(_), _) | (_, Err(_)) => None,
        (_, Ok(rest)) => Some(sandbox.workspace().join(rest)),
    }
}

/// The request as the line sent to the init, refused when the init would not read it.
pub(crate) fn request_line(request: &ExecRequest) -> Result<Vec<u8>> {
    let mut line = serde_json::to_vec(request)
        .map_err(|e| SandboxError::Invalid(format!("the command cannot be encoded: {e}")))?;
    line.push(b'\n');
    if line.len() > crate::init::MAX_REQUEST {
        return Err(SandboxError::Invalid(format!(
            "the command and its variables are too long ({} MiB encoded; at most {} MiB)",
            line.len() >> 20,
            crate::init::MAX_REQUEST >> 20
        )));
    }
    Ok(line)
}

pub(crate) fn cgroup_name(id: &str) -> String {
    format!("warden-{id}")
}

/// The group limits and kills a sandbox's processes: always as root (so `destroy`
/// can find every process), otherwise only when limits were asked for.
pub(crate) fn make_cgroup(meta: &SandboxMeta, one_shot: bool) -> Result<(Option<Cgroup>, String)> {
    let wanted = meta.limits != crate::limits::Limits::default();
    // A one-shot `run` ends with its PID namespace; only limits need a group then.
    if !wanted && (one_shot || !launch::as_root()) {
        return Ok((None, "none requested".into()));
    }
    let (cg, report) = Cgroup::create(&cgroup_name(&meta.id), &meta.limits)?;
    Ok((Some(cg), report.to_string()))
}

/// Kills a sandbox's init by its host pid, after checking the pid is still ours.
pub(crate) fn kill_init(pid: Option<i32>) {
    let Some(pid) = pid.filter(|p| *p > 1) else {
        return;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if cmdline
        .windows(crate::init::INIT_ARG.len())
        .any(|w| w == crate::init::INIT_ARG.as_bytes())
    {
        // SAFETY: plain kill(2).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// The environment every command in the sandbox starts with.
pub(crate) fn base_env(meta: &SandboxMeta, net: &Net) -> Vec<(String, OsArg)> {
    let mut env = base_env_with(&meta.env, &net.env);
    env.push(("WARDEN_SANDBOX".into(), meta.id.as_str().into()));
    env
}

pub(crate) fn base_env_with(
    extra: &[(String, OsArg)],
    net: &[(String, String)],
) -> Vec<(String, OsArg)> {
    let mut env: Vec<(String, OsArg)> = [
        (
            "PATH",
            "/home/sandbox/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ),
        ("HOME", launch::HOME),
        ("USER", "sandbox"),
        ("LOGNAME", "sandbox"),
        ("SHELL", "/bin/sh"),
        ("LANG", "C.UTF-8"),
        ("TMPDIR", "/tmp"),
        // `npm install -g` lands in the (snapshot-able) home, not the read-only /usr.
        ("NPM_CONFIG_PREFIX", "/home/sandbox/.local"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), OsArg::from(*v)))
    .collect();
    env.extend(extra.iter().cloned());
    env.extend(
        net.iter()
            .map(|(k, v)| (k.clone(), OsArg::from(v.as_str()))),
    );
    env
}
