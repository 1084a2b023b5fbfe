//! Running a command in a sandbox from a program: its output captured into memory or
//! files, a timeout, and a cancellation that kills it.
//!
//! The exec protocol hands the command descriptors (see [`crate::proto`]); here they are
//! the write ends of pipes this process reads, files the command writes itself, a
//! descriptor the caller owns (the write end of its own pipe, say), or `/dev/null`. Cancelling half-closes the connection: the sandbox's init kills the
//! command's process group and confirms with its exit, so when
//! [`Sandboxes::exec_captured`] returns, the command is gone.

use crate::error::{Result, SandboxError};
use crate::lifecycle::Sandboxes;
use crate::proto::{send_with_fds, ExecEvent, ExecRequest};
use std::future::Future;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// After the command exits, how long its output may still take to arrive (a process it
/// left behind may hold the pipe open forever; what it wrote by then is kept).
const OUTPUT_GRACE: Duration = Duration::from_millis(500);
/// How long the init has to confirm a cancelled command is dead.
const CANCEL_CONFIRM: Duration = Duration::from_secs(10);

/// Where one output stream of a command goes.
#[derive(Debug)]
pub enum Capture {
    /// Discarded (`/dev/null`).
    Null,
    /// Kept in memory: the first `limit` bytes; the rest is read and dropped, and the
    /// output says it was truncated.
    Memory { limit: usize },
    /// Written straight into this host file (created, or truncated), by the command
    /// itself: nothing passes through this process.
    File(PathBuf),
    /// Written straight into this descriptor (the write end of a pipe the caller reads,
    /// say), by the command itself. It is handed to the sandbox and closed here once
    /// sent: the caller's reader sees the end when the command (and whatever it left
    /// holding its output) has closed its copies.
    Fd(OwnedFd),
}

impl Capture {
    /// In memory, up to 64 MiB.
    pub fn memory() -> Capture {
        Capture::Memory { limit: 64 << 20 }
    }
}

/// The descriptors of one captured exec.
#[derive(Debug)]
pub struct ExecIo {
    /// Bytes the command reads on stdin; `None`: `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    pub stdout: Capture,
    pub stderr: Capture,
}

impl Default for ExecIo {
    /// Nothing in, both outputs in memory.
    fn default() -> ExecIo {
        ExecIo {
            stdin: None,
            stdout: Capture::memory(),
            stderr: Capture::memory(),
        }
    }
}

/// How a captured command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
    /// Its timeout (`ExecRequest::timeout_ms`) passed: the init killed its process group.
    TimedOut,
    /// The caller cancelled it: the init killed its process group.
    Cancelled,
}

impl Exit {
    /// Exited with code 0.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

/// What a captured command left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit: Exit,
    /// The output kept in memory (empty unless [`Capture::Memory`]).
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// More was written than [`Capture::Memory`]'s limit kept.
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    /// From the request being sent to the command's end.
    pub elapsed: Duration,
}

/// One output stream: the descriptor the command gets, and how this side reads it.
struct Sink {
    give: OwnedFd,
    read: Option<(OwnedFd, usize)>,
}

fn sink(capture: Capture) -> Result<Sink> {
    let open = |path: &std::path::Path, write: bool| -> Result<OwnedFd> {
        let file = std::fs::OpenOptions::new()
            .write(write)
            .read(!write)
            .create(write)
            .truncate(write)
            .open(path)
            .map_err(|e| SandboxError::io(format!("opening {}", path.display()), e))?;
        Ok(OwnedFd::from(file))
    };
    Ok(match capture {
        Capture::Null => Sink {
            give: open(std::path::Path::new("/dev/null"), true)?,
            read: None,
        },
        Capture::File(path) => Sink {
            give: open(&path, true)?,
            read: None,
        },
        Capture::Fd(fd) => Sink {
            give: fd,
            read: None,
        },
        Capture::Memory { limit } => {
            let (r, w) = pipe()?;
            Sink {
                give: w,
                read: Some((r, limit)),
            }
        }
    })
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SandboxError::io("pipe", e.into()))
}

/// What a reader kept so far: read while it runs, taken whole once it is stopped.
type Kept = std::sync::Arc<std::sync::Mutex<(Vec<u8>, bool)>>;

/// Reads a pipe to its end into `kept`, keeping the first `limit` bytes.
async fn drain(fd: OwnedFd, limit: usize, kept: Kept) {
    let Ok(mut pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
        return;
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let Ok(mut kept) = kept.lock() else { return };
                let room = limit.saturating_sub(kept.0.len());
                kept.0.extend_from_slice(&buf[..n.min(room)]);
                kept.1 |= n > room;
            }
        }
    }
}

impl Sandboxes {
    /// Runs `request` in a running sandbox with its output captured as `io` says, and
    /// returns once the command has ended: exited, timed out (`request.timeout_ms`), or
    /// killed because `cancel` completed first (pass e.g. a cancellation token's
    /// `cancelled()`, or `std::future::pending()` for none). A detached request is refused.
    /// Needs a tokio runtime with I/O enabled.
    pub async fn exec_captured(
        &self,
        id_or_name: &str,
        request: &ExecRequest,
        io: ExecIo,
        cancel: impl Future<Output = ()>,
    ) -> Result<ExecOutput> {
        let (_keep, signals) = tokio::sync::mpsc::unbounded_channel();
        self.exec_captured_with_signals(id_or_name, request, io, cancel, signals)
            .await
    }

    /// [`Sandboxes::exec_captured`], and each number received on `signals` while the
    /// command runs (15 for SIGTERM, 2 for SIGINT: see [`crate::commands::parse_signal`])
    /// is sent to its process group. A command a signal ends reports
    /// [`Exit::Signal`] (or its own exit code, if it handles the signal).
    pub async fn exec_captured_with_signals(
        &self,
        id_or_name: &str,
        request: &ExecRequest,
        io: ExecIo,
        cancel: impl Future<Output = ()>,
        signals: tokio::sync::mpsc::UnboundedReceiver<i32>,
    ) -> Result<ExecOutput> {
        match self
            .exec_captured_inner(id_or_name, request, io, cancel, signals)
            .await
        {
            // The sandbox ended under the command (its deadline, a stop, a destroy): say
            // that, rather than that the connection broke.
            Err(e @ SandboxError::Protocol { .. }) => {
                let Ok((sandbox, meta)) = self.find(id_or_name) else {
                    return Err(e);
                };
                let give_up = Instant::now() + Duration::from_secs(2);
                loop {
                    if let Some(ended) = crate::control::ended(&sandbox, &meta.id) {
                        return Err(ended);
                    }
                    if Instant::now() >= give_up {
                        return Err(e);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            other => other,
        }
    }

    async fn exec_captured_inner(
        &self,
        id_or_name: &str,
        request: &ExecRequest,
        io: ExecIo,
        cancel: impl Future<Output = ()>,
        mut signals: tokio::sync::mpsc::UnboundedReceiver<i32>,
    ) -> Result<ExecOutput> {
        if request.detach {
            return Err(SandboxError::Invalid(
                "a captured command cannot be detached".into(),
            ));
        }
        let (sandbox, meta) = self.find_running(id_or_name)?;
        let proto = |message: String| SandboxError::Protocol {
            id: meta.id.clone(),
            message,
        };
        let line = crate::lifecycle::request_line(request)?;
        let stdin = match &io.stdin {
            None => Sink {
                give: OwnedFd::from(
                    std::fs::File::open("/dev/null")
                        .map_err(|e| SandboxError::io("opening /dev/null", e))?,
                ),
                read: None,
            },
            Some(_) => {
                let (r, w) = pipe()?;
                Sink {
                    give: r,
                    read: Some((w, 0)),
                }
            }
        };
        let (stdout, stderr) = (sink(io.stdout)?, sink(io.stderr)?);
        let conn = std::os::unix::net::UnixStream::connect(sandbox.exec_socket())
            .map_err(|e| proto(format!("connecting: {e}")))?;
        let started = Instant::now();
        send_with_fds(
            &conn,
            &line,
            &[
                stdin.give.as_raw_fd(),
                stdout.give.as_raw_fd(),
                stderr.give.as_raw_fd(),
            ],
        )
        .map_err(|e| proto(format!("sending the command: {e}")))?;
        // The sandbox holds its own copies now; ours would keep the pipes from ending.
        drop((stdin.give, stdout.give, stderr.give));
        let feeder = match (stdin.read, io.stdin) {
            (Some((w, _)), Some(bytes)) => Some(tokio::spawn(async move {
                if let Ok(mut pipe) = tokio::net::unix::pipe::Sender::from_owned_fd(w) {
                    let _ = pipe.write_all(&bytes).await;
                }
            })),
            _ => None,
        };
        let readers = [stdout.read, stderr.read].map(|r| {
            r.map(|(fd, limit)| {
                let kept = Kept::default();
                (tokio::spawn(drain(fd, limit, kept.clone())), kept)
            })
        });
        conn.set_nonblocking(true)
            .map_err(|e| proto(format!("connection: {e}")))?;
        let conn = tokio::net::UnixStream::from_std(conn)
            .map_err(|e| proto(format!("connection: {e}")))?;
        let (read_half, mut write_half) = conn.into_split();
        let mut lines = tokio::io::BufReader::new(read_half).lines();
        let mut cancelled = false;
        let mut cancel_deadline = None;
        tokio::pin!(cancel);
        let exit = loop {
            let next = tokio::select! {
                line = lines.next_line() => line,
                Some(signal) = signals.recv(), if !cancelled => {
                    let mut line = serde_json::to_vec(&crate::proto::ExecSignal { signal })
                        .unwrap_or_default();
                    line.push(b'\n');
                    let _ = write_half.write_all(&line).await;
                    continue;
                }
                () = &mut cancel, if !cancelled => {
                    // A half-closed connection is the init's signal to kill the command.
                    cancelled = true;
                    cancel_deadline = Some(tokio::time::Instant::now() + CANCEL_CONFIRM);
                    let _ = write_half.shutdown().await;
                    continue;
                }
                () = async {
                    match cancel_deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                } => {
                    return Err(proto("the sandbox did not confirm the cancelled command ended".into()));
                }
            };
            let line = match next {
                Ok(Some(line)) => line,
                Ok(None) | Err(_) => {
                    return Err(proto("the sandbox ended while the command ran".into()))
                }
            };
            let event: ExecEvent =
                serde_json::from_str(&line).map_err(|e| proto(format!("bad reply: {e}")))?;
            match event {
                ExecEvent::Started { .. } => {}
                ExecEvent::Error { message } => return Err(SandboxError::Invalid(message)),
                ExecEvent::Exited {
                    timed_out: true, ..
                } => break Exit::TimedOut,
                ExecEvent::Exited { .. } if cancelled => break Exit::Cancelled,
                ExecEvent::Exited {
                    signal: Some(sig), ..
                } => break Exit::Signal(sig),
                ExecEvent::Exited { code, .. } => break Exit::Code(code),
            }
        };
        let elapsed = started.elapsed();
        if let Some(feeder) = feeder {
            feeder.abort();
        }
        let mut outputs = [(Vec::new(), false), (Vec::new(), false)];
        let grace = tokio::time::Instant::now() + OUTPUT_GRACE;
        for (slot, reader) in outputs.iter_mut().zip(readers) {
            if let Some((mut task, kept)) = reader {
                // A process left behind may hold the pipe open: keep what came by then.
                if tokio::time::timeout_at(grace, &mut task).await.is_err() {
                    task.abort();
                }
                if let Ok(mut kept) = kept.lock() {
                    *slot = std::mem::take(&mut *kept);
                }
            }
        }
        let [(stdout, stdout_truncated), (stderr, stderr_truncated)] = outputs;
        Ok(ExecOutput {
            exit,
            stdout,
            stderr,
            stdout_truncated,
            stderr_truncated,
            elapsed,
        })
    }
}
