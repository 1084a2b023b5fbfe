//! `bench/agents`' second figure: the CPU the pipeline itself spends per investigation
//! (claiming under a lease, renewing, settling the finding, its spend and the session in
//! the store), with an agent that answers at once, so nothing but orchestration runs.
//!
//! `orchestration_bench [FILES]` (default 400).

use futures_util::future::BoxFuture;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use warden_agent::{
    Agent, AgentSession, Failed, FileTask, FindingTask, Investigation, Outcome, Revalidation,
};
use warden_llm::CancellationToken;
use warden_pipeline::{Silent, Work};
use warden_store::*;

/// Reports one finding and one priced call per file, at once.
struct Instant;

impl Agent for Instant {
    fn name(&self) -> &str {
        "instant"
    }

    fn investigate<'a>(
        &'a self,
        batch: &'a [FileTask],
        _cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Investigation, Failed>> {
        let path = batch[0].path.clone();
        Box::pin(async move {
            Ok(Investigation {
                findings: vec![NewFinding {
                    run_id: None,
                    path: path.clone(),
                    start_line: 1,
                    end_line: 1,
                    title: format!("Injection in {path}"),
                    severity: Severity::High,
                    confidence: Confidence::High,
                    cwe: Some("CWE-78".into()),
                    category: None,
                    rule_id: None,
                    description: "d".into(),
                    attack_path: "a".into(),
                    recommendation: "r".into(),
                    patch: None,
                    cost_usd: Some(0.01),
                }],
                rejected: Vec::new(),
                calls: vec![LlmCall {
                    run_id: None,
                    path: Some(path),
                    finding_id: None,
                    provider: "anthropic".into(),
                    model: "claude-sonnet-4-5".into(),
                    input_tokens: 1000,
                    output_tokens: 100,
                    cache_write_tokens: 0,
                    cache_read_tokens: 0,
                    cost_usd: Some(0.01),
                }],
                outcome: Outcome::Complete,
                session: Some(AgentSession {
                    agent: "instant".into(),
                    session_id: Some("s".into()),
                    turns: 1,
                    output_tail: None,
                }),
            })
        })
    }

    fn revalidate<'a>(
        &'a self,
        _task: &'a FindingTask,
        _cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Revalidation, Failed>> {
        unreachable!("not benchmarked")
    }
}

fn cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(400);
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(&dir.path().join(".warden"))?;
    store.ensure_project("p", &dir.path().to_string_lossy())?;
    let scan = store.begin_run("p", RunKind::Scan, "pid 1 on bench")?;
    let scanned = (0..files)
        .map(|i| ScannedFile {
            path: format!("src/f{i}.py"),
            language: Some("python".into()),
            size: 10,
            mtime_ns: 1,
            hash: format!("h{i}"),
            matched: Some(MatchedFile {
                score: 5.0,
                hits: vec![Hit {
                    rule_id: "python.os-system".into(),
                    line: 1,
                    snippet: "os.system(x)".into(),
                }],
            }),
        })
        .collect();
    store.record_scan(
        "p",
        scan,
        "rules",
        &ScanRecord {
            files: scanned,
            limit: None,
            min_score: 1.0,
            unvisited: Vec::new(),
        },
    )?;
    let holder = default_holder();
    let run = store.begin_run("p", RunKind::Process, &holder)?;
    let queue = store.pending_queue("p", None)?;
    let mut work = Work::new("p", dir.path().to_path_buf(), &holder, run);
    work.concurrency = 4;
    let store = Arc::new(Mutex::new(store));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let before = cpu();
    let started = std::time::Instant::now();
    let summary = rt.block_on(warden_pipeline::process(
        store,
        Arc::new(Instant),
        work,
        warden_pipeline::Queue::Listed(queue),
        &Silent,
        CancellationToken::new(),
    ))?;
    let spent = cpu() - before;
    println!(
        "pipeline orchestration per investigation: {:.3} ms CPU, {:.3} ms wall ({} files, {} findings; target ≤ 2 ms CPU)",
        spent.as_secs_f64() * 1000.0 / files as f64,
        started.elapsed().as_secs_f64() * 1000.0 / files as f64,
        summary.investigated,
        summary.findings.len()
    );
    Ok(())
}
