//! Talking to a sandbox's supervisor: starting it (with the brokered credentials on its
//! stdin) and sending it control requests over `ctl.sock`.

use crate::broker::BrokerPlan;
use crate::error::{IoContext, Result, SandboxError};
use crate::rules::{HeaderTransform, TransformWire};
use crate::state::{SandboxDir, Status};
use crate::supervisor::{CtlReply, CtlRequest, READY_FD_ENV, SUPERVISE_ARG};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};

/// What a starting supervisor reads on its stdin: the secrets it alone holds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct SupervisorInput {
    pub plans: Vec<BrokerPlan>,
    pub transforms: Vec<TransformWire>,
}

/// Starts `warden __sandbox-supervise DIR` detached and waits for its word. The brokered
/// credentials and header transforms go to it on its stdin (a pipe, read once at
/// start): never on disk, in its argv or its environment.
pub(crate) fn start_supervisor(
    exe: &Path,
    sandbox: &SandboxDir,
    plans: &[BrokerPlan],
    transforms: &[HeaderTransform],
) -> Result<()> {
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| SandboxError::io("pipe", e.into()))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(sandbox.supervisor_log())
        .context(|| "opening supervisor.log".into())?;
    let log2 = log
        .try_clone()
        .context(|| "opening supervisor.log".into())?;
    drop(log2);
    // The ready pipe is the supervisor's stdout (it points its stdout at its log once it
    // has spoken, and starts its own session): no code runs between fork and exec, so
    // the spawn is a vfork-like posix_spawn, cheap from a large, threaded program.
    let mut command = Command::new(exe);
    command
        .arg(SUPERVISE_ARG)
        .arg(sandbox.path())
        .env(READY_FD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::from(ready_w))
        .stderr(Stdio::from(log));
    let mut child = command
        .spawn()
        .map_err(|e| SandboxError::Start(format!("starting the supervisor: {e}")))?;
    // Our copy of the write end went into the command and is closed with it.
    drop(command);
    let input = SupervisorInput {
        plans: plans.to_vec(),
        transforms: crate::rules::to_wire(transforms),
    };
    let credentials = serde_json::to_vec(&input)
        .map_err(|e| SandboxError::Start(format!("encoding the brokered credentials: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A supervisor that died at once is reported through the ready pipe below.
        let _ = stdin.write_all(&credentials);
    }
    let mut line = String::new();
    let _ = BufReader::new(std::fs::File::from(ready_r)).read_line(&mut line);
    let line = line.trim_end();
    if line == "ok" {
        return Ok(());
    }
    if let Some(message) = line.strip_prefix("usage ") {
        return Err(SandboxError::Invalid(message.to_string()));
    }
    let message = line
        .strip_prefix("error ")
        .unwrap_or("the supervisor exited without a word");
    Err(SandboxError::Start(message.to_string()))
}

/// Sends one control request; on success returns the supervisor's pid (from the
/// socket's peer credentials, so it is known even when the record is not).
pub(crate) fn ctl(sandbox: &SandboxDir, id: &str, request: &CtlRequest) -> Result<Option<i32>> {
    ctl_reply(sandbox, id, request).map(|(pid, _)| pid)
}

/// Sends one control request whose answer carries a value.
pub(crate) fn ctl_value(
    sandbox: &SandboxDir,
    id: &str,
    request: &CtlRequest,
) -> Result<serde_json::Value> {
    ctl_reply(sandbox, id, request).map(|(_, value)| value.unwrap_or_default())
}

fn ctl_reply(
    sandbox: &SandboxDir,
    id: &str,
    request: &CtlRequest,
) -> Result<(Option<i32>, Option<serde_json::Value>)> {
    let (peer, reply) = match exchange(sandbox, id, request) {
        Ok(answer) => answer,
        Err(e) => return Err(ended_meanwhile(sandbox, id).unwrap_or(e)),
    };
    let refused = |message: String| SandboxError::Protocol {
        id: id.to_string(),
        message,
    };
    match reply.error {
        None if reply.ok => Ok((peer, reply.value)),
        Some(e) => Err(refused(e)),
        None => Err(refused("refused".into())),
    }
}

/// A supervisor that ends while a request is on its way (its deadline passed, another
/// client stopped it) resets the connection: that is a sandbox no longer running, which
/// callers answer as such, not a broken protocol. Its record says so once the
/// supervisor has finished stopping, which takes a moment.
fn ended_meanwhile(sandbox: &SandboxDir, id: &str) -> Option<SandboxError> {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        if let Some(ended) = ended(sandbox, id) {
            return Some(ended);
        }
        if std::time::Instant::now() >= give_up || sandbox.load().is_err() {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// [`SandboxError::NotRunning`] when the sandbox's record says it has ended.
pub(crate) fn ended(sandbox: &SandboxDir, id: &str) -> Option<SandboxError> {
    let status = sandbox.load().ok()?.effective_status();
    (!matches!(status, Status::Running | Status::Starting)).then(|| SandboxError::NotRunning {
        id: id.to_string(),
        status: status.to_string(),
        hint: String::new(),
    })
}

/// One request and its reply over a fresh connection; an error here is the connection
/// failing, never the supervisor's answer.
fn exchange(
    sandbox: &SandboxDir,
    id: &str,
    request: &CtlRequest,
) -> Result<(Option<i32>, CtlReply)> {
    let proto = |message: String| SandboxError::Protocol {
        id: id.to_string(),
        message,
    };
    let mut conn = UnixStream::connect(sandbox.ctl_socket())
        .map_err(|e| proto(format!("reaching its supervisor: {e}")))?;
    // A supervisor that accepts but never answers (stopped, wedged) must not hang the
    // caller: `destroy` then ends the sandbox without it.
    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let peer = nix::sys::socket::getsockopt(&conn, nix::sys::socket::sockopt::PeerCredentials)
        .ok()
        .map(|c| c.pid());
    let mut line = serde_json::to_vec(request).map_err(|e| proto(e.to_string()))?;
    line.push(b'\n');
    conn.write_all(&line).map_err(|e| proto(e.to_string()))?;
    let mut reply = String::new();
    BufReader::new(&conn)
        .read_line(&mut reply)
        .map_err(|e| proto(e.to_string()))?;
    let reply: CtlReply = serde_json::from_str(&reply)
        .map_err(|_| proto("the supervisor closed the connection".into()))?;
    Ok((peer, reply))
}
