//! Helpers shared by the store's integration tests.

use std::path::Path;
use tempfile::TempDir;
use warden_store::*;

pub const P: &str = "proj";

/// The backend a generic test runs on (see `backend_tests!`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test's store lives: a temp data dir, or a fresh database on the test cluster.
pub struct Fixture {
    dir: Option<TempDir>,
    location: StoreLocation,
}

impl Fixture {
    pub fn new(backend: Backend) -> Fixture {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let location = StoreLocation::Sqlite(dir.path().to_path_buf());
                Fixture {
                    dir: Some(dir),
                    location,
                }
            }
            Backend::Postgres => Fixture {
                dir: None,
                location: warden_testkit::pg::database_url()
                    .parse()
                    .expect("test database URL"),
            },
        }
    }

    /// The SQLite data directory (panics on PostgreSQL: a test of files is SQLite-only).
    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("a SQLite fixture").path()
    }

    /// The SQLite data directory, or `None` on PostgreSQL.
    pub fn sqlite_dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(TempDir::path)
    }

    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// How errors name this store: the database file, or the redacted URL.
    pub fn name(&self) -> String {
        match &self.location {
            StoreLocation::Sqlite(dir) => dir.join(DB_FILE).display().to_string(),
            StoreLocation::Postgres(url) => url.redacted().to_string(),
        }
    }
}

/// A fresh store with project `P`.
pub fn store(backend: Backend) -> (Fixture, Store) {
    let fixture = Fixture::new(backend);
    let mut store = Store::connect(fixture.location()).expect("open");
    store.ensure_project(P, "/repo").expect("project");
    (fixture, store)
}

/// Another handle on the same store.
pub fn reopen(fixture: &Fixture) -> Store {
    Store::connect(fixture.location()).expect("reopen")
}

/// A file read and matched by the scan: one hit per score point, capped at 3.
pub fn matched(path: &str, hash: &str, score: f64) -> ScannedFile {
    let hits = (0..(score as u32).min(3))
        .map(|i| Hit {
            rule_id: format!("rule-{i}"),
            line: i + 1,
            snippet: format!("call_{i}()"),
        })
        .collect();
    ScannedFile {
        path: path.to_string(),
        language: Some("python".to_string()),
        size: 100,
        mtime_ns: 1,
        hash: hash.to_string(),
        matched: Some(MatchedFile { score, hits }),
    }
}

/// A file the scan did not re-read because it is unchanged.
pub fn unchanged(path: &str, hash: &str) -> ScannedFile {
    ScannedFile {
        path: path.to_string(),
        language: Some("python".to_string()),
        size: 100,
        mtime_ns: 2,
        hash: hash.to_string(),
        matched: None,
    }
}

/// Records a scan of `files` in a new run (every file with score >= 1 is a candidate).
pub fn scan(store: &mut Store, files: Vec<ScannedFile>) -> ScanDelta {
    scan_with(store, files, None, 1.0)
}

pub fn scan_with(
    store: &mut Store,
    files: Vec<ScannedFile>,
    limit: Option<usize>,
    min_score: f64,
) -> ScanDelta {
    let run = store
        .begin_run(P, RunKind::Scan, "pid 1 on test")
        .expect("run");
    let record = ScanRecord {
        files,
        limit,
        min_score,
        unvisited: Vec::new(),
    };
    store
        .record_scan(P, run, "rules-v1", &record)
        .expect("record scan")
}

pub fn finding(path: &str, title: &str, line: u32, severity: Severity) -> NewFinding {
    NewFinding {
        run_id: None,
        path: path.to_string(),
        start_line: line,
        end_line: line + 2,
        title: title.to_string(),
        severity,
        confidence: Confidence::High,
        cwe: Some("CWE-89".to_string()),
        category: Some("injection".to_string()),
        rule_id: Some("py-sql".to_string()),
        description: "user input reaches a query".to_string(),
        attack_path: "GET /login?user=".to_string(),
        recommendation: "use parameters".to_string(),
        patch: None,
        cost_usd: Some(0.01),
    }
}

pub fn status_of(store: &Store, path: &str) -> FileStatus {
    store
        .candidates(P, None)
        .expect("candidates")
        .into_iter()
        .find(|c| c.path == path)
        .map(|c| c.status)
        .unwrap_or_else(|| panic!("{path} is not a candidate"))
}
