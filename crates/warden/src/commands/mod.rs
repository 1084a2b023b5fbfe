//! One module per subcommand; each returns the process exit code.

mod agent_setup;
mod agents;
mod credentials;
mod model_setup;
mod process;
mod process_review;
mod process_worker;
mod report;
mod revalidate;
mod rules;
mod sandbox;
mod scan;
mod scan_summary;
mod scan_surface;
mod scan_tree;
mod server;
mod slots;
mod status;
mod triage;
mod worker;

pub(crate) use process_worker::printable;

use crate::cli::{Cli, Command};
use std::path::Path;

/// Runs the parsed command line.
pub fn run(cli: &Cli) -> anyhow::Result<u8> {
    match &cli.command {
        Command::Scan(args) => scan::run(&cli.global, args),
        Command::Process(args) => process::run(&cli.global, args),
        Command::Revalidate(args) => revalidate::run(&cli.global, args),
        Command::Triage(args) => triage::run(&cli.global, args),
        Command::Status(args) => status::run(&cli.global, args),
        Command::Report(args) => report::run(&cli.global, args),
        Command::Rules(args) => rules::run(args),
        Command::Credentials(args) => credentials::run(args),
        Command::Sandbox(args) => sandbox::run(&cli.global, args),
        Command::Agents(args) => agents::run(&cli.global, args),
        Command::Worker(args) => worker::run(&cli.global, args),
        Command::Server(args) => server::run(&cli.global, args),
    }
}

/// Writes `text` to the `--output` file (see [`crate::output`]) or to stdout.
pub(crate) fn emit(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => crate::output::write(path, "--output", text),
        None => crate::output::write_stdout(text),
    }
}

/// RFC 3339 UTC now, for report headers.
pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Rule metadata for SARIF descriptors, from the built-in packs.
pub(crate) fn rule_infos(scanner: &warden_scan::Scanner) -> Vec<warden_report::RuleInfo> {
    scanner
        .packs()
        .iter()
        .flat_map(|p| &p.rules)
        .map(|r| warden_report::RuleInfo {
            id: r.id.clone(),
            title: r.title.clone(),
            cwe: r.cwe.clone(),
            category: r.category.clone(),
            help: r.help.clone(),
            weight: r.weight,
        })
        .collect()
}
