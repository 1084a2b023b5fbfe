//! The investigation loop: at most `concurrency` investigations at once, each in a
//! slot ([`Slots`]) on a file (or batch) claimed under a lease once the slot is ready; results settle into the store one
//! investigation at a time, and a graceful stop cancels what is in flight and gives
//! those files back.

use crate::batch::next_batch;
use crate::renew::Renewal;
use crate::settle::{lock, settle};
use crate::slots::Slots;
use crate::{would_exceed, Progress, Stop, Work};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::task::{Id, JoinSet};
use warden_agent::{Agent, AgentError, Failed, FileTask, Investigation};
use warden_llm::CancellationToken;
use warden_store::{CandidateFile, Severity, Store, StoreError};

/// Where a run's files come from.
#[derive(Debug)]
pub enum Queue {
    /// These files, best first (the store's queue when the run started, or a change
    /// set); each is claimed when a slot frees up, and skipped if another process has it.
    Listed(Vec<CandidateFile>),
    /// The store's best claimable candidate, claimed one at a time as a slot frees up,
    /// until none is left: what workers sharing one store use, so that nobody walks a
    /// list of files the others took long ago. A file that failed in this run is not
    /// claimed again by it.
    Store,
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
    /// Claimed by another process first (or taken over after our lease ran out).
    pub skipped: usize,
    /// Queued but never started because the run stopped.
    pub not_started: usize,
    /// Severity of every stored finding.
    pub findings: Vec<Severity>,
    /// Reported findings that failed validation.
    pub rejected: usize,
    pub spend_usd: f64,
    pub unpriced_calls: u64,
    /// (file, why it failed), one per failed file.
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

/// The files claimed and not settled yet, by the task investigating them. Should the
/// run itself be dropped (its caller gave up on it), they are given back then.
struct Claimed {
    store: Arc<Mutex<Store>>,
    project: String,
    holder: String,
    by_task: HashMap<Id, Vec<String>>,
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if self.by_task.is_empty() {
            return;
        }
        let mut store = lock(&self.store);
        for path in self.by_task.values().flatten() {
            if let Err(e) = store.release_file(&self.project, path, &self.holder) {
                tracing::warn!("could not give {path} back: {e}");
            }
        }
    }
}

/// Investigates `queue` (best first) with `agent` until it is done, the run stops
/// (exhausted credits or rejected credentials, `work.max_cost`, `interrupt`), or the
/// store fails. Every file claimed is settled or given back before this returns.
pub async fn process(
    store: Arc<Mutex<Store>>,
    agent: Arc<dyn Agent>,
    work: Work,
    queue: Queue,
    progress: &dyn Progress,
    interrupt: CancellationToken,
) -> Result<Summary, StoreError> {
    let (listed, from_store) = match queue {
        Queue::Listed(files) => (files, false),
        Queue::Store => (Vec::new(), true),
    };
    let mut out = Summary {
        queued: listed.len(),
        ..Summary::default()
    };
    let batch_max = work.batch_size.min(agent.max_batch()).max(1);
    let cancel = CancellationToken::new();
    let mut pending = listed.into_iter().peekable();
    let mut claimed = Claimed {
        store: Arc::clone(&store),
        project: work.project.clone(),
        holder: work.holder.clone(),
        by_task: HashMap::new(),
    };
    let mut slots = Slots::new(work.concurrency);
    let mut slot_of: HashMap<Id, usize> = HashMap::new();
    // Dropped before `claimed`: the tasks are aborted before their files are given back.
    let mut inflight: JoinSet<Result<Investigation, Failed>> = JoinSet::new();
    let mut fatal: Option<StoreError> = None;
    // Investigations settled so far (their calls are in `out.spend_usd`).
    let mut finished = 0usize;
    // The store's queue had nothing claimable at the last claim.
    let mut store_drained = false;

    loop {
        if interrupt.is_cancelled() {
            out.stop.get_or_insert(Stop::Interrupted);
        }
        let going =
            |out: &Summary, fatal: &Option<StoreError>| out.stop.is_none() && fatal.is_none();
        if going(&out, &fatal) {
            // The store's queue is not known ahead: as many as there are slots.
            let remaining = if from_store {
                work.concurrency.max(1)
            } else {
                pending.len()
            };
            slots.prepare(&agent, remaining, progress);
        }
        while going(&out, &fatal) {
            let Some(slot) = slots.ready() else { break };
            if let Some(cap) = work.max_cost {
                let more = if from_store {
                    !store_drained
                } else {
                    pending.peek().is_some()
                };
                if more && would_exceed(cap, out.spend_usd, finished, inflight.len()) {
                    out.stop = Some(Stop::MaxCost {
                        cap,
                        spent: out.spend_usd,
                    });
                    break;
                }
            }
            let claimed_now = if from_store {
                match lock(&store).claim_next(&work.project, &work.holder, work.run_id, work.lease)
                {
                    Ok(Some(file)) => {
                        out.queued += 1;
                        vec![file]
                    }
                    Ok(None) => {
                        store_drained = true;
                        break;
                    }
                    Err(e) => {
                        fatal = Some(e);
                        break;
                    }
                }
            } else {
                let batch = next_batch(&mut pending, batch_max);
                if batch.is_empty() {
                    break;
                }
                let paths: Vec<&str> = batch.iter().map(|f| f.path.as_str()).collect();
                let got =
                    match lock(&store).claim_paths(&work.project, &paths, &work.holder, work.lease)
                    {
                        Ok(got) => got,
                        Err(e) => {
                            fatal = Some(e);
                            break;
                        }
                    };
                let (mine, taken): (Vec<_>, Vec<_>) =
                    batch.into_iter().partition(|f| got.contains(&f.path));
                for _ in taken {
                    out.skipped += 1;
                    progress.file_done(out.findings.len(), out.spend_usd);
                }
                mine
            };
            let mut tasks = Vec::new();
            for file in claimed_now {
                if let Some(Err(reason)) = work.verify.as_ref().map(|v| v.check(&file.path)) {
                    if let Err(e) = refuse(&store, &work, &mut out, &file.path, reason) {
                        fatal.get_or_insert(e);
                    }
                    progress.file_done(out.findings.len(), out.spend_usd);
                    continue;
                }
                tasks.push(FileTask {
                    root: work.root.clone(),
                    path: file.path,
                    language: file.language,
                    hits: file.hits,
                    tech: work.tech.clone(),
                });
            }
            let got: Vec<String> = tasks.iter().map(|t| t.path.clone()).collect();
            if fatal.is_some() {
                give_back(&store, &work, &got);
                break;
            }
            if tasks.is_empty() {
                continue;
            }
            slots.start(slot, &got, progress);
            let token = cancel.child_token();
            let agent = Arc::clone(&agent);
            let renewal = Renewal {
                store: Arc::clone(&store),
                project: work.project.clone(),
                paths: got.clone(),
                holder: work.holder.clone(),
                lease: work.lease,
            };
            let handle = inflight
                .spawn(async move { renewal.keep_while(agent.investigate(&tasks, &token)).await });
            claimed.by_task.insert(handle.id(), got);
            slot_of.insert(handle.id(), slot);
        }
        if !going(&out, &fatal) {
            cancel.cancel();
        }
        // With nothing in flight, the run goes on only for work a slot is getting ready for.
        let more = if from_store {
            !store_drained
        } else {
            pending.peek().is_some()
        };
        let waiting = going(&out, &fatal) && more && slots.preparing();
        if inflight.is_empty() && !waiting {
            break;
        }
        tokio::select! {
            joined = inflight.join_next_with_id(), if !inflight.is_empty() => {
                let Some(joined) = joined else { continue };
                let (id, result) = match joined {
                    Ok((id, r)) => (id, r),
                    Err(e) => (e.id(), Err(Failed::before_any_call(AgentError::Other(format!("the investigation task failed: {e}"))))),
                };
                let batch = claimed.by_task.remove(&id).unwrap_or_default();
                if let Some(slot) = slot_of.remove(&id) {
                    slots.finish(slot, progress);
                }
                finished += 1;
                if let Err(e) = settle(&store, &work, &mut out, &batch, result, cancel.is_cancelled()) {
                    give_back(&store, &work, &batch);
                    fatal.get_or_insert(e);
                }
                for _ in &batch {
                    progress.file_done(out.findings.len(), out.spend_usd);
                }
            }
            () = slots.prepared(progress), if waiting || !inflight.is_empty() => {}
            _ = interrupt.cancelled(), if out.stop.is_none() => {
                out.stop = Some(Stop::Interrupted);
            }
        }
    }
    slots.close(progress);
    out.not_started = pending.len();
    progress.finish();
    match fatal {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Fails a claimed file unread, with why (its bytes are not the scanned ones).
fn refuse(
    store: &Mutex<Store>,
    work: &Work,
    out: &mut Summary,
    path: &str,
    reason: String,
) -> Result<(), StoreError> {
    lock(store).fail_file(&work.project, path, &work.holder, &reason)?;
    out.failed += 1;
    out.failures.push((path.to_string(), reason));
    Ok(())
}

/// After the store failed while settling `batch`, gives back what is still claimed,
/// best effort (the store is likely to fail again; the lease runs out otherwise).
fn give_back(store: &Mutex<Store>, work: &Work, batch: &[String]) {
    let mut store = lock(store);
    for path in batch {
        let _ = store.release_file(&work.project, path, &work.holder);
    }
}
