//! `warden sandbox`: create, exec, cp, snapshot, policy, ls, destroy and run.

use crate::cli::{GlobalArgs, SandboxArgs, SandboxCommand, SandboxCreateArgs, SandboxExecArgs};
use crate::exit::UsageError;
use anyhow::Context;
use std::ffi::{OsStr, OsString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use warden_sandbox::limits::Limits;
use warden_sandbox::{
    ExecEvent, ExecRequest, NetworkPolicy, OsArg, SandboxMeta, SandboxRoot, SandboxSpec, Sandboxes,
    WorkspaceSource,
};

pub fn run(global: &GlobalArgs, args: &SandboxArgs) -> anyhow::Result<u8> {
    let sandboxes = Sandboxes::new(SandboxRoot::new(root_dir(global)?));
    match &args.command {
        SandboxCommand::Create { create, json } => {
            let meta = sandboxes.create(&spec(create)?)?;
            if *json {
                super::emit(None, &format!("{}\n", serde_json::to_string_pretty(&meta)?))?;
            } else {
                println!("{}", meta.id);
                if !global.quiet {
                    for port in &meta.ports {
                        eprintln!("port {} → 127.0.0.1:{}", port.sandbox, port.host);
                    }
                }
            }
            Ok(0)
        }
        SandboxCommand::Exec(exec) => exec_command(&sandboxes, exec),
        SandboxCommand::Cp {
            source,
            destination,
        } => copy(&sandboxes, source, destination, global.quiet),
        SandboxCommand::Snapshot { id, json } => {
            let snap = sandboxes.snapshot(id)?;
            if *json {
                super::emit(None, &format!("{}\n", serde_json::to_string_pretty(&snap)?))?;
            } else {
                println!("{}", snap.id);
            }
            Ok(0)
        }
        SandboxCommand::Snapshots { rm, json } => {
            if let Some(id) = rm {
                let removed = sandboxes.remove_snapshot(id)?;
                if !global.quiet {
                    eprintln!("removed {removed}");
                }
                return Ok(0);
            }
            let snaps = sandboxes.snapshots()?;
            if *json {
                super::emit(
                    None,
                    &format!("{}\n", serde_json::to_string_pretty(&snaps)?),
                )?;
            } else {
                println!(
                    "{:<16} {:<14} {:>8} {:>10}  CREATED",
                    "SNAPSHOT", "FROM", "FILES", "SIZE"
                );
                for s in snaps {
                    println!(
                        "{:<16} {:<14} {:>8} {:>10}  {}",
                        s.id,
                        s.source_sandbox,
                        s.files,
                        human_bytes(s.bytes),
                        age(s.created_ms)
                    );
                }
            }
            Ok(0)
        }
        SandboxCommand::Policy {
            id,
            allow,
            deny_all,
            allow_all,
        } => {
            let policy = match (allow.is_empty(), deny_all, allow_all) {
                (false, _, _) => NetworkPolicy::Allow(allow.clone()),
                (true, true, _) => NetworkPolicy::DenyAll,
                (true, _, true) => NetworkPolicy::AllowAll,
                _ => {
                    return Err(UsageError(
                        "give --allow DOMAIN..., --deny-all or --allow-all".into(),
                    )
                    .into())
                }
            };
            sandboxes.set_policy(id, policy)?;
            if !global.quiet {
                let (_, meta) = sandboxes.find(id)?;
                if !meta.brokered.is_empty() {
                    eprintln!(
                        "note: brokered credentials stay reachable: {}",
                        meta.brokered.join(", ")
                    );
                }
            }
            Ok(0)
        }
        SandboxCommand::Ls { json } => {
            let all = sandboxes.list()?;
            if *json {
                super::emit(None, &format!("{}\n", serde_json::to_string_pretty(&all)?))?;
            } else {
                print_table(&all);
            }
            Ok(0)
        }
        SandboxCommand::Stop { ids } => {
            for id in ids {
                let meta = sandboxes.stop(id)?;
                if !global.quiet {
                    eprintln!("stopped {} (its files stay until destroy)", meta.id);
                }
            }
            Ok(0)
        }
        SandboxCommand::Extend { id, duration } => {
            let by = warden_sandbox::parse_duration(duration)?.ok_or_else(|| {
                UsageError(format!(
                    "extend {duration:?}: give a duration such as 30m or 2h"
                ))
            })?;
            let meta = sandboxes.extend_timeout(id, by)?;
            match meta.deadline_ms {
                Some(ms) => println!("{ms}"),
                None => eprintln!("{} has no deadline; nothing to extend", meta.id),
            }
            Ok(0)
        }
        SandboxCommand::Destroy { ids } => {
            for id in ids {
                let gone = sandboxes.destroy(id)?;
                if !global.quiet {
                    eprintln!("destroyed {gone}");
                }
            }
            Ok(0)
        }
        SandboxCommand::Run { create, command } => {
            let code = sandboxes.run(&spec(create)?, &warden_sandbox::os_arg::os_args(command))?;
            Ok(u8::try_from(code).unwrap_or(1))
        }
    }
}

/// Sandboxes live under `--data-dir`/`WARDEN_DATA_DIR` when given, else in the user's state directory.
pub(crate) fn root_dir(global: &GlobalArgs) -> anyhow::Result<PathBuf> {
    match &global.data_dir {
        Some(dir) => Ok(dir.clone()),
        None => SandboxRoot::default_dir()
            .ok_or_else(|| UsageError("no HOME or XDG_STATE_HOME: give --data-dir".into()).into()),
    }
}

fn spec(args: &SandboxCreateArgs) -> anyhow::Result<SandboxSpec> {
    let usage = |m: String| anyhow::Error::from(UsageError(m));
    for (i, port) in args.port.iter().enumerate() {
        if args.port[..i].contains(port) {
            return Err(usage(format!("--port {port} is given twice")));
        }
    }
    let workspace = match (&args.workspace, &args.snapshot, &args.git) {
        (Some(dir), _, _) => WorkspaceSource::Copy(dir.clone()),
        (None, Some(id), _) => WorkspaceSource::Snapshot(id.clone()),
        (None, None, Some(url)) => WorkspaceSource::Git {
            url: url.clone(),
            revision: args.git_revision.clone(),
            depth: args.git_depth,
        },
        (None, None, None) => WorkspaceSource::Empty,
    };
    let policy = if args.allow_all {
        NetworkPolicy::AllowAll
    } else if args.allow.is_empty() {
        NetworkPolicy::DenyAll
    } else {
        NetworkPolicy::Allow(args.allow.clone())
    };
    Ok(SandboxSpec {
        name: args.name.clone(),
        workspace,
        policy,
        timeout: args.timeout.0,
        ports: args.port.clone(),
        limits: Limits {
            cpus: args.cpus,
            memory_bytes: args.memory,
            pids: args.pids,
        },
        secrets: args.secret.clone(),
        brokers: args.broker.clone(),
        env: parse_env(&args.env)?,
        deny: args.deny.clone(),
        ..SandboxSpec::default()
    })
}

/// `K=V` pairs from repeated `--env` flags. The value is bytes, passed on as given; the
/// name must be text (it is shown in records and messages).
fn parse_env(pairs: &[OsString]) -> anyhow::Result<Vec<(String, OsArg)>> {
    pairs
        .iter()
        .map(|kv| {
            let bytes = kv.as_bytes();
            let bad = |why: &str| {
                anyhow::Error::from(UsageError(format!(
                    "--env {:?}: {why}",
                    kv.to_string_lossy()
                )))
            };
            let eq = bytes
                .iter()
                .position(|b| *b == b'=')
                .ok_or_else(|| bad("expected K=V"))?;
            let name = std::str::from_utf8(&bytes[..eq])
                .map_err(|_| bad("the variable name must be UTF-8 text"))?;
            if name.is_empty() {
                return Err(bad("expected K=V with a name before `=`"));
            }
            Ok((
                name.to_string(),
                OsArg::from(OsStr::from_bytes(&bytes[eq + 1..])),
            ))
        })
        .collect()
}

fn exec_command(sandboxes: &Sandboxes, args: &SandboxExecArgs) -> anyhow::Result<u8> {
    let mut env = parse_env(&args.env)?;
    if let Some(term) = std::env::var_os("TERM") {
        if !env.iter().any(|(k, _)| k == "TERM") {
            env.insert(0, ("TERM".into(), term.into()));
        }
    }
    let timeout_ms = args
        .timeout
        .and_then(|t| t.0)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let request = ExecRequest {
        argv: warden_sandbox::os_arg::os_args(&args.command),
        env,
        cwd: args
            .cwd
            .clone()
            .map(|dir| OsArg::from(dir.into_os_string())),
        timeout_ms,
        detach: args.detach,
    };
    if args.detach {
        let log_path = sandboxes.detached_log(&args.id)?;
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let null = std::fs::File::open("/dev/null").context("opening /dev/null")?;
        let event = sandboxes.exec(
            &args.id,
            &request,
            [null.as_raw_fd(), log.as_raw_fd(), log.as_raw_fd()],
        )?;
        if let ExecEvent::Started { pid } = event {
            println!("{pid}");
            eprintln!("output: {}", log_path.display());
        }
        return Ok(0);
    }
    let event = sandboxes.exec(&args.id, &request, [0, 1, 2])?;
    if let ExecEvent::Exited {
        timed_out: true, ..
    } = event
    {
        let after = args
            .timeout
            .and_then(|t| t.0)
            .map(|d| duration_text(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
            .unwrap_or_default();
        eprintln!("warden: the command was killed after --timeout {after}");
    }
    Ok(u8::try_from(event.exit_code()).unwrap_or(1))
}

fn copy(
    sandboxes: &Sandboxes,
    source: &OsStr,
    destination: &OsStr,
    quiet: bool,
) -> anyhow::Result<u8> {
    let copied = match (remote(source), remote(destination)) {
        (None, Some((id, inside))) => sandboxes.copy_in(id, Path::new(source), inside)?,
        (Some((id, inside)), None) => sandboxes.copy_out(id, inside, Path::new(destination))?,
        _ => return Err(UsageError(
            "cp: exactly one side must be ID:PATH (e.g. `cp ./file sb-1234abcd:/workspace/file`)"
                .into(),
        )
        .into()),
    };
    if !quiet {
        eprintln!(
            "copied {} file(s), {}{}",
            copied.files,
            human_bytes(copied.bytes),
            if copied.skipped > 0 {
                format!(" ({} symlinks or special files left out)", copied.skipped)
            } else {
                String::new()
            }
        );
    }
    Ok(0)
}

/// `ID:PATH` names a place in a sandbox; a host path never has a `:` before its first `/`.
/// Both sides are bytes: only the id must be text.
fn remote(s: &OsStr) -> Option<(&str, &Path)> {
    let bytes = s.as_bytes();
    let colon = bytes.iter().position(|b| *b == b':')?;
    let id = std::str::from_utf8(&bytes[..colon]).ok()?;
    (!id.is_empty() && !id.contains('/'))
        .then(|| (id, Path::new(OsStr::from_bytes(&bytes[colon + 1..]))))
}

fn print_table(all: &[SandboxMeta]) {
    println!(
        "{:<14} {:<12} {:<10} {:>8} {:>10}  {:<24} {:<16} LIMITS",
        "ID", "NAME", "STATUS", "AGE", "EXPIRES", "POLICY", "PORTS"
    );
    for m in all {
        let expires = match (m.deadline_ms, m.effective_status()) {
            (Some(d), warden_sandbox::Status::Running) => {
                duration_text(d.saturating_sub(warden_sandbox::state::now_ms()))
            }
            (None, _) => "never".into(),
            _ => "-".into(),
        };
        let ports: Vec<String> = m
            .ports
            .iter()
            .map(|p| format!("{}→{}", p.sandbox, p.host))
            .collect();
        println!(
            "{:<14} {:<12} {:<10} {:>8} {:>10}  {:<24} {:<16} {}",
            m.id,
            m.name.as_deref().unwrap_or("-"),
            m.effective_status().to_string(),
            age(m.created_ms),
            expires,
            truncate(&m.policy.to_string(), 24),
            if ports.is_empty() {
                "-".into()
            } else {
                ports.join(",")
            },
            m.limits_report.as_deref().unwrap_or("-"),
        );
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn age(created_ms: u64) -> String {
    duration_text(warden_sandbox::state::now_ms().saturating_sub(created_ms))
}

fn duration_text(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86399 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d", s / 86400),
    }
}

fn human_bytes(b: u64) -> String {
    match b {
        0..=1023 => format!("{b} B"),
        1024..=1_048_575 => format!("{:.1} KiB", b as f64 / 1024.0),
        1_048_576..=1_073_741_823 => format!("{:.1} MiB", b as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", b as f64 / 1_073_741_824.0),
    }
}
