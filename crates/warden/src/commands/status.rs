//! `warden status`: what each stage holds, per project.

use crate::cli::{GlobalArgs, StatusArgs};
use crate::locate;
use std::fmt::Write as _;
use warden_store::{ProjectStatus, Severity, Store};

pub fn run(global: &GlobalArgs, args: &StatusArgs) -> anyhow::Result<u8> {
    let data_dir = locate::data_dir_for_reading(global.data_dir.as_deref())?;
    let store = Store::open_existing(&data_dir)?;
    let ids: Vec<String> = match &global.project_id {
        Some(_) => vec![locate::project_for_reading(
            &store,
            global.project_id.as_deref(),
        )?],
        None => store.projects()?.into_iter().map(|p| p.id).collect(),
    };
    let statuses = ids
        .iter()
        .map(|id| store.status(id))
        .collect::<Result<Vec<_>, _>>()?;
    let text = if args.json {
        serde_json::to_string_pretty(&statuses)?
    } else if statuses.is_empty() {
        format!(
            "{}: no projects yet; run `warden scan <path>`",
            store.path().display()
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

fn unpriced_note(calls: u64) -> String {
    if calls > 0 {
        format!(", +{calls} of unknown price")
    } else {
        String::new()
    }
}
