//! Exit codes, and turning an error chain into one line.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | `report --fail-on` threshold reached, or `process` change review found a new finding |
//! | 2 | usage or configuration error (bad flag, missing path, unknown rule, no store yet) |
//! | 3 | the store cannot be used (corrupt, foreign, newer, locked by another scan) |
//! | 4 | any other failure (I/O while writing output, …) |
//! | 5 | `process` or `revalidate` stopped gracefully: credits or quota exhausted, credentials rejected, `--max-cost` reached, or Ctrl-C; unfinished files (or unjudged findings) are pending again, re-run to resume |
//! | 124 | `sandbox exec`/`run`: `--timeout` killed the command (otherwise they exit with the command's own code) |

use warden_scan::ScanError;
use warden_store::StoreError;

pub const FAIL_ON: u8 = 1;
pub const USAGE: u8 = 2;
pub const STORE: u8 = 3;
pub const OTHER: u8 = 4;
pub const STOPPED: u8 = 5;

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
                StoreError::NotFound { .. } => USAGE,
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
