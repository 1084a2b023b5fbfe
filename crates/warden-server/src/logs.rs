//! A detached command's output, read back from the files its sandbox's supervisor
//! writes it to ([`CommandInfo::stdout`], [`CommandInfo::stderr`]: host files no process
//! inside can reach, that only grow), as the same events a streamed command sends.
//!
//! Both files are read from the start; when following, new output is picked up as it
//! is written (polled every 100 ms) until the command has ended and both files are
//! read to their end, then the `exit` event closes the stream. Without following,
//! what is there now is sent, and the `exit` event only if the command had ended.
//! Events go through a channel of a few: a slow client slows the reading, never the
//! command, and never grows the server's memory.

use crate::exec::{decode, CommandEvent, Format, OutputData};
use bytes::Bytes;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use warden_sandbox::{CommandInfo, Sandboxes};

/// How often a followed command's files and status are looked at.
const POLL: Duration = Duration::from_millis(100);
/// The largest chunk of output in one event.
const CHUNK: usize = 64 << 10;
/// Events waiting for a slow client, at most.
const QUEUE: usize = 8;

/// The encoded events of command `info` of sandbox `id`, from the start of its output.
pub fn stream(
    sandboxes: Sandboxes,
    id: String,
    info: CommandInfo,
    follow: bool,
    format: Format,
) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> {
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
    tokio::spawn(async move {
        let sender = Sender { tx, format };
        if let Err(Gone) = forward(&sandboxes, &id, info, follow, &sender).await {
            tracing::debug!(sandbox = %id, "a logs client went away");
        }
    });
    crate::exec::with_heartbeats(rx, format, ())
}

/// The client went away.
struct Gone;

struct Sender {
    tx: mpsc::Sender<Bytes>,
    format: Format,
}

impl Sender {
    async fn send(&self, event: CommandEvent) -> Result<(), Gone> {
        self.tx
            .send(self.format.encode(&event))
            .await
            .map_err(|_| Gone)
    }
}

/// One output file, read as far as it goes each time.
struct Tail {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    pending: Vec<u8>,
    is_err: bool,
}

impl Tail {
    fn new(path: PathBuf, is_err: bool) -> Tail {
        Tail {
            path,
            file: None,
            pending: Vec::new(),
            is_err,
        }
    }

    /// Sends everything written since the last call.
    async fn drain(&mut self, out: &Sender) -> Result<(), Gone> {
        if self.file.is_none() {
            // Not there yet (or unreadable): nothing written that can be read.
            self.file = tokio::fs::File::open(&self.path).await.ok();
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match file.read(&mut buf).await {
                Ok(0) | Err(_) => return Ok(()),
                Ok(n) => n,
            };
            for data in decode(&mut self.pending, &buf[..n]) {
                out.send(event(self.is_err, data)).await?;
            }
        }
    }

    /// Bytes left over that never became a whole character.
    async fn finish(&mut self, out: &Sender) -> Result<(), Gone> {
        if self.pending.is_empty() {
            return Ok(());
        }
        use base64::Engine;
        let data = OutputData {
            data: None,
            data_base64: Some(
                base64::engine::general_purpose::STANDARD.encode(std::mem::take(&mut self.pending)),
            ),
        };
        out.send(event(self.is_err, data)).await
    }
}

fn event(is_err: bool, data: OutputData) -> CommandEvent {
    match is_err {
        true => CommandEvent::Stderr(data),
        false => CommandEvent::Stdout(data),
    }
}

async fn forward(
    sandboxes: &Sandboxes,
    id: &str,
    mut info: CommandInfo,
    follow: bool,
    out: &Sender,
) -> Result<(), Gone> {
    out.send(CommandEvent::Start {
        cmd_id: info.id.clone(),
    })
    .await?;
    let mut tails = [
        Tail::new(info.stdout.clone(), false),
        Tail::new(info.stderr.clone(), true),
    ];
    loop {
        // The status first, then the files: once it has ended, what they hold is all.
        let ended = !info.is_running();
        for tail in &mut tails {
            tail.drain(out).await?;
        }
        if ended || !follow {
            break;
        }
        tokio::time::sleep(POLL).await;
        let (sandboxes, id, cmd) = (sandboxes.clone(), id.to_string(), info.id.clone());
        match tokio::task::spawn_blocking(move || sandboxes.command(&id, &cmd)).await {
            Ok(Ok(now)) => info = now,
            Ok(Err(e)) => {
                // The sandbox was destroyed while it was followed, say.
                let detail = crate::problem::ApiError::from(e).problem().detail;
                return out.send(CommandEvent::Error { detail }).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "reading a command's status failed");
                let detail = "the server failed; the details are in its log".to_string();
                return out.send(CommandEvent::Error { detail }).await;
            }
        }
    }
    for tail in &mut tails {
        tail.finish(out).await?;
    }
    if info.is_running() {
        return Ok(());
    }
    match info.exit_code {
        Some(exit_code) => out.send(CommandEvent::Exit { exit_code }).await,
        None => {
            let detail = format!("command {} ended without an exit code", info.id);
            out.send(CommandEvent::Error { detail }).await
        }
    }
}
