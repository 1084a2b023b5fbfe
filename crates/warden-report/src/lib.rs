//! Renders Warden's findings and scan candidates as Markdown, JSON and SARIF 2.1.0.
//!
//! Every renderer is a pure function from data to a `String` or a
//! [`serde_json::Value`]: nothing here reads the store or writes files, so the
//! caller decides what to render (which findings, whether false positives are
//! filtered out) and where the output goes.
//!
//! | Format | Function |
//! |--------|----------|
//! | Markdown, for people | [`render_markdown`] |
//! | JSON, a stable machine format | [`render_json`] |
//! | SARIF 2.1.0 of stored findings | [`render_findings_sarif`] |
//! | SARIF 2.1.0 of the scan's candidates | [`render_candidates_sarif`] |
//!
//! # Example
//!
//! ```
//! use warden_report::{render_findings_sarif, render_markdown, FindingSummary, ReportContext};
//!
//! let ctx = ReportContext {
//!     tool_version: "0.1.0",
//!     project_id: "demo",
//!     root: "/home/me/demo",
//!     generated_at: "2025-01-01T00:00:00Z",
//! };
//! let findings = Vec::new(); // usually loaded from the store
//! let summary = FindingSummary::from_findings(&findings);
//!
//! let md = render_markdown(&ctx, &findings, &summary);
//! assert!(md.contains("No findings."));
//!
//! let sarif = render_findings_sarif(&ctx, &findings, &[]);
//! assert_eq!(sarif["version"], "2.1.0");
//! assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 0);
//! ```

mod json;
mod markdown;
mod rules;
mod sarif;
mod summary;
mod uri;

pub use json::{render_json, JSON_FORMAT_VERSION};
pub use markdown::render_markdown;
pub use sarif::{
    render_candidates_sarif, render_findings_sarif, SARIF_SCHEMA_URI, SARIF_VERSION, TOOL_NAME,
};
pub use summary::{severity_at_least, FindingSummary};

/// Where and when a report is made: the same for every format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportContext<'a> {
    /// Version of the `warden` binary producing the report.
    pub tool_version: &'a str,
    pub project_id: &'a str,
    /// Absolute path of the scanned root.
    pub root: &'a str,
    /// When the report was generated, RFC 3339.
    pub generated_at: &'a str,
}

/// Scan-rule metadata for SARIF rule descriptors (the scanner crate supplies these).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    /// e.g. `CWE-89`.
    pub cwe: Option<String>,
    pub category: String,
    pub help: String,
    pub weight: f64,
}
