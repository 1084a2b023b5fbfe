//! The Markdown report.

mod common;

use common::*;
use warden_report::{render_markdown, FindingSummary};
use warden_store::model::{Finding, Severity, Verdict};

fn render(findings: &[Finding]) -> String {
    render_markdown(&ctx(), findings, &FindingSummary::from_findings(findings))
}

#[test]
fn empty_reports_say_so() {
    let md = render(&[]);
    assert!(md.contains("\nNo findings.\n"), "{md}");
    assert!(md.contains("| **Total** | **0** |"), "{md}");
    assert!(md.contains("`demo`"));
    assert!(!md.contains("####"), "no finding sections: {md}");
}

#[test]
fn findings_are_grouped_most_severe_first() {
    let low = finding("l", "low.rs", Severity::Low);
    let crit = finding("c", "crit.rs", Severity::Critical);
    let high = finding("h", "high.rs", Severity::High);
    // Reported critical, corrected to medium by revalidation.
    let mut corrected = finding("m", "mid.rs", Severity::Critical);
    corrected.verdict = Some(verdict(
        Verdict::Uncertain,
        "Partly mitigated.",
        Some(Severity::Medium),
    ));

    let md = render(&[low, corrected, high, crit]);
    let pos = |needle: &str| {
        md.find(needle)
            .unwrap_or_else(|| panic!("missing {needle:?} in:\n{md}"))
    };
    assert!(pos("### Critical (1)") < pos("### High (1)"));
    assert!(pos("### High (1)") < pos("### Medium (1)"));
    assert!(pos("### Medium (1)") < pos("### Low (1)"));
    assert!(!md.contains("### Info"), "empty groups are left out");
    assert!(
        pos("Issue c") < pos("Issue h")
            && pos("Issue h") < pos("Issue m")
            && pos("Issue m") < pos("Issue l")
    );

    assert!(
        md.contains("| Critical | 1 |")
            && md.contains("| Medium | 1 |")
            && md.contains("| Info | 0 |")
    );
    assert!(md.contains("| **Total** | **4** |"));
    assert!(
        md.contains("medium (reported as critical, corrected by revalidation)"),
        "the correction is noted: {md}"
    );
}

#[test]
fn finding_details_are_shown() {
    let mut f = finding("a", "src/db.rs", Severity::High);
    f.reported.patch = Some("-bad()\n+good()".into());
    f.verdict = Some(verdict(
        Verdict::TruePositive,
        "Reachable from the login form.",
        None,
    ));
    let md = render(&[f]);
    for needle in [
        "#### 1. Issue a",
        "`src/db.rs:10-12`",
        "| Confidence | high |",
        "[CWE-89](https://cwe.mitre.org/data/definitions/89.html)",
        "| Verdict | true positive |",
        "**Verdict reasoning**\n\nReachable from the login form.",
        "**Description**\n\nUser input reaches a SQL query.",
        "**Attack path**\n\nPOST /login -> db::query",
        "**Recommendation**\n\nUse bound parameters.",
        "```diff\n-bad()\n+good()\n```",
        "| Cost | $0.0120 ($0.0100 investigation + $0.0020 revalidation) |",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in:\n{md}");
    }
}

#[test]
fn model_text_cannot_break_the_structure() {
    let mut f = finding("a", "src/a|b.rs", Severity::High);
    f.reported.title = "Pipe | in *title*".into();
    f.reported.category = Some("in|jection".into());
    f.reported.description =
        "# Fake heading\n<!-- hides everything after\n```\nunclosed fence".into();
    f.reported.patch = Some("+ let s = \"```\";".into());
    let md = render(&[f]);

    assert!(md.contains("#### 1. Pipe | in \\*title\\*"), "{md}");
    assert!(md.contains("| Location | `src/a\\|b.rs:10-12` |"), "{md}");
    assert!(md.contains("| Category | in\\|jection |"), "{md}");
    // Every table row still has exactly three unescaped pipes.
    for line in md.lines().filter(|l| l.starts_with('|')) {
        let unescaped = line.replace("\\|", "");
        assert_eq!(unescaped.matches('|').count(), 3, "broken row: {line}");
    }
    assert!(md.contains("\\# Fake heading"));
    assert!(md.contains("&lt;!-- hides"));
    assert!(!md.contains("<!--"));
    // The unclosed fence is closed before the next section starts.
    assert!(
        md.contains("```\nunclosed fence\n```\n\n**Attack path**"),
        "{md}"
    );
    // A patch containing ``` gets a longer fence.
    assert!(md.contains("````diff\n+ let s = \"```\";\n````"), "{md}");
}
