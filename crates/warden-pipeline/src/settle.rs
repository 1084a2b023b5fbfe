//! Settling one finished investigation: its model calls and session, then each file
//! of its batch analyzed (with its findings), failed, or given back.

use crate::process::Summary;
use crate::{failure_reason, Stop, Work};
use std::sync::{Mutex, MutexGuard};
use warden_agent::{AgentError, AgentSession, Failed, Investigation, Outcome};
use warden_llm::LlmError;
use warden_store::{LlmCall, NewFinding, SessionOutcome, SessionRecord, Store, StoreError};

/// The store, also after a panic elsewhere poisoned its mutex (every write is one
/// transaction, so a panic cannot leave it half-written).
pub(crate) fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

/// How one file of a batch ends.
enum End {
    Complete(Vec<NewFinding>),
    Fail(String),
    Release,
}

/// Records one finished investigation of `batch` (claimed by `work.holder`).
/// `cancelled`: the run was stopping when it ended, so an unfinished file goes back.
pub(crate) fn settle(
    store: &Mutex<Store>,
    work: &Work,
    out: &mut Summary,
    batch: &[String],
    result: Result<Investigation, Failed>,
    cancelled: bool,
) -> Result<(), StoreError> {
    let mut store = lock(store);
    let p = work.project.as_str();
    let first = batch.first().map_or("", String::as_str);
    let ends: Vec<End> = match result {
        Ok(inv) => {
            record_calls(&mut store, work, out, first, &inv.calls)?;
            let session_end = match &inv.outcome {
                Outcome::Complete => SessionOutcome::Complete,
                Outcome::Incomplete { .. } if cancelled => SessionOutcome::Cancelled,
                Outcome::Incomplete { .. } => SessionOutcome::Incomplete,
            };
            record_session(&mut store, work, batch, inv.session, session_end)?;
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
                Outcome::Complete => by_file(batch, findings)
                    .into_iter()
                    .map(End::Complete)
                    .collect(),
                Outcome::Incomplete { reason } => {
                    // Findings validated before the limit or stop are kept (ids are stable,
                    // so a later complete investigation does not duplicate them); the files
                    // themselves are not done.
                    if !findings.is_empty() {
                        store.insert_findings(p, &findings)?;
                        out.findings.extend(findings.iter().map(|f| f.severity));
                    }
                    let reason = reason.replace('\n', " ");
                    batch
                        .iter()
                        .map(|_| match cancelled {
                            true => End::Release,
                            false => End::Fail(reason.clone()),
                        })
                        .collect()
                }
            }
        }
        Err(Failed {
            error,
            calls,
            session,
        }) => {
            record_calls(&mut store, work, out, first, &calls)?;
            let session_end = match &error {
                AgentError::Llm(LlmError::Cancelled) => SessionOutcome::Cancelled,
                _ if cancelled => SessionOutcome::Cancelled,
                _ => SessionOutcome::Failed,
            };
            record_session(&mut store, work, batch, session, session_end)?;
            let end = match error {
                AgentError::Llm(e) if e.stops_run() => {
                    out.stop.get_or_insert(Stop::Llm(e));
                    None
                }
                _ if cancelled => None,
                e => Some(failure_reason(&e).replace('\n', " ")),
            };
            batch
                .iter()
                .map(|_| match &end {
                    None => End::Release,
                    Some(reason) => End::Fail(reason.clone()),
                })
                .collect()
        }
    };
    for (path, end) in batch.iter().zip(ends) {
        end_file(&mut store, work, out, path, end)?;
    }
    Ok(())
}

/// The findings of each file of `batch`, in its order; a finding in a file outside
/// the batch (the agent may report one anywhere in the tree) goes with the first.
fn by_file(batch: &[String], findings: Vec<NewFinding>) -> Vec<Vec<NewFinding>> {
    let mut out: Vec<Vec<NewFinding>> = batch.iter().map(|_| Vec::new()).collect();
    for f in findings {
        let i = batch.iter().position(|p| *p == f.path).unwrap_or(0);
        if let Some(slot) = out.get_mut(i) {
            slot.push(f);
        }
    }
    out
}

fn end_file(
    store: &mut Store,
    work: &Work,
    out: &mut Summary,
    path: &str,
    end: End,
) -> Result<(), StoreError> {
    let (p, holder) = (work.project.as_str(), work.holder.as_str());
    let ended = match end {
        End::Complete(findings) => store.complete_file(p, path, holder, &findings).map(|_| {
            out.investigated += 1;
            out.findings.extend(findings.iter().map(|f| f.severity));
        }),
        End::Release => store
            .release_file(p, path, holder)
            .map(|()| out.released += 1),
        End::Fail(reason) => store.fail_file(p, path, holder, &reason).map(|()| {
            out.failed += 1;
            out.failures.push((path.to_string(), reason));
        }),
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
/// A call without a path is the first file's.
pub(crate) fn record_calls(
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

/// Records an agent's session: one row per file of the batch, in one transaction.
fn record_session(
    store: &mut Store,
    work: &Work,
    batch: &[String],
    session: Option<AgentSession>,
    outcome: SessionOutcome,
) -> Result<(), StoreError> {
    let Some(s) = session else { return Ok(()) };
    let rows: Vec<SessionRecord> = batch
        .iter()
        .map(|path| SessionRecord {
            run_id: Some(work.run_id),
            path: path.clone(),
            finding_id: None,
            agent: s.agent.clone(),
            session_id: s.session_id.clone(),
            turns: s.turns,
            outcome,
            output_tail: s.output_tail.clone(),
            created_at: String::new(),
        })
        .collect();
    store.record_sessions(&work.project, &rows)
}
