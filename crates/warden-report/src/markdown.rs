//! The human report: GitHub-flavoured Markdown.
//!
//! Text written by models (titles, descriptions, reasoning, patches) is
//! escaped only where it could break the report's structure: pipes in table
//! cells, headings or unbalanced code fences inside prose, raw HTML. Code
//! spans the model wrote are kept.

use std::fmt::Write as _;

use warden_store::model::{Disposition, Finding, Severity, Verdict};

use crate::rules::{canonical_cwe, cwe_number, cwe_url};
use crate::summary::{severity_slot, sorted};
use crate::{FindingSummary, ReportContext};

/// A Markdown report: header, totals per severity, then every finding grouped
/// by effective severity, most severe first. `summary` fills the totals table
/// (usually [`FindingSummary::from_findings`] over the same findings).
pub fn render_markdown(
    ctx: &ReportContext<'_>,
    findings: &[Finding],
    summary: &FindingSummary,
) -> String {
    let mut out = String::new();
    out.push_str("# Warden security report\n\n");
    let _ = writeln!(out, "- **Project:** {}", code_span(ctx.project_id));
    let _ = writeln!(out, "- **Root:** {}", code_span(ctx.root));
    let _ = writeln!(out, "- **Generated:** {}", escape_inline(ctx.generated_at));
    let _ = writeln!(
        out,
        "- **Tool:** warden {}",
        escape_inline(ctx.tool_version)
    );

    out.push_str("\n## Summary\n\n| Severity | Findings |\n|---|---:|\n");
    for severity in Severity::ALL {
        let _ = writeln!(
            out,
            "| {} | {} |",
            severity_label(severity),
            summary.by_severity[severity_slot(severity)]
        );
    }
    let _ = writeln!(out, "| **Total** | **{}** |", summary.total);
    if summary.spend_usd > 0.0 || summary.unpriced > 0 {
        let _ = write!(
            out,
            "\nSpend attributed to these findings: {}",
            usd(summary.spend_usd)
        );
        if summary.unpriced > 0 {
            let _ = write!(out, " ({} without a known cost)", summary.unpriced);
        }
        out.push('\n');
    }

    out.push_str("\n## Findings\n\n");
    if findings.is_empty() {
        out.push_str("No findings.\n");
        return out;
    }
    let findings = sorted(findings);
    let mut number = 0;
    for severity in Severity::ALL {
        let group: Vec<&&Finding> = findings
            .iter()
            .filter(|f| f.effective_severity() == severity)
            .collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {} ({})\n", severity_label(severity), group.len());
        for finding in group {
            number += 1;
            render_finding(&mut out, number, finding);
        }
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

fn render_finding(out: &mut String, number: usize, finding: &Finding) {
    let reported = &finding.reported;
    let title = reported.title.trim();
    let title = if title.is_empty() {
        "Untitled finding"
    } else {
        title
    };
    let _ = writeln!(out, "#### {number}. {}\n", escape_inline(title));

    let location = format!(
        "{}:{}-{}",
        reported.path, reported.start_line, reported.end_line
    );
    let mut rows: Vec<(&str, String)> = vec![("Location", code_span(&location))];

    let effective = finding.effective_severity();
    let severity = if effective == reported.severity {
        effective.as_str().to_string()
    } else {
        format!(
            "{} (reported as {}, corrected by revalidation)",
            effective.as_str(),
            reported.severity.as_str()
        )
    };
    rows.push(("Severity", severity));
    rows.push(("Confidence", reported.confidence.as_str().to_string()));
    if let Some(cwe) = reported.cwe.as_deref().filter(|c| !c.trim().is_empty()) {
        let cell = match cwe_number(cwe) {
            Some(n) => format!("[CWE-{n}]({})", cwe_url(n)),
            None => escape_inline(&canonical_cwe(cwe)),
        };
        rows.push(("CWE", cell));
    }
    if let Some(category) = reported
        .category
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    {
        rows.push(("Category", escape_inline(category)));
    }
    if let Some(rule) = reported.rule_id.as_deref().filter(|r| !r.trim().is_empty()) {
        rows.push(("Rule", code_span(rule)));
    }
    if let Some(verdict) = &finding.verdict {
        rows.push(("Verdict", verdict_label(verdict.verdict).to_string()));
    }
    if finding.disposition != Disposition::Open {
        let mut cell = disposition_label(finding.disposition).to_string();
        if let Some(reason) = finding
            .disposition_reason
            .as_deref()
            .filter(|r| !r.trim().is_empty())
        {
            let _ = write!(cell, ": {}", escape_inline(reason));
        }
        rows.push(("Disposition", cell));
    }
    if let Some(original) = &finding.duplicate_of {
        rows.push(("Duplicate of", code_span(original)));
    }
    if let Some(cost) = cost_cell(finding) {
        rows.push(("Cost", cost));
    }
    rows.push(("Id", code_span(&finding.id)));

    out.push_str("| Field | Value |\n|---|---|\n");
    for (field, value) in rows {
        let _ = writeln!(out, "| {field} | {} |", table_cell(&value));
    }
    out.push('\n');

    if let Some(verdict) = &finding.verdict {
        if !verdict.reasoning.trim().is_empty() {
            section(out, "Verdict reasoning", &verdict.reasoning);
        }
    }
    section(out, "Description", &reported.description);
    section(out, "Attack path", &reported.attack_path);
    section(out, "Recommendation", &reported.recommendation);
    if let Some(patch) = reported.patch.as_deref().filter(|p| !p.trim().is_empty()) {
        let fence = "`".repeat(longest_run(patch, '`').max(2) + 1);
        let _ = writeln!(
            out,
            "**Patch**\n\n{fence}diff\n{}\n{fence}\n",
            patch.trim_end()
        );
    }
}

/// A bold label and a prose block, skipped when the text is empty.
fn section(out: &mut String, label: &str, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    let _ = writeln!(out, "**{label}**\n\n{}\n", escape_block(text.trim()));
}

fn cost_cell(finding: &Finding) -> Option<String> {
    let investigation = finding.reported.cost_usd;
    let revalidation = finding.verdict.as_ref().and_then(|v| v.cost_usd);
    match (investigation, revalidation) {
        (None, None) => None,
        (Some(i), None) => Some(usd(i)),
        (None, Some(r)) => Some(format!("{} (revalidation)", usd(r))),
        (Some(i), Some(r)) => Some(format!(
            "{} ({} investigation + {} revalidation)",
            usd(i + r),
            usd(i),
            usd(r)
        )),
    }
}

fn usd(amount: f64) -> String {
    format!("${amount:.4}")
}

fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Info",
    }
}

fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::TruePositive => "true positive",
        Verdict::FalsePositive => "false positive",
        Verdict::Uncertain => "uncertain",
    }
}

fn disposition_label(disposition: Disposition) -> &'static str {
    match disposition {
        Disposition::Open => "open",
        Disposition::AcceptedRisk => "accepted risk",
        Disposition::WontFix => "won't fix",
    }
}

/// Length of the longest run of `c` in `text`.
fn longest_run(text: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in text.chars() {
        run = if ch == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// `text` as one inline code span, whatever backticks it contains.
fn code_span(text: &str) -> String {
    let text = text.replace(['\r', '\n'], " ");
    let fence = "`".repeat(longest_run(&text, '`') + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A table cell: one line, with every `|` escaped (GFM splits cells on `|`
/// even inside code spans, and drops the backslash there).
fn table_cell(text: &str) -> String {
    text.replace(['\r', '\n'], " ").replace('|', "\\|")
}

/// Splits a line into (is_code, piece) around inline code spans.
fn split_code_spans(line: &str) -> Vec<(bool, &str)> {
    let mut pieces = Vec::new();
    let bytes = line.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let run_start = i;
        while i < bytes.len() && bytes[i] == b'`' {
            i += 1;
        }
        let run = i - run_start;
        // Find a closing run of exactly the same length.
        let mut j = i;
        let mut close = None;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let s = j;
                while j < bytes.len() && bytes[j] == b'`' {
                    j += 1;
                }
                if j - s == run {
                    close = Some(j);
                    break;
                }
            } else {
                j += 1;
            }
        }
        if let Some(end) = close {
            if run_start > start {
                pieces.push((false, &line[start..run_start]));
            }
            pieces.push((true, &line[run_start..end]));
            start = end;
            i = end;
        }
    }
    if start < line.len() {
        pieces.push((false, &line[start..]));
    }
    pieces
}

/// Escapes one line of model text for use inline (headings, list items, cells):
/// Markdown punctuation outside code spans gets a backslash. `|` is left to
/// [`table_cell`], which must see it unescaped (GFM reads `\\|` as a backslash
/// followed by a cell boundary).
fn escape_inline(text: &str) -> String {
    let line = text.replace(['\r', '\n'], " ");
    let mut out = String::with_capacity(line.len());
    for (code, piece) in split_code_spans(&line) {
        if code {
            out.push_str(piece);
            continue;
        }
        for ch in piece.chars() {
            if matches!(
                ch,
                '\\' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' | '`'
            ) {
                out.push('\\');
            }
            out.push(ch);
        }
    }
    out
}

/// Escapes multi-line model prose so it cannot break the report around it:
/// no headings or setext underlines, no raw HTML (comments or `<script>`
/// blocks could swallow the rest), and an unclosed code fence is closed.
/// Balanced fences, lists and code spans are kept.
fn escape_block(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fence: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let fence_marker: String = trimmed
            .chars()
            .take_while(|c| *c == '`' || *c == '~')
            .collect();
        let is_fence = indent <= 3
            && fence_marker.len() >= 3
            && fence_marker
                .chars()
                .all(|c| c == fence_marker.chars().next().unwrap_or('`'));
        if let Some(open) = &fence {
            out.push_str(line);
            out.push('\n');
            if is_fence && fence_marker.starts_with(open.as_str()) && trimmed.trim() == fence_marker
            {
                fence = None;
            }
            continue;
        }
        if is_fence {
            fence = Some(fence_marker);
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let setext = !trimmed.trim().is_empty()
            && (trimmed.trim().chars().all(|c| c == '=')
                || trimmed.trim().chars().all(|c| c == '-'));
        if indent <= 3 && (trimmed.starts_with('#') || setext) {
            out.push_str(&line[..indent]);
            out.push('\\');
            out.push_str(&escape_html(trimmed));
        } else {
            out.push_str(&escape_html(line));
        }
        out.push('\n');
    }
    if let Some(open) = fence {
        out.push_str(&open);
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

/// `<` as an entity outside code spans, so no raw HTML reaches the output.
fn escape_html(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for (code, piece) in split_code_spans(line) {
        if code {
            out.push_str(piece);
        } else {
            out.push_str(&piece.replace('<', "&lt;"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_escaping_keeps_code_spans() {
        assert_eq!(escape_inline("a | b *c*"), "a | b \\*c\\*");
        assert_eq!(table_cell(&escape_inline("a|b")), "a\\|b");
        assert_eq!(table_cell(&code_span("x|y")), "`x\\|y`");
        assert_eq!(escape_inline("call `a|b` now"), "call `a|b` now");
        assert_eq!(escape_inline("stray ` tick"), "stray \\` tick");
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x"), "`` `x ``");
    }

    #[test]
    fn block_escaping_defuses_structure() {
        let out = escape_block("# Not a heading\ntext\n===\n<!-- hide\n`<b>` ok");
        assert_eq!(
            out,
            "\\# Not a heading\ntext\n\\===\n&lt;!-- hide\n`<b>` ok"
        );
        // A balanced fence is kept verbatim; an unclosed one is closed.
        assert_eq!(escape_block("```\n# x\n```"), "```\n# x\n```");
        assert_eq!(
            escape_block("~~~~rust\nfn f() {}"),
            "~~~~rust\nfn f() {}\n~~~~"
        );
    }
}
