//! `warden status`: what each stage holds, per project.

use crate::cli::{GlobalArgs, StatusArgs};
use crate::locate;
use std::fmt::Write as _;
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use warden_store::{ProjectStatus, RunStatus, Severity, WorkerStatus};

/// Ended runs are listed this long after they end.
const WORKERS_WINDOW: Duration = Duration::from_secs(3600);
/// A running worker silent this long is shown as stale (killed, hung or cut off).
const STALE_AFTER: Duration = Duration::from_secs(3 * super::process_worker::HEARTBEAT.as_secs());

pub fn run(global: &GlobalArgs, args: &StatusArgs) -> anyhow::Result<u8> {
    let store = locate::open_for_reading(global)?;
    let ids: Vec<String> = match &global.project_id {
        Some(_) => vec![locate::project_for_reading(
            &store,
            global.project_id.as_deref(),
        )?],
        None => store.projects()?.into_iter().map(|p| p.id).collect(),
    };
    let statuses = ids
        .iter()
        .map(|id| {
            let mut status = store.status(id)?;
            status.workers = store.workers(id, WORKERS_WINDOW)?;
            Ok(status)
        })
        .collect::<Result<Vec<_>, warden_store::StoreError>>()?;
    let text = if args.json {
        serde_json::to_string_pretty(&statuses)?
    } else if statuses.is_empty() {
        format!(
            "{}: no projects yet; run `warden scan <path>`",
            store.location()
        )
    } else {
        statuses.iter().map(render).collect::<Vec<_>>().join("\n")
    };
    super::emit(None, &text)?;
    Ok(0)
}

fn render(s: &ProjectStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Project {} ({})", s.project_id, s.root);
    if !s.tech.is_empty() {
        let _ = writeln!(out, "  tech        {}", s.tech.join(", "));
    }
    let _ = writeln!(
        out,
        "  last scan   {}",
        s.last_scan_at.as_deref().unwrap_or("never")
    );
    let _ = writeln!(out, "  files       {} ({} gone)", s.files, s.gone);
    let _ = writeln!(
        out,
        "  candidates  {}: {} pending, {} processing, {} analyzed, {} failed",
        s.candidates, s.pending, s.processing, s.analyzed, s.failed
    );
    if s.failed > 0 {
        let kept = s
            .failed_files
            .iter()
            .filter(|f| f.output_tail.is_some())
            .count();
        let kept = match kept {
            0 => String::new(),
            n => format!(", {n} with the agent's output kept"),
        };
        let files = if s.failed == 1 { "file" } else { "files" };
        let _ = writeln!(
            out,
            "  failed      {} {files}{kept}: `warden status --json` lists each with its reason",
            s.failed
        );
    }
    if s.surface > 0 {
        let share = 100.0 * s.surface_analyzed as f64 / s.surface as f64;
        let _ = writeln!(
            out,
            "  surface     {} files with an entry point or imported by one; {} reviewed ({share:.0}%)",
            s.surface, s.surface_analyzed
        );
    }
    let by_sev: Vec<String> = Severity::ALL
        .iter()
        .zip(s.findings_by_severity)
        .map(|(sev, n)| format!("{sev} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "  findings    {} ({}); {} revalidated",
        s.findings_total,
        by_sev.join(", "),
        s.verdicts
    );
    let unpriced = if s.unpriced_calls > 0 {
        format!(" (+{} calls of unknown price)", s.unpriced_calls)
    } else {
        String::new()
    };
    let _ = writeln!(out, "  spend       ${:.2}{unpriced}", s.spend_usd);
    for run in &s.spend_by_run {
        let run_name = match run.run_id {
            Some(id) => format!("run {id}"),
            None => "no run".to_string(),
        };
        let what = match (&run.kind, &run.status) {
            (Some(kind), Some(status)) => format!(" {kind} ({status})"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "    {run_name}{what}: ${:.4}, {} calls{}",
            run.usd,
            run.calls,
            unpriced_note(run.unpriced_calls)
        );
    }
    render_workers(&mut out, &s.workers, OffsetDateTime::now_utc());
    if !s.top_files_by_spend.is_empty() {
        let _ = writeln!(out, "  costliest files");
    }
    for file in &s.top_files_by_spend {
        let _ = writeln!(
            out,
            "    {}: ${:.4}, {} calls{}",
            file.path,
            file.usd,
            file.calls,
            unpriced_note(file.unpriced_calls)
        );
    }
    out
}

/// One line per investigating run: who, where, what it did, and when it last said it
/// was alive; a running one that has gone silent is marked stale.
fn render_workers(out: &mut String, workers: &[WorkerStatus], now: OffsetDateTime) {
    if workers.is_empty() {
        return;
    }
    let running = workers
        .iter()
        .filter(|w| w.status == RunStatus::Running)
        .count();
    let stale = workers.iter().filter(|w| is_stale(w, now)).count();
    let stale_note = match stale {
        0 => String::new(),
        n => format!(", {n} stale"),
    };
    let _ = writeln!(out, "  workers     {running} running{stale_note}");
    for w in workers {
        let state = if is_stale(w, now) {
            "STALE".to_string()
        } else {
            w.status.as_str().to_string()
        };
        let beat = match last_sign_of_life(w) {
            Some(at) if w.status == RunStatus::Running => {
                format!("heartbeat {} ago", ago(now, at))
            }
            _ => match &w.finished_at {
                Some(at) => format!("ended {at}"),
                None => "no heartbeat".to_string(),
            },
        };
        let held = match w.files_held {
            0 => String::new(),
            n => format!(", holding {n}"),
        };
        let _ = writeln!(
            out,
            "    run {} {} {state}: {}; {} files done{held}, ${:.4}; {beat}",
            w.run_id,
            w.kind.as_str(),
            w.holder,
            w.files_done,
            w.spend_usd
        );
    }
}

fn last_sign_of_life(w: &WorkerStatus) -> Option<OffsetDateTime> {
    let at = w.heartbeat_at.as_deref().unwrap_or(&w.started_at);
    OffsetDateTime::parse(at, &Rfc3339).ok()
}

/// Running, and silent for longer than [`STALE_AFTER`].
fn is_stale(w: &WorkerStatus, now: OffsetDateTime) -> bool {
    w.status == RunStatus::Running && last_sign_of_life(w).is_some_and(|at| now - at > STALE_AFTER)
}

fn ago(now: OffsetDateTime, then: OffsetDateTime) -> String {
    let secs = (now - then).whole_seconds().max(0);
    match secs {
        0..=119 => format!("{secs}s"),
        120..=7199 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

fn unpriced_note(calls: u64) -> String {
    if calls > 0 {
        format!(", +{calls} of unknown price")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_store::RunKind;

    fn worker(heartbeat: &str, status: RunStatus) -> WorkerStatus {
        WorkerStatus {
            run_id: 7,
            kind: RunKind::Process,
            status,
            holder: "w1: pid 12 on host-a".to_string(),
            host: Some("host-a".to_string()),
            pid: Some(12),
            started_at: "2026-01-01T10:00:00.000000Z".to_string(),
            heartbeat_at: Some(heartbeat.to_string()),
            finished_at: None,
            files_done: 3,
            files_held: 1,
            spend_usd: 0.25,
        }
    }

    #[test]
    fn a_running_worker_silent_for_three_heartbeats_is_stale_and_a_fresh_one_is_not() {
        let now = OffsetDateTime::parse("2026-01-01T10:05:00Z", &Rfc3339).unwrap();
        let fresh = worker("2026-01-01T10:04:55.000000Z", RunStatus::Running);
        let silent = worker("2026-01-01T10:02:00.000000Z", RunStatus::Running);
        let ended = worker("2026-01-01T10:02:00.000000Z", RunStatus::Done);
        assert!(!is_stale(&fresh, now));
        assert!(is_stale(&silent, now));
        assert!(!is_stale(&ended, now), "an ended run is never stale");

        let mut out = String::new();
        render_workers(&mut out, &[fresh, silent], now);
        assert!(out.contains("2 running, 1 stale"), "{out}");
        assert!(
            out.contains(
                "w1: pid 12 on host-a; 3 files done, holding 1, $0.2500; heartbeat 5s ago"
            ),
            "{out}"
        );
        assert!(out.contains("STALE"), "{out}");
        assert!(out.contains("heartbeat 3m00s ago"), "{out}");
    }
}
