//! `warden worker` end to end: real worker processes sharing one real PostgreSQL store
//! (a throwaway cluster from warden-testkit), the native agent against the mock LLM on
//! loopback. Scans go in with `--store`; what the workers did is read back through the
//! store API and `warden status`.

mod common;
#[path = "workers_support/mod.rs"]
mod workers_support;

use common::*;
use std::collections::HashMap;
use std::time::Duration;
use warden_store::RunStatus;
use warden_testkit::mock_llm::MockLlm;
use workers_support::*;

#[test]
fn three_workers_investigate_every_candidate_exactly_once() {
    let shared = Shared::scanned(6);
    let mock = MockLlm::start_blocking(answers(6, Duration::from_millis(150)));
    let workers: Vec<_> = (1..=3)
        .map(|i| shared.spawn_worker(&mock, &[&format!("--name=w{i}"), "--poll=1"]))
        .collect();
    for w in workers {
        w.finish().ok();
    }
    let store = shared.store();
    let status = store.status(PROJECT).unwrap();
    assert_eq!((status.analyzed, status.pending), (6, 0), "{status:?}");
    // One investigation (one model call) per file: nothing done twice.
    let calls = calls_by_file(&store);
    assert_eq!(calls.len(), 6, "{calls:?}");
    assert!(calls.values().all(|n| *n == 1), "{calls:?}");
    assert_eq!(mock.generation_requests().len(), 6);
    let workers = store.workers(PROJECT, Duration::from_secs(3600)).unwrap();
    assert_eq!(workers.len(), 3, "{workers:?}");
    assert!(workers.iter().all(|w| w.status == RunStatus::Done));
    assert_eq!(workers.iter().map(|w| w.files_done).sum::<u64>(), 6);
    let names: Vec<&str> = workers.iter().map(|w| w.holder.as_str()).collect();
    assert!(names.iter().any(|h| h.starts_with("w1: pid ")), "{names:?}");
    let spend: f64 = workers.iter().map(|w| w.spend_usd).sum();
    assert!(
        (spend - store.spend(PROJECT).unwrap().total_usd).abs() < 1e-9,
        "every call's spend belongs to a worker"
    );
}

#[test]
fn a_killed_workers_file_goes_to_another_worker_once_its_lease_runs_out() {
    let shared = Shared::scanned(3);
    // The first request (the killed worker's) hangs; every other is answered at once.
    let mock = MockLlm::start_blocking(hung_first_then_answers(3));
    let doomed = shared.spawn_worker(
        &mock,
        &["--name=doomed", "--concurrency=1", "--lease-secs=2"],
    );
    wait_for(
        || mock.generation_requests().len() == 1,
        "the doomed worker's request",
    );
    doomed.kill_9();
    let survivor = shared.spawn_worker(&mock, &["--name=survivor", "--poll=1"]);
    survivor.finish().ok();

    let store = shared.store();
    let status = store.status(PROJECT).unwrap();
    assert_eq!(status.analyzed, 3, "nothing lost: {status:?}");
    let calls = calls_by_file(&store);
    assert!(
        calls.values().all(|n| *n == 1),
        "nothing done twice: {calls:?}"
    );
    assert_eq!(calls.len(), 3);
    let spend = store.spend(PROJECT).unwrap();
    assert_eq!(
        spend.calls, 3,
        "the killed call was never answered, so never billed"
    );
    let workers = store.workers(PROJECT, Duration::from_secs(3600)).unwrap();
    let doomed = workers
        .iter()
        .find(|w| w.holder.starts_with("doomed"))
        .unwrap();
    assert_eq!(
        doomed.status,
        RunStatus::Running,
        "it never got to end its run"
    );
    assert_eq!((doomed.files_done, doomed.files_held), (0, 0));
    let survivor = workers
        .iter()
        .find(|w| w.holder.starts_with("survivor"))
        .unwrap();
    assert_eq!(survivor.files_done, 3);

    // `status` shows both, the killed one still `running` with its last heartbeat.
    let text = shared.warden(&["status"]).ok().stdout.clone();
    assert!(text.contains("workers     1 running"), "{text}");
    assert!(text.contains("doomed: pid"), "{text}");
    assert!(text.contains("survivor: pid"), "{text}");
}

#[test]
fn a_worker_elsewhere_rebuilds_the_tree_from_the_stored_blobs() {
    let shared = Shared::scanned_with(3, &["--upload-tree"]);
    // The scanned root is not on the worker's machine.
    let moved = shared.tree.tmp.path().join("moved-away");
    std::fs::rename(&shared.tree.root, &moved).unwrap();
    let mock = MockLlm::start_blocking(answers(3, Duration::ZERO));
    let cache = shared.tree.tmp.path().join("cache");
    let w = shared.spawn_worker(&mock, &[&format!("--cache-dir={}", cache.display())]);
    w.finish().ok();
    assert_eq!(shared.store().status(PROJECT).unwrap().analyzed, 3);
    let rebuilt = std::fs::read_dir(cache.join(PROJECT)).unwrap().count();
    assert_eq!(rebuilt, 1, "one tree rebuilt under the cache");
    // The prompts quoted the rebuilt files.
    assert!(mock
        .generation_requests()
        .iter()
        .any(|r| r.body_contains("os.system(cmd_2)")));
}

#[test]
fn a_file_whose_bytes_differ_from_the_scan_is_refused_unread() {
    let shared = Shared::scanned(2);
    let copy = shared.tree.tmp.path().join("copy");
    copy_dir(&shared.tree.root, &copy);
    std::fs::write(
        copy.join("f1.py"),
        "import os\nos.system(cmd_1 + 'changed')\n",
    )
    .unwrap();
    let mock = MockLlm::start_blocking(answers(2, Duration::ZERO));
    let w = shared.spawn_worker(&mock, &[&format!("--root={}", copy.display())]);
    let run = w.finish();
    assert_eq!(run.code, 0, "one file was investigated: {run:?}");
    assert!(
        run.stderr
            .contains("f1.py: its bytes here differ from the scanned snapshot"),
        "{}",
        run.stderr
    );
    let store = shared.store();
    let status = store.status(PROJECT).unwrap();
    assert_eq!((status.analyzed, status.failed), (1, 1), "{status:?}");
    assert_eq!(
        mock.generation_requests().len(),
        1,
        "the changed file cost nothing"
    );
    assert!(!mock
        .generation_requests()
        .iter()
        .any(|r| r.body_contains("changed")));
    let failed = store.failed_files(PROJECT).unwrap();
    assert_eq!(failed[0].path, "f1.py");
}

#[test]
fn a_worker_clones_the_recorded_commit_with_git() {
    let shared = Shared::in_git(2);
    let origin = shared.tree.root.clone();
    // Work on after the scan: the worker must see the scanned commit, not this.
    std::fs::write(origin.join("f0.py"), "print('later')\n").unwrap();
    git(&origin, &["commit", "-qam", "later"]);
    let record = shared.store().tree_record(PROJECT).unwrap().unwrap();
    assert_eq!(
        record.commit.as_deref().map(str::len),
        Some(40),
        "{record:?}"
    );
    let mock = MockLlm::start_blocking(answers(2, Duration::ZERO));
    let cache = shared.tree.tmp.path().join("cache");
    let w = shared.spawn_worker(
        &mock,
        &[
            &format!("--git={}", origin.display()),
            &format!("--cache-dir={}", cache.display()),
        ],
    );
    w.finish().ok();
    let store = shared.store();
    assert_eq!(store.status(PROJECT).unwrap().analyzed, 2);
    let checkout = cache
        .join(PROJECT)
        .join(format!("git-{}", record.commit.unwrap()));
    let f0 = std::fs::read_to_string(checkout.join("f0.py")).unwrap();
    assert!(f0.contains("os.system(cmd_0)"), "the scanned bytes: {f0}");
}

#[test]
fn status_and_report_read_a_postgres_store_named_by_warden_store() {
    let shared = Shared::scanned(2);
    let out = run(warden()
        .env("WARDEN_STORE", &shared.url)
        .args(["status", "--json"]));
    let status = out.ok().json();
    assert_eq!(status[0]["candidates"], 2, "{status:#}");
    let report = run(warden()
        .env("WARDEN_STORE", &shared.url)
        .args(["report", "--format", "json"]));
    report.ok();
    assert!(report.stdout.contains("\"findings\""), "{}", report.stdout);
}

#[test]
fn a_worker_without_a_copy_of_the_tree_says_what_to_pass() {
    let shared = Shared::scanned(1);
    let moved = shared.tree.tmp.path().join("elsewhere");
    std::fs::rename(&shared.tree.root, &moved).unwrap();
    let mock = MockLlm::start_blocking(answers(1, Duration::ZERO));
    let run = shared.spawn_worker(&mock, &[]).finish();
    assert_eq!(run.code, 2, "{run:?}");
    let line = run.error_line();
    assert!(line.contains("pass --root DIR or --git URL"), "{line}");
    assert!(
        !line.contains("postgres@"),
        "the store URL is not repeated: {line}"
    );
    assert_eq!(
        shared.store().status(PROJECT).unwrap().pending,
        1,
        "nothing was claimed"
    );
}

#[test]
fn a_worker_on_another_machine_shares_the_queue_over_the_network() {
    let shared = Shared::scanned(4);
    let mock = MockLlm::start_blocking(answers(4, Duration::from_millis(200)));
    let machine = OtherMachine::new();
    let warden_bin = env!("CARGO_BIN_EXE_warden");

    // Its own loopback is not this host's: the store on 127.0.0.1 is out of reach...
    let unreachable = shared
        .spawn_worker_with(machine.command(warden_bin), &shared.url, mock.url(), &[])
        .finish();
    assert_eq!(unreachable.code, 3, "{unreachable:?}");
    assert!(
        unreachable.stderr.contains("cannot connect"),
        "{}",
        unreachable.stderr
    );
    // ...and reached over the veth pair it is.
    let pg = relay(
        machine.host_ip,
        ([127, 0, 0, 1], warden_testkit::pg::port()).into(),
    );
    let model = relay(machine.host_ip, mock.addr());
    let remote_store = shared.url.replace(
        &format!("127.0.0.1:{}", warden_testkit::pg::port()),
        &pg.to_string(),
    );
    let remote = shared.spawn_worker_with(
        machine.command(warden_bin),
        &remote_store,
        &format!("http://{model}"),
        &["--name=remote", "--concurrency=1", "--poll=1"],
    );
    let local = shared.spawn_worker(&mock, &["--name=local", "--concurrency=1", "--poll=1"]);
    remote.finish().ok();
    local.finish().ok();

    let store = shared.store();
    assert_eq!(store.status(PROJECT).unwrap().analyzed, 4);
    let calls = calls_by_file(&store);
    assert!(
        calls.values().all(|n| *n == 1),
        "nothing done twice: {calls:?}"
    );
    let workers = store.workers(PROJECT, Duration::from_secs(3600)).unwrap();
    let remote = workers
        .iter()
        .find(|w| w.holder.starts_with("remote"))
        .unwrap();
    assert_eq!(remote.status, RunStatus::Done, "{workers:?}");
    assert_eq!(
        workers.iter().map(|w| w.files_done).sum::<u64>(),
        4,
        "{workers:?}"
    );
}

fn calls_by_file(store: &warden_store::Store) -> HashMap<String, u64> {
    store
        .spend_by_file(PROJECT, None)
        .unwrap()
        .into_iter()
        .map(|f| (f.path, f.calls))
        .collect()
}

#[test]
fn a_bad_unreachable_or_empty_store_is_one_line_that_never_shows_the_password() {
    let cases: [(&str, i32, &str); 3] = [
        (
            "postgres://warden:s3cret@127.0.0.1:1/x",
            3,
            "cannot connect to the store postgres://warden:***@127.0.0.1:1/x",
        ),
        (
            "postgres://warden:s3cret@127.0.0.1:1/x?sslmode=bogus",
            2,
            "--store: invalid store location",
        ),
        (
            "",
            2,
            "--store: invalid store location ``: the store location is empty",
        ),
    ];
    for (url, code, want) in cases {
        for command in [&["status"][..], &["worker", "--project-id", "p"][..]] {
            let out = run(warden().arg("--store").arg(url).args(command));
            assert_eq!(out.code, code, "{url} {command:?}: {out:?}");
            let line = out.error_line();
            assert!(line.contains(want), "{line}");
            assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
        }
    }
    // A database without a Warden store is not silently made one by a reader.
    let empty = warden_testkit::pg::database_url();
    let out = run(warden().args(["status", "--store", &empty]));
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.error_line().contains("no Warden store"),
        "{}",
        out.stderr
    );
}

#[test]
fn process_triage_and_report_work_on_a_postgres_store() {
    let shared = Shared::scanned(2);
    let mock = MockLlm::start_blocking(answers(2, Duration::ZERO));
    let home = shared.tree.tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let process = run(warden()
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("ANTHROPIC_API_KEY", "test")
        .env("ANTHROPIC_BASE_URL", mock.url())
        .current_dir(&shared.tree.root)
        .args(["process", "--json", "--store", &shared.url]));
    let summary = process.ok().json();
    assert_eq!(summary["investigated"], 2, "{summary:#}");
    let workers = shared
        .store()
        .workers(PROJECT, Duration::from_secs(3600))
        .unwrap();
    assert_eq!(workers.len(), 1, "the process run is listed: {workers:?}");
    assert_eq!(workers[0].files_done, 2);
    shared.warden(&["triage"]).ok();
    let report = shared.warden(&["report", "--format", "json"]);
    report.ok();
    assert!(report.stdout.contains("\"findings\""), "{}", report.stdout);
}
