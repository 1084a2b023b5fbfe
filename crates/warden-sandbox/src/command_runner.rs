//! The supervisor's side of [`crate::commands`]: it starts each command over the exec
//! protocol with files for its output, keeps the connection (so the command lives as
//! long as the sandbox, not as long as a client), passes signals on, and writes the
//! record when the command ends.

use crate::commands::{output_paths, record_path, CommandInfo, CommandStatus};
use crate::error::{IoContext, Result, SandboxError};
use crate::os_arg::OsArg;
use crate::proto::{send_with_fds, ExecEvent, ExecRequest, ExecSignal};
use crate::state::{new_id, now_ms, write_json_atomic, SandboxDir};
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// How long the init has to say a command started (less than a control client waits).
const START_REPLY: Duration = Duration::from_secs(8);

/// The commands running now: id → where their signals go.
#[derive(Clone, Default)]
pub(crate) struct Running {
    signals: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<i32>>>>,
}

impl Running {
    /// Passes `signal` to command `id`; an error when it is not running.
    pub fn signal(&self, id: &str, signal: i32) -> Result<()> {
        let sent = self
            .signals
            .lock()
            .ok()
            .and_then(|m| m.get(id).map(|tx| tx.send(signal).is_ok()));
        match sent {
            Some(true) => Ok(()),
            _ => Err(SandboxError::Invalid(format!(
                "command: {id} is not running"
            ))),
        }
    }

    fn add(&self, id: &str, tx: mpsc::UnboundedSender<i32>) {
        if let Ok(mut m) = self.signals.lock() {
            m.insert(id.to_string(), tx);
        }
    }

    fn remove(&self, id: &str) {
        if let Ok(mut m) = self.signals.lock() {
            m.remove(id);
        }
    }
}

/// Opens a new output file only we (and the command, through the descriptor) write.
fn create_output(path: &std::path::Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .context(|| format!("creating {}", path.display()))
}

/// The command's stdin: the bytes given (through a file that is removed at once, so
/// nothing else can open it), or `/dev/null`.
fn stdin_file(sandbox: &SandboxDir, id: &str, stdin: Option<&OsArg>) -> Result<std::fs::File> {
    let Some(bytes) = stdin else {
        return std::fs::File::open("/dev/null").context(|| "opening /dev/null".into());
    };
    let path = sandbox.logs_dir().join(format!("{id}.stdin"));
    let mut file = create_output(&path)?;
    let written = std::io::Write::write_all(&mut file, bytes.as_bytes());
    let reader = std::fs::File::open(&path);
    let _ = std::fs::remove_file(&path);
    written.context(|| format!("writing {}", path.display()))?;
    reader.context(|| format!("opening {}", path.display()))
}

/// Starts `request` in the sandbox, records it as running and returns its record; a
/// task then waits for its end. `Err` (with nothing left behind) when the init refuses
/// it: its message starts with `command: ` when the request was at fault.
pub(crate) async fn spawn(
    sandbox: &SandboxDir,
    running: &Running,
    request: ExecRequest,
    stdin: Option<OsArg>,
) -> Result<CommandInfo> {
    let id = new_id("cmd");
    let (out_path, err_path) = output_paths(sandbox, &id);
    let cleanup = || {
        let _ = std::fs::remove_file(&out_path);
        let _ = std::fs::remove_file(&err_path);
    };
    let started = start(sandbox, &id, &request, stdin.as_ref()).await;
    let conn = match started {
        Ok(conn) => conn,
        Err(e) => {
            cleanup();
            return Err(e);
        }
    };
    let info = CommandInfo {
        id: id.clone(),
        argv: request.argv.clone(),
        cwd: request
            .cwd
            .clone()
            .unwrap_or_else(|| OsArg::from(crate::launch::WORKSPACE)),
        started_ms: now_ms(),
        ended_ms: None,
        status: CommandStatus::Running,
        exit_code: None,
        signal: None,
        timed_out: false,
        stdout: out_path.clone(),
        stderr: err_path.clone(),
    };
    if let Err(e) = write_json_atomic(&record_path(sandbox, &id), &info) {
        cleanup();
        return Err(e);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    running.add(&id, tx);
    tokio::spawn(follow(
        sandbox.clone(),
        running.clone(),
        info.clone(),
        conn,
        rx,
    ));
    Ok(info)
}

/// Connects to the init, hands it the command and its descriptors, and waits for it to
/// start.
async fn start(
    sandbox: &SandboxDir,
    id: &str,
    request: &ExecRequest,
    stdin: Option<&OsArg>,
) -> Result<tokio::io::Lines<tokio::io::BufReader<tokio::net::UnixStream>>> {
    let (out_path, err_path) = output_paths(sandbox, id);
    let stdout = create_output(&out_path)?;
    let stderr = create_output(&err_path)?;
    let stdin = stdin_file(sandbox, id, stdin)?;
    let proto =
        |message: String| SandboxError::Invalid(format!("starting command {id}: {message}"));
    let line = crate::lifecycle::request_line(request)?;
    let conn = std::os::unix::net::UnixStream::connect(sandbox.exec_socket())
        .map_err(|e| proto(format!("reaching the sandbox's init: {e}")))?;
    send_with_fds(
        &conn,
        &line,
        &[stdin.as_raw_fd(), stdout.as_raw_fd(), stderr.as_raw_fd()],
    )
    .map_err(|e| proto(format!("sending the command: {e}")))?;
    // The init holds its own copies now.
    drop((stdin, stdout, stderr));
    conn.set_nonblocking(true)
        .map_err(|e| proto(e.to_string()))?;
    let conn = tokio::net::UnixStream::from_std(conn).map_err(|e| proto(e.to_string()))?;
    let mut lines = tokio::io::BufReader::new(conn).lines();
    let first = tokio::time::timeout(START_REPLY, lines.next_line())
        .await
        .map_err(|_| proto("the sandbox did not start it in time".into()))?
        .map_err(|e| proto(e.to_string()))?
        .ok_or_else(|| proto("the sandbox closed the connection".into()))?;
    match serde_json::from_str::<ExecEvent>(&first) {
        Ok(ExecEvent::Started { .. }) => Ok(lines),
        Ok(ExecEvent::Error { message }) => {
            Err(SandboxError::Invalid(format!("command: {message}")))
        }
        _ => Err(proto("an unexpected reply".into())),
    }
}

/// Passes signals on until the command ends, then records how.
async fn follow(
    sandbox: SandboxDir,
    running: Running,
    mut info: CommandInfo,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::net::UnixStream>>,
    mut signals: mpsc::UnboundedReceiver<i32>,
) {
    let mut lines = lines;
    let ended = loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => match serde_json::from_str::<ExecEvent>(&line) {
                    Ok(ExecEvent::Exited { code, signal, timed_out }) => break Some((code, signal, timed_out)),
                    _ => continue,
                },
                _ => break None,
            },
            Some(signal) = signals.recv() => {
                let mut line = serde_json::to_vec(&ExecSignal { signal }).unwrap_or_default();
                line.push(b'\n');
                let _ = lines.get_mut().get_mut().write_all(&line).await;
            }
        }
    };
    running.remove(&info.id);
    info.ended_ms = Some(now_ms());
    match ended {
        Some((code, signal, timed_out)) => {
            info.status = if signal.is_some() {
                CommandStatus::Killed
            } else {
                CommandStatus::Exited
            };
            info.exit_code = Some(code);
            info.signal = signal;
            info.timed_out = timed_out;
        }
        // The init went away: the sandbox ended, and the command with it.
        None => {
            info.status = CommandStatus::Killed;
            info.signal = Some(9);
            info.exit_code = Some(128 + 9);
        }
    }
    if let Err(e) = write_json_atomic(&record_path(&sandbox, &info.id), &info) {
        eprintln!("supervisor: recording the end of {}: {e}", info.id);
    }
}

/// Marks every command still recorded as running as killed: the sandbox is ending and
/// its processes with it (the tasks that would record it may not get to run).
pub(crate) fn mark_all_killed(sandbox: &SandboxDir) {
    let Ok(entries) = std::fs::read_dir(sandbox.logs_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if !crate::state::is_valid_id("cmd", id) {
            continue;
        }
        let path = record_path(sandbox, id);
        let Ok(text) = crate::files::read_small(&path) else {
            continue;
        };
        let Ok(mut info) = serde_json::from_str::<CommandInfo>(&text) else {
            continue;
        };
        if info.is_running() {
            info.status = CommandStatus::Killed;
            info.signal = Some(9);
            info.exit_code = Some(128 + 9);
            info.ended_ms = Some(now_ms());
            let _ = write_json_atomic(&path, &info);
        }
    }
}
