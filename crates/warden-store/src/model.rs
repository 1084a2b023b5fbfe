//! The values the store keeps and hands out: plain data, no SQL.
//!
//! Every stage of the pipeline reads and writes these types; the SQL that
//! persists them lives in the backend modules only.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How bad a finding is, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no severity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity `{0}` (expected one of: critical, high, medium, low, info)")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" | "informational" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" | "moderate" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(UnknownSeverity(s.to_string())),
        }
    }
}

/// How sure the agent that reported a finding was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// The outcome of a revalidation pass over one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    TruePositive,
    FalsePositive,
    Uncertain,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::TruePositive => "true_positive",
            Verdict::FalsePositive => "false_positive",
            Verdict::Uncertain => "uncertain",
        }
    }
}

/// What a user decided about a finding during triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    Open,
    AcceptedRisk,
    WontFix,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Open => "open",
            Disposition::AcceptedRisk => "accepted_risk",
            Disposition::WontFix => "wont_fix",
        }
    }
}

/// Where a file stands in the investigation pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Seen by the scan; waiting for an agent (only candidates are ever claimed).
    Pending,
    /// Claimed under a lease by a running `process`.
    Processing,
    /// Investigated; its findings (possibly none) are recorded.
    Analyzed,
    /// The investigation failed or hit a limit; retried on the next run.
    Failed,
    /// No longer present in the tree at the last scan.
    Gone,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Pending => "pending",
            FileStatus::Processing => "processing",
            FileStatus::Analyzed => "analyzed",
            FileStatus::Failed => "failed",
            FileStatus::Gone => "gone",
        }
    }
}

/// Which stage a run belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Scan,
    Process,
    Revalidate,
    Triage,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Scan => "scan",
            RunKind::Process => "process",
            RunKind::Revalidate => "revalidate",
            RunKind::Triage => "triage",
        }
    }
}

/// How a run ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Done,
    /// Stopped on purpose: credits exhausted, cost cap, Ctrl-C.
    Stopped,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Stopped => "stopped",
            RunStatus::Failed => "failed",
        }
    }
}

/// A project: one scanned root with its own files, findings and spend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    /// Absolute path of the scanned root, as last seen.
    pub root: String,
    /// Detected technologies (languages, frameworks), sorted.
    pub tech: Vec<String>,
    pub created_at: String,
}

/// What the store remembers about a file's content, so a re-scan can skip it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownFile {
    pub size: u64,
    pub mtime_ns: i64,
    /// Hex BLAKE3 of the content.
    pub hash: String,
}

/// One rule hit inside a file, as recorded by `scan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub rule_id: String,
    /// 1-based line of the match.
    pub line: u32,
    /// The matched line, trimmed and cut to a bounded length.
    pub snippet: String,
}

/// A file as seen by one scan: either read and matched, or unchanged since the store last saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScannedFile {
    /// Path relative to the project root, `/`-separated.
    pub path: String,
    pub language: Option<String>,
    pub size: u64,
    pub mtime_ns: i64,
    pub hash: String,
    /// `None` when the content is unchanged and the stored hits and score still hold.
    pub matched: Option<MatchedFile>,
}

/// The result of running the rules over one file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchedFile {
    pub score: f64,
    pub hits: Vec<Hit>,
}

/// Everything one scan saw, handed to the store in one piece.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanRecord {
    /// Every file the walk accepted (skipped files are not listed).
    pub files: Vec<ScannedFile>,
    /// Keep only the N best-scored files as candidates; `None` keeps all that score.
    pub limit: Option<usize>,
    /// A file is a candidate when its score reaches this.
    pub min_score: f64,
    /// Relative paths (directories or files) that exist but could not be read: stored
    /// files at or under them keep their state instead of being marked gone. `""` keeps
    /// every file.
    pub unvisited: Vec<String>,
}

/// What recording a scan changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanDelta {
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub gone: u64,
    /// Files whose later-stage state was reset to pending because their content changed.
    pub requeued: u64,
    pub candidates: u64,
    /// Files on the attack surface (an entry point, or imported by one).
    #[serde(default)]
    pub surface: u64,
    /// Candidates only because `--coverage` adds the surface no rule selected.
    #[serde(default)]
    pub coverage_candidates: u64,
}

/// A candidate file with its hits, as listed by the store (best score first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateFile {
    pub path: String,
    pub language: Option<String>,
    pub score: f64,
    pub status: FileStatus,
    pub hits: Vec<Hit>,
}

/// A finding as an agent (or a test) reports it, before the store gives it an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewFinding {
    pub run_id: Option<i64>,
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub title: String,
    pub severity: Severity,
    pub confidence: Confidence,
    /// e.g. `CWE-89`.
    pub cwe: Option<String>,
    /// e.g. `injection`.
    pub category: Option<String>,
    /// The scan rule that led here, if any.
    pub rule_id: Option<String>,
    pub description: String,
    /// How an attacker reaches the flaw.
    pub attack_path: String,
    pub recommendation: String,
    pub patch: Option<String>,
    /// Cost of the investigation share attributed to this finding, in USD.
    pub cost_usd: Option<f64>,
}

/// A stored finding with everything later stages added to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id derived from project, path, rule/CWE and normalised title.
    pub id: String,
    /// Stable across line moves: used as SARIF `partialFingerprints`.
    pub fingerprint: String,
    #[serde(flatten)]
    pub reported: NewFinding,
    pub created_at: String,
    pub verdict: Option<VerdictRecord>,
    pub disposition: Disposition,
    pub disposition_reason: Option<String>,
    /// Id of the finding this one duplicates (same root cause), if grouped.
    pub duplicate_of: Option<String>,
}

impl Finding {
    /// The severity after revalidation, when a verdict corrected it.
    pub fn effective_severity(&self) -> Severity {
        self.verdict
            .as_ref()
            .and_then(|v| v.corrected_severity)
            .unwrap_or(self.reported.severity)
    }
}

/// A revalidation verdict on one finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub verdict: Verdict,
    pub reasoning: String,
    pub corrected_severity: Option<Severity>,
    pub run_id: Option<i64>,
    pub cost_usd: Option<f64>,
    pub created_at: String,
}

/// One call to a model, with its usage and cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCall {
    pub run_id: Option<i64>,
    pub path: Option<String>,
    pub finding_id: Option<String>,
    pub provider: String,
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_write_tokens: u64,
    pub cache_read_tokens: u64,
    /// `None` when the model's price is unknown (never silently zero).
    pub cost_usd: Option<f64>,
}

/// What each stage of one project holds, for `warden status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectStatus {
    pub project_id: String,
    pub root: String,
    pub tech: Vec<String>,
    pub files: u64,
    pub gone: u64,
    pub candidates: u64,
    pub pending: u64,
    pub processing: u64,
    pub analyzed: u64,
    pub failed: u64,
    /// Open findings per severity, most severe first: `[critical, high, medium, low, info]`.
    pub findings_by_severity: [u64; 5],
    pub findings_total: u64,
    pub verdicts: u64,
    pub spend_usd: f64,
    /// Calls whose cost is unknown (model without a price).
    pub unpriced_calls: u64,
    /// Spend per run, oldest first; calls outside any run last.
    #[serde(default)]
    pub spend_by_run: Vec<RunSpend>,
    /// The files that cost the most, most expensive first (at most [`TOP_FILES_BY_SPEND`]).
    #[serde(default)]
    pub top_files_by_spend: Vec<FileSpend>,
    /// Every failed candidate file with why, by path.
    #[serde(default)]
    pub failed_files: Vec<FailedFile>,
    /// Files on the attack surface (an entry point, or imported by one)…
    #[serde(default)]
    pub surface: u64,
    /// …and how many of them an agent has analyzed.
    #[serde(default)]
    pub surface_analyzed: u64,
    pub last_scan_at: Option<String>,
    /// The project's investigating runs (workers): running ones, and those that ended
    /// within the last hour.
    #[serde(default)]
    pub workers: Vec<WorkerStatus>,
}

/// One investigating run (`process`, `revalidate` or a `worker`), as `status` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub run_id: i64,
    pub kind: RunKind,
    pub status: RunStatus,
    /// The name in its leases: `pid N on HOST`, or `NAME: pid N on HOST`.
    pub holder: String,
    pub host: Option<String>,
    pub pid: Option<i64>,
    pub started_at: String,
    /// The last time it said it was alive (every few seconds while it runs).
    pub heartbeat_at: Option<String>,
    pub finished_at: Option<String>,
    /// Files it analyzed (completed), and files it holds now.
    pub files_done: u64,
    pub files_held: u64,
    /// Its model spend, in USD (priced calls).
    pub spend_usd: f64,
}

/// What a scan recorded about where its tree came from, for workers elsewhere.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TreeInfo {
    /// `git rev-parse HEAD` of the scanned root, when it is a checkout.
    pub commit: Option<String>,
    /// Its `origin` remote.
    pub origin: Option<String>,
}

/// [`TreeInfo`] as stored, with how many file blobs the store holds for the project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TreeRecord {
    pub commit: Option<String>,
    pub origin: Option<String>,
    pub blobs: u64,
}

/// How many files [`ProjectStatus::top_files_by_spend`] lists.
pub const TOP_FILES_BY_SPEND: usize = 10;

/// Model spend on one file, over every run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileSpend {
    pub path: String,
    /// Sum of the priced calls, in USD.
    pub usd: f64,
    pub calls: u64,
    /// Calls whose cost is unknown; not included in `usd`.
    pub unpriced_calls: u64,
}

/// Which findings [`crate::Store::findings`] returns; the default is what a report shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingFilter {
    /// Keep findings whose effective severity (after any verdict correction) is at least this.
    pub min_severity: Option<Severity>,
    /// Also return findings whose latest verdict is `false_positive`.
    pub include_false_positives: bool,
    /// Also return findings a user dispositioned (accepted risk, won't fix).
    pub include_dispositioned: bool,
}

/// A candidate file claimed under a lease (status `processing`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileLease {
    pub path: String,
    pub holder: String,
    /// When the lease runs out (RFC 3339 UTC); `None` for a lease without expiry.
    pub until: Option<String>,
}

/// Who holds a named project lock and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub holder: String,
    /// When the holder first acquired the lock (RFC 3339 UTC).
    pub since: String,
    /// When the lease runs out unless renewed (RFC 3339 UTC).
    pub until: String,
}

/// The result of trying to take a named project lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockOutcome {
    /// The caller now holds the lock (newly, after an expired lease, or again).
    Acquired(LockInfo),
    /// Another holder's lease is still running.
    Held(LockInfo),
}

impl LockOutcome {
    /// True when the caller holds the lock.
    pub fn acquired(&self) -> bool {
        matches!(self, LockOutcome::Acquired(_))
    }
}

/// Model spend of one run (or of calls recorded outside any run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSpend {
    pub run_id: Option<i64>,
    /// The run's kind (`process`, `revalidate`, ...); `None` for calls outside any run.
    #[serde(default)]
    pub kind: Option<String>,
    /// The run's status (`running`, `done`, `stopped`, `failed`); `None` outside any run.
    #[serde(default)]
    pub status: Option<String>,
    /// Sum of the priced calls, in USD.
    pub usd: f64,
    pub calls: u64,
    /// Calls whose cost is unknown; not included in `usd`.
    pub unpriced_calls: u64,
}

/// Model spend of one project, from the recorded LLM calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    /// Sum of the priced calls, in USD.
    pub total_usd: f64,
    pub calls: u64,
    /// Calls whose cost is unknown; not included in `total_usd`.
    pub unpriced_calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_write_tokens: u64,
    pub cache_read_tokens: u64,
    /// Per run, oldest run first; calls without a run come last.
    pub by_run: Vec<RunSpend>,
}

/// A candidate file whose last investigation failed, for `warden status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedFile {
    pub path: String,
    /// Why it failed (secrets redacted); `None` only for rows written without one.
    pub reason: Option<String>,
    /// The agent of the latest session on this file, when an external agent ran it.
    pub agent: Option<String>,
    pub session_id: Option<String>,
    /// The end of that agent's output, when it was kept (output it could not parse).
    pub output_tail: Option<String>,
}

/// How an agent session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionOutcome {
    /// The agent finished.
    Complete,
    /// A limit was hit, or the agent never gave an answer.
    Incomplete,
    /// An error ended it.
    Failed,
    /// The run stopped (Ctrl-C, credits, `--max-cost`) while it ran.
    Cancelled,
}

impl SessionOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionOutcome::Complete => "complete",
            SessionOutcome::Incomplete => "incomplete",
            SessionOutcome::Failed => "failed",
            SessionOutcome::Cancelled => "cancelled",
        }
    }
}

/// One external agent session on one file (a session over a batch is one record per
/// file, sharing `session_id`), or on one finding when it judged that finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub run_id: Option<i64>,
    pub path: String,
    /// Set when the session revalidated this finding.
    pub finding_id: Option<String>,
    /// "claude", "codex", "opencode", ...
    pub agent: String,
    /// The CLI's own session id, when it reported one.
    pub session_id: Option<String>,
    pub turns: u32,
    pub outcome: SessionOutcome,
    /// The end of the agent's output (secrets redacted, at most [`MAX_OUTPUT_TAIL`] bytes).
    pub output_tail: Option<String>,
    /// Set by the store when recorded (RFC 3339 UTC); ignored on input.
    pub created_at: String,
}

/// The most of an agent's output tail the store keeps, in bytes (the end is kept).
pub const MAX_OUTPUT_TAIL: usize = 16 * 1024;

/// How one claimed file of a finished investigation ends.
#[derive(Debug, Clone, PartialEq)]
pub enum FileEnd {
    /// Analyzed, with these findings.
    Complete(Vec<NewFinding>),
    /// Failed, with why; claimable again by a later run.
    Fail(String),
    /// Given back unfinished (a stop): pending again.
    Release,
}

/// Everything one finished investigation leaves in the store, recorded together by
/// [`crate::Store::settle`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settlement {
    /// The run it belongs to: a completed file records it (what `status` counts as the
    /// run's files done).
    pub run_id: Option<i64>,
    /// Its model calls: the spend.
    pub calls: Vec<LlmCall>,
    /// Its agent session, one row per file.
    pub sessions: Vec<SessionRecord>,
    /// Findings validated before an investigation stopped short (its files are not done).
    pub partial_findings: Vec<NewFinding>,
    /// How each of its files ends.
    pub files: Vec<(String, FileEnd)>,
}
