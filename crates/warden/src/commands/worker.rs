//! `warden worker`: one of any number of workers, on any number of machines, sharing
//! one store. Each claims the store's best pending candidate under a lease, checks its
//! copy of the tree against the scan's hashes, investigates, and settles the file in
//! the store; it exits when nothing is left to claim (or polls, with `--follow`).
//! A heartbeat on its run lets `warden status` tell a working worker from a dead one.

use super::process_worker;
use crate::cli::{GlobalArgs, WorkerArgs};
use crate::exit::{UsageError, OTHER, STOPPED};
use crate::locate;
use crate::progress::ProcessBar;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use warden_agent::Limits;
use warden_pipeline::{Queue, Snapshot, Stop, Summary, TreeSource, Verifier, Work};
use warden_store::{RunKind, RunStatus, Store};

pub fn run(global: &GlobalArgs, args: &WorkerArgs) -> anyhow::Result<u8> {
    let mut store = locate::open_for_reading(global)?;
    let project_id = locate::project_for_reading(&store, global.project_id.as_deref())?;
    let project = store
        .project(&project_id)?
        .ok_or_else(|| UsageError(format!("project {project_id} vanished from the store")))?;
    let source = tree_source(&store, &project_id, &project.root, args)?;
    let snapshot = Snapshot::materialise(&store, &project_id, &source)
        .with_context(|| format!("rebuilding the scanned tree of {project_id}"))?;
    let root = snapshot.root().to_path_buf();
    let (kind, model) = super::agent_setup::choose(
        args.choice.agent,
        args.choice.model.as_deref(),
        &locate::config_dir(global),
    )?;
    let slots = super::slots::resolve(kind, args.concurrency, &args.slots)?;
    let limits = Limits::default();
    let prepared =
        super::agent_setup::prepare(kind, model.as_deref(), &root, "worker", limits, &slots)?;
    prepared.announce(global.quiet);

    let holder = match &args.name {
        Some(name) => format!("{name}: {}", warden_store::default_holder()),
        None => warden_store::default_holder(),
    };
    let run_id = store.begin_run(&project_id, RunKind::Process, &holder)?;
    // The agents read the run's copy of the tree when they run in sandboxes: that is
    // the copy whose bytes must be the scanned ones.
    let read_dir = prepared
        .tree
        .as_ref()
        .map_or(root.clone(), |t| t.path.clone());
    let snapshot = Arc::new(snapshot);
    let check = Arc::clone(&snapshot);
    let work = Work {
        project: project_id.clone(),
        root,
        tech: project.tech.clone(),
        holder,
        run_id,
        lease: match args.lease_secs {
            Some(secs) => Duration::from_secs(secs.max(1)),
            None => limits.timeout + Duration::from_secs(300),
        },
        concurrency: slots.count,
        max_cost: args.max_cost,
        batch_size: 1,
        verify: Some(Verifier(Arc::new(move |path| {
            check.verify_in(&read_dir, path)
        }))),
    };
    let store = Arc::new(Mutex::new(store));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(slots.count.clamp(1, 4))
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let interrupt = process_worker::interrupt_on_ctrl_c()?;
        let _beat = process_worker::Heartbeat::start(Arc::clone(&store), run_id);
        let per_sandbox = prepared.sandboxes.is_some() && !args.json;
        let bar = ProcessBar::new(global.quiet, 0, per_sandbox);
        rounds(&store, &prepared, work, args, &bar, interrupt).await
    });
    let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(err) => {
            let _ = store.finish_run(run_id, RunStatus::Failed, &serde_json::json!({}));
            return Err(err);
        }
    };
    let status = super::process::run_status(&outcome);
    let mut stats = super::process::summary_json(&outcome, run_id, &prepared.model);
    stats["agent"] = prepared.name().into();
    stats["worker"] = args.name.clone().into();
    if prepared.sandboxes.is_some() {
        stats["sandboxes"] = slots.json();
    }
    store.finish_run(run_id, status, &stats)?;
    drop(store);

    process_worker::print_failures(&outcome.failures);
    if let Some(stop) = &outcome.stop {
        eprintln!("warden: stopped: {}", stop.message().replace('\n', " "));
    }
    let text = if args.json {
        serde_json::to_string_pretty(&stats)?
    } else {
        format!(
            "{}\n{}",
            prepared.header,
            super::process::summary_text(&outcome, run_id)
        )
    };
    if !global.quiet || args.json {
        super::emit(None, &text)?;
    }
    Ok(if outcome.stop.is_some() {
        STOPPED
    } else if outcome.all_failed() {
        OTHER
    } else {
        0
    })
}

/// Where this worker's copy of the tree comes from: the flag, else the scanned root when
/// it is on this machine, else the stored blobs, else a clone of the recorded origin
/// (whichever it is, each file is checked against the scan's hash before it is read).
fn tree_source(
    store: &Store,
    project: &str,
    scanned_root: &str,
    args: &WorkerArgs,
) -> anyhow::Result<TreeSource> {
    let cache = || -> anyhow::Result<PathBuf> {
        match &args.cache_dir {
            Some(dir) => Ok(dir.clone()),
            None => Ok(locate::cache_dir()?.join("trees")),
        }
    };
    if let Some(dir) = &args.root {
        return Ok(TreeSource::Dir(dir.clone()));
    }
    if let Some(url) = &args.git {
        return Ok(TreeSource::Git {
            url: url.clone(),
            cache: cache()?,
        });
    }
    let recorded = store.tree_record(project)?;
    let root = PathBuf::from(scanned_root);
    if !args.blobs && root.is_dir() {
        return Ok(TreeSource::Dir(root));
    }
    if args.blobs || recorded.as_ref().is_some_and(|t| t.blobs > 0) {
        return Ok(TreeSource::Blobs { cache: cache()? });
    }
    match recorded.and_then(|t| t.origin) {
        Some(url) => Ok(TreeSource::Git {
            url,
            cache: cache()?,
        }),
        None => Err(UsageError(format!(
            "the scanned root {scanned_root} is not on this machine and the scan stored no blobs or git origin: pass --root DIR or --git URL, or scan with --upload-tree"
        ))
        .into()),
    }
}

/// Claims and investigates until no file is left pending or held by anyone (with
/// `--follow`, until a stop), adding up what each round did.
async fn rounds(
    store: &Arc<Mutex<Store>>,
    prepared: &super::agent_setup::Prepared,
    work: Work,
    args: &WorkerArgs,
    bar: &ProcessBar,
    interrupt: warden_pipeline::CancellationToken,
) -> anyhow::Result<Summary> {
    let mut total = Summary::default();
    // While others hold the last files, look again soon (they may finish in moments),
    // then less and less often, up to --poll.
    let mut wait = Duration::from_millis(100);
    loop {
        let mut round = work.clone();
        if let Some(cap) = work.max_cost {
            round.max_cost = Some((cap - total.spend_usd).max(f64::MIN_POSITIVE));
        }
        let out = warden_pipeline::process(
            Arc::clone(store),
            Arc::clone(&prepared.agent),
            round,
            Queue::Store,
            bar,
            interrupt.clone(),
        )
        .await?;
        let stopped = out.stop.is_some();
        if out.queued > 0 {
            wait = Duration::from_millis(100);
        }
        add(&mut total, out);
        if stopped {
            return Ok(total);
        }
        // Nothing claimable. Files other workers hold are not done yet: should one of
        // them die, its leases run out and this worker takes the files over, so it
        // waits for them; with nothing held anywhere the queue is really empty.
        let held = {
            let store = store.lock().unwrap_or_else(|e| e.into_inner());
            store.file_leases(&work.project)?
        };
        if held.is_empty() && !args.follow {
            return Ok(total);
        }
        let poll = Duration::from_secs(args.poll);
        let pause = if held.is_empty() {
            poll
        } else {
            wait.min(poll)
        };
        wait = (wait * 2).min(poll);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = interrupt.cancelled() => {
                total.stop.get_or_insert(Stop::Interrupted);
                return Ok(total);
            }
        }
    }
}

fn add(total: &mut Summary, round: Summary) {
    total.queued += round.queued;
    total.investigated += round.investigated;
    total.failed += round.failed;
    total.released += round.released;
    total.skipped += round.skipped;
    total.not_started += round.not_started;
    total.findings.extend(round.findings);
    total.rejected += round.rejected;
    total.spend_usd += round.spend_usd;
    total.unpriced_calls += round.unpriced_calls;
    total.failures.extend(round.failures);
    if round.stop.is_some() {
        total.stop = round.stop;
    }
}
