//! Warden's orchestration, the same for the CLI, `warden worker` and `warden server`:
//! which file (or batch of files) an agent investigates next, and what the store
//! records when it is done.
//!
//! - [`process()`]: claims candidate files under a lease (renewed while the agent
//!   works), runs at most `concurrency` investigations at once through any
//!   [`Agent`] (each in a slot that prepares its next investigation while the current
//!   one runs: [`Agent::prepare`]), and settles each file: its findings and the spend of every model
//!   call, the agent's session, and the file analyzed, failed or given back. With
//!   `batch_size > 1`, consecutive queue entries from one directory go to one
//!   investigation together.
//! - [`revalidate()`]: the same loop over stored findings: verdicts and spend.
//! - A graceful stop (exhausted credits or rejected credentials, `max_cost`, the
//!   caller's `interrupt`) claims nothing more, cancels what is in flight and gives
//!   those files back; a stop never leaves a file claimed.
//!
//! The caller owns what is not orchestration: where the queue comes from, signals
//! (it fires `interrupt`), the progress display ([`Progress`]) and the summary.

mod batch;
mod process;
mod renew;
mod revalidate;
mod settle;
mod slots;
mod snapshot;

pub use process::{process, Queue, Summary};
pub use revalidate::{revalidate, Judged};
pub use snapshot::{Snapshot, SnapshotError, TreeSource};
pub use warden_agent::Agent;
pub use warden_llm::CancellationToken;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use warden_agent::AgentError;
use warden_llm::LlmError;

/// What a run needs to know besides the store, the agent and its queue.
#[derive(Debug, Clone)]
pub struct Work {
    pub project: String,
    /// The scanned root the agent reads.
    pub root: PathBuf,
    /// Project tech tags, passed to the agent.
    pub tech: Vec<String>,
    /// Who holds the leases (see `warden_store::default_holder`).
    pub holder: String,
    /// The run that calls, findings, verdicts and sessions are recorded under.
    pub run_id: i64,
    /// How long a claim lasts without renewal; renewed every third of it.
    pub lease: Duration,
    /// Investigations (or judgements) at once, each in its own slot (for an agent
    /// CLI, its own sandbox); at least 1 is used.
    pub concurrency: usize,
    /// Stop before the spend of this run would reach this many USD.
    pub max_cost: Option<f64>,
    /// Files per investigation, clamped to [`Agent::max_batch`]; 1 (the default) for one each.
    pub batch_size: usize,
    /// Checked for each claimed file before it is investigated.
    pub verify: Option<Verifier>,
}

/// Checks a claimed file before it is investigated: `Err(reason)` fails it unread (a
/// worker's copy of the tree whose bytes differ from the scan's).
#[derive(Clone)]
pub struct Verifier(pub Arc<VerifyFn>);

/// See [`Verifier`].
pub type VerifyFn = dyn Fn(&str) -> Result<(), String> + Send + Sync;

impl Verifier {
    pub fn check(&self, path: &str) -> Result<(), String> {
        (self.0)(path)
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier")
    }
}

impl Work {
    /// A run of `project` under `run_id` with one file per investigation, one at a
    /// time, no spend cap, and a lease of ten minutes.
    pub fn new(project: &str, root: PathBuf, holder: &str, run_id: i64) -> Work {
        Work {
            project: project.to_string(),
            root,
            tech: Vec::new(),
            holder: holder.to_string(),
            run_id,
            lease: Duration::from_secs(600),
            concurrency: 1,
            max_cost: None,
            batch_size: 1,
            verify: None,
        }
    }
}

/// What one slot (one of the `concurrency` investigations at once; for an agent CLI,
/// one sandbox) is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState<'a> {
    /// Getting its next investigation ready ([`Agent::prepare`]; for an agent CLI,
    /// creating the sandbox), with nothing claimed yet.
    Preparing,
    /// Investigating `path` (and `more` files of its batch), or judging a finding in it.
    Investigating { path: &'a str, more: usize },
    /// Nothing to do: the queue is empty or the run is stopping.
    Idle,
}

/// Told about progress; the CLI draws a bar from it. Called from the run's task.
pub trait Progress: Send + Sync {
    /// One more file (or finding) settled: investigated, failed, given back or
    /// skipped; `findings` and `spend_usd` are the run's totals so far.
    fn file_done(&self, findings: usize, spend_usd: f64) {
        let _ = (findings, spend_usd);
    }
    /// Slot `slot` (0 to `concurrency` - 1) changed what it does.
    fn slot(&self, slot: usize, state: SlotState<'_>) {
        let _ = (slot, state);
    }
    /// The run is over.
    fn finish(&self) {}
}

/// No progress display.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {}

/// Why a run stopped before its queue was done.
#[derive(Debug)]
pub enum Stop {
    /// Credits or quota exhausted, or credentials rejected.
    Llm(LlmError),
    /// `max_cost` reached, or would be by starting another investigation.
    MaxCost { cap: f64, spent: f64 },
    /// The caller's `interrupt` fired (Ctrl-C).
    Interrupted,
}

impl Stop {
    /// One line: what happened and what to do.
    pub fn message(&self) -> String {
        match self {
            Stop::Llm(e) => e.user_message(),
            Stop::MaxCost { cap, spent } => format!(
                "--max-cost ${cap} reached (spent ${spent:.6} in this run); unfinished files are pending again: re-run (with a higher --max-cost) to resume"
            ),
            Stop::Interrupted => {
                "interrupted; unfinished files are pending again: re-run to resume".to_string()
            }
        }
    }
}

/// The environment variable that sets how long a model may stay silent (read by
/// the front ends when they build the model client); a stall names it.
pub const STALL_TIMEOUT_VAR: &str = "WARDEN_STALL_TIMEOUT";

/// Why an investigation failed, in words for the user: a stall also says how to wait longer.
pub fn failure_reason(e: &AgentError) -> String {
    match e {
        AgentError::Llm(LlmError::Stalled { .. }) => {
            format!("{e}; if the model needs longer before it answers, raise {STALL_TIMEOUT_VAR}")
        }
        other => other.to_string(),
    }
}

/// Projected spend if one more investigation starts: what is spent, plus each one
/// in flight and the new one at the average cost of a finished investigation.
fn would_exceed(cap: f64, spent: f64, finished: usize, inflight: usize) -> bool {
    let average = if finished == 0 {
        0.0
    } else {
        spent / finished as f64
    };
    spent + (inflight + 1) as f64 * average >= cap
}
