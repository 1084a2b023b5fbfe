//! Versioned migrations. Each is applied once, in its own write transaction,
//! and recorded in `schema_migrations`; `PRAGMA user_version` mirrors the
//! latest version for outside tools.
//!
//! Column types are chosen to port to PostgreSQL as written (`BIGINT`,
//! `DOUBLE PRECISION`, `TEXT`); only the auto-increment ids are SQLite-specific.

use super::{now, write_tx, Db};
use crate::error::StoreError;
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;

/// `PRAGMA application_id` of a Warden store: ASCII "WRDN".
pub(crate) const APPLICATION_ID: i32 = 0x5752_444E;

/// (version, name, SQL) in order; never edit a released entry, append a new one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial schema", V1),
    (2, "agent sessions", V2),
    (3, "attack surface", V3),
];

/// The newest schema version this build knows.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const V1: &str = r#"
CREATE TABLE projects (
    id               TEXT PRIMARY KEY,
    root             TEXT NOT NULL,
    tech             TEXT NOT NULL DEFAULT '[]',
    scan_fingerprint TEXT,
    created_at       TEXT NOT NULL,
    last_scan_at     TEXT
);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project     TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('scan', 'process', 'revalidate', 'triage')),
    status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'stopped', 'failed')),
    holder      TEXT NOT NULL,
    pid         BIGINT,
    host        TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    stats       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_project ON runs (project, id);

CREATE TABLE files (
    project       TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    path          TEXT NOT NULL,
    language      TEXT,
    size          BIGINT NOT NULL,
    mtime_ns      BIGINT NOT NULL,
    hash          TEXT NOT NULL,
    score         DOUBLE PRECISION NOT NULL DEFAULT 0,
    is_candidate  BIGINT NOT NULL DEFAULT 0 CHECK (is_candidate IN (0, 1)),
    status        TEXT NOT NULL
                  CHECK (status IN ('pending', 'processing', 'analyzed', 'failed', 'gone')),
    lease_holder  TEXT,
    lease_until   TEXT,
    last_run      BIGINT REFERENCES runs(id),
    fail_reason   TEXT,
    analyzed_hash TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (project, path)
);
CREATE INDEX files_queue ON files (project, is_candidate, status, score);

CREATE TABLE hits (
    project TEXT NOT NULL,
    path    TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    rule_id TEXT NOT NULL,
    line    BIGINT NOT NULL,
    snippet TEXT NOT NULL,
    PRIMARY KEY (project, path, seq),
    FOREIGN KEY (project, path) REFERENCES files(project, path) ON DELETE CASCADE
);

CREATE TABLE findings (
    id                  TEXT PRIMARY KEY,
    project             TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    fingerprint         TEXT NOT NULL,
    run_id              BIGINT REFERENCES runs(id),
    path                TEXT NOT NULL,
    start_line          BIGINT NOT NULL,
    end_line            BIGINT NOT NULL,
    title               TEXT NOT NULL,
    severity            TEXT NOT NULL
                        CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    confidence          TEXT NOT NULL CHECK (confidence IN ('low', 'medium', 'high')),
    cwe                 TEXT,
    category            TEXT,
    rule_id             TEXT,
    description         TEXT NOT NULL,
    attack_path         TEXT NOT NULL,
    recommendation      TEXT NOT NULL,
    patch               TEXT,
    cost_usd            DOUBLE PRECISION,
    file_hash_at_report TEXT,
    created_at          TEXT NOT NULL,
    disposition         TEXT NOT NULL DEFAULT 'open'
                        CHECK (disposition IN ('open', 'accepted_risk', 'wont_fix')),
    disposition_reason  TEXT,
    duplicate_of        TEXT REFERENCES findings(id) ON DELETE SET NULL,
    UNIQUE (project, fingerprint)
);
CREATE INDEX findings_path ON findings (project, path);

CREATE TABLE verdicts (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_id         TEXT NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
    verdict            TEXT NOT NULL
                       CHECK (verdict IN ('true_positive', 'false_positive', 'uncertain')),
    reasoning          TEXT NOT NULL,
    corrected_severity TEXT
                       CHECK (corrected_severity IN ('info', 'low', 'medium', 'high', 'critical')),
    run_id             BIGINT REFERENCES runs(id),
    cost_usd           DOUBLE PRECISION,
    created_at         TEXT NOT NULL
);
CREATE INDEX verdicts_finding ON verdicts (finding_id, id);

CREATE TABLE llm_calls (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    project            TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    run_id             BIGINT REFERENCES runs(id),
    path               TEXT,
    finding_id         TEXT,
    provider           TEXT NOT NULL,
    model              TEXT NOT NULL,
    input_tokens       BIGINT NOT NULL,
    output_tokens      BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    cache_read_tokens  BIGINT NOT NULL,
    cost_usd           DOUBLE PRECISION,
    created_at         TEXT NOT NULL
);
CREATE INDEX llm_calls_project ON llm_calls (project, run_id);

CREATE TABLE locks (
    project     TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    holder      TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    lease_until TEXT NOT NULL,
    PRIMARY KEY (project, name)
);
"#;

/// One row per file an external agent's session covered (a batch shares its session),
/// or per finding it judged (`finding_id` set).
const V2: &str = r#"
CREATE TABLE agent_sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project     TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    run_id      BIGINT REFERENCES runs(id),
    path        TEXT NOT NULL,
    finding_id  TEXT,
    agent       TEXT NOT NULL,
    session_id  TEXT,
    turns       BIGINT NOT NULL,
    outcome     TEXT NOT NULL
                CHECK (outcome IN ('complete', 'incomplete', 'failed', 'cancelled')),
    output_tail TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX agent_sessions_path ON agent_sessions (project, path, id);
"#;

/// Files on the attack surface: they hold an entry point (a route handler, a CLI main, a
/// message consumer) or are imported by one that does.
const V3: &str = r#"
ALTER TABLE files ADD COLUMN surface BIGINT NOT NULL DEFAULT 0 CHECK (surface IN (0, 1));
"#;

/// Whether a table of this name exists.
fn has_table(conn: &Connection, path: &Path, name: &str) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |_| Ok(()),
    )
    .optional()
    .db(path)
    .map(|found| found.is_some())
}

/// The schema version recorded in the database (0 when none is).
pub(crate) fn current_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    if !has_table(conn, path, "schema_migrations")? {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )
    .db(path)
}

fn too_new(path: &Path, found: i64) -> StoreError {
    StoreError::TooNew {
        path: path.to_path_buf(),
        found,
        supported: SCHEMA_VERSION,
    }
}

/// Fails with `TooNew` if the database's schema is newer than this build's.
pub(crate) fn check_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    let found = current_version(conn, path)?;
    if found > SCHEMA_VERSION {
        return Err(too_new(path, found));
    }
    Ok(found)
}

/// Applies every migration the database lacks, each once, each in one transaction.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    if check_version(conn, path)? == SCHEMA_VERSION {
        return Ok(());
    }
    for &(version, name, sql) in MIGRATIONS {
        let tx = write_tx(conn, path)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    BIGINT PRIMARY KEY,
                name       TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )",
        )
        .db(path)?;
        // Re-read under the write lock: another process may have migrated meanwhile.
        let current = current_version(&tx, path)?;
        if current > SCHEMA_VERSION {
            return Err(too_new(path, current));
        }
        if current >= version {
            continue;
        }
        tracing::debug!(db = %path.display(), version, name, "applying migration");
        tx.execute_batch(sql).db(path)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![version, name, now()],
        )
        .db(path)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .db(path)?;
        tx.pragma_update(None, "user_version", version).db(path)?;
        tx.commit().db(path)?;
    }
    Ok(())
}
