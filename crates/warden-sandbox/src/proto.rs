//! The exec protocol between the host (`warden sandbox exec`) and the sandbox's init.
//!
//! The client connects to `sock/exec.sock`, sends one JSON line (`ExecRequest`) whose
//! first byte carries its stdin, stdout and stderr as `SCM_RIGHTS`, and reads JSON
//! lines back (`ExecEvent`). The command writes straight into the client's own
//! descriptors: no copy, no buffering, and a terminal stays a terminal. Closing the
//! connection kills the command (unless it was detached); while it runs, the client may
//! send [`ExecSignal`] lines, each delivered to the command's process group.

use crate::os_arg::OsArg;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecRequest {
    /// Bytes, not text: see [`OsArg`].
    pub argv: Vec<OsArg>,
    /// Added to (and overriding) the sandbox's base environment.
    pub env: Vec<(String, OsArg)>,
    /// Inside the sandbox; default /workspace.
    pub cwd: Option<OsArg>,
    /// Kill the command's process group after this long.
    pub timeout_ms: Option<u64>,
    /// Return once started; the command lives until the sandbox ends.
    pub detach: bool,
}

impl ExecRequest {
    /// A command to run in /workspace with the sandbox's environment, no timeout.
    pub fn new<I, A>(argv: I) -> ExecRequest
    where
        I: IntoIterator<Item = A>,
        A: Into<OsArg>,
    {
        ExecRequest {
            argv: argv.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            cwd: None,
            timeout_ms: None,
            detach: false,
        }
    }

    /// Adds (or overrides) one variable of the sandbox's environment.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<OsArg>) -> ExecRequest {
        self.env.push((name.into(), value.into()));
        self
    }

    /// The working directory inside the sandbox.
    pub fn cwd(mut self, dir: impl Into<OsArg>) -> ExecRequest {
        self.cwd = Some(dir.into());
        self
    }

    /// Kills the command's process group after `limit`.
    pub fn timeout(mut self, limit: std::time::Duration) -> ExecRequest {
        self.timeout_ms = Some(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX));
        self
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", tag = "event")]
pub enum ExecEvent {
    Started {
        pid: i32,
    },
    Exited {
        code: i32,
        signal: Option<i32>,
        timed_out: bool,
    },
    Error {
        message: String,
    },
}

impl ExecEvent {
    /// The exit code a shell would report: the code, 128+signal, or 124 on timeout (as `timeout(1)`).
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecEvent::Exited {
                timed_out: true, ..
            } => 124,
            ExecEvent::Exited {
                signal: Some(sig), ..
            } => 128 + sig,
            ExecEvent::Exited { code, .. } => *code,
            ExecEvent::Started { .. } => 0,
            ExecEvent::Error { .. } => 127,
        }
    }
}

/// A line a client sends while its (non-detached) command runs: the init sends this
/// signal to the command's process group.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExecSignal {
    pub signal: i32,
}

/// Sends `line` (which must end in `\n`) with `fds` attached to its first byte.
pub fn send_with_fds(sock: &UnixStream, line: &[u8], fds: &[RawFd]) -> std::io::Result<()> {
    let cmsg = [ControlMessage::ScmRights(fds)];
    let first = sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(line)],
        &cmsg,
        MsgFlags::empty(),
        None,
    )
    .map_err(std::io::Error::from)?;
    let mut rest = &line[first..];
    while !rest.is_empty() {
        let n = nix::unistd::write(sock, rest).map_err(std::io::Error::from)?;
        rest = &rest[n..];
    }
    Ok(())
}

/// Reads one line, collecting any descriptors that came with it.
pub fn recv_line_with_fds(
    sock: &UnixStream,
    max: usize,
) -> std::io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut line = Vec::new();
    let mut fds = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let mut cmsg = nix::cmsg_space!([RawFd; 8]);
        let (n, got) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<()>(
                sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .map_err(std::io::Error::from)?;
            let mut got = Vec::new();
            for c in msg.cmsgs().map_err(std::io::Error::from)? {
                if let ControlMessageOwned::ScmRights(raw) = c {
                    got.extend(raw);
                }
            }
            (msg.bytes, got)
        };
        // SAFETY: the kernel just installed these descriptors in our table; we own them.
        fds.extend(
            got.into_iter()
                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
        );
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        line.extend_from_slice(&buf[..n]);
        if line.last() == Some(&b'\n') {
            return Ok((line, fds));
        }
        if line.len() > max {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "request too long",
            ));
        }
    }
}
