//! What `warden process` and `warden revalidate` add around the pipeline
//! ([`warden_pipeline`] claims, investigates, settles and stops): the progress
//! bar, Ctrl-C, and the failure lines on stderr.

use crate::progress::ProcessBar;
use tokio::signal::unix::{signal, SignalKind};
use warden_pipeline::CancellationToken;

impl warden_pipeline::Progress for ProcessBar {
    fn file_done(&self, findings: usize, spend_usd: f64) {
        ProcessBar::file_done(self, findings, spend_usd);
    }

    fn slot(&self, slot: usize, state: warden_pipeline::SlotState<'_>) {
        ProcessBar::slot(self, slot, state);
    }

    fn finish(&self) {
        ProcessBar::finish(self);
    }
}

/// A token that fires on the first Ctrl-C (SIGINT). The handler is installed before
/// this returns, so a Ctrl-C at any later point stops the run gracefully instead
/// of killing the process. Call inside the runtime.
pub fn interrupt_on_ctrl_c() -> std::io::Result<CancellationToken> {
    let mut sigint = signal(SignalKind::interrupt())?;
    let interrupt = CancellationToken::new();
    let fire = interrupt.clone();
    tokio::spawn(async move {
        if sigint.recv().await.is_some() {
            fire.cancel();
        }
    });
    Ok(interrupt)
}

/// Tells the user why each file failed: one `warden: <what>: <reason>` line each on
/// stderr, whatever `--quiet` says (these are errors, not progress).
pub fn print_failures(failures: &[(String, String)]) {
    for (what, reason) in failures {
        eprintln!("warden: {}: {}", printable(what), printable(reason));
    }
}

/// `text` on one line with control characters escaped: paths and provider
/// messages are not ours, and must not break lines or drive the terminal.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// How often a run tells the store it is alive; `status` calls a running one silent for
/// three of these stale.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(10);

/// Stamps a run's heartbeat in the store every [`HEARTBEAT`] while it lives (a task on
/// the current runtime, stopped when this is dropped).
pub struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    pub fn start(
        store: std::sync::Arc<std::sync::Mutex<warden_store::Store>>,
        run_id: i64,
    ) -> Heartbeat {
        Heartbeat(tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            loop {
                tick.tick().await;
                let beat = store
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .heartbeat(run_id);
                if let Err(e) = beat {
                    tracing::warn!("heartbeat: {e}");
                }
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stall_hint_names_the_variable_the_cli_reads() {
        assert_eq!(
            warden_pipeline::STALL_TIMEOUT_VAR,
            super::super::model_setup::STALL_VAR
        );
    }
}
