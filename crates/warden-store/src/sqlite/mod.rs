//! The SQLite backend: the only module that knows SQL or rusqlite.
//!
//! Each submodule adds the `Store` methods of one concept. Timestamps are TEXT
//! in a fixed-width RFC 3339 UTC form, so comparing them as text compares the
//! instants, in SQLite and PostgreSQL alike.

mod claims;
mod convert;
mod files;
mod findings;
mod locks;
mod open;
mod projects;
mod review;
mod schema;
mod sessions;
mod spend;
mod surface;

pub use surface::SurfaceDelta;

use crate::error::StoreError;
use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "warden.db";

/// Warden's store: one database file, opened by one handle.
///
/// Several handles (in one or many processes) may use the same file at once;
/// every write is one short transaction that takes the write lock up front.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Device and inode of the file when opened (see `check_in_place`).
    identity: Option<(u64, u64)>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The database file this store reads and writes.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The text form of every stored timestamp: RFC 3339, UTC, microseconds, fixed width.
const TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// The latest timestamp the store writes; leases that would end later end here.
const FAR_FUTURE: &str = "9999-12-31T23:59:59.999999Z";

fn format_ts(t: OffsetDateTime) -> String {
    if t.year() > 9999 {
        return FAR_FUTURE.to_string();
    }
    t.format(TIMESTAMP)
        .unwrap_or_else(|_| FAR_FUTURE.to_string())
}

/// The current time as stored.
pub(crate) fn now() -> String {
    format_ts(OffsetDateTime::now_utc())
}

/// The time `d` from now, as stored (saturating at the far future).
pub(crate) fn after(d: Duration) -> String {
    let Ok(d) = time::Duration::try_from(d) else {
        return FAR_FUTURE.to_string();
    };
    match OffsetDateTime::now_utc().checked_add(d) {
        Some(t) => format_ts(t),
        None => FAR_FUTURE.to_string(),
    }
}

/// Maps a rusqlite error to ours, naming the database file and nothing else.
pub(crate) fn db_error(path: &Path, e: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy { path },
        Some(ErrorCode::NotADatabase) => StoreError::Corrupt {
            path,
            detail: "not a SQLite database".to_string(),
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path,
            detail: "the database disk image is malformed".to_string(),
        },
        _ => StoreError::Database {
            path,
            detail: e.to_string(),
        },
    }
}

/// `.db(path)?` turns a rusqlite result into ours.
pub(crate) trait Db<T> {
    fn db(self, path: &Path) -> Result<T, StoreError>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self, path: &Path) -> Result<T, StoreError> {
        self.map_err(|e| db_error(path, e))
    }
}

/// Starts a write transaction that takes the write lock at once (waiting up to the busy timeout).
pub(crate) fn write_tx<'c>(
    conn: &'c mut Connection,
    path: &Path,
) -> Result<Transaction<'c>, StoreError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .db(path)
}

/// Fails with `UnknownProject` unless the project exists.
pub(crate) fn require_project(conn: &Connection, path: &Path, id: &str) -> Result<(), StoreError> {
    let found: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM projects WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)))
        .db(path)?;
    if found == 0 {
        return Err(StoreError::UnknownProject {
            path: path.to_path_buf(),
            id: id.to_string(),
        });
    }
    Ok(())
}

/// Fails with `InvalidInput` when a holder string is empty.
pub(crate) fn require_holder(path: &Path, holder: &str) -> Result<(), StoreError> {
    if holder.trim().is_empty() {
        return Err(StoreError::InvalidInput {
            path: path.to_path_buf(),
            detail: "holder must not be empty".to_string(),
        });
    }
    Ok(())
}

/// A holder string for this process: `pid 1234 on hostname`.
pub fn default_holder() -> String {
    format!("pid {} on {}", std::process::id(), hostname())
}

/// This machine's host name, best effort.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_and_ordered() {
        let a = now();
        let b = after(Duration::from_secs(1));
        assert_eq!(a.len(), FAR_FUTURE.len(), "{a}");
        assert!(a < b);
        assert_eq!(after(Duration::MAX), FAR_FUTURE);
        assert!(a.ends_with('Z') && a.as_bytes()[10] == b'T', "{a}");
    }
}
