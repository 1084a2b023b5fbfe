//! `warden revalidate`: a skeptical second agent judges each stored finding that
//! has no verdict yet (all of them with `--force`), most severe first; verdicts
//! and the cost of every model call land in the store. Findings a user marked
//! accepted risk or won't fix are never judged. A graceful stop (credits, auth,
//! Ctrl-C) exits 5 like `process`; unjudged findings are judged on the next run.
//! Why a finding got no verdict is one `warden: <file>: finding <id>: <reason>`
//! line on stderr; a run where every judgement failed exits 4.

use super::process_worker::Stop;
use crate::cli::{GlobalArgs, RevalidateArgs};
use crate::exit::{UsageError, OTHER, STOPPED};
use crate::locate;
use crate::progress::ProcessBar;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::task::JoinSet;
use warden_agent::{AgentError, Failed, FindingTask, Limits, NativeAgent, Outcome, Revalidation};
use warden_llm::CancellationToken;
use warden_store::{
    Disposition, Finding, FindingFilter, RunKind, RunStatus, Store, Verdict, VerdictRecord,
};

/// What one revalidation run did.
#[derive(Debug, Default)]
struct Summary {
    queued: usize,
    true_positive: usize,
    false_positive: usize,
    uncertain: usize,
    /// Severity corrected by the verdict.
    corrected: usize,
    failed: usize,
    /// (finding id, its file, why it got no verdict).
    failures: Vec<(String, String, String)>,
    /// Queued, but left without a verdict because the run stopped.
    not_judged: usize,
    spend_usd: f64,
    unpriced_calls: u64,
    stop: Option<Stop>,
}

impl Summary {
    fn judged(&self) -> usize {
        self.true_positive + self.false_positive + self.uncertain
    }

    /// Findings were taken up and not one got a verdict.
    fn all_failed(&self) -> bool {
        self.failed > 0 && self.judged() == 0
    }
}

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
    if args.concurrency == 0 {
        return Err(UsageError("--concurrency must be at least 1".into()).into());
    }
    let provider = super::model_setup::provider_for(&args.model)?;
    let data_dir = locate::data_dir_for_reading(global.data_dir.as_deref())?;
    let mut store = Store::open_existing(&data_dir)?;
    let project_id = locate::project_for_reading(&store, global.project_id.as_deref())?;
    let project = store
        .project(&project_id)?
        .ok_or_else(|| UsageError(format!("project {project_id} vanished from the store")))?;
    let agent = super::model_setup::native_agent(provider, &args.model, Limits::default())?;

    let findings = queue(&store, &project_id, args)?;
    let holder = warden_store::default_holder();
    let run_id = store.begin_run(&project_id, RunKind::Revalidate, &holder)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.concurrency.clamp(1, 4))
        .enable_all()
        .build()?;
    let root = PathBuf::from(&project.root);
    let result = runtime.block_on(judge_all(
        &mut store,
        Arc::new(agent),
        Ctx {
            project: &project_id,
            root: &root,
            tech: &project.tech,
            run_id,
            concurrency: args.concurrency,
            quiet: global.quiet,
        },
        findings,
    ));
    let out = match result {
        Ok(out) => out,
        Err(err) => {
            let _ = store.finish_run(run_id, RunStatus::Failed, &serde_json::json!({}));
            return Err(err);
        }
    };
    let stats = summary_json(&out, run_id, &args.model);
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
    super::process_worker::print_failures(&failures);
    if let Some(stop) = &out.stop {
        eprintln!("warden: stopped: {}", stop_message(stop));
    }
    let text = if args.json {
        serde_json::to_string_pretty(&stats)?
    } else {
        summary_text(&out, run_id)
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

struct Ctx<'a> {
    project: &'a str,
    root: &'a PathBuf,
    tech: &'a [String],
    run_id: i64,
    concurrency: usize,
    quiet: bool,
}

/// Judges `findings` with at most `concurrency` at once until done or stopped.
async fn judge_all(
    store: &mut Store,
    agent: Arc<NativeAgent>,
    ctx: Ctx<'_>,
    findings: Vec<Finding>,
) -> anyhow::Result<Summary> {
    let mut out = Summary {
        queued: findings.len(),
        ..Summary::default()
    };
    let bar = ProcessBar::new(ctx.quiet, findings.len());
    let cancel = CancellationToken::new();
    let mut pending = findings.into_iter();
    let mut inflight: JoinSet<(String, String, Result<Revalidation, Failed>)> = JoinSet::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    loop {
        while out.stop.is_none() && inflight.len() < ctx.concurrency {
            let Some(finding) = pending.next() else { break };
            let task = FindingTask {
                root: ctx.root.clone(),
                tech: ctx.tech.to_vec(),
                finding,
            };
            let token = cancel.child_token();
            let agent = Arc::clone(&agent);
            inflight.spawn(async move {
                let r = agent.revalidate(&task, &token).await;
                (task.finding.id, task.finding.reported.path, r)
            });
        }
        if out.stop.is_some() {
            cancel.cancel();
        }
        if inflight.is_empty() {
            break;
        }
        tokio::select! {
            joined = inflight.join_next() => {
                let Some(joined) = joined else { continue };
                let (id, path, result) = joined.map_err(|e| anyhow::anyhow!("a revalidation task failed: {e}"))?;
                settle(store, &ctx, &mut out, (&id, &path), result, cancel.is_cancelled())?;
                bar.file_done(out.judged(), out.spend_usd);
            }
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                out.stop.get_or_insert(Stop::Interrupted);
            }
        }
    }
    out.not_judged += pending.len();
    bar.finish();
    Ok(out)
}

fn settle(
    store: &mut Store,
    ctx: &Ctx<'_>,
    out: &mut Summary,
    (id, path): (&str, &str),
    result: Result<Revalidation, Failed>,
    cancelled: bool,
) -> anyhow::Result<()> {
    let (calls, verdict, problem) = match result {
        Ok(r) => {
            let reason = match r.outcome {
                Outcome::Incomplete { reason } if r.verdict.is_none() => Some(reason),
                _ => None,
            };
            (r.calls, r.verdict, reason)
        }
        Err(Failed { error, calls, .. }) => {
            let reason = match error {
                AgentError::Llm(e) if e.stops_run() => {
                    out.stop.get_or_insert(Stop::Llm(e));
                    None
                }
                _ if cancelled => None,
                e => Some(super::process_worker::failure_reason(&e)),
            };
            (calls, None, reason)
        }
    };
    let mut cost: Option<f64> = None;
    for call in calls {
        let mut call = call;
        call.run_id = Some(ctx.run_id);
        store.record_llm_call(ctx.project, &call)?;
        match call.cost_usd {
            Some(usd) => {
                out.spend_usd += usd;
                *cost.get_or_insert(0.0) += usd;
            }
            None => out.unpriced_calls += 1,
        }
    }
    match (verdict, problem) {
        (Some(v), _) => {
            store.record_verdict(
                ctx.project,
                id,
                &VerdictRecord {
                    verdict: v.verdict,
                    reasoning: v.reasoning,
                    corrected_severity: v.corrected_severity,
                    run_id: Some(ctx.run_id),
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

fn summary_json(o: &Summary, run_id: i64, model: &str) -> serde_json::Value {
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

fn summary_text(o: &Summary, run_id: i64) -> String {
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
