//! `warden sandbox run`: create, run one command on this process's stdio, destroy.

use crate::error::{IoContext, Result, SandboxError};
use crate::launch::as_root;
use crate::launch::{self, Mode};
use crate::lifecycle::{base_env_with, kill_init, Sandboxes};
use crate::net::Net;
use crate::os_arg::OsArg;
use crate::spec::{SandboxSpec, WorkspaceSource};
use crate::state::{new_id, now_ms, SandboxDir, SandboxMeta};
use std::process::Stdio;
use std::time::Duration;

impl Sandboxes {
    /// `warden sandbox run`: create, run one command on this process's stdio, destroy.
    /// Returns the command's exit code (124 when the timeout killed it).
    ///
    /// For the CLI only: a spec needing nothing from the host replaces this process with
    /// the sandbox. Programs use [`Sandboxes::create`] and [`crate::Sandbox::exec`].
    pub fn run(&self, spec: &SandboxSpec, argv: &[OsArg]) -> Result<i32> {
        if argv.is_empty() {
            return Err(SandboxError::Invalid("give a command after `--`".into()));
        }
        if matches!(spec.workspace, WorkspaceSource::Git { .. }) {
            return Err(SandboxError::Invalid(
                "a git workspace is cloned by `create`: create the sandbox, then exec in it".into(),
            ));
        }
        if is_ephemeral(spec) {
            spec.validate()?;
            return Err(exec_ephemeral(spec, argv));
        }
        let (sandbox, meta, plans) = self.prepare(spec)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context(|| "starting a runtime".into())?;
        let exe = self.executable()?;
        let result = runtime.block_on(run_in(&exe, &sandbox, meta, &plans, &spec.transforms, argv));
        let _ = std::fs::remove_dir_all(sandbox.path());
        result
    }
}

/// A `run` that needs nothing from the host (no files, network, ports or limits) needs
/// no sandbox directory, no supervisor and no waiting process: this process becomes
/// bubblewrap, the init enforces the timeout, and the command's exit code is ours.
fn is_ephemeral(spec: &SandboxSpec) -> bool {
    spec.workspace == WorkspaceSource::Empty
        && spec.policy.is_deny_all()
        && spec.secrets.is_empty()
        && spec.brokers.is_empty()
        && spec.broker_plans.is_empty()
        && spec.read_only_binds.is_empty()
        && spec.ports.is_empty()
        && spec.limits == crate::limits::Limits::default()
}

fn exec_ephemeral(spec: &SandboxSpec, argv: &[OsArg]) -> SandboxError {
    let mut env = base_env_with(&spec.env, &[]);
    env.push(("WARDEN_SANDBOX".into(), new_id("sb").into()));
    let config = crate::init::InitConfig {
        env,
        sock_dir: "/tmp".into(),
        read_only: launch::readable_paths(),
        read_write: launch::writable_paths(),
        default_cwd: launch::WORKSPACE.into(),
        become_uid: as_root().then_some(launch::SANDBOX_UID),
        deadline_ms: spec.timeout.map(crate::state::millis),
        ..Default::default()
    };
    if let Some(code) = crate::direct::run(&config, argv) {
        std::process::exit(code);
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return SandboxError::io("finding the warden executable", e),
    };
    match launch::Launch::new(
        &exe,
        launch::Place::Ephemeral,
        &config,
        &Mode::Run(argv.to_vec()),
        None,
        &[],
        None,
    ) {
        Ok(l) => l.exec(),
        Err(e) => e,
    }
}

async fn run_in(
    exe: &std::path::Path,
    sandbox: &SandboxDir,
    meta: SandboxMeta,
    plans: &[crate::broker::BrokerPlan],
    transforms: &[crate::rules::HeaderTransform],
    argv: &[OsArg],
) -> Result<i32> {
    let needs_net = !meta.policy.is_deny_all() || !meta.secrets.is_empty() || !plans.is_empty();
    let net = if needs_net {
        Net::start(sandbox, &meta, plans, transforms).await?
    } else {
        Net::none()
    };
    let crate::supervisor::Launched {
        mut child,
        cgroup,
        init_pid,
        lifeline,
    } = crate::supervisor::launch(
        exe,
        sandbox,
        &meta,
        &net,
        Mode::Run(argv.to_vec()),
        (Stdio::inherit(), Stdio::inherit(), Stdio::inherit()),
    )
    .await?;
    let deadline = meta
        .deadline_ms
        .map(|d| Duration::from_millis(d.saturating_sub(now_ms())));
    let code = tokio::select! {
        status = child.wait() => status.map(|s| s.code().unwrap_or(128 + 9)).unwrap_or(125),
        _ = tokio::time::sleep(deadline.unwrap_or(Duration::MAX / 4)) => 124,
        _ = tokio::signal::ctrl_c() => 130,
    };
    drop(lifeline);
    let _ = child.start_kill();
    let _ = child.wait().await;
    kill_init(init_pid);
    if let Some(cg) = cgroup {
        let _ = cg.kill_all();
        let _ = cg.remove();
    }
    Ok(code)
}
