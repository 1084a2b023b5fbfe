//! Versioned migrations. Each is applied once, in its own write transaction,
//! and recorded in `schema_migrations`; `PRAGMA user_version` mirrors the
//! latest version for outside tools.
//!
//! The same list, with the same version numbers, serves SQLite and PostgreSQL: column
//! types are written to mean the same in both (`BIGINT`, `DOUBLE PRECISION`, `TEXT`),
//! and auto-increment ids are the `{AUTO_ID}` token (see `Dialect::ddl`). In PostgreSQL
//! an advisory lock serialises workers that start at once and all want to migrate.

use super::now;
use crate::db::{params, Db, Dialect};
use crate::error::StoreError;

/// `PRAGMA application_id` of a Warden store: ASCII "WRDN".
pub(crate) const APPLICATION_ID: i32 = 0x5752_444E;

/// (version, name, SQL) in order; never edit a released entry, append a new one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial schema", V1),
    (2, "agent sessions", V2),
    (3, "attack surface", V3),
    (4, "claim queue index", V4),
    (5, "workers and tree snapshots", V5),
];

/// The newest schema version this build knows.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Workers sharing a store: a heartbeat per run, the tree's commit and origin, and
/// the scanned files' bytes by content hash (for workers on other machines).
const V5: &str = r#"
ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
ALTER TABLE projects ADD COLUMN tree_commit TEXT;
ALTER TABLE projects ADD COLUMN tree_origin TEXT;
CREATE TABLE blobs (
    project TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    hash    TEXT NOT NULL,
    content {BLOB} NOT NULL,
    PRIMARY KEY (project, hash)
);
CREATE INDEX files_last_run ON files (project, last_run);
{QUEUE_TABLE:files}
CREATE INDEX runs_status ON runs (project, status);
"#;

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
    id          {AUTO_ID},
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
    id                 {AUTO_ID},
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
    id                 {AUTO_ID},
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
    id          {AUTO_ID},
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

/// The claim queue, so a claim reads the first few entries instead of sorting every
/// candidate (large trees, many concurrent claimers): pending and failed candidates in
/// claim order, and files being processed by when their lease runs out. Queries repeat
/// the indexes' `WHERE` terms to use them.
const V4: &str = r#"
CREATE INDEX files_claim_queue ON files (project, score DESC, path)
    WHERE is_candidate = 1 AND status IN ('pending', 'failed');
CREATE INDEX files_leases ON files (project, lease_until) WHERE status = 'processing';
"#;

/// Whether a table of this name exists (in PostgreSQL: in the current schema).
fn has_table(db: &Db, name: &str) -> Result<bool, StoreError> {
    let sql = match db.dialect() {
        Dialect::Sqlite => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        Dialect::Postgres => {
            "SELECT 1 FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = ?1"
        }
    };
    Ok(db.query_opt(sql, params![name])?.is_some())
}

/// The schema version recorded in the database (0 when none is).
pub(crate) fn current_version(db: &Db) -> Result<i64, StoreError> {
    if !has_table(db, "schema_migrations")? {
        return Ok(0);
    }
    db.query_value(
        "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_migrations",
        params![],
    )
}

fn too_new(db: &Db, found: i64) -> StoreError {
    StoreError::TooNew {
        store: db.name().clone(),
        found,
        supported: SCHEMA_VERSION,
    }
}

/// Fails with `TooNew` if the database's schema is newer than this build's.
pub(crate) fn check_version(db: &Db) -> Result<i64, StoreError> {
    let found = current_version(db)?;
    if found > SCHEMA_VERSION {
        return Err(too_new(db, found));
    }
    Ok(found)
}

/// Applies every migration the database lacks, each once, each in one transaction.
pub(crate) fn migrate(db: &Db) -> Result<(), StoreError> {
    if check_version(db)? == SCHEMA_VERSION {
        return Ok(());
    }
    for &(version, name, sql) in MIGRATIONS {
        let tx = db.write_tx()?;
        if tx.dialect() == Dialect::Postgres {
            // Held until this transaction ends; taken before the table below exists,
            // since concurrent `CREATE TABLE IF NOT EXISTS` can fail in PostgreSQL.
            tx.batch(&format!("SELECT pg_advisory_xact_lock({APPLICATION_ID})"))?;
        }
        tx.batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    BIGINT PRIMARY KEY,
                name       TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )",
        )?;
        // Re-read under the lock: another process may have migrated meanwhile.
        let current = current_version(&tx)?;
        if current > SCHEMA_VERSION {
            return Err(too_new(&tx, current));
        }
        if current >= version {
            continue;
        }
        tracing::debug!(store = %tx.name(), version, name, "applying migration");
        tx.batch(&tx.dialect().ddl(sql))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![version, name, now()],
        )?;
        if let Some(conn) = tx.sqlite_conn() {
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .and_then(|()| conn.pragma_update(None, "user_version", version))
                .map_err(|e| crate::db::sqlite_error(tx.name(), e))?;
        }
        tx.commit()?;
    }
    Ok(())
}
