//! `warden process|revalidate --agent claude --sandboxes N`: N real Claude Code
//! sandboxes busy at once (the mock LLM holds its replies until N requests are in
//! flight, so only N sandboxes at once can pass), never more than one with
//! `--sandboxes 1`, the same for `revalidate`, and `--cpus`/`--memory` on the CLI's
//! process as the kernel applies them.

mod agent_support;
mod common;

use agent_support::*;
use serde_json::Value;
use std::time::Duration;
use warden_testkit::mock_llm::{MockLlm, Script, Turn};

/// An answer the CLI session ends with: readable, no findings.
const NOTHING: &str = "Nothing to report.";

/// A scanned project of `n` files with a command injection each.
fn project(n: usize) -> Project {
    let p = Project::new();
    for i in 1..n {
        p.tree.write(&format!("app{i}.py"), common::VULN_PY);
    }
    p.tree.scan(&["-q"]).ok();
    p
}

#[test]
fn three_sandboxes_investigate_three_files_at_once() {
    let p = project(3);
    // Any reply waits until three requests are in flight: fewer sandboxes at once
    // would show as a peak below three (after a minute's wait).
    let mock = MockLlm::start_blocking(
        Script::default()
            .with_final_text(NOTHING)
            .hold_until_in_flight(3, Duration::from_secs(60)),
    );
    let s = summary(&p.process_anthropic("claude", &mock, &["--sandboxes", "3"]));
    assert_eq!(s["investigated"], 3, "{s:#}");
    assert_eq!(mock.peak_in_flight(), 3, "three sandboxes asked at once");
    assert_eq!(s["sandboxes"]["count"], 3, "{s:#}");
    assert_eq!(s["sandboxes"]["cpus"], Value::Null, "no limit asked for");
}

#[test]
fn one_sandbox_never_overlaps() {
    let p = project(2);
    // Were two investigations ever at once, the gate would let them through together
    // and the peak would say two; alone, each reply waits two seconds.
    let mock = MockLlm::start_blocking(
        Script::default()
            .with_final_text(NOTHING)
            .hold_until_in_flight(2, Duration::from_secs(2)),
    );
    let s = summary(&p.process_anthropic("claude", &mock, &["--sandboxes", "1"]));
    assert_eq!(s["investigated"], 2, "{s:#}");
    assert_eq!(mock.peak_in_flight(), 1, "one sandbox at a time");
    assert_eq!(s["sandboxes"]["count"], 1);
}

#[test]
fn revalidate_judges_in_two_sandboxes_at_once() {
    let p = project(2);
    // One sandbox at a time, so that each session takes its two turns in order.
    let mut second = report();
    second["file"] = "app1.py".into();
    let first = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("mcp__warden__report_finding", report()),
        Turn::text("Reported."),
        Turn::tool_call("mcp__warden__report_finding", second),
        Turn::text("Reported."),
    ]));
    let s = summary(&p.process_anthropic("claude", &first, &["--sandboxes", "1"]));
    assert_eq!(s["findings"], 2, "{s:#}");

    let verdict =
        "```json\n{\"verdict\": \"true_positive\", \"reasoning\": \"p reaches os.system.\"}\n```";
    let judge = MockLlm::start_blocking(
        Script::default()
            .with_final_text(verdict)
            .hold_until_in_flight(2, Duration::from_secs(60)),
    );
    let url = judge.url().to_string();
    let env = [
        ("ANTHROPIC_API_KEY", REAL_ANTHROPIC_KEY),
        ("ANTHROPIC_BASE_URL", url.as_str()),
    ];
    // `--concurrency` is the same number by its other name: both together agree.
    let run = p.warden(
        &env,
        &[
            "revalidate",
            "--agent",
            "claude",
            "--json",
            "--sandboxes",
            "2",
            "--concurrency",
            "2",
        ],
    );
    let r = summary(&run);
    assert_eq!(r["true_positive"], 2, "{r:#}");
    assert_eq!(judge.peak_in_flight(), 2, "two sandboxes judged at once");
    assert_eq!(r["sandboxes"]["count"], 2, "{r:#}");
}

#[test]
fn cpus_and_memory_reach_the_agent_process() {
    let p = project(1);
    let mock = MockLlm::start_blocking(
        Script::new(vec![
            // A slow first reply keeps Claude running while the test looks at it.
            Turn::text(NOTHING).with_delay(Duration::from_secs(4)),
        ])
        .with_final_text(NOTHING),
    );
    let url = mock.url().to_string();
    let (out, seen) = p.run_watching(
        &[
            ("ANTHROPIC_API_KEY", REAL_ANTHROPIC_KEY),
            ("ANTHROPIC_BASE_URL", &url),
        ],
        &[
            "process",
            "--agent",
            "claude",
            "--json",
            "--sandboxes",
            "1",
            "--cpus",
            "0.5",
            "--memory",
            "512M",
        ],
        "stream-json",
    );
    let s = summary(&out);
    assert_eq!(s["investigated"], 1, "{s:#}");
    assert_eq!(s["sandboxes"]["cpus"]["value"], 0.5, "{s:#}");
    assert_eq!(
        s["sandboxes"]["memory_bytes"]["value"],
        512u64 << 20,
        "{s:#}"
    );
    let limits = seen.cli_limits.first().expect("saw Claude running");
    let memory = s["sandboxes"]["memory_bytes"]["enforced"]
        .as_str()
        .unwrap_or_default();
    if memory.starts_with("cgroup") {
        // The whole sandbox's group, as the kernel enforces it on Claude's process.
        assert!(
            limits.contains("memory.limit_in_bytes=536870912")
                || limits.contains("memory.max=536870912"),
            "{limits}"
        );
    } else {
        assert!(
            limits.contains("Max address space         536870912"),
            "{memory}: {limits}"
        );
    }
    let cpus = s["sandboxes"]["cpus"]["enforced"]
        .as_str()
        .unwrap_or_default();
    if cpus.starts_with("cgroup") {
        // Half a CPU: 50 ms of every 100 ms.
        assert!(
            limits.contains("cpu.cfs_quota_us=50000") || limits.contains("cpu.max=50000 100000"),
            "{limits}"
        );
    } else {
        assert!(cpus.starts_with("not enforced"), "{cpus}");
    }
    // The header says the same to a person.
    let text = p.warden(
        &[
            ("ANTHROPIC_API_KEY", REAL_ANTHROPIC_KEY),
            ("ANTHROPIC_BASE_URL", &url),
        ],
        &[
            "process",
            "--agent",
            "claude",
            "--sandboxes",
            "2",
            "--cpus",
            "1",
            "--memory",
            "1G",
        ],
    );
    assert!(
        text.stdout
            .contains("2 sandboxes (claude) at once, each 1 CPU / 1 GiB; enforced:"),
        "{}",
        text.stdout
    );
}

#[test]
fn the_native_agent_refuses_sandbox_flags() {
    let p = project(1);
    let run = p.warden(
        &[("ANTHROPIC_API_KEY", REAL_ANTHROPIC_KEY)],
        &["process", "--agent", "native", "--sandboxes", "2"],
    );
    run.code(2);
    assert!(
        run.error_line().contains("--sandboxes") && run.error_line().contains("--concurrency"),
        "{}",
        run.stderr
    );
}
