//! `warden triage` (no AI): groups duplicate findings (same root cause), ranks
//! them by severity × confidence × verdict, and with `--ignore ID --reason ...`
//! marks a finding accepted risk (or won't fix) so reports and `revalidate`
//! leave it alone.
//!
//! Two findings are duplicates when they share a CWE (or, without one, a
//! category) and a normalised title, or sit in the same file on overlapping
//! lines. Each group's best-ranked finding is its primary; the others get
//! `duplicate_of` = the primary.

use crate::cli::{GlobalArgs, TriageArgs};
use crate::exit::UsageError;
use crate::locate;
use std::collections::HashMap;
use std::fmt::Write as _;
use warden_store::{Confidence, Disposition, Finding, FindingFilter, Severity, Verdict};

pub fn run(global: &GlobalArgs, args: &TriageArgs) -> anyhow::Result<u8> {
    let mut store = locate::open_for_reading(global)?;
    let project = locate::project_for_reading(&store, global.project_id.as_deref())?;
    let all = store.findings(
        &project,
        &FindingFilter {
            min_severity: None,
            include_false_positives: true,
            include_dispositioned: true,
        },
    )?;
    if let Some(wanted) = &args.ignore {
        let id = resolve(&all, wanted)?;
        let d = if args.wont_fix {
            Disposition::WontFix
        } else {
            Disposition::AcceptedRisk
        };
        let reason = args.reason.as_deref().map(str::trim).unwrap_or_default();
        if reason.is_empty() {
            return Err(UsageError("--reason must not be empty".into()).into());
        }
        store.set_disposition(&project, &id, d, Some(reason))?;
        store.check_in_place()?;
        let text = if args.json {
            serde_json::to_string_pretty(
                &serde_json::json!({"id": id, "disposition": d.as_str(), "reason": reason}),
            )?
        } else {
            format!("Marked {id} as {}: {reason}", d.as_str().replace('_', " "))
        };
        if !global.quiet || args.json {
            super::emit(None, &text)?;
        }
        return Ok(0);
    }

    let groups = group(&all);
    for g in &groups {
        let primary = &all[g[0]];
        for (k, &i) in g.iter().enumerate() {
            let want = (k > 0).then_some(primary.id.as_str());
            if all[i].duplicate_of.as_deref() != want {
                store.set_duplicate_of(&project, &all[i].id, want)?;
            }
        }
    }
    let text = if args.json {
        let rows: Vec<serde_json::Value> = groups
            .iter()
            .map(|g| {
                let f = &all[g[0]];
                serde_json::json!({
                    "id": f.id,
                    "rank": rank(f),
                    "title": f.reported.title,
                    "severity": f.effective_severity().as_str(),
                    "confidence": f.reported.confidence.as_str(),
                    "verdict": f.verdict.as_ref().map(|v| v.verdict.as_str()),
                    "disposition": f.disposition.as_str(),
                    "path": f.reported.path,
                    "start_line": f.reported.start_line,
                    "end_line": f.reported.end_line,
                    "duplicates": g[1..].iter().map(|&i| all[i].id.clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::to_string_pretty(&rows)?
    } else {
        text(&all, &groups)
    };
    if !global.quiet || args.json {
        super::emit(None, &text)?;
    }
    Ok(0)
}

/// The finding `wanted` names: its id or an unambiguous id prefix.
fn resolve(all: &[Finding], wanted: &str) -> anyhow::Result<String> {
    if let Some(f) = all.iter().find(|f| f.id == wanted) {
        return Ok(f.id.clone());
    }
    let matches: Vec<&Finding> = all.iter().filter(|f| f.id.starts_with(wanted)).collect();
    match matches.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(UsageError(format!("--ignore {wanted}: no such finding")).into()),
        _ => Err(UsageError(format!(
            "--ignore {wanted}: ambiguous, matches {} findings",
            matches.len()
        ))
        .into()),
    }
}

/// Severity × confidence × verdict: higher is more urgent.
pub(crate) fn rank(f: &Finding) -> u32 {
    let sev = match f.effective_severity() {
        Severity::Critical => 5,
        Severity::High => 4,
        Severity::Medium => 3,
        Severity::Low => 2,
        Severity::Info => 1,
    };
    let conf = match f.reported.confidence {
        Confidence::High => 3,
        Confidence::Medium => 2,
        Confidence::Low => 1,
    };
    let verdict = match f.verdict.as_ref().map(|v| v.verdict) {
        Some(Verdict::TruePositive) => 4,
        Some(Verdict::Uncertain) => 3,
        None => 2,
        Some(Verdict::FalsePositive) => 1,
    };
    sev * conf * verdict
}

/// Lowercase words of the title, punctuation dropped.
fn normalised_title(t: &str) -> String {
    t.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn same_root_cause(a: &Finding, b: &Finding) -> bool {
    let (ra, rb) = (&a.reported, &b.reported);
    let class = |f: &warden_store::NewFinding| {
        f.cwe
            .as_deref()
            .or(f.category.as_deref())
            .map(|c| c.trim().to_ascii_lowercase())
    };
    let same_class_and_title = class(ra).is_some()
        && class(ra) == class(rb)
        && normalised_title(&ra.title) == normalised_title(&rb.title);
    let overlapping =
        ra.path == rb.path && ra.start_line <= rb.end_line && rb.start_line <= ra.end_line;
    same_class_and_title || overlapping
}

/// Groups of indexes into `all`, each with its primary (best rank) first;
/// groups ordered by their primary's rank, most urgent first.
fn group(all: &[Finding]) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..all.len()).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for i in 0..all.len() {
        for j in i + 1..all.len() {
            if same_root_cause(&all[i], &all[j]) {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                if a != b {
                    parent[b] = a;
                }
            }
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..all.len() {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let order = |i: &usize, j: &usize| {
        let (a, b) = (&all[*i], &all[*j]);
        // Open findings lead their group; then rank; then the store's order.
        (b.disposition == Disposition::Open)
            .cmp(&(a.disposition == Disposition::Open))
            .then_with(|| rank(b).cmp(&rank(a)))
            .then_with(|| i.cmp(j))
    };
    let mut out: Vec<Vec<usize>> = groups
        .into_values()
        .map(|mut g| {
            g.sort_by(order);
            g
        })
        .collect();
    out.sort_by(|a, b| order(&a[0], &b[0]));
    out
}

fn text(all: &[Finding], groups: &[Vec<usize>]) -> String {
    if groups.is_empty() {
        return "No findings to triage.".to_string();
    }
    let dups: usize = groups.iter().map(|g| g.len() - 1).sum();
    let mut s = format!(
        "{} findings in {} groups ({dups} duplicates), most urgent first:\n",
        all.len(),
        groups.len()
    );
    for g in groups {
        let f = &all[g[0]];
        let verdict = f
            .verdict
            .as_ref()
            .map_or("unverified", |v| v.verdict.as_str());
        let _ = write!(
            s,
            "\n{:>3}  {}  [{} / {} confidence / {}]  {}:{}  {}",
            rank(f),
            f.id,
            f.effective_severity(),
            f.reported.confidence.as_str(),
            verdict,
            f.reported.path,
            f.reported.start_line,
            f.reported.title
        );
        if f.disposition != Disposition::Open {
            let _ = write!(
                s,
                "  ({}: {})",
                f.disposition.as_str(),
                f.disposition_reason.as_deref().unwrap_or("")
            );
        }
        for &i in &g[1..] {
            let d = &all[i];
            let _ = write!(
                s,
                "\n       duplicate {}  {}:{}  {}",
                d.id, d.reported.path, d.reported.start_line, d.reported.title
            );
        }
    }
    s.push('\n');
    s
}
