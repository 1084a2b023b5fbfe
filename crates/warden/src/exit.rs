//! Exit codes, and turning an error chain into one line. [`CODES`] is the table that
//! `warden --help` prints and the README repeats (a test keeps them the same).

use warden_scan::ScanError;
use warden_store::StoreError;

pub const FAIL_ON: u8 = 1;
pub const USAGE: u8 = 2;
pub const STORE: u8 = 3;
pub const OTHER: u8 = 4;
pub const STOPPED: u8 = 5;
/// `sandbox exec`/`run` when `--timeout` killed the command (as `timeout(1)` does).
pub const TIMED_OUT: u8 = 124;

/// Every exit code and what it means, in Markdown (the help drops the backticks).
pub const CODES: &[(u8, &str)] = &[
    (0, "success"),
    (
        FAIL_ON,
        "`report --fail-on` threshold reached, or `process --diff/--staged/--files` found a new finding",
    ),
    (
        USAGE,
        "usage or configuration error: bad flag or value (each numeric flag has a range), missing path, unknown rule, no store, no credentials, a model base URL that is not http(s)",
    ),
    (
        STORE,
        "the store cannot be used: corrupt, foreign, newer schema, held by another scan, deleted or replaced while in use",
    ),
    (
        OTHER,
        "any other failure: output that could not be written (a full disk), a `process` or `revalidate` run in which every investigation failed (each one's reason is a `warden: FILE: reason` line on stderr)",
    ),
    (
        STOPPED,
        "`process` or `revalidate` stopped gracefully (credits or quota exhausted, credentials rejected, `--max-cost` reached, Ctrl-C); unfinished work is pending again: re-run to resume",
    ),
    (
        TIMED_OUT,
        "`sandbox exec`/`run`: the command was killed by `--timeout` (otherwise these exit with the command's own code)",
    ),
];

/// The exit-code table as `warden --help` shows it.
pub fn help_table() -> String {
    let mut out = String::from("Exit codes:\n");
    for (code, meaning) in CODES {
        out.push_str(&format!("  {code:<4} {}\n", meaning.replace('`', "")));
    }
    out
}

/// A usage or configuration error found by the CLI itself.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit code for an error, from the first typed error in its chain.
pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<UsageError>() || cause.is::<warden_creds::CredsError>() {
            return USAGE;
        }
        if let Some(sandbox) = cause.downcast_ref::<warden_sandbox::SandboxError>() {
            return if sandbox.is_usage() { USAGE } else { OTHER };
        }
        if let Some(scan) = cause.downcast_ref::<ScanError>() {
            return match scan {
                ScanError::NoSuchRoot { .. }
                | ScanError::NotADirectory { .. }
                | ScanError::Root { .. }
                | ScanError::Rules(_) => USAGE,
                _ => OTHER,
            };
        }
        if let Some(store) = cause.downcast_ref::<StoreError>() {
            // No store yet is a usage matter (run `scan` first), like no store found by search.
            return match store {
                StoreError::NotFound { .. } | StoreError::DataDirNotADirectory { .. } => USAGE,
                _ => STORE,
            };
        }
    }
    OTHER
}

/// The error and its causes joined on one line, without repeating a cause already quoted.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string().replace('\n', " ");
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Flags whose values are paths: bytes are fine there, so they are never the culprit.
const PATH_FLAGS: &[&str] = &[
    "--data-dir",
    "--home",
    "-o",
    "--output",
    "--workspace",
    "--files",
    "--files-from",
    "--comment-out",
];

/// Clap says only that some argument is not UTF-8; name the flag (or the position) it
/// belongs to. Paths and sandboxed commands take bytes, so this is any other value.
pub fn invalid_utf8(args: &[std::ffi::OsString]) -> String {
    use std::os::unix::ffi::OsStrExt;
    let flag_of = |at: usize| -> Option<String> {
        let bytes = args[at].as_bytes();
        if bytes.starts_with(b"-") {
            // `--rules=<bytes>`: the flag is the part before `=`.
            let name = bytes.split(|&b| b == b'=').next().unwrap_or(bytes);
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        at.checked_sub(1)
            .and_then(|prev| args[prev].to_str())
            .filter(|prev| prev.starts_with('-') && prev.len() > 1 && !prev.contains('='))
            .map(str::to_string)
    };
    let bad: Vec<usize> = (0..args.len())
        .filter(|&i| args[i].to_str().is_none())
        .collect();
    let named = bad
        .iter()
        .find_map(|&i| flag_of(i).filter(|f| !PATH_FLAGS.contains(&f.as_str())));
    match (named, bad.first()) {
        (Some(flag), _) => format!(
            "the value of {flag} is not valid UTF-8 (only paths and sandboxed commands may be arbitrary bytes)"
        ),
        (None, Some(&at)) => format!(
            "argument {at} (`{}`) is not valid UTF-8 (only paths and sandboxed commands may be arbitrary bytes)",
            args[at].to_string_lossy()
        ),
        (None, None) => "an argument is not valid UTF-8".to_string(),
    }
}
