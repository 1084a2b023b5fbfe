//! `warden revalidate`: a skeptical second agent judges each stored finding that
//! has no verdict yet (all of them with `--force`), most severe first; verdicts
//! and the cost of every model call land in the store. Findings a user marked
//! accepted risk or won't fix are never judged. A graceful stop (credits, auth,
//! Ctrl-C) exits 5 like `process`; unjudged findings are judged on the next run.
//! Why a finding got no verdict is one `warden: <file>: finding <id>: <reason>`
//! line on stderr; a run where every judgement failed exits 4.

use super::process_worker;
use crate::cli::{GlobalArgs, RevalidateArgs};
use crate::exit::{UsageError, OTHER, STOPPED};
use crate::locate;
use crate::progress::ProcessBar;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use warden_agent::Limits;
use warden_pipeline::{Judged, Stop, Work};
use warden_store::{Disposition, Finding, FindingFilter, RunKind, RunStatus, Store};

/// The findings to judge, most severe first.
fn queue(store: &Store, project: &str, args: &RevalidateArgs) -> anyhow::Result<Vec<Finding>> {
    let filter = FindingFilter {
        min_severity: args.min_severity,
        include_false_positives: true,
        include_dispositioned: false,
    };
    let mut out: Vec<Finding> = store
        .findings(project, &filter)?
        .into_iter()
        .filter(|f| f.disposition == Disposition::Open)
        .filter(|f| args.force || f.verdict.is_none())
        .collect();
    if let Some(n) = args.limit {
        out.truncate(n);
    }
    Ok(out)
}

pub fn run(global: &GlobalArgs, args: &RevalidateArgs) -> anyhow::Result<u8> {
    let data_dir = locate::config_dir(global);
    let (kind, model) =
        super::agent_setup::choose(args.choice.agent, args.choice.model.as_deref(), &data_dir)?;
    let slots = super::slots::resolve(kind, args.concurrency, &args.slots)?;
    let mut store = locate::open_for_reading(global)?;
    let project_id = locate::project_for_reading(&store, global.project_id.as_deref())?;
    let project = store
        .project(&project_id)?
        .ok_or_else(|| UsageError(format!("project {project_id} vanished from the store")))?;
    let root = PathBuf::from(&project.root);
    let prepared = super::agent_setup::prepare(
        kind,
        model.as_deref(),
        &root,
        "revalidate",
        Limits::default(),
        &slots,
    )?;
    prepared.announce(global.quiet);

    let findings = queue(&store, &project_id, args)?;
    let holder = warden_store::default_holder();
    let run_id = store.begin_run(&project_id, RunKind::Revalidate, &holder)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(slots.count.clamp(1, 4))
        .enable_all()
        .build()?;
    let mut work = Work::new(&project_id, root, &holder, run_id);
    work.tech = project.tech.clone();
    work.concurrency = slots.count;
    let per_sandbox = prepared.sandboxes.is_some() && !args.json;
    let bar = ProcessBar::new(global.quiet, findings.len(), per_sandbox);
    let store = Arc::new(Mutex::new(store));
    let result = runtime.block_on(async {
        let interrupt = process_worker::interrupt_on_ctrl_c()?;
        let _beat = process_worker::Heartbeat::start(Arc::clone(&store), run_id);
        let run = warden_pipeline::revalidate(
            Arc::clone(&store),
            Arc::clone(&prepared.agent),
            work,
            findings,
            &bar,
            interrupt,
        );
        anyhow::Ok(run.await?)
    });
    let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
    let out = match result {
        Ok(out) => out,
        Err(err) => {
            let _ = store.finish_run(run_id, RunStatus::Failed, &serde_json::json!({}));
            return Err(err);
        }
    };
    let mut stats = summary_json(&out, run_id, &prepared.model);
    stats["agent"] = prepared.name().into();
    stats["credential"] = prepared.credential.clone().into();
    if prepared.sandboxes.is_some() {
        stats["sandboxes"] = slots.json();
    }
    let status = if out.stop.is_some() {
        RunStatus::Stopped
    } else if out.all_failed() {
        RunStatus::Failed
    } else {
        RunStatus::Done
    };
    store.finish_run(run_id, status, &stats)?;
    // Deleted or replaced while the run wrote to it: nothing it did was kept.
    store.check_in_place()?;
    let failures: Vec<(String, String)> = out
        .failures
        .iter()
        .map(|(id, path, reason)| (format!("{path}: finding {id}"), reason.clone()))
        .collect();
    process_worker::print_failures(&failures);
    if let Some(stop) = &out.stop {
        eprintln!("warden: stopped: {}", stop_message(stop));
    }
    let text = if args.json {
        serde_json::to_string_pretty(&stats)?
    } else {
        format!(
            "{}\n{}",
            prepared.header_lines().join("\n"),
            summary_text(&out, run_id)
        )
    };
    if !global.quiet || args.json {
        super::emit(None, &text)?;
    }
    Ok(if out.stop.is_some() {
        STOPPED
    } else if out.all_failed() {
        OTHER
    } else {
        0
    })
}

fn stop_message(stop: &Stop) -> String {
    match stop {
        Stop::Interrupted => {
            "interrupted; findings not judged yet keep no verdict: re-run to resume".to_string()
        }
        other => other.message().replace('\n', " "),
    }
}

fn summary_json(o: &Judged, run_id: i64, model: &str) -> serde_json::Value {
    serde_json::json!({
        "run_id": run_id,
        "model": model,
        "status": if o.stop.is_some() { "stopped" } else if o.all_failed() { "failed" } else { "done" },
        "stop_reason": o.stop.as_ref().map(stop_message),
        "queued": o.queued,
        "judged": o.judged(),
        "true_positive": o.true_positive,
        "false_positive": o.false_positive,
        "uncertain": o.uncertain,
        "corrected_severity": o.corrected,
        "failed": o.failed,
        "not_judged": o.not_judged,
        "spend_usd": o.spend_usd,
        "unpriced_calls": o.unpriced_calls,
        "failures": o.failures.iter().map(|(id, path, r)| serde_json::json!({"finding": id, "path": path, "reason": r})).collect::<Vec<_>>(),
    })
}

fn summary_text(o: &Judged, run_id: i64) -> String {
    let mut s = format!(
        "Run {run_id}: judged {} of {} findings ({} true positive, {} false positive, {} uncertain), spent ${:.4}",
        o.judged(),
        o.queued,
        o.true_positive,
        o.false_positive,
        o.uncertain,
        o.spend_usd
    );
    if o.unpriced_calls > 0 {
        s.push_str(&format!(" (+{} calls of unknown price)", o.unpriced_calls));
    }
    if o.failed > 0 {
        // Each one's reason is on stderr.
        s.push_str(&format!("; {} without a verdict", o.failed));
    }
    if o.not_judged > 0 {
        s.push_str(&format!("; {} left for the next run", o.not_judged));
    }
    s.push('.');
    s
}
