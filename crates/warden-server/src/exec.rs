//! Running one command for one request: waited for (its output kept in memory, 16 MiB
//! each), or streamed as NDJSON or SSE events while it runs.
//!
//! A streamed command writes into pipes this server reads: each pipe's write end is
//! handed to [`Sandboxes::exec_captured`] as a [`Capture::Fd`] (closed on this side once
//! the sandbox holds it), and chunks go out as they arrive, at most 64 KiB each, through a channel
//! of a few chunks: a slow client slows the command (its writes block) instead of
//! growing the server's memory. When the client goes away, the response body is dropped,
//! which cancels the command: `exec_captured` half-closes its connection and the
//! sandbox's init kills the command's process group.

use crate::problem::ApiError;
use base64::Engine;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;
use warden_sandbox::{Capture, ExecIo, ExecRequest, Exit, Sandboxes};

/// Output kept per stream when a command is waited for.
pub const WAIT_LIMIT: usize = 16 << 20;
/// The largest chunk of output in one event.
const CHUNK: usize = 64 << 10;
/// Events waiting for a slow client, at most.
const QUEUE: usize = 8;
/// After the command exits, how long a process it left behind may keep its output open.
const OUTPUT_GRACE: Duration = Duration::from_millis(500);
/// A stream that has sent nothing for this long sends a `heartbeat` event.
pub const HEARTBEAT: Duration = Duration::from_secs(20);

/// One event of a streamed command, one NDJSON line or SSE event each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum CommandEvent {
    Start {
        #[serde(rename = "cmdId")]
        cmd_id: String,
    },
    Stdout(#[schema(inline)] OutputData),
    Stderr(#[schema(inline)] OutputData),
    Exit {
        #[serde(rename = "exitCode")]
        exit_code: i32,
    },
    Error {
        detail: String,
    },
    /// Sent after [`HEARTBEAT`] without another event, so that clients and proxies that
    /// drop a silent response (Node's fetch does after 300 s) keep a quiet command's
    /// stream open. Carries nothing; clients skip it.
    Heartbeat,
}

/// A chunk of output: text (`data`), or `dataBase64` when the bytes are not UTF-8.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OutputData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(rename = "dataBase64", skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
}

impl CommandEvent {
    fn name(&self) -> &'static str {
        match self {
            CommandEvent::Start { .. } => "start",
            CommandEvent::Stdout(_) => "stdout",
            CommandEvent::Stderr(_) => "stderr",
            CommandEvent::Exit { .. } => "exit",
            CommandEvent::Error { .. } => "error",
            CommandEvent::Heartbeat => "heartbeat",
        }
    }
}

/// How events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Sse,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Sse => "text/event-stream",
        }
    }

    pub fn encode(self, event: &CommandEvent) -> Bytes {
        let json = serde_json::to_vec(event).unwrap_or_default();
        match self {
            Format::Ndjson => {
                let mut line = json;
                line.push(b'\n');
                Bytes::from(line)
            }
            Format::Sse => {
                let name = event.name();
                let mut out = Vec::with_capacity(json.len() + name.len() + 16);
                out.extend_from_slice(b"event: ");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\ndata: ");
                out.extend_from_slice(&json);
                out.extend_from_slice(b"\n\n");
                Bytes::from(out)
            }
        }
    }
}

/// The exit code a shell would show: the code, 128+signal, 124 on timeout.
pub fn exit_code(exit: Exit) -> i32 {
    match exit {
        Exit::Code(c) => c,
        Exit::Signal(s) => 128 + s,
        Exit::TimedOut => 124,
        Exit::Cancelled => 130,
    }
}

/// Starts `request` in sandbox `id` and returns the stream of its encoded events:
/// `start`, output chunks as they come, then `exit` (or `error`). Dropping the stream
/// kills the command.
pub fn stream(
    sandboxes: Sandboxes,
    id: String,
    cmd_id: String,
    request: ExecRequest,
    stdin: Option<Vec<u8>>,
    format: Format,
) -> Result<impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>>, ApiError> {
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let io = ExecIo {
        stdin,
        stdout: Capture::Fd(out_w),
        stderr: Capture::Fd(err_w),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
    let cancel = CancellationToken::new();
    let guard = cancel.clone().drop_guard();
    tokio::spawn(async move {
        let _ = tx
            .send(format.encode(&CommandEvent::Start { cmd_id }))
            .await;
        // When the command has ended: from then on, a pipe that stays open without data
        // (held by a process the command left behind) is given up after OUTPUT_GRACE.
        let (ended_tx, ended_rx) = tokio::sync::watch::channel(None);
        let readers = [(out_r, false), (err_r, true)].map(|(fd, is_err)| {
            let reader = Reader {
                tx: tx.clone(),
                cancel: cancel.clone(),
                ended: ended_rx.clone(),
                format,
                is_err,
            };
            tokio::spawn(reader.forward(fd))
        });
        let result = sandboxes
            .exec_captured(&id, &request, io, cancel.cancelled())
            .await;
        let _ = ended_tx.send(Some(tokio::time::Instant::now() + OUTPUT_GRACE));
        // Everything read is sent, however slow the client: its output is not dropped.
        for reader in readers {
            let _ = reader.await;
        }
        let last = match result {
            Ok(out) => CommandEvent::Exit {
                exit_code: exit_code(out.exit),
            },
            Err(e) => CommandEvent::Error {
                detail: ApiError::from(e).problem().detail,
            },
        };
        if !cancel.is_cancelled() {
            let _ = tx.send(format.encode(&last)).await;
        } else {
            tracing::info!(sandbox = %id, "streamed command cancelled: its client went away");
        }
    });
    Ok(with_heartbeats(rx, format, guard))
}

/// The queued events as a response body, with a `heartbeat` after every [`HEARTBEAT`]
/// of silence; ends when the sender is gone. `keep` lives as long as the body (dropping
/// it is how a client that goes away reaches the command).
pub fn with_heartbeats<K: Send + 'static>(
    rx: mpsc::Receiver<Bytes>,
    format: Format,
    keep: K,
) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> {
    futures_util::stream::unfold((rx, keep), move |(mut rx, keep)| async move {
        let chunk = match tokio::time::timeout(HEARTBEAT, rx.recv()).await {
            Ok(chunk) => chunk?,
            Err(_) => format.encode(&CommandEvent::Heartbeat),
        };
        Some((Ok(chunk), (rx, keep)))
    })
}

/// One output pipe of a streamed command, read into events.
struct Reader {
    tx: mpsc::Sender<Bytes>,
    cancel: CancellationToken,
    /// Set once the command has ended: the time to give up on a pipe that stays open.
    ended: tokio::sync::watch::Receiver<Option<tokio::time::Instant>>,
    format: Format,
    is_err: bool,
}

impl Reader {
    /// Reads the pipe until it ends, the command is cancelled, or (after the command
    /// ended) no more output came within the grace.
    async fn forward(mut self, fd: OwnedFd) {
        let Ok(mut pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
            return;
        };
        let mut buf = vec![0u8; CHUNK];
        let mut pending = Vec::new();
        loop {
            let n = tokio::select! {
                // Output that is there is always read first.
                biased;
                n = pipe.read(&mut buf) => n,
                () = self.cancel.cancelled() => return,
                () = given_up(&mut self.ended) => break,
            };
            let pieces = match n {
                Ok(0) | Err(_) => break,
                Ok(n) => decode(&mut pending, &buf[..n]),
            };
            for data in pieces {
                if !self.send(data).await {
                    // The client is gone: stop the command.
                    self.cancel.cancel();
                    return;
                }
            }
        }
        if !pending.is_empty() {
            let data = OutputData {
                data: None,
                data_base64: Some(base64::engine::general_purpose::STANDARD.encode(&pending)),
            };
            self.send(data).await;
        }
    }

    async fn send(&self, data: OutputData) -> bool {
        let event = match self.is_err {
            true => CommandEvent::Stderr(data),
            false => CommandEvent::Stdout(data),
        };
        self.tx.send(self.format.encode(&event)).await.is_ok()
    }
}

/// Completes once the command has ended and its grace has passed.
async fn given_up(ended: &mut tokio::sync::watch::Receiver<Option<tokio::time::Instant>>) {
    let Ok(deadline) = ended.wait_for(Option::is_some).await.map(|d| *d) else {
        return std::future::pending().await;
    };
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}

/// A chunk as text while it is UTF-8, and the rest from the first bad byte as base64; a
/// character split across chunks waits in `pending` for its end.
pub fn decode(pending: &mut Vec<u8>, chunk: &[u8]) -> Vec<OutputData> {
    let mut bytes = std::mem::take(pending);
    bytes.extend_from_slice(chunk);
    let valid = match std::str::from_utf8(&bytes) {
        Ok(_) => bytes.len(),
        Err(e) => e.valid_up_to(),
    };
    let mut out = Vec::new();
    if valid > 0 {
        out.push(OutputData {
            data: Some(String::from_utf8_lossy(&bytes[..valid]).into_owned()),
            data_base64: None,
        });
    }
    let rest = &bytes[valid..];
    let incomplete = std::str::from_utf8(rest).is_err_and(|e| e.error_len().is_none());
    if incomplete && rest.len() < 4 {
        *pending = rest.to_vec();
    } else if !rest.is_empty() {
        out.push(OutputData {
            data: None,
            data_base64: Some(base64::engine::general_purpose::STANDARD.encode(rest)),
        });
    }
    out
}

/// Runs `request` and waits for it; each output kept up to [`WAIT_LIMIT`].
pub async fn wait(
    sandboxes: &Sandboxes,
    id: &str,
    request: &ExecRequest,
    stdin: Option<Vec<u8>>,
) -> Result<warden_sandbox::ExecOutput, ApiError> {
    let io = ExecIo {
        stdin,
        stdout: Capture::Memory { limit: WAIT_LIMIT },
        stderr: Capture::Memory { limit: WAIT_LIMIT },
    };
    // When the client goes away, this future is dropped with the connection to the
    // sandbox, which kills the command.
    Ok(sandboxes
        .exec_captured(id, request, io, std::future::pending())
        .await?)
}

fn pipe() -> Result<(OwnedFd, OwnedFd), ApiError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors on success.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(ApiError::Internal(format!(
            "pipe: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: both descriptors are new and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_split_across_chunks_stays_text() {
        let mut pending = Vec::new();
        let euro = "€".as_bytes();
        let first = decode(&mut pending, &[b'a', euro[0]]);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].data.as_deref(), Some("a"));
        assert!(decode(&mut pending, &euro[1..2]).is_empty());
        let last = decode(&mut pending, &euro[2..]);
        assert_eq!(last[0].data.as_deref(), Some("€"));
        assert!(pending.is_empty());
    }

    #[test]
    fn bytes_that_are_not_utf8_go_as_base64() {
        let mut pending = Vec::new();
        let out = decode(&mut pending, b"ok\n\xff\x00x");
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].data.as_deref(), Some("ok\n"));
        assert_eq!(out[1].data, None);
        assert_eq!(out[1].data_base64.as_deref(), Some("/wB4"));
        assert!(pending.is_empty());
    }

    #[test]
    fn sse_and_ndjson_carry_the_same_event() {
        let event = CommandEvent::Exit { exit_code: 3 };
        assert_eq!(
            &Format::Ndjson.encode(&event)[..],
            b"{\"type\":\"exit\",\"exitCode\":3}\n"
        );
        assert_eq!(
            &Format::Sse.encode(&event)[..],
            b"event: exit\ndata: {\"type\":\"exit\",\"exitCode\":3}\n\n"
        );
    }
}
