//! Warden's native agent: investigates one candidate file with a model and
//! read-only tools confined to the scanned root, and returns validated
//! findings, rejected reports, and one [`LlmCall`] per model call.
//!
//! - [`tools`]: `read_file`, `search`, `list_dir`, `find_files`; every path
//!   goes through [`confine::Root::resolve`] (no `..`, no absolute paths, no
//!   symlink leading outside), and a refusal is an `is_error` tool result.
//! - [`finding`]: the `report_finding` schema and its validation (file inside
//!   the root, `1 <= start <= end <= line count`, severity and confidence
//!   parse); `finish` ends the investigation, as does a turn without tool calls.
//! - [`prompt`]: the fixed, cached system prompt (Anthropic `cache_control`
//!   on the system block also caches the tool definitions before it) and the
//!   per-file user message (hits, tech, the file inlined when small).
//! - [`agent`]: the loop and its [`Limits`]. Each model call is streamed
//!   ([`warden_llm::ModelClient::send_streamed`]): an endpoint that stops making
//!   progress fails the call after the client's stall timeout.
//!
//! Errors: exhausted credits / rejected credentials ([`LlmError::stops_run`])
//! and cancellation are `Err`; a limit is [`Outcome::Incomplete`]; another
//! model error is `Err` on the first call and `Incomplete` (keeping findings
//! and spend) after it. [`NativeAgent::investigate_keeping_calls`] also
//! returns the calls made before an `Err`, so their spend can be recorded.
//!
//! [`LlmCall`]: warden_store::LlmCall

pub mod agent;
pub mod cli_agent;
pub mod cli_output;
pub mod confine;
pub mod finding;
pub mod mcp;
pub mod prompt;
pub mod revalidate;
pub mod tools;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
pub use revalidate::{FindingTask, Revalidation, VerdictAnswer};
use warden_llm::{CancellationToken, LlmError, ModelClient, PriceTable};

/// One file to investigate.
#[derive(Debug, Clone, PartialEq)]
pub struct FileTask {
    /// Canonical scanned root.
    pub root: PathBuf,
    /// Relative to `root`, `/`-separated.
    pub path: String,
    pub language: Option<String>,
    pub hits: Vec<warden_store::Hit>,
    /// Project tech tags (frameworks, languages).
    pub tech: Vec<String>,
}

/// How an investigation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The model finished.
    Complete,
    /// A limit was hit (turns, tokens, time); findings so far are kept.
    Incomplete { reason: String },
}

/// A reported finding that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedFinding {
    pub title: String,
    pub reason: String,
}

/// The result of investigating one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Investigation {
    /// Validated; `run_id` None, `cost_usd` = this file's cost split evenly over its findings.
    pub findings: Vec<warden_store::NewFinding>,
    pub rejected: Vec<RejectedFinding>,
    /// One per model call, with usage and cost (None if the price is unknown);
    /// `run_id` None, `path` Some(task.path).
    pub calls: Vec<warden_store::LlmCall>,
    pub outcome: Outcome,
    /// The external agent's session, when the agent has one (the native agent has none).
    pub session: Option<AgentSession>,
}

/// What an external agent CLI reports about one of its runs, kept in the store
/// (`agent_sessions`) so that a run can be traced back to the CLI's own logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSession {
    /// The agent's name, as [`Agent::name`]: "claude", "codex", "opencode".
    pub agent: String,
    /// The CLI's own id for the session, when it reports one.
    pub session_id: Option<String>,
    /// Model turns the CLI reported.
    pub turns: u32,
    /// The end of the agent's output when it could not be parsed (kept for `warden status`).
    pub output_tail: Option<String>,
}

/// Why an investigation failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The caller checks `.stops_run()` for credits/auth.
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error("{0}")]
    Other(String),
}

/// A failed investigation with the model calls it made before failing, so
/// their spend can still be recorded (see [`NativeAgent::investigate_keeping_calls`]).
#[derive(Debug)]
pub struct Failed {
    pub error: AgentError,
    /// Calls completed before the failure (same form as [`Investigation::calls`]).
    pub calls: Vec<warden_store::LlmCall>,
    /// The external agent's session, when it got far enough to have one.
    pub session: Option<AgentSession>,
}

impl Failed {
    /// A failure before any model call was made.
    pub fn before_any_call(error: AgentError) -> Failed {
        Failed {
            error,
            calls: Vec::new(),
            session: None,
        }
    }
}

/// Per-file limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_turns: u32,
    /// Cumulative output tokens over the whole investigation.
    pub max_output_tokens: u64,
    /// Wall-clock time for the whole investigation.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_turns: 40,
            max_output_tokens: 200_000,
            timeout: Duration::from_secs(600),
        }
    }
}

/// Something that investigates files and judges findings: the native agent, or an
/// adapter that drives an external agent CLI. The pipeline holds it as `Arc<dyn Agent>`.
///
/// Both methods return the calls made before a failure in [`Failed::calls`], so
/// their spend is recorded, and stop promptly when `cancel` fires
/// ([`LlmError::Cancelled`]).
pub trait Agent: Send + Sync {
    /// "native", "claude", "codex", "opencode": recorded with each session.
    fn name(&self) -> &str;

    /// Files one investigation may take; the pipeline clamps `--batch-size` to it.
    fn max_batch(&self) -> usize {
        1
    }

    /// Investigates `batch` (at most [`Agent::max_batch`] files, all from one
    /// directory) in one go. The findings may be in any of the batch's files (or
    /// elsewhere in the tree); the outcome is that of the whole batch.
    fn investigate<'a>(
        &'a self,
        batch: &'a [FileTask],
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Investigation, Failed>>;

    /// Judges one stored finding.
    fn revalidate<'a>(
        &'a self,
        task: &'a FindingTask,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Revalidation, Failed>>;

    /// Gets one future investigation (or judgement) ready before its file is claimed,
    /// so that what is slow to set up is off the path from claim to first model
    /// request: an agent CLI creates the sandbox the next call takes. The pipeline
    /// calls it once per investigation, while the slot's previous one still runs. A
    /// failure is not reported here: the investigation that finds nothing prepared
    /// sets itself up and says what went wrong. The default has nothing to prepare.
    fn prepare(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// The built-in agent: a tool-use loop over a [`ModelClient`].
pub struct NativeAgent {
    client: Arc<dyn ModelClient>,
    model: String,
    provider: String,
    prices: PriceTable,
    limits: Limits,
}

impl NativeAgent {
    pub fn new(
        client: Arc<dyn ModelClient>,
        model: String,
        provider: String,
        prices: PriceTable,
        limits: Limits,
    ) -> NativeAgent {
        NativeAgent {
            client,
            model,
            provider,
            prices,
            limits,
        }
    }
}

impl NativeAgent {
    /// Investigates one file; a failure keeps the calls already made
    /// (cancellation, exhausted credits, ... after some turns), so the caller
    /// can record their spend. [`Agent::investigate`] with a batch of one.
    ///
    /// Errors: an [`LlmError`] on the first call, any error that
    /// [`LlmError::stops_run`], and [`LlmError::Cancelled`] are `Err`. Any
    /// other model error after at least one successful call ends the
    /// investigation as [`Outcome::Incomplete`] with the error as the reason,
    /// keeping its findings and calls.
    pub async fn investigate_keeping_calls(
        &self,
        task: &FileTask,
        cancel: &CancellationToken,
    ) -> Result<Investigation, Failed> {
        agent::investigate(self, task, cancel).await
    }
}

impl NativeAgent {
    /// Revalidates one stored finding: a skeptical reviewer with the same
    /// confined tools answers through `report_verdict`. Errors as in
    /// [`NativeAgent::investigate_keeping_calls`]; an answer never given is
    /// [`Outcome::Incomplete`] with `verdict` None.
    pub async fn revalidate(
        &self,
        task: &FindingTask,
        cancel: &CancellationToken,
    ) -> Result<Revalidation, Failed> {
        revalidate::revalidate(self, task, cancel).await
    }
}

/// The native agent takes one file per investigation ([`Agent::max_batch`] is 1):
/// its prompt, turn and token limits are sized for one file, and a batch merged
/// from separate investigations would hide which file hit a limit. A batch of
/// any other size is refused with [`AgentError::Other`] before any model call.
impl Agent for NativeAgent {
    fn name(&self) -> &str {
        "native"
    }

    fn investigate<'a>(
        &'a self,
        batch: &'a [FileTask],
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Investigation, Failed>> {
        Box::pin(async move {
            match batch {
                [task] => agent::investigate(self, task, cancel).await,
                _ => Err(Failed::before_any_call(AgentError::Other(format!(
                    "the native agent investigates one file at a time, not a batch of {} (its max_batch is 1)",
                    batch.len()
                )))),
            }
        })
    }

    fn revalidate<'a>(
        &'a self,
        task: &'a FindingTask,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Revalidation, Failed>> {
        Box::pin(revalidate::revalidate(self, task, cancel))
    }
}
