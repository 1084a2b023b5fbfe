//! `warden`: the command-line entry point. Parses arguments, runs one command,
//! and turns its result into an exit code and at most one line of error.

mod cli;
mod commands;
mod exit;
mod locate;
mod output;
mod progress;
mod project_config;
mod ranges;

use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;

fn main() -> ExitCode {
    // The sandbox's init and supervisor are this binary too; they skip the CLI entirely.
    // Arguments are bytes on Linux: never `std::env::args()`, which panics on non-UTF-8.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match args.get(1).and_then(|a| a.to_str()) {
        Some(warden_sandbox::init::INIT_ARG) => {
            return exit_code(warden_sandbox::init::main(&args[2..]))
        }
        Some(warden_sandbox::supervisor::SUPERVISE_ARG) => {
            init_logging(1);
            return exit_code(warden_sandbox::supervisor::main(&args[2..]));
        }
        // The MCP server an agent CLI starts (inside a sandbox): stdout is the protocol.
        Some(warden_agent::mcp::ARG) => return exit_code(warden_agent::mcp::main(&args[2..])),
        _ => {}
    }
    let parsed = cli::Cli::command()
        .after_help(cli::after_help())
        .try_get_matches_from(&args)
        .and_then(|matches| cli::Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err) if err.kind() == clap::error::ErrorKind::InvalidUtf8 => {
            eprintln!("warden: error: {}", exit::invalid_utf8(&args));
            return ExitCode::from(exit::USAGE);
        }
        Err(err) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { exit::USAGE } else { 0 });
        }
    };
    init_logging(cli.global.verbose);
    match commands::run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("warden: error: {}", exit::one_line(&err));
            ExitCode::from(exit::code_for(&err))
        }
    }
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
