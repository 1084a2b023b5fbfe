//! `warden status`: what the store holds, found from the flag, the env, or the cwd.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;
use warden_store::{Severity, Store};

fn scanned() -> Tree {
    let t = Tree::new();
    t.write("app.py", VULN_PY);
    t.write("keys.py", KEY_PY);
    t.write("util.py", SAFE_PY);
    t.scan(&[]).ok();
    t
}

fn status(args: &[&str], data_dir: &std::path::Path) -> Run {
    run(warden()
        .arg("status")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir))
}

#[test]
fn status_json_counts_files_candidates_and_pending() {
    let t = scanned();
    let json = status(&["--json"], &t.data_dir()).ok().json();
    let projects = json.as_array().expect("one entry per project");
    assert_eq!(projects.len(), 1);
    let p = &projects[0];
    assert_eq!(p["project_id"], PROJECT);
    assert_eq!(
        p["root"],
        std::fs::canonicalize(&t.root).unwrap().to_str().unwrap()
    );
    assert_eq!(p["files"], 3);
    assert_eq!(p["candidates"], 2);
    assert_eq!(p["pending"], 2);
    assert_eq!(p["analyzed"], 0);
    assert_eq!(p["findings_total"], 0);
    assert!(p["last_scan_at"].is_string(), "{p:#}");
    assert!(p["tech"]
        .as_array()
        .unwrap()
        .contains(&Value::from("python")));
}

#[test]
fn status_text_shows_the_same() {
    let t = scanned();
    let run = status(&[], &t.data_dir());
    let text = &run.ok().stdout;
    assert!(text.contains(&format!("Project {PROJECT} (")), "{text}");
    assert!(text.contains("files       3 (0 gone)"), "{text}");
    assert!(text.contains("candidates  2: 2 pending"), "{text}");
    assert!(!text.contains("last scan   never"), "{text}");
}

#[test]
fn status_follows_the_pipeline() {
    let t = scanned();
    let mut store = t.store();
    let claimed = store
        .claim_files(PROJECT, "agent-1", 1, Duration::from_secs(600))
        .unwrap();
    assert_eq!(claimed.len(), 1);
    store
        .complete_file(
            PROJECT,
            &claimed[0],
            "agent-1",
            &[finding(&claimed[0], "Command injection", Severity::High)],
        )
        .unwrap();
    let p = &status(&["--json"], &t.data_dir()).ok().json()[0];
    assert_eq!(
        (p["pending"].as_u64(), p["analyzed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(p["findings_total"], 1);
    assert_eq!(p["findings_by_severity"][1], 1, "[critical, high, ...]");
    let text = status(&[], &t.data_dir()).ok().stdout.clone();
    assert!(
        text.contains("1 pending, 0 processing, 1 analyzed"),
        "{text}"
    );
    assert!(text.contains("high 1"), "{text}");
}

#[test]
fn the_store_is_found_from_the_working_directory_and_its_parents() {
    let t = scanned();
    let deeper = t.path("src/deeper");
    std::fs::create_dir_all(&deeper).unwrap();
    for cwd in [&t.root, &deeper] {
        let run = run(warden().args(["status", "--json"]).current_dir(cwd));
        assert_eq!(run.ok().json()[0]["project_id"], PROJECT, "from {cwd:?}");
    }
    // WARDEN_DATA_DIR works like --data-dir, from anywhere.
    let run = run(warden()
        .args(["status", "--json"])
        .env("WARDEN_DATA_DIR", t.data_dir())
        .current_dir(t.tmp.path()));
    assert_eq!(run.ok().json()[0]["files"], 3);
}

#[test]
fn without_a_store_status_says_to_run_scan() {
    let empty = tempfile::tempdir().unwrap();
    let run = run(warden().arg("status").current_dir(empty.path()));
    run.code(2);
    let line = run.error_line();
    assert!(line.contains("warden scan"), "{line}");
    assert!(line.contains(empty.path().to_str().unwrap()), "{line}");

    // The same with an explicit data dir holding no store, which is not created.
    let dir = empty.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let run = status(&[], &dir);
    run.code(2);
    let line = run.error_line();
    assert!(line.contains("warden scan"), "{line}");
    assert!(line.contains(dir.to_str().unwrap()), "{line}");
    assert!(!dir.join("warden.db").exists());
}

#[test]
fn an_unknown_project_id_is_a_usage_error_naming_the_known_ones() {
    let t = scanned();
    let run = status(&["--project-id", "nope"], &t.data_dir());
    run.code(2);
    let line = run.error_line();
    assert!(line.contains("nope"), "{line}");
    assert!(line.contains(PROJECT), "known projects listed: {line}");

    let run = run_env_project(&t, "nope");
    run.code(2);
    assert!(run.error_line().contains("nope"));
    // A known one selects it.
    assert_eq!(run_env_project(&t, PROJECT).ok().json()[0]["files"], 3);
}

fn run_env_project(t: &Tree, id: &str) -> Run {
    run(warden()
        .args(["status", "--json", "--data-dir"])
        .arg(t.data_dir())
        .env("WARDEN_PROJECT_ID", id))
}

#[test]
fn several_projects_in_one_store() {
    let t = scanned();
    let other = t.tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("x.py"), ONE_CALL_PY).unwrap();
    let data = t.data_dir();
    run(warden()
        .arg("scan")
        .arg(&other)
        .arg("--data-dir")
        .arg(&data))
    .ok();

    let all = status(&["--json"], &data).ok().json();
    let mut ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["project_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["other", PROJECT]);
    let one = status(&["--json", "--project-id", "other"], &data)
        .ok()
        .json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["files"], 1);

    // A report must be told which project it is about.
    let run = run(warden().arg("report").arg("--data-dir").arg(&data));
    run.code(2);
    let line = run.error_line();
    assert!(line.contains("--project-id"), "{line}");
}

#[test]
fn a_store_without_projects_is_reported_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    Store::open(tmp.path()).unwrap();
    let run = status(&[], tmp.path());
    assert!(
        run.ok().stdout.contains("no projects yet"),
        "{}",
        run.stdout
    );
    assert_eq!(
        status(&["--json"], tmp.path()).ok().json(),
        Value::Array(vec![])
    );
}

#[test]
fn failed_files_are_counted_in_text_and_listed_with_reason_and_output_in_json() {
    let t = scanned();
    let key = "sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let mut store = t.store();
    let claimed = store
        .claim_files(PROJECT, "agent-1", 2, Duration::from_secs(600))
        .unwrap();
    assert_eq!(claimed.len(), 2);
    store
        .fail_file(PROJECT, &claimed[0], "agent-1", "turn limit reached")
        .unwrap();
    store
        .fail_file(PROJECT, &claimed[1], "agent-1", "unparseable agent output")
        .unwrap();
    store
        .record_session(
            PROJECT,
            &warden_store::SessionRecord {
                run_id: None,
                path: claimed[1].clone(),
                finding_id: None,
                agent: "codex".into(),
                session_id: Some("thread-7".into()),
                turns: 3,
                outcome: warden_store::SessionOutcome::Failed,
                output_tail: Some(format!("OPENAI_API_KEY={key}\n{{\"type\":\"item.")),
                created_at: String::new(),
            },
        )
        .unwrap();
    drop(store);

    let text = status(&[], &t.data_dir()).ok().stdout.clone();
    assert!(
        text.contains(
            "failed      2 files, 1 with the agent's output kept: `warden status --json` lists each"
        ),
        "{text}"
    );
    let p = &status(&["--json"], &t.data_dir()).ok().json()[0];
    let failed = p["failed_files"].as_array().expect("failed_files");
    assert_eq!(failed.len(), 2, "{p:#}");
    let by_path = |path: &str| {
        failed
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path} not listed: {failed:?}"))
    };
    assert_eq!(by_path(&claimed[0])["reason"], "turn limit reached");
    assert!(by_path(&claimed[0])["output_tail"].is_null());
    let second = by_path(&claimed[1]);
    assert_eq!(second["reason"], "unparseable agent output");
    assert_eq!(second["agent"], "codex");
    assert_eq!(second["session_id"], "thread-7");
    let tail = second["output_tail"].as_str().unwrap();
    assert!(tail.ends_with("{\"type\":\"item."), "{tail}");
    assert!(!tail.contains(key), "{tail}");

    // Without failures, no line about them.
    let clean = scanned();
    let text = status(&[], &clean.data_dir()).ok().stdout.clone();
    assert!(!text.contains("failed      "), "{text}");
}
