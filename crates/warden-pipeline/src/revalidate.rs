//! The judging loop: at most `concurrency` findings judged at once by an agent, each
//! in a slot ([`Slots`]) whose next judgement is prepared while it works;
//! verdicts, the spend of every model call and the agent's session land in the
//! store. Findings are not claimed: a finding left without a verdict by a stop is
//! simply judged on the next run.

use crate::settle::lock;
use crate::slots::Slots;
use crate::{failure_reason, would_exceed, Progress, Stop, Work};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::task::JoinSet;
use warden_agent::{Agent, AgentError, Failed, FindingTask, Outcome, Revalidation};
use warden_llm::{CancellationToken, LlmError};
use warden_store::{
    Finding, SessionOutcome, SessionRecord, Store, StoreError, Verdict, VerdictRecord,
};

/// What one revalidation run did.
#[derive(Debug, Default)]
pub struct Judged {
    pub queued: usize,
    pub true_positive: usize,
    pub false_positive: usize,
    pub uncertain: usize,
    /// Severity corrected by the verdict.
    pub corrected: usize,
    pub failed: usize,
    /// (finding id, its file, why it got no verdict).
    pub failures: Vec<(String, String, String)>,
    /// Queued, but left without a verdict because the run stopped.
    pub not_judged: usize,
    pub spend_usd: f64,
    pub unpriced_calls: u64,
    pub stop: Option<Stop>,
}

impl Judged {
    pub fn judged(&self) -> usize {
        self.true_positive + self.false_positive + self.uncertain
    }

    /// Findings were taken up and not one got a verdict.
    pub fn all_failed(&self) -> bool {
        self.failed > 0 && self.judged() == 0
    }
}

/// Judges `findings` (in the order given) with `agent` until done or stopped
/// (exhausted credits or rejected credentials, `work.max_cost`, `interrupt`).
/// Of `work`, the project, root, tech, run, concurrency and cost cap apply;
/// findings are not claimed, so holder, lease and batch size do not.
pub async fn revalidate(
    store: Arc<Mutex<Store>>,
    agent: Arc<dyn Agent>,
    work: Work,
    findings: Vec<Finding>,
    progress: &dyn Progress,
    interrupt: CancellationToken,
) -> Result<Judged, StoreError> {
    let mut out = Judged {
        queued: findings.len(),
        ..Judged::default()
    };
    let cancel = CancellationToken::new();
    let mut pending = findings.into_iter().peekable();
    let mut slots = Slots::new(work.concurrency);
    let mut inflight: JoinSet<Result<Revalidation, Failed>> = JoinSet::new();
    // (finding id, its file, its slot) by task, so that even a task that panicked is accounted for.
    let mut judging: HashMap<tokio::task::Id, (String, String, usize)> = HashMap::new();
    let mut finished = 0usize;
    loop {
        if interrupt.is_cancelled() {
            out.stop.get_or_insert(Stop::Interrupted);
        }
        if out.stop.is_none() {
            slots.prepare(&agent, pending.len(), progress);
        }
        while out.stop.is_none() {
            let Some(slot) = slots.ready() else { break };
            if let Some(cap) = work.max_cost {
                if pending.peek().is_some()
                    && would_exceed(cap, out.spend_usd, finished, inflight.len())
                {
                    out.stop = Some(Stop::MaxCost {
                        cap,
                        spent: out.spend_usd,
                    });
                    break;
                }
            }
            let Some(finding) = pending.next() else { break };
            let (id, path) = (finding.id.clone(), finding.reported.path.clone());
            slots.start(slot, std::slice::from_ref(&path), progress);
            let task = FindingTask {
                root: work.root.clone(),
                tech: work.tech.clone(),
                finding,
            };
            let token = cancel.child_token();
            let agent = Arc::clone(&agent);
            let handle = inflight.spawn(async move { agent.revalidate(&task, &token).await });
            judging.insert(handle.id(), (id, path, slot));
        }
        if out.stop.is_some() {
            cancel.cancel();
        }
        // With nothing in flight, the run goes on only for work a slot is getting ready for.
        let waiting = out.stop.is_none() && pending.peek().is_some() && slots.preparing();
        if inflight.is_empty() && !waiting {
            break;
        }
        tokio::select! {
            joined = inflight.join_next_with_id(), if !inflight.is_empty() => {
                let Some(joined) = joined else { continue };
                let (id, result) = match joined {
                    Ok((id, r)) => (id, r),
                    Err(e) => (e.id(), Err(Failed::before_any_call(AgentError::Other(format!("the revalidation task failed: {e}"))))),
                };
                let (finding, path) = match judging.remove(&id) {
                    Some((finding, path, slot)) => {
                        slots.finish(slot, progress);
                        (finding, path)
                    }
                    None => Default::default(),
                };
                finished += 1;
                settle(&store, &work, &mut out, (&finding, &path), result, cancel.is_cancelled())?;
                progress.file_done(out.judged(), out.spend_usd);
            }
            () = slots.prepared(progress), if waiting || !inflight.is_empty() => {}
            _ = interrupt.cancelled(), if out.stop.is_none() => {
                out.stop = Some(Stop::Interrupted);
            }
        }
    }
    slots.close(progress);
    out.not_judged += pending.len();
    progress.finish();
    Ok(out)
}

fn settle(
    store: &Mutex<Store>,
    work: &Work,
    out: &mut Judged,
    (id, path): (&str, &str),
    result: Result<Revalidation, Failed>,
    cancelled: bool,
) -> Result<(), StoreError> {
    let mut store = lock(store);
    let (calls, verdict, problem, session, session_end) = match result {
        Ok(r) => {
            let (reason, end) = match r.outcome {
                Outcome::Incomplete { reason } if r.verdict.is_none() => {
                    (Some(reason), SessionOutcome::Incomplete)
                }
                Outcome::Incomplete { .. } => (None, SessionOutcome::Incomplete),
                Outcome::Complete => (None, SessionOutcome::Complete),
            };
            (r.calls, r.verdict, reason, r.session, end)
        }
        Err(Failed {
            error,
            calls,
            session,
        }) => {
            let end = match &error {
                AgentError::Llm(LlmError::Cancelled) => SessionOutcome::Cancelled,
                _ if cancelled => SessionOutcome::Cancelled,
                _ => SessionOutcome::Failed,
            };
            let reason = match error {
                AgentError::Llm(e) if e.stops_run() => {
                    out.stop.get_or_insert(Stop::Llm(e));
                    None
                }
                _ if cancelled => None,
                e => Some(failure_reason(&e)),
            };
            (calls, None, reason, session, end)
        }
    };
    let mut cost: Option<f64> = None;
    for mut call in calls {
        call.run_id = Some(work.run_id);
        store.record_llm_call(&work.project, &call)?;
        match call.cost_usd {
            Some(usd) => {
                out.spend_usd += usd;
                *cost.get_or_insert(0.0) += usd;
            }
            None => out.unpriced_calls += 1,
        }
    }
    if let Some(s) = session {
        store.record_session(
            &work.project,
            &SessionRecord {
                run_id: Some(work.run_id),
                path: path.to_string(),
                finding_id: Some(id.to_string()),
                agent: s.agent,
                session_id: s.session_id,
                turns: s.turns,
                outcome: session_end,
                output_tail: s.output_tail,
                created_at: String::new(),
            },
        )?;
    }
    match (verdict, problem) {
        (Some(v), _) => {
            store.record_verdict(
                &work.project,
                id,
                &VerdictRecord {
                    verdict: v.verdict,
                    reasoning: v.reasoning,
                    corrected_severity: v.corrected_severity,
                    run_id: Some(work.run_id),
                    cost_usd: cost,
                    created_at: String::new(),
                },
            )?;
            match v.verdict {
                Verdict::TruePositive => out.true_positive += 1,
                Verdict::FalsePositive => out.false_positive += 1,
                Verdict::Uncertain => out.uncertain += 1,
            }
            out.corrected += usize::from(v.corrected_severity.is_some());
        }
        (None, Some(reason)) => {
            out.failed += 1;
            out.failures
                .push((id.to_string(), path.to_string(), reason.replace('\n', " ")));
        }
        (None, None) => out.not_judged += 1,
    }
    Ok(())
}
