//! Settling one finished investigation: its model calls and session, then each file
//! of its batch analyzed (with its findings), failed, or given back — all in one store
//! transaction ([`Store::settle`]), so a process killed at any point leaves each file
//! either settled with its spend or still claimed (and taken over when its lease ends).

use crate::process::Summary;
use crate::{failure_reason, Stop, Work};
use std::sync::{Mutex, MutexGuard};
use warden_agent::{AgentError, AgentSession, Failed, Investigation, Outcome};
use warden_llm::LlmError;
use warden_store::{
    FileEnd, LlmCall, NewFinding, SessionOutcome, SessionRecord, Settlement, Store, StoreError,
};

/// The store, also after a panic elsewhere poisoned its mutex (every write is one
/// transaction, so a panic cannot leave it half-written).
pub(crate) fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
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
    let first = batch.first().map_or("", String::as_str);
    let mut settlement = Settlement {
        run_id: Some(work.run_id),
        ..Settlement::default()
    };
    let ends: Vec<FileEnd> = match result {
        Ok(inv) => {
            settlement.calls = calls_of(work, first, &inv.calls);
            let session_end = match &inv.outcome {
                Outcome::Complete => SessionOutcome::Complete,
                Outcome::Incomplete { .. } if cancelled => SessionOutcome::Cancelled,
                Outcome::Incomplete { .. } => SessionOutcome::Incomplete,
            };
            settlement.sessions = sessions_of(work, batch, inv.session, session_end);
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
                    .map(FileEnd::Complete)
                    .collect(),
                Outcome::Incomplete { reason } => {
                    // Findings validated before the limit or stop are kept (ids are stable,
                    // so a later complete investigation does not duplicate them); the files
                    // themselves are not done.
                    settlement.partial_findings = findings;
                    let reason = reason.replace('\n', " ");
                    batch
                        .iter()
                        .map(|_| match cancelled {
                            true => FileEnd::Release,
                            false => FileEnd::Fail(reason.clone()),
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
            settlement.calls = calls_of(work, first, &calls);
            let session_end = match &error {
                AgentError::Llm(LlmError::Cancelled) => SessionOutcome::Cancelled,
                _ if cancelled => SessionOutcome::Cancelled,
                _ => SessionOutcome::Failed,
            };
            settlement.sessions = sessions_of(work, batch, session, session_end);
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
                    None => FileEnd::Release,
                    Some(reason) => FileEnd::Fail(reason.clone()),
                })
                .collect()
        }
    };
    settlement.files = batch.iter().cloned().zip(ends).collect();
    let held = lock(store).settle(&work.project, &work.holder, &settlement)?;

    for call in &settlement.calls {
        match call.cost_usd {
            Some(usd) => out.spend_usd += usd,
            None => out.unpriced_calls += 1,
        }
    }
    out.findings
        .extend(settlement.partial_findings.iter().map(|f| f.severity));
    for ((path, end), held) in settlement.files.into_iter().zip(held) {
        if !held {
            // Our lease ran out and another process took the file over: its result stands.
            tracing::warn!("lost the lease on {path} to another process; its result stands");
            out.skipped += 1;
            continue;
        }
        match end {
            FileEnd::Complete(findings) => {
                out.investigated += 1;
                out.findings.extend(findings.iter().map(|f| f.severity));
            }
            FileEnd::Release => out.released += 1,
            FileEnd::Fail(reason) => {
                out.failed += 1;
                out.failures.push((path, reason));
            }
        }
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

/// The model calls of one investigation, as this run records them; a call without a
/// path is the first file's.
fn calls_of(work: &Work, first: &str, calls: &[LlmCall]) -> Vec<LlmCall> {
    calls
        .iter()
        .map(|call| {
            let mut call = call.clone();
            call.run_id = Some(work.run_id);
            call.path.get_or_insert_with(|| first.to_string());
            call
        })
        .collect()
}

/// An agent's session: one row per file of the batch.
fn sessions_of(
    work: &Work,
    batch: &[String],
    session: Option<AgentSession>,
    outcome: SessionOutcome,
) -> Vec<SessionRecord> {
    let Some(s) = session else {
        return Vec::new();
    };
    batch
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
        .collect()
}
