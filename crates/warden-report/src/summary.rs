//! Totals over a set of findings, and severity filters.

use std::cmp::Reverse;

use warden_store::model::{Finding, Severity};

/// Totals over a set of findings, counted by their effective severity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindingSummary {
    /// Findings per effective severity, most severe first:
    /// `[critical, high, medium, low, info]` (the order of [`Severity::ALL`]).
    pub by_severity: [u64; 5],
    pub total: u64,
    /// Known cost attributed to these findings, in USD: each finding's
    /// investigation share plus its revalidation cost. Unknown costs count as
    /// nothing here; see `unpriced`.
    pub spend_usd: f64,
    /// Findings with no known cost at all (neither investigation nor revalidation).
    pub unpriced: u64,
}

impl FindingSummary {
    /// Counts `findings` by [`Finding::effective_severity`] and sums their known costs.
    pub fn from_findings(findings: &[Finding]) -> Self {
        let mut summary = FindingSummary::default();
        for finding in findings {
            summary.by_severity[severity_slot(finding.effective_severity())] += 1;
            summary.total += 1;
            match finding_cost(finding) {
                Some(cost) => summary.spend_usd += cost,
                None => summary.unpriced += 1,
            }
        }
        summary
    }

    /// How many findings have exactly this effective severity.
    pub fn count(&self, severity: Severity) -> u64 {
        self.by_severity[severity_slot(severity)]
    }
}

/// The findings whose effective severity is `min` or worse, in their original order.
///
/// ```
/// use warden_report::severity_at_least;
/// use warden_store::model::Severity;
///
/// let findings = Vec::new();
/// let serious: Vec<_> = severity_at_least(&findings, Severity::High).cloned().collect();
/// assert!(serious.is_empty());
/// ```
pub fn severity_at_least(
    findings: &[Finding],
    min: Severity,
) -> impl Iterator<Item = &Finding> + '_ {
    findings
        .iter()
        .filter(move |f| f.effective_severity() >= min)
}

/// Position of a severity in [`Severity::ALL`] (most severe first).
pub(crate) fn severity_slot(severity: Severity) -> usize {
    Severity::ALL
        .iter()
        .position(|s| *s == severity)
        .expect("Severity::ALL lists every severity")
}

/// Known cost of a finding (investigation + revalidation), `None` when neither is known.
pub(crate) fn finding_cost(finding: &Finding) -> Option<f64> {
    let investigation = finding.reported.cost_usd;
    let revalidation = finding.verdict.as_ref().and_then(|v| v.cost_usd);
    match (investigation, revalidation) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}

/// The order every renderer lists findings in: most severe first, then by
/// path, line and id, so output is deterministic whatever order the caller used.
pub(crate) fn sorted(findings: &[Finding]) -> Vec<&Finding> {
    let mut out: Vec<&Finding> = findings.iter().collect();
    out.sort_by(|a, b| {
        (
            Reverse(a.effective_severity()),
            &a.reported.path,
            a.reported.start_line,
            &a.id,
        )
            .cmp(&(
                Reverse(b.effective_severity()),
                &b.reported.path,
                b.reported.start_line,
                &b.id,
            ))
    });
    out
}
