//! What only a PostgreSQL store has: URLs with passwords, a server that may be absent,
//! many handles on many machines, and a schema other binaries may have moved ahead.

use crate::common::*;
use std::collections::HashSet;
use std::time::Duration;
use warden_store::*;

const HOUR: Duration = Duration::from_secs(3600);
const PASSWORD: &str = "Sup3r-s3cret-pw";

/// The test database's URL with a password in it (the test cluster trusts loopback, so
/// any password is accepted).
fn url_with_password(fixture: &Fixture) -> String {
    let StoreLocation::Postgres(url) = fixture.location() else {
        panic!("a PostgreSQL fixture");
    };
    let shown = url.redacted().to_string();
    shown.replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1)
}

#[test]
fn a_password_never_appears_in_errors_or_debug_output() {
    let fixture = Fixture::new(Backend::Postgres);
    let url = url_with_password(&fixture);
    assert!(url.contains(PASSWORD), "{url}");
    let location: StoreLocation = url.parse().expect("url");
    let mut store = Store::connect(&location).expect("connect with a password");
    store.ensure_project(P, "/repo").expect("project");

    let err = store.known_files("other").unwrap_err();
    let closed = format!("postgres://warden:{PASSWORD}@127.0.0.1:1/warden?password={PASSWORD}");
    let refused = Store::connect(&closed.parse().expect("url")).unwrap_err();
    let bad_port = format!("postgres://warden:{PASSWORD}@127.0.0.1:notaport/warden")
        .parse::<StoreLocation>()
        .unwrap_err();
    let shown = [
        format!("{location:?}"),
        format!("{location}"),
        format!("{store:?}"),
        store.path().display().to_string(),
        store.location().to_string(),
        format!("{err} {err:?}"),
        format!("{refused} {refused:?}"),
        format!("{bad_port} {bad_port:?}"),
    ];
    for text in &shown {
        assert!(!text.contains(PASSWORD), "password shown in: {text}");
    }
    assert!(shown[0].contains("postgres:***@127.0.0.1"), "{}", shown[0]);
    assert!(shown[6].contains("warden:***@127.0.0.1:1"), "{}", shown[6]);
}

#[test]
fn connecting_to_a_closed_port_is_a_one_line_error_naming_the_redacted_url() {
    // Bind then drop: nothing listens on the port afterwards.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let url = format!("postgres://warden:{PASSWORD}@127.0.0.1:{port}/warden");
    let err = Store::connect(&url.parse().expect("url")).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    assert_eq!(msg.lines().count(), 1, "{msg}");
    assert!(
        msg.starts_with(&format!(
            "cannot connect to the store postgres://warden:***@127.0.0.1:{port}/warden: "
        )),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}

#[test]
fn many_handles_claiming_concurrently_never_get_the_same_file() {
    let (fixture, mut store) = store(Backend::Postgres);
    let files = (0..400)
        .map(|i| matched(&format!("f{i:03}.py"), &format!("h{i}"), 2.0))
        .collect();
    scan(&mut store, files);
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let mut handle = reopen(&fixture);
            std::thread::spawn(move || {
                let holder = format!("worker {w}");
                let mut mine = Vec::new();
                loop {
                    let got = handle.claim_files(P, &holder, 5, HOUR).expect("claim");
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got);
                }
            })
        })
        .collect();
    let results: Vec<Vec<String>> = workers
        .into_iter()
        .map(|w| w.join().expect("worker"))
        .collect();
    let total: usize = results.iter().map(Vec::len).sum();
    let distinct: HashSet<&String> = results.iter().flatten().collect();
    assert_eq!(total, 400, "every file claimed once");
    assert_eq!(distinct.len(), 400, "no file claimed twice");
    assert_eq!(store.file_leases(P).expect("leases").len(), 400);
}

#[test]
fn a_store_at_a_newer_schema_version_is_refused() {
    let (fixture, store) = store(Backend::Postgres);
    drop(store);
    // A newer warden, elsewhere, migrated the shared database further.
    warden_testkit::pg::psql(
        &fixture.location().to_string(),
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'now')",
    );
    let err = Store::connect(fixture.location()).unwrap_err();
    match &err {
        StoreError::TooNew {
            found, supported, ..
        } => {
            assert_eq!(*found, 99);
            assert!(*supported < 99);
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    assert!(err.to_string().contains(&fixture.name()), "{err}");
}

#[test]
fn many_workers_starting_at_once_migrate_a_new_database_once() {
    let fixture = Fixture::new(Backend::Postgres);
    std::thread::scope(|s| {
        let starts: Vec<_> = (0..6)
            .map(|_| s.spawn(|| Store::connect(fixture.location()).map(drop)))
            .collect();
        for start in starts {
            start.join().expect("thread").expect("connect and migrate");
        }
    });
    let mut store = reopen(&fixture);
    store.ensure_project(P, "/repo").expect("a usable store");
    assert_eq!(store.projects().expect("projects").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_works_inside_a_tokio_runtime() {
    let (fixture, mut store) = store(Backend::Postgres);
    scan(&mut store, vec![matched("a.py", "h1", 2.0)]);
    let store = std::sync::Arc::new(tokio::sync::Mutex::new(store));
    let task = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut store = store.lock().await;
            store
                .claim_files(P, "task", 1, HOUR)
                .expect("claim in a task")
        })
    };
    assert_eq!(task.await.expect("task"), ["a.py"]);
    // A handle opened inside the runtime, too.
    let other = reopen(&fixture);
    assert_eq!(other.file_leases(P).expect("leases")[0].holder, "task");
}

/// Whether the connections named `app` to the fixture's database use TLS.
fn sessions_use_tls(fixture: &Fixture, app: &str) -> String {
    warden_testkit::pg::psql(
        &fixture.location().to_string(),
        &format!(
            "SELECT string_agg(DISTINCT s.ssl::text, ',') FROM pg_stat_ssl s
             JOIN pg_stat_activity a USING (pid)
             WHERE a.datname = current_database() AND a.application_name = '{app}'"
        ),
    )
}

#[test]
fn sslmode_require_encrypts_and_sslmode_disable_does_not() {
    let fixture = Fixture::new(Backend::Postgres);
    let base = fixture.location().to_string();
    for (mode, expected) in [("require", "true"), ("disable", "false")] {
        let app = format!("warden_{mode}");
        let location: StoreLocation = format!("{base}?sslmode={mode}&application_name={app}")
            .parse()
            .expect("url");
        let mut store = Store::connect(&location).expect("connect");
        store.ensure_project(P, "/repo").expect("a working store");
        assert_eq!(store.projects().expect("projects").len(), 1);
        assert_eq!(sessions_use_tls(&fixture, &app), expected, "sslmode={mode}");
    }
}
