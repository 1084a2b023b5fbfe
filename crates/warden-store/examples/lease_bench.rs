//! Lease contention on one PostgreSQL store: many workers claiming from one queue.
//!
//! `cargo run --release -p warden-store --example lease_bench -- [WORKERS] [FILES] [CONNECTIONS] [URL]`
//! (defaults: 1000 workers, 100000 files, two connections per core, a throwaway cluster
//! from warden-testkit). The workers are lightweight: each is a holder with its own run that
//! claims the best claimable file (`claim_next`, `FOR UPDATE SKIP LOCKED`), and completes
//! it, then claims again, until the queue is empty. They share CONNECTIONS database
//! sessions, as workers behind a transaction-mode pooler do; each session serves its
//! share of the workers in turn (a database with two cores serves a few sessions best;
//! more only queue inside PostgreSQL). Printed: claims per second (each one a whole
//! claim-and-complete cycle), claim latency percentiles
//! (one `claim_next` round trip, the transaction that takes the lease), and double
//! claims (a file claimed by two workers), which must be zero.

use std::collections::HashSet;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};
use warden_store::{MatchedFile, RunKind, ScanRecord, ScannedFile, Store, StoreLocation};

const PROJECT: &str = "bench";
const LEASE: Duration = Duration::from_secs(600);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| -> usize {
        args.get(i)
            .map(|a| {
                a.parse()
                    .unwrap_or_else(|_| panic!("argument {}: `{a}` is not a number", i + 1))
            })
            .unwrap_or(default)
    };
    let workers = number(0, 1000).max(1);
    let files = number(1, 100_000);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let connections = number(2, 2 * cores).clamp(1, workers);
    let url = args
        .get(3)
        .cloned()
        .unwrap_or_else(warden_testkit::pg::database_url);
    let location: StoreLocation = url.parse().expect("a postgres:// URL");

    let loaded = Instant::now();
    let mut store = Store::connect(&location).expect("connect");
    fill(&mut store, files);
    println!(
        "queue: {files} candidate files in one PostgreSQL store (loaded in {:.1}s)",
        loaded.elapsed().as_secs_f64()
    );

    // Each connection serves workers i, i + connections, i + 2 * connections, ...
    let barrier = Arc::new(Barrier::new(connections + 1));
    let claimed = Arc::new(Mutex::new(Vec::with_capacity(files)));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(files)));
    let sessions: Vec<_> = (0..connections)
        .map(|c| {
            let (location, barrier) = (location.clone(), Arc::clone(&barrier));
            let (claimed, latencies) = (Arc::clone(&claimed), Arc::clone(&latencies));
            std::thread::spawn(move || {
                let mut store = Store::connect(&location).expect("connect");
                let mine: Vec<(String, i64)> = (c..workers)
                    .step_by(connections)
                    .map(|w| {
                        let holder = format!("worker-{w}");
                        let run = store
                            .begin_run(PROJECT, RunKind::Process, &holder)
                            .expect("run");
                        (holder, run)
                    })
                    .collect();
                barrier.wait();
                let (mut got, mut times) = (Vec::new(), Vec::new());
                let mut idle = 0;
                // Round-robin over this session's workers until none finds work.
                'outer: loop {
                    for (holder, run) in &mine {
                        let started = Instant::now();
                        let file = store
                            .claim_next(PROJECT, holder, *run, LEASE)
                            .expect("claim");
                        times.push(started.elapsed());
                        let Some(file) = file else {
                            idle += 1;
                            if idle >= mine.len() {
                                break 'outer;
                            }
                            continue;
                        };
                        idle = 0;
                        store
                            .complete_file(PROJECT, &file.path, holder, &[])
                            .expect("complete");
                        got.push(file.path);
                    }
                }
                claimed.lock().unwrap().extend(got);
                latencies.lock().unwrap().extend(times);
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    for s in sessions {
        s.join().expect("session thread");
    }
    let wall = started.elapsed();

    let claimed = claimed.lock().unwrap();
    let unique: HashSet<&String> = claimed.iter().collect();
    let mut times = latencies.lock().unwrap().clone();
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let rate = claimed.len() as f64 / wall.as_secs_f64();
    println!("workers: {workers} (over {connections} connections)");
    println!(
        "claims: {} in {:.2}s = {rate:.0} claims/s (target >= 2000)",
        claimed.len(),
        wall.as_secs_f64()
    );
    println!(
        "claim latency: p50 {:.2} ms, p99 {:.2} ms (target <= 50), max {:.2} ms",
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(*times.last().unwrap_or(&Duration::ZERO))
    );
    println!(
        "double claims: {} (must be 0); files never claimed: {}",
        claimed.len() - unique.len(),
        files - unique.len()
    );
    let status = store.status(PROJECT).expect("status");
    assert_eq!(status.analyzed as usize, files, "every file analyzed once");
    assert_eq!(claimed.len(), unique.len(), "a file was claimed twice");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A scanned project of `n` candidates with a spread of scores.
fn fill(store: &mut Store, n: usize) {
    store.ensure_project(PROJECT, "/bench").expect("project");
    let run = store
        .begin_run(PROJECT, RunKind::Scan, "bench")
        .expect("scan run");
    let files = (0..n)
        .map(|i| ScannedFile {
            path: format!("src/m{:03}/f{i:06}.py", i % 500),
            language: Some("python".to_string()),
            size: 100,
            mtime_ns: 1,
            hash: format!("{i:064x}"),
            matched: Some(MatchedFile {
                score: 3.0 + (i % 97) as f64 / 10.0,
                hits: Vec::new(),
            }),
        })
        .collect();
    let record = ScanRecord {
        files,
        limit: None,
        min_score: 1.0,
        unvisited: Vec::new(),
    };
    store
        .record_scan(PROJECT, run, "bench", &record)
        .expect("record the scan");
}
