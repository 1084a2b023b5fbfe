//! The worker loop of `warden process`: at most `concurrency` investigations at
//! once, each on a file claimed under a lease; results settle into the store
//! one file at a time, and a graceful stop (credits, auth, `--max-cost`, Ctrl-C)
//! cancels what is in flight and gives those files back.

use crate::progress::ProcessBar;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::JoinSet;
use warden_agent::{AgentError, Failed, FileTask, Investigation, NativeAgent, Outcome};
use warden_llm::{CancellationToken, LlmError};
use warden_store::{CandidateFile, LlmCall, NewFinding, Severity, Store, StoreError};

/// What the loop needs to know besides the store, the agent and the queue.
#[derive(Debug, Clone)]
pub struct Work {
    pub project: String,
    pub root: PathBuf,
    pub tech: Vec<String>,
    pub holder: String,
    pub run_id: i64,
    pub lease: Duration,
    pub concurrency: usize,
    pub max_cost: Option<f64>,
    pub quiet: bool,
}

/// Why a run stopped before its queue was done.
#[derive(Debug)]
pub enum Stop {
    /// Credits or quota exhausted, or credentials rejected.
    Llm(LlmError),
    /// `--max-cost` reached, or would be by starting another file.
    MaxCost { cap: f64, spent: f64 },
    /// Ctrl-C.
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

/// What one run did.
#[derive(Debug, Default)]
pub struct Summary {
    pub queued: usize,
    /// Completed and marked analyzed (with their findings).
    pub investigated: usize,
    pub failed: usize,
    /// Claimed, then given back on a stop.
    pub released: usize,
    /// Claimed by another process first.
    pub skipped: usize,
    /// Queued but never started because the run stopped.
    pub not_started: usize,
    /// Severity of every stored finding.
    pub findings: Vec<Severity>,
    pub rejected: usize,
    pub spend_usd: f64,
    pub unpriced_calls: u64,
    pub failures: Vec<(String, String)>,
    pub stop: Option<Stop>,
}

impl Summary {
    pub fn findings_of(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|s| **s == severity).count()
    }

    /// Files were investigated and every one of them failed: the run did nothing
    /// useful, which a script must be able to tell from success.
    pub fn all_failed(&self) -> bool {
        self.failed > 0 && self.investigated == 0
    }
}

/// Why an investigation failed, in words for the user: a stall also says how to wait longer.
pub fn failure_reason(e: &AgentError) -> String {
    match e {
        AgentError::Llm(LlmError::Stalled { .. }) => format!(
            "{e}; if the model needs longer before it answers, raise {}",
            super::model_setup::STALL_VAR
        ),
        other => other.to_string(),
    }
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

fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

type Result2 = Result<Investigation, Failed>;

/// Investigates `queue` (best first) until it is done or the run stops.
pub async fn run(
    store: Arc<Mutex<Store>>,
    agent: Arc<NativeAgent>,
    work: Work,
    queue: Vec<CandidateFile>,
) -> anyhow::Result<Summary> {
    let mut out = Summary {
        queued: queue.len(),
        ..Summary::default()
    };
    let bar = ProcessBar::new(work.quiet, queue.len());
    let cancel = CancellationToken::new();
    let mut pending = queue.into_iter();
    let mut inflight: JoinSet<Result2> = JoinSet::new();
    let mut paths: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut fatal: Option<StoreError> = None;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    // Investigations settled so far (their calls are in `out.spend_usd`).
    let mut finished = 0usize;

    loop {
        while out.stop.is_none() && fatal.is_none() && inflight.len() < work.concurrency {
            if let Some(cap) = work.max_cost {
                // Projected spend if one more file starts: what is spent, plus each file
                // in flight and the new one at the average cost of a finished file.
                let average = if finished == 0 {
                    0.0
                } else {
                    out.spend_usd / finished as f64
                };
                let projected = out.spend_usd + (inflight.len() + 1) as f64 * average;
                if projected >= cap && !pending.as_slice().is_empty() {
                    out.stop = Some(Stop::MaxCost {
                        cap,
                        spent: out.spend_usd,
                    });
                    break;
                }
            }
            let Some(file) = pending.next() else { break };
            match lock(&store).claim_file(&work.project, &file.path, &work.holder, work.lease) {
                Ok(true) => {}
                Ok(false) => {
                    out.skipped += 1;
                    bar.file_done(out.findings.len(), out.spend_usd);
                    continue;
                }
                Err(e) => {
                    fatal = Some(e);
                    break;
                }
            }
            let task = FileTask {
                root: work.root.clone(),
                path: file.path.clone(),
                language: file.language,
                hits: file.hits,
                tech: work.tech.clone(),
            };
            let token = cancel.child_token();
            let agent = Arc::clone(&agent);
            let renewal = Renewal {
                store: Arc::clone(&store),
                project: work.project.clone(),
                path: file.path.clone(),
                holder: work.holder.clone(),
                lease: work.lease,
            };
            let handle = inflight.spawn(async move {
                renewal
                    .keep_while(agent.investigate_keeping_calls(&task, &token))
                    .await
            });
            paths.insert(handle.id(), file.path);
        }
        if out.stop.is_some() || fatal.is_some() {
            cancel.cancel();
        }
        if inflight.is_empty() {
            break;
        }
        tokio::select! {
            joined = inflight.join_next_with_id() => {
                let Some(joined) = joined else { continue };
                let (id, result) = match joined {
                    Ok((id, r)) => (id, r),
                    Err(e) => (e.id(), Err(Failed::before_any_call(AgentError::Other(format!("the investigation task failed: {e}"))))),
                };
                let path = paths.remove(&id).unwrap_or_default();
                finished += 1;
                if let Err(e) = settle(&store, &work, &mut out, &path, result, cancel.is_cancelled()) {
                    fatal.get_or_insert(e);
                }
                bar.file_done(out.findings.len(), out.spend_usd);
            }
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                out.stop.get_or_insert(Stop::Interrupted);
            }
        }
    }
    out.not_started = pending.len();
    bar.finish();
    match fatal {
        Some(e) => Err(e.into()),
        None => Ok(out),
    }
}

/// Keeps a claimed file's lease alive while its investigation runs, so an
/// investigation longer than the lease is not taken over by another process.
struct Renewal {
    store: Arc<Mutex<Store>>,
    project: String,
    path: String,
    holder: String,
    lease: Duration,
}

impl Renewal {
    /// Runs `investigation`, renewing the lease every third of it until it ends.
    async fn keep_while<F: std::future::Future>(self, investigation: F) -> F::Output {
        tokio::pin!(investigation);
        let period = (self.lease / 3).max(Duration::from_millis(10));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                out = &mut investigation => return out,
                _ = tick.tick() => self.renew(),
            }
        }
    }

    fn renew(&self) {
        let renewed =
            lock(&self.store).renew_lease(&self.project, &self.path, &self.holder, self.lease);
        match renewed {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "could not renew the lease on {}: another process holds it now",
                self.path
            ),
            Err(e) => tracing::warn!("could not renew the lease on {}: {e}", self.path),
        }
    }
}

/// Records one finished investigation: its calls and findings, or the file failed or given back.
fn settle(
    store: &Mutex<Store>,
    work: &Work,
    out: &mut Summary,
    path: &str,
    result: Result2,
    cancelled: bool,
) -> Result<(), StoreError> {
    let mut store = lock(store);
    let p = work.project.as_str();
    let ended = match result {
        Ok(inv) => {
            record_calls(&mut store, work, out, path, &inv.calls)?;
            out.rejected += inv.rejected.len();
            let findings: Vec<NewFinding> = inv
                .findings
                .into_iter()
                .map(|mut f| {
                    f.run_id = Some(work.run_id);
                    f
                })
                .collect();
            match inv.outcome {
                Outcome::Complete => {
                    let done = store.complete_file(p, path, &work.holder, &findings);
                    if done.is_ok() {
                        out.investigated += 1;
                        out.findings.extend(findings.iter().map(|f| f.severity));
                    }
                    done.map(drop)
                }
                Outcome::Incomplete { reason } => {
                    // Findings validated before the limit or stop are kept (ids are stable,
                    // so a later complete investigation does not duplicate them); the file
                    // itself is not done.
                    if !findings.is_empty() {
                        store.insert_findings(p, &findings)?;
                        out.findings.extend(findings.iter().map(|f| f.severity));
                    }
                    if cancelled {
                        out.released += 1;
                        store.release_file(p, path, &work.holder)
                    } else {
                        fail(&mut store, work, out, path, reason)
                    }
                }
            }
        }
        Err(Failed { error, calls, .. }) => {
            record_calls(&mut store, work, out, path, &calls)?;
            match error {
                AgentError::Llm(e) if e.stops_run() => {
                    out.stop.get_or_insert(Stop::Llm(e));
                    out.released += 1;
                    store.release_file(p, path, &work.holder)
                }
                _ if cancelled => {
                    out.released += 1;
                    store.release_file(p, path, &work.holder)
                }
                e => fail(&mut store, work, out, path, failure_reason(&e)),
            }
        }
    };
    match ended {
        // Our lease ran out and another process took the file over: its result stands.
        Err(StoreError::NotHolder { .. }) => {
            tracing::warn!("lost the lease on {path} to another process; its result stands");
            out.skipped += 1;
            Ok(())
        }
        other => other,
    }
}

/// Records the model calls of one investigation in this run, adding up the spend.
fn record_calls(
    store: &mut Store,
    work: &Work,
    out: &mut Summary,
    path: &str,
    calls: &[LlmCall],
) -> Result<(), StoreError> {
    for call in calls {
        let mut call = call.clone();
        call.run_id = Some(work.run_id);
        call.path.get_or_insert_with(|| path.to_string());
        store.record_llm_call(&work.project, &call)?;
        match call.cost_usd {
            Some(usd) => out.spend_usd += usd,
            None => out.unpriced_calls += 1,
        }
    }
    Ok(())
}

fn fail(
    store: &mut Store,
    work: &Work,
    out: &mut Summary,
    path: &str,
    reason: String,
) -> Result<(), StoreError> {
    let reason = reason.replace('\n', " ");
    store.fail_file(&work.project, path, &work.holder, &reason)?;
    out.failed += 1;
    out.failures.push((path.to_string(), reason));
    Ok(())
}
