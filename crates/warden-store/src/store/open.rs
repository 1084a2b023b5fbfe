//! Opening a store: recognise Warden's database, refuse anything else untouched.

use super::schema::{self, APPLICATION_ID};
use super::{Store, DB_FILE};
use crate::db::{sqlite_error, Db};
use crate::error::StoreError;
use crate::location::{StoreLocation, StoreName};
use rusqlite::{Connection, OpenFlags};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a statement waits for another writer before failing with `Busy`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Statements each connection keeps prepared (the store has fewer distinct queries).
const STATEMENT_CACHE: usize = 128;

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Size of the SQLite file header; a shorter non-empty file is not a database.
const HEADER_LEN: usize = 100;

impl Store {
    /// Opens the store at `location`, creating it (a SQLite directory and file, or the
    /// tables of a PostgreSQL database that must exist) and applying migrations.
    pub fn connect(location: &StoreLocation) -> Result<Store, StoreError> {
        match location {
            StoreLocation::Sqlite(dir) => Store::open(dir),
            StoreLocation::Postgres(url) => {
                let db = Db::postgres(url)?;
                schema::migrate(&db)?;
                Ok(Store { db, file: None })
            }
        }
    }

    /// Opens the store at `location` only if one is there (`NotFound` otherwise: a
    /// missing or empty SQLite file, or a PostgreSQL database without Warden's tables),
    /// applying any migrations it lacks.
    pub fn connect_existing(location: &StoreLocation) -> Result<Store, StoreError> {
        match location {
            StoreLocation::Sqlite(dir) => Store::open_existing(dir),
            StoreLocation::Postgres(url) => {
                let db = Db::postgres(url)?;
                if schema::current_version(&db)? == 0 {
                    return Err(StoreError::NotFound {
                        store: db.name().clone(),
                    });
                }
                schema::migrate(&db)?;
                Ok(Store { db, file: None })
            }
        }
    }

    /// Opens (creating the directory and database if absent) `<data_dir>/warden.db` and applies migrations.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join(DB_FILE);
        // The data dir, or the first of its parents that exists, must be a directory:
        // otherwise say which path is in the way, not "File exists".
        if let Some(blocker) = data_dir
            .ancestors()
            .find(|p| std::fs::symlink_metadata(p).is_ok())
            .filter(|p| std::fs::metadata(p).map_or(true, |m| !m.is_dir()))
        {
            return Err(StoreError::DataDirNotADirectory {
                store: StoreName::file(blocker),
            });
        }
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            store: StoreName::file(&path),
            source,
        })?;
        open_at(path, true)
    }

    /// Opens an existing store only; `NotFound` if `<data_dir>/warden.db` is absent or empty.
    pub fn open_existing(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join(DB_FILE);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() && meta.len() == 0 => Err(not_found(&path)),
            Ok(_) => open_at(path, false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(not_found(&path)),
            Err(source) => Err(StoreError::Io {
                store: StoreName::file(&path),
                source,
            }),
        }
    }
}

fn not_found(path: &Path) -> StoreError {
    StoreError::NotFound {
        store: StoreName::file(path),
    }
}

fn corrupt(path: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        store: StoreName::file(path),
        detail: detail.into(),
    }
}

/// Reads the header without SQLite, so a foreign file is never handed to it for writing.
fn check_header(path: &Path) -> Result<(), StoreError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(StoreError::Io {
                store: StoreName::file(path),
                source,
            })
        }
    };
    if !meta.is_file() {
        return Err(corrupt(path, "not a regular file"));
    }
    if meta.len() == 0 {
        return Ok(());
    }
    let mut header = Vec::with_capacity(HEADER_LEN);
    // Non-blocking, and checked again on the descriptor: the name may have been swapped
    // for a FIFO since the check above.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .and_then(|f| {
            if f.metadata()?.is_file() {
                Ok(f)
            } else {
                Err(std::io::Error::other("not a regular file"))
            }
        })
        .and_then(|f| f.take(HEADER_LEN as u64).read_to_end(&mut header))
        .map_err(|source| StoreError::Io {
            store: StoreName::file(path),
            source,
        })?;
    if header.len() < HEADER_LEN || !header.starts_with(SQLITE_MAGIC) {
        return Err(corrupt(path, "not a SQLite database (bad file header)"));
    }
    Ok(())
}

fn open_at(path: PathBuf, create: bool) -> Result<Store, StoreError> {
    check_header(&path)?;
    let name = StoreName::file(&path);
    let sql = |e| sqlite_error(&name, e);
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(&path, flags).map_err(sql)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);

    let app_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(sql)?;
    quick_check(&conn, &name)?;
    if app_id != APPLICATION_ID {
        let tables: i64 = conn
            .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(sql)?;
        if app_id != 0 || tables > 0 {
            return Err(StoreError::Foreign { store: name });
        }
    }
    let db = Db::sqlite(conn, name.clone());
    // Refuse a newer schema before anything (even the journal mode) is written.
    schema::check_version(&db)?;
    if let Some(conn) = db.sqlite_conn() {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(sql)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(db = %path.display(), mode, "could not switch the store to WAL mode");
        }
        conn.pragma_update(None, "foreign_keys", true)
            .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
            .map_err(sql)?;
    }
    schema::migrate(&db)?;
    let identity = file_identity(&path);
    Ok(Store {
        db,
        file: Some((path, identity)),
    })
}

/// The device and inode of the database file, to notice it being deleted or replaced.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl Store {
    /// `Vanished` if the database file was deleted or replaced since this handle opened
    /// it: SQLite keeps writing to the unlinked file, so success would be a lie. Call it
    /// before reporting that a command's results were stored.
    ///
    /// Always `Ok` on PostgreSQL: the server keeps its database in place.
    pub fn check_in_place(&self) -> Result<(), StoreError> {
        let Some((path, identity)) = &self.file else {
            return Ok(());
        };
        if identity.is_some() && file_identity(path) == *identity {
            return Ok(());
        }
        Err(StoreError::Vanished {
            store: self.name().clone(),
        })
    }
}

/// `PRAGMA quick_check`: `Corrupt` unless SQLite answers a single `ok`.
fn quick_check(conn: &Connection, name: &StoreName) -> Result<(), StoreError> {
    let problems = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        })
        .map_err(|e| sqlite_error(name, e))?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    Err(StoreError::Corrupt {
        store: name.clone(),
        detail: format!("integrity check failed: {}", problems.join("; ")),
    })
}
