//! The command line: every subcommand and flag, and nothing else.

mod sandbox;
mod slots;

pub use sandbox::*;
pub use slots::SandboxSlots;

use crate::ranges;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Warden finds security vulnerabilities in a codebase with AI agents.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Where the store lives (default: `.warden` under the scanned root).
    #[arg(long, global = true, env = "WARDEN_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The store: a `postgres://` URL (one store shared by many machines), or a data
    /// directory for SQLite (the same as --data-dir).
    #[arg(
        long,
        global = true,
        env = "WARDEN_STORE",
        value_name = "URL|DIR",
        hide_env_values = true,
        conflicts_with = "data_dir"
    )]
    pub store: Option<String>,
    /// The project to work on (default for `scan`: the root's directory name).
    #[arg(
        long,
        alias = "project",
        global = true,
        env = "WARDEN_PROJECT_ID",
        value_name = "ID",
        value_parser = parse_project_id
    )]
    pub project_id: Option<String>,
    /// Print nothing but errors and the requested output.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// More log output on stderr (repeat for more).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find candidate files for investigation (no AI, no network).
    Scan(ScanArgs),
    /// Have an AI agent investigate the pending candidate files, best-scored first.
    Process(ProcessArgs),
    /// Have a skeptical second agent judge the stored findings (true/false positive, uncertain).
    Revalidate(RevalidateArgs),
    /// Group duplicate findings, rank them, and mark findings accepted risk or won't fix.
    Triage(TriageArgs),
    /// Show what each stage of each project holds.
    Status(StatusArgs),
    /// Render the findings in the store.
    Report(ReportArgs),
    /// List the built-in rules.
    Rules(RulesArgs),
    /// What model credentials this machine has (environment, .env files, agents' logins).
    Credentials(CredentialsArgs),
    /// Local sandboxes: isolated commands with an egress allowlist and brokered credentials.
    Sandbox(SandboxArgs),
    /// The coding-agent CLIs (Claude Code, Codex, OpenCode) that investigate inside sandboxes.
    Agents(AgentsArgs),
    /// Investigate a shared store's candidates until none is left: one of many workers,
    /// on any number of machines, claiming files under leases.
    Worker(WorkerArgs),
    /// Serve sandboxes over HTTP (docs/server-api.md): per-tenant bearer tokens,
    /// commands streamed as NDJSON or SSE, files, snapshots, published ports.
    Server(ServerArgs),
}

#[derive(Debug, Args)]
pub struct CredentialsArgs {
    #[command(subcommand)]
    pub command: CredentialsCommand,
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// A table of what was found: provider, kind, redacted value, expiry, source.
    Status {
        /// Look for agents' config files under this directory instead of $HOME.
        #[arg(long, value_name = "DIR")]
        home: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the credentials as shell-quoted KEY=VALUE lines, for `eval` or a sandbox.
    ExtractEnv {
        /// Prefix each line with `export `.
        #[arg(long, short)]
        export: bool,
        /// Look for agents' config files under this directory instead of $HOME.
        #[arg(long, value_name = "DIR")]
        home: Option<PathBuf>,
        /// Leave out OAuth tokens from subscription logins.
        #[arg(long)]
        no_oauth: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The directory to scan.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    pub format: ScanFormat,
    /// Same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Write the output here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep only the N best-scored files as candidates (1 to 10000000).
    #[arg(long, value_name = "N", value_parser = ranges::limit, allow_negative_numbers = true)]
    pub limit: Option<usize>,
    /// Skip files larger than this (bytes, or with K/M/G suffix; 1 byte to 1G).
    #[arg(
        long,
        value_name = "SIZE",
        default_value = "1M",
        value_parser = ranges::max_file_size,
        allow_negative_numbers = true
    )]
    pub max_file_size: u64,
    /// Run only these rules or packs (comma-separated ids; see `warden rules`).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub rules: Option<Vec<String>>,
    /// Score a file needs to become a candidate (0 to 1000000).
    #[arg(
        long,
        value_name = "SCORE",
        default_value_t = warden_scan::DEFAULT_MIN_SCORE,
        value_parser = ranges::min_score,
        allow_negative_numbers = true
    )]
    pub min_score: f64,
    /// Worker threads (0 to 256; 0, the default, is one per CPU).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        value_parser = ranges::threads,
        allow_negative_numbers = true
    )]
    pub threads: usize,
    /// If another scan holds the project, wait for it instead of refusing.
    #[arg(long)]
    pub wait: bool,
    /// Also make candidates, in a low tier after every other, of the files on the attack
    /// surface that no rule selected: those holding an entry point (a route handler, a CLI
    /// main, a message consumer) and the project files they import.
    #[arg(long)]
    pub coverage: bool,
    /// Rank tests, fixtures, examples, docs and rule definitions like application code
    /// (by default they rank below it; also `include_tests` under `[scan]` in
    /// .warden/config.toml).
    #[arg(long)]
    pub include_tests: bool,
    /// Also store every scanned file's bytes, by content hash, so that workers on other
    /// machines can rebuild this tree from the store (`worker --blobs`).
    #[arg(long)]
    pub upload_tree: bool,
    /// With --upload-tree: refuse a tree heavier than this (bytes, or K/M/G; 1 byte to 16G).
    #[arg(
        long,
        value_name = "SIZE",
        default_value = "256M",
        value_parser = ranges::upload_max,
        requires = "upload_tree"
    )]
    pub upload_max: u64,
    /// Show secret values in matched lines (re-read from the files; the store and
    /// every other output keep only a prefix and a fingerprint). For local use only.
    #[arg(long)]
    pub show_secrets: bool,
    /// How many top candidates the text summary lists (0 to 10000).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        value_parser = ranges::top,
        allow_negative_numbers = true
    )]
    pub top: usize,
}

/// Which agent investigates the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AgentKind {
    /// Warden's built-in tool-using agent over the Anthropic or OpenAI API, on this host.
    Native,
    /// Claude Code, inside a sandbox (`warden agents install claude`).
    Claude,
    /// Codex, inside a sandbox (`warden agents install codex`).
    Codex,
    /// OpenCode, inside a sandbox (`warden agents install opencode`).
    Opencode,
}

impl AgentKind {
    pub fn name(self) -> &'static str {
        match self {
            AgentKind::Native => "native",
            AgentKind::Claude => "claude",
            AgentKind::Codex => "codex",
            AgentKind::Opencode => "opencode",
        }
    }

    pub fn from_name(name: &str) -> Option<AgentKind> {
        [
            AgentKind::Native,
            AgentKind::Claude,
            AgentKind::Codex,
            AgentKind::Opencode,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

/// Which agent and model investigate: `process` and `revalidate` alike.
#[derive(Debug, Args)]
pub struct AgentChoice {
    /// The agent (default: WARDEN_AGENT, else `agent` in .warden/config.toml, else native).
    #[arg(long, value_enum)]
    pub agent: Option<AgentKind>,
    /// The model (claude-* uses Anthropic; gpt-*, o1*, o3*, o4* use OpenAI); default:
    /// WARDEN_MODEL or `model` in .warden/config.toml, else one for the credential found.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
}

#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Investigate at most N files (the best-scored pending ones; 1 to 10000000).
    #[arg(long, value_name = "N", value_parser = ranges::limit, allow_negative_numbers = true)]
    pub limit: Option<usize>,
    /// How many investigations run at once (1 to 64; default 4). With an agent CLI, each
    /// in its own sandbox: the same number as --sandboxes.
    #[arg(
        long,
        value_name = "N",
        value_parser = ranges::concurrency,
        allow_negative_numbers = true
    )]
    pub concurrency: Option<usize>,
    #[command(flatten)]
    pub slots: SandboxSlots,
    #[command(flatten)]
    pub choice: AgentChoice,
    /// With an agent CLI: files of one directory investigated together (1 to 8).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = ranges::batch_size,
        allow_negative_numbers = true
    )]
    pub batch_size: usize,
    /// Investigate files already analyzed again.
    #[arg(long)]
    pub reinvestigate: bool,
    /// Stop (exit 5) instead of starting a file when this run's spend so far plus the files
    /// in flight and the new one, at the average cost of a finished file, would reach USD
    /// (more than 0, at most 1000000).
    #[arg(long, value_name = "USD", value_parser = ranges::max_cost, allow_negative_numbers = true)]
    pub max_cost: Option<f64>,
    /// Print the run summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Lease on each claimed file, in seconds (renewed every third of it while the
    /// file is investigated); by default the investigation timeout plus five minutes
    /// (1 to 604800).
    #[arg(long, value_name = "SECS", hide = true, value_parser = ranges::lease_secs)]
    pub lease_secs: Option<u64>,
    /// Change review: scan and investigate the files changed on this branch since it
    /// left REF (`git diff --name-only --diff-filter=ACMR REF...HEAD`); exit 1 on a new finding.
    #[arg(long, value_name = "REF", group = "change_set")]
    pub diff: Option<String>,
    /// Change review of the staged files (`git diff --name-only --cached --diff-filter=ACMR`).
    #[arg(long, group = "change_set")]
    pub staged: bool,
    /// Change review of these files (relative to the project root, or absolute inside it).
    #[arg(long, value_name = "FILE", num_args = 1.., group = "change_set")]
    pub files: Vec<PathBuf>,
    /// Change review of the files listed in FILE, one a line (`-` reads stdin).
    #[arg(long, value_name = "FILE", group = "change_set")]
    pub files_from: Option<PathBuf>,
    /// Write a Markdown summary of the new findings, fit for a pull-request comment.
    #[arg(long, value_name = "FILE")]
    pub comment_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RevalidateArgs {
    /// Judge findings that already have a verdict again (never accepted-risk or won't-fix ones).
    #[arg(long)]
    pub force: bool,
    /// Judge at most N findings (the most severe first; 1 to 10000000).
    #[arg(long, value_name = "N", value_parser = ranges::limit, allow_negative_numbers = true)]
    pub limit: Option<usize>,
    /// How many findings are judged at once (1 to 64; default 4). With an agent CLI, each
    /// in its own sandbox: the same number as --sandboxes.
    #[arg(
        long,
        value_name = "N",
        value_parser = ranges::concurrency,
        allow_negative_numbers = true
    )]
    pub concurrency: Option<usize>,
    #[command(flatten)]
    pub slots: SandboxSlots,
    #[command(flatten)]
    pub choice: AgentChoice,
    /// Judge only findings at or above this severity.
    #[arg(long, value_name = "SEVERITY")]
    pub min_severity: Option<warden_store::Severity>,
    /// Print the run summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TriageArgs {
    /// Mark this finding (id or unique id prefix) as accepted risk; needs --reason.
    #[arg(long, value_name = "ID", requires = "reason")]
    pub ignore: Option<String>,
    /// Why the finding is ignored.
    #[arg(long, value_name = "TEXT", requires = "ignore", value_parser = parse_reason)]
    pub reason: Option<String>,
    /// With --ignore: mark it won't fix instead of accepted risk.
    #[arg(long, requires = "ignore")]
    pub wont_fix: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub choice: AgentChoice,
    /// How many investigations run at once (1 to 64; default 4). With an agent CLI, each
    /// in its own sandbox: the same number as --sandboxes.
    #[arg(
        long,
        value_name = "N",
        value_parser = ranges::concurrency,
        allow_negative_numbers = true
    )]
    pub concurrency: Option<usize>,
    #[command(flatten)]
    pub slots: SandboxSlots,
    /// Name this worker in `warden status` and in its leases (default: `pid N on HOST`).
    #[arg(long, value_name = "NAME", value_parser = parse_worker_name)]
    pub name: Option<String>,
    /// The scanned tree is here already (the scanned root, a shared mount, or a checkout
    /// of the scanned commit); every file is checked against the scan's hashes.
    #[arg(long, value_name = "DIR", group = "tree")]
    pub root: Option<PathBuf>,
    /// Clone this repository and check out the commit the scan recorded.
    #[arg(long, value_name = "URL", group = "tree")]
    pub git: Option<String>,
    /// Rebuild the tree from the blobs `scan --upload-tree` stored.
    #[arg(long, group = "tree")]
    pub blobs: bool,
    /// Where cloned and rebuilt trees are kept (default: ~/.cache/warden/trees).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Keep polling for new candidates when the queue is empty, instead of exiting.
    #[arg(long)]
    pub follow: bool,
    /// Seconds between polls of a queue with nothing claimable (1 to 3600): until files
    /// other workers hold are done, or, with --follow, for good.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = ranges::poll_secs)]
    pub poll: u64,
    /// Stop (exit 5) before this worker's spend would reach USD (more than 0, at most
    /// 1000000).
    #[arg(long, value_name = "USD", value_parser = ranges::max_cost, allow_negative_numbers = true)]
    pub max_cost: Option<f64>,
    /// Lease on each claimed file, in seconds (renewed every third of it).
    #[arg(long, value_name = "SECS", hide = true, value_parser = ranges::lease_secs)]
    pub lease_secs: Option<u64>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_worker_name(s: &str) -> Result<String, String> {
    let ok = !s.trim().is_empty() && s.len() <= 200 && s.chars().all(|c| !c.is_control());
    if ok {
        Ok(s.to_string())
    } else {
        Err("must be 1 to 200 printable characters".to_string())
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
    Sarif,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
    /// Write the report here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Leave out findings below this severity.
    #[arg(long, value_name = "SEVERITY")]
    pub min_severity: Option<warden_store::Severity>,
    /// Exit 1 when an open finding at or above this severity is reported.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<warden_store::Severity>,
    /// Also show findings that revalidation judged false positives.
    #[arg(long)]
    pub include_false_positives: bool,
    /// Also show findings triaged as accepted risk or won't fix.
    #[arg(long)]
    pub include_ignored: bool,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print only the regular expressions, one per line (e.g. for `rg -f` in benchmarks).
    #[arg(long, conflicts_with = "json")]
    pub patterns: bool,
}

/// What `warden --help` ends with: the exit codes and the range of every numeric flag,
/// the same tables as the README's.
pub fn after_help() -> String {
    let mut out = crate::exit::help_table();
    out.push_str("\nNumeric flags (a value outside its range is a usage error):\n");
    for (subcommand, flag, range, default) in ranges::FLAGS {
        let name = format!("{subcommand} {flag}");
        out.push_str(&format!("  {name:<28} {range}; default {default}\n"));
    }
    out
}

/// A triage reason: something to read later, at most 2000 characters.
fn parse_reason(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("a reason cannot be blank".to_string());
    }
    if s.chars().count() > 2000 {
        return Err("a reason is at most 2000 characters".to_string());
    }
    Ok(s.trim().to_string())
}

/// A project id: 1 to 200 characters, none of them a control character.
fn parse_project_id(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("a project id cannot be empty".to_string());
    }
    if s.chars().count() > 200 {
        return Err("a project id is at most 200 characters".to_string());
    }
    if s.chars().any(char::is_control) {
        return Err("a project id cannot contain control characters".to_string());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

#[cfg(test)]
mod documented;
