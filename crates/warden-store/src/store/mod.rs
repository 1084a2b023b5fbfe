//! The `Store` API: each submodule adds the methods of one concept, written once on the
//! database layer (`crate::db`) for SQLite and PostgreSQL alike. Timestamps are TEXT
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
mod settle;
mod spend;
mod surface;
mod tree;
mod workers;

pub use surface::SurfaceDelta;

use crate::db::{params, Db};
use crate::error::StoreError;
use crate::location::StoreName;
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "warden.db";

/// Warden's store: one database (a SQLite file or a PostgreSQL database), opened by one
/// handle.
///
/// Several handles (in one or many processes, on one or many machines for PostgreSQL)
/// may use the same database at once; every write is one short transaction.
pub struct Store {
    db: Db,
    /// The SQLite file and its device and inode when opened (see `check_in_place`);
    /// `None` on PostgreSQL.
    file: Option<(PathBuf, Option<(u64, u64)>)>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", self.db.name())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The database file of a SQLite store; for PostgreSQL, its redacted URL as a path.
    pub fn path(&self) -> &Path {
        match &self.file {
            Some((path, _)) => path,
            None => Path::new(self.db.name().as_str()),
        }
    }

    /// The store's name as shown in errors: the database file, or the redacted URL.
    pub fn location(&self) -> &StoreName {
        self.db.name()
    }

    fn name(&self) -> &StoreName {
        self.db.name()
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

/// The time `d` ago, as stored (saturating at the earliest time).
pub(crate) fn before(d: Duration) -> String {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| OffsetDateTime::now_utc().checked_sub(d))
        .map_or_else(|| "0000-01-01T00:00:00.000000Z".to_string(), format_ts)
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

/// Fails with `UnknownProject` unless the project exists.
pub(crate) fn require_project(db: &Db, id: &str) -> Result<(), StoreError> {
    let found = db.query_opt("SELECT 1 FROM projects WHERE id = ?1", params![id])?;
    if found.is_none() {
        return Err(StoreError::UnknownProject {
            store: db.name().clone(),
            id: id.to_string(),
        });
    }
    Ok(())
}

/// Fails with `InvalidInput` when a holder string is empty.
pub(crate) fn require_holder(db: &Db, holder: &str) -> Result<(), StoreError> {
    if holder.trim().is_empty() {
        return Err(StoreError::InvalidInput {
            store: db.name().clone(),
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
