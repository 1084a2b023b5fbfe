//! `warden process`: an agent investigates the pending candidate files, best-scored
//! first; findings and the cost of every model call land in the store.
//!
//! This module does the setup (store, project, model client from the credentials
//! found) and the summary; [`warden_pipeline::process`] runs the investigations.
//! Why a file failed is one `warden: FILE: reason` line on stderr; a run in which
//! every investigation failed exits 4 (a stop is 5, a new finding of a review 1).

use super::process_review;
use super::process_worker;
use crate::cli::{GlobalArgs, ProcessArgs};
use crate::exit::{UsageError, FAIL_ON, OTHER, STOPPED};
use crate::locate;
use crate::progress::ProcessBar;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use warden_agent::Limits;
use warden_pipeline::{Stop, Summary, Work};
use warden_store::{RunKind, RunStatus, Severity, Store};

pub fn run(global: &GlobalArgs, args: &ProcessArgs) -> anyhow::Result<u8> {
    if let Some(cap) = args.max_cost {
        if !cap.is_finite() || cap < 0.0 {
            return Err(UsageError(format!(
                "--max-cost {cap}: must be a non-negative amount in USD"
            ))
            .into());
        }
    }
    let data_dir = locate::config_dir(global);
    let (kind, model) =
        super::agent_setup::choose(args.choice.agent, args.choice.model.as_deref(), &data_dir)?;
    let slots = super::slots::resolve(kind, args.concurrency, &args.slots)?;
    let mut store = locate::open_for_reading(global)?;
    let project_id = locate::project_for_reading(&store, global.project_id.as_deref())?;
    let project = store
        .project(&project_id)?
        .ok_or_else(|| UsageError(format!("project {project_id} vanished from the store")))?;

    let limits = Limits::default();
    let root = PathBuf::from(&project.root);
    let prepared =
        super::agent_setup::prepare(kind, model.as_deref(), &root, "process", limits, &slots)?;
    prepared.announce(global.quiet);
    let review = process_review::change_set(&root, args)?;
    if args.comment_out.is_some() && review.is_none() {
        return Err(UsageError(
            "--comment-out needs a change set (--diff, --staged, --files or --files-from)".into(),
        )
        .into());
    }
    // A change review reinvestigates exactly its files, whatever their state.
    if args.reinvestigate && review.is_none() {
        store.requeue_analyzed(&project_id)?;
    }
    // Files left claimed by a process that died on this host (kill -9, crash) go back
    // to the queue now instead of when their lease runs out.
    for lease in store.file_leases(&project_id)? {
        if locate::holder_is_dead(&lease.holder) {
            store.release_file(&project_id, &lease.path, &lease.holder)?;
        }
    }
    let holder = warden_store::default_holder();
    let run_id = store.begin_run(&project_id, RunKind::Process, &holder)?;
    let mut before = None;
    let mut queue = match &review {
        None => store.pending_queue(&project_id, args.limit)?,
        Some(paths) => {
            before = Some(process_review::finding_ids(&store, &project_id)?);
            match stage(&mut store, &project_id, run_id, &root, paths, global.quiet) {
                Ok(queue) => queue,
                Err(err) => {
                    let _ = store.finish_run(run_id, RunStatus::Failed, &serde_json::json!({}));
                    return Err(err);
                }
            }
        }
    };

    if let Some(tree) = &prepared.tree {
        // The sandboxes see the tree as the scan saw it, or not at all: a file whose
        // bytes changed since is left pending until the next scan.
        let known = store.known_files(&project_id)?;
        queue.retain(|f| {
            let same = known
                .get(&f.path)
                .is_some_and(|k| tree.matches(&f.path, &k.hash));
            if !same {
                eprintln!(
                    "warden: {}: changed since the scan; left pending (run `warden scan` again)",
                    process_worker::printable(&f.path)
                );
            }
            same
        });
    }
    let work = Work {
        project: project_id.clone(),
        root: root.clone(),
        tech: project.tech.clone(),
        holder,
        run_id,
        lease: match args.lease_secs {
            Some(secs) => std::time::Duration::from_secs(secs.max(1)),
            None => limits.timeout + std::time::Duration::from_secs(300),
        },
        concurrency: slots.count,
        max_cost: args.max_cost,
        // The pipeline clamps it to what the agent takes (the native agent: 1).
        batch_size: args.batch_size,
        verify: None,
    };
    let store = Arc::new(Mutex::new(store));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(slots.count.clamp(1, 4))
        .enable_all()
        .build()?;
    let per_sandbox = prepared.sandboxes.is_some() && !args.json;
    let bar = ProcessBar::new(global.quiet, queue.len(), per_sandbox);
    let result = runtime.block_on(async {
        let interrupt = process_worker::interrupt_on_ctrl_c()?;
        let _beat = process_worker::Heartbeat::start(Arc::clone(&store), run_id);
        let run = warden_pipeline::process(
            Arc::clone(&store),
            Arc::clone(&prepared.agent),
            work,
            warden_pipeline::Queue::Listed(queue),
            &bar,
            interrupt,
        );
        anyhow::Ok(run.await?)
    });
    let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(err) => {
            let _ = store.finish_run(run_id, RunStatus::Failed, &serde_json::json!({}));
            return Err(err);
        }
    };
    let status = run_status(&outcome);
    let mut stats = summary_json(&outcome, run_id, &prepared.model);
    stats["agent"] = prepared.name().into();
    stats["credential"] = prepared.credential.clone().into();
    if prepared.sandboxes.is_some() {
        stats["sandboxes"] = slots.json();
    }
    let new = match (&review, &before) {
        (Some(paths), Some(before)) => {
            let new = process_review::new_findings(&store, &project_id, before, paths)?;
            stats["reviewed"] = paths.len().into();
            stats["new_findings"] = new.iter().map(|f| f.id.clone()).collect::<Vec<_>>().into();
            Some(new)
        }
        _ => None,
    };
    store.finish_run(run_id, status, &stats)?;
    // Deleted or replaced while the run wrote to it: nothing it did was kept.
    store.check_in_place()?;
    drop(store);
    if let (Some(path), Some(new), Some(paths)) = (&args.comment_out, &new, &review) {
        let stop = outcome.stop.as_ref().map(Stop::message);
        let text = process_review::comment(paths.len(), new, stop.as_deref());
        crate::output::write(path, "--comment-out", &text)?;
    }

    process_worker::print_failures(&outcome.failures);
    if let Some(stop) = &outcome.stop {
        eprintln!("warden: stopped: {}", stop.message().replace('\n', " "));
    }
    let text = if args.json {
        serde_json::to_string_pretty(&stats)?
    } else {
        format!(
            "{}\n{}",
            prepared.header_lines().join("\n"),
            summary_text(&outcome, run_id)
        )
    };
    if !global.quiet || args.json {
        super::emit(None, &text)?;
    }
    // A finding of a review outranks the failures: it is real, and the gate fails either way.
    Ok(if outcome.stop.is_some() {
        STOPPED
    } else if new.is_some_and(|n| !n.is_empty()) {
        FAIL_ON
    } else if outcome.all_failed() {
        OTHER
    } else {
        0
    })
}

/// Scans the change set, queues exactly those files, and returns them as the queue.
fn stage(
    store: &mut Store,
    project: &str,
    run_id: i64,
    root: &std::path::Path,
    paths: &[String],
    quiet: bool,
) -> anyhow::Result<Vec<warden_store::CandidateFile>> {
    let tech = store.project(project)?.map(|p| p.tech).unwrap_or_default();
    let (files, skipped) = process_review::scan_files(root, paths, &tech)?;
    if !skipped.is_empty() && !quiet {
        eprintln!(
            "warden: not reviewed (binary, generated, minified or too large): {}",
            skipped.join(", ")
        );
    }
    store.stage_review(project, run_id, &files)?;
    let wanted: std::collections::HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    Ok(store
        .pending_queue(project, None)?
        .into_iter()
        .filter(|c| wanted.contains(c.path.as_str()))
        .collect())
}

/// How a run that returned `o` ended, as the store records it.
pub(crate) fn run_status(o: &Summary) -> RunStatus {
    if o.stop.is_some() {
        RunStatus::Stopped
    } else if o.all_failed() {
        RunStatus::Failed
    } else {
        RunStatus::Done
    }
}

pub(crate) fn summary_json(o: &Summary, run_id: i64, model: &str) -> serde_json::Value {
    let by_severity: serde_json::Map<String, serde_json::Value> = Severity::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), o.findings_of(*s).into()))
        .collect();
    serde_json::json!({
        "run_id": run_id,
        "model": model,
        "status": if o.stop.is_some() { "stopped" } else if o.all_failed() { "failed" } else { "done" },
        "stop_reason": o.stop.as_ref().map(Stop::message),
        "queued": o.queued,
        "investigated": o.investigated,
        "failed": o.failed,
        "released": o.released,
        "skipped": o.skipped,
        "not_started": o.not_started,
        "findings": o.findings.len(),
        "findings_by_severity": by_severity,
        "rejected": o.rejected,
        "spend_usd": o.spend_usd,
        "unpriced_calls": o.unpriced_calls,
        "failures": o.failures.iter().map(|(p, r)| serde_json::json!({"path": p, "reason": r})).collect::<Vec<_>>(),
    })
}

pub(crate) fn summary_text(o: &Summary, run_id: i64) -> String {
    let mut out = String::new();
    let by_sev: Vec<String> = Severity::ALL
        .iter()
        .map(|s| (s, o.findings_of(*s)))
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let findings = if by_sev.is_empty() {
        "no findings".to_string()
    } else {
        format!("{} findings ({})", o.findings.len(), by_sev.join(", "))
    };
    let unpriced = if o.unpriced_calls > 0 {
        format!(" (+{} calls of unknown price)", o.unpriced_calls)
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "Run {run_id}: investigated {} of {} queued files, {findings}, spent ${:.4}{unpriced}",
        o.investigated, o.queued, o.spend_usd
    );
    if o.failed > 0 {
        // Each one's reason is on stderr.
        let _ = write!(out, "; {} failed", o.failed);
    }
    if o.released + o.not_started > 0 {
        let _ = write!(
            out,
            "; {} left pending for the next run",
            o.released + o.not_started
        );
    }
    if o.skipped > 0 {
        let _ = write!(out, "; {} taken by another process", o.skipped);
    }
    out.push('.');
    out
}
