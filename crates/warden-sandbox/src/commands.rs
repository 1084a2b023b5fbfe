//! Commands with ids that outlive their client: started through the sandbox's
//! supervisor, which holds the command's connection to the init, writes its output to
//! files in the sandbox's host-side `logs/` directory (no process inside can reach it),
//! and records how it ended in `logs/<cmd-id>.json`, whoever is connected and whatever
//! happens to the program that started it. See [`crate::command_runner`] for that side.

use crate::error::{Result, SandboxError};
use crate::lifecycle::Sandboxes;
use crate::os_arg::OsArg;
use crate::proto::ExecRequest;
use crate::state::{is_valid_id, SandboxDir};
use crate::supervisor::CtlRequest;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The most stdin a spawned command is given (it travels through the control socket).
pub const MAX_STDIN: usize = 16 << 20;

/// Where a command is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommandStatus {
    Running,
    /// It exited by itself; `exit_code` says how.
    Exited,
    /// A signal ended it: one sent with [`Sandboxes::kill_command`], its timeout, or the
    /// sandbox ending (stopped, timed out, destroyed).
    Killed,
}

impl std::fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CommandStatus::Running => "running",
            CommandStatus::Exited => "exited",
            CommandStatus::Killed => "killed",
        })
    }
}

/// One command's record (`logs/<id>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandInfo {
    /// `cmd-…`, unique in its sandbox.
    pub id: String,
    pub argv: Vec<OsArg>,
    /// The working directory inside (`/workspace` when none was given).
    pub cwd: OsArg,
    pub started_ms: u64,
    pub ended_ms: Option<u64>,
    pub status: CommandStatus,
    /// The code it exited with; for a signal, 128 + the signal (as a shell reports it).
    pub exit_code: Option<i32>,
    /// The signal that ended it.
    pub signal: Option<i32>,
    /// Its timeout (`ExecRequest::timeout_ms`) passed and the init killed it.
    #[serde(default)]
    pub timed_out: bool,
    /// Host files holding its output so far; a reader may follow them while it runs
    /// (they only grow) and read them to the end once `status` is no longer running.
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl CommandInfo {
    pub fn is_running(&self) -> bool {
        self.status == CommandStatus::Running
    }
}

/// The files of command `id` in `sandbox`'s logs directory.
pub(crate) fn record_path(sandbox: &SandboxDir, id: &str) -> PathBuf {
    sandbox.logs_dir().join(format!("{id}.json"))
}

pub(crate) fn output_paths(sandbox: &SandboxDir, id: &str) -> (PathBuf, PathBuf) {
    let logs = sandbox.logs_dir();
    (
        logs.join(format!("{id}.stdout")),
        logs.join(format!("{id}.stderr")),
    )
}

/// Reads one record; its output paths are this sandbox's, whatever the file says.
fn load(sandbox: &SandboxDir, id: &str) -> Result<Option<CommandInfo>> {
    let path = record_path(sandbox, id);
    let text = match crate::files::read_small(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SandboxError::io(format!("reading {}", path.display()), e)),
    };
    let mut info: CommandInfo = serde_json::from_str(&text).map_err(|e| SandboxError::State {
        path: path.clone(),
        message: format!("not a command record: {e}"),
    })?;
    if info.id != id {
        return Err(SandboxError::State {
            path,
            message: format!("the record names command {:?}, not this one", info.id),
        });
    }
    (info.stdout, info.stderr) = output_paths(sandbox, id);
    Ok(Some(info))
}

/// A record that says running when no supervisor is left to run it: it was killed with
/// its sandbox (the supervisor marks them itself when it can).
fn settle(mut info: CommandInfo, supervisor_alive: bool) -> CommandInfo {
    if info.is_running() && !supervisor_alive {
        info.status = CommandStatus::Killed;
        info.signal = Some(9);
        info.exit_code = Some(128 + 9);
    }
    info
}

/// `SIGTERM`, `TERM`, `sigterm` or `15` → 15. Standard signals only (1–31).
pub fn parse_signal(text: &str) -> Result<i32> {
    let t = text.trim();
    let bad = || {
        SandboxError::Invalid(format!(
            "signal {text:?}: expected a name such as SIGTERM, SIGKILL, SIGINT or SIGHUP, or its number"
        ))
    };
    if let Ok(n) = t.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .map(|s| s as i32)
            .map_err(|_| bad());
    }
    let upper = t.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| bad())
}

impl Sandboxes {
    /// Starts a command in a running sandbox and returns at once with its record. Its
    /// stdout and stderr go to [`CommandInfo::stdout`]/[`CommandInfo::stderr`], `stdin`
    /// (at most [`MAX_STDIN`]) is its input (none: `/dev/null`), and `request.timeout_ms`
    /// kills it after that long. It runs until it exits, is killed, or the sandbox ends,
    /// whatever happens to this program; the sandbox's supervisor records how it ended.
    /// `request.detach` is ignored.
    pub fn spawn_command(
        &self,
        id_or_name: &str,
        request: &ExecRequest,
        stdin: Option<&[u8]>,
    ) -> Result<CommandInfo> {
        if request.argv.is_empty() {
            return Err(SandboxError::Invalid("give a command to run".into()));
        }
        if stdin.is_some_and(|s| s.len() > MAX_STDIN) {
            return Err(SandboxError::Invalid(format!(
                "stdin: at most {} MiB",
                MAX_STDIN >> 20
            )));
        }
        let mut request = request.clone();
        request.detach = false;
        crate::lifecycle::request_line(&request)?;
        let (sandbox, meta) = self.find_running(id_or_name)?;
        let reply = crate::control::ctl_value(
            &sandbox,
            &meta.id,
            &CtlRequest::Spawn {
                request,
                stdin: stdin.map(|s| {
                    OsArg::new(
                        <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(
                            s.to_vec(),
                        ),
                    )
                }),
            },
        )
        .map_err(usage_from_supervisor)?;
        let info: CommandInfo =
            serde_json::from_value(reply).map_err(|e| SandboxError::Protocol {
                id: meta.id.clone(),
                message: format!("bad command record: {e}"),
            })?;
        Ok(settle(info, true))
    }

    /// One command of a sandbox (running or not, in a sandbox of any status).
    pub fn command(&self, id_or_name: &str, command_id: &str) -> Result<CommandInfo> {
        let (sandbox, meta) = self.find(id_or_name)?;
        let missing = || SandboxError::CommandNotFound {
            sandbox: meta.id.clone(),
            command: command_id.to_string(),
        };
        if !is_valid_id("cmd", command_id) {
            return Err(missing());
        }
        let info = load(&sandbox, command_id)?.ok_or_else(missing)?;
        Ok(settle(info, meta.supervisor_alive()))
    }

    /// Every command started with [`Sandboxes::spawn_command`], oldest first.
    pub fn commands(&self, id_or_name: &str) -> Result<Vec<CommandInfo>> {
        let (sandbox, meta) = self.find(id_or_name)?;
        let alive = meta.supervisor_alive();
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(sandbox.logs_dir()) else {
            return Ok(out);
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if !is_valid_id("cmd", id) {
                continue;
            }
            match load(&sandbox, id) {
                Ok(Some(info)) => out.push(settle(info, alive)),
                Ok(None) => {}
                Err(e) => tracing::warn!("{e}; left out"),
            }
        }
        out.sort_by(|a, b| (a.started_ms, &a.id).cmp(&(b.started_ms, &b.id)));
        Ok(out)
    }

    /// Sends `signal` (a number: 15 for SIGTERM, 9 for SIGKILL; see [`parse_signal`]) to
    /// a running command's process group. Fails when it is no longer running.
    pub fn kill_command(&self, id_or_name: &str, command_id: &str, signal: i32) -> Result<()> {
        if nix::sys::signal::Signal::try_from(signal).is_err() {
            return Err(SandboxError::Invalid(format!(
                "signal {signal}: not a signal number (1-31)"
            )));
        }
        let info = self.command(id_or_name, command_id)?;
        let (sandbox, meta) = self.find_running(id_or_name)?;
        if !info.is_running() {
            return Err(SandboxError::CommandEnded {
                command: info.id,
                status: info.status.to_string(),
            });
        }
        crate::control::ctl(
            &sandbox,
            &meta.id,
            &CtlRequest::Signal {
                command: info.id,
                signal,
            },
        )
        .map(drop)
        .map_err(usage_from_supervisor)
    }

    /// Waits until a command is no longer running and returns its final record.
    /// Needs a tokio runtime with time enabled.
    pub async fn wait_command(&self, id_or_name: &str, command_id: &str) -> Result<CommandInfo> {
        loop {
            let info = self.command(id_or_name, command_id)?;
            if !info.is_running() {
                return Ok(info);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The supervisor refuses a command for what the user asked (no such program, a bad
/// working directory): keep those usage errors.
fn usage_from_supervisor(e: SandboxError) -> SandboxError {
    match e {
        SandboxError::Protocol { message, .. } if message.starts_with("command: ") => {
            SandboxError::Invalid(message["command: ".len()..].to_string())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        for (text, n) in [
            ("SIGTERM", 15),
            ("term", 15),
            ("9", 9),
            ("SIGINT", 2),
            ("sigHUP", 1),
        ] {
            assert_eq!(parse_signal(text).unwrap(), n, "{text}");
        }
        for bad in ["", "SIGNOPE", "0", "99", "-9", "TERM9"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
