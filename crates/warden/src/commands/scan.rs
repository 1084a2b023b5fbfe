//! `warden scan`: walk, match, score, record candidates, summarise.

use super::scan_summary::Summary;
use crate::cli::{GlobalArgs, ScanArgs, ScanFormat};
use crate::locate;
use crate::progress::ScanBar;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use warden_scan::{Prior, ScanError, Scanner, ScannerBuilder};
use warden_store::{LockOutcome, RunKind, RunStatus, ScanRecord, Store, StoreError};

/// A scan holds the project's `scan` lock this long; a crashed scan's lock expires after it.
const SCAN_LOCK_TTL: Duration = Duration::from_secs(30 * 60);
const SCAN_LOCK: &str = "scan";

pub fn run(global: &GlobalArgs, args: &ScanArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    tracing::info!("scan starting");
    return_large_buffers_to_the_system();
    let format = if args.json {
        ScanFormat::Json
    } else {
        args.format
    };
    let root = canonical_root(&args.path)?;
    // Before the store is created: a root that cannot be walked is refused untouched.
    warden_scan::check_root(&root)?;
    let data_dir = locate::data_dir_for_scan(global, &root)?;
    let project = global
        .project_id
        .clone()
        .unwrap_or_else(|| locate::default_project_id(&root));

    let include_tests = args.include_tests
        || crate::project_config::load(&data_dir)?
            .scan
            .include_tests
            .unwrap_or(false);
    let mut builder = ScannerBuilder::new()
        .max_file_size(args.max_file_size)
        .threads(args.threads)
        .include_tests(include_tests);
    if let Some(rules) = &args.rules {
        builder = builder.rules(rules.clone());
    }
    let mut scanner = builder.build()?;

    let mut store = locate::open_for_scan(global, &data_dir)?;
    tracing::info!(store = %store.location(), "store open");
    // Only now does the data dir surely exist, so it can be resolved like the walked paths.
    scanner.exclude_dir(absolute(&data_dir));
    // Our own output (`-o warden.json` inside the root) is not part of the tree: it quotes
    // matched lines, so scanning it would make it a candidate. The file may not exist yet,
    // so resolve its directory. (Takes effect once the walk applies exclusions to files too.)
    if let Some(out) = &args.output {
        let dir = out.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(name) = out.file_name() {
            scanner.exclude_dir(absolute(dir.unwrap_or(Path::new("."))).join(name));
        }
    }
    // The lock needs the project to exist; a refused scan must not change anything
    // else, so a known project's root (which may have moved) is updated only once
    // the lock is ours.
    let root_text = root.to_string_lossy();
    if store.project(&project)?.is_none() {
        store.ensure_project(&project, &root_text)?;
    }
    let holder = warden_store::default_holder();
    take_scan_lock(&mut store, &project, &holder, args.wait)?;
    if let Err(err) = store.ensure_project(&project, &root_text) {
        let _ = store.release_lock(&project, SCAN_LOCK, &holder);
        return Err(err.into());
    }
    let result = scan_locked(
        &mut store,
        &scanner,
        &project,
        &root,
        &holder,
        args,
        global.quiet,
    );
    // The lock goes whatever happened; a failure to release only delays the next scan.
    if let Err(err) = store.release_lock(&project, SCAN_LOCK, &holder) {
        tracing::warn!("releasing the scan lock: {err}");
    }
    let (outcome, delta) = result?;
    let uploaded = super::scan_tree::record(
        &mut store,
        &project,
        &root,
        args.upload_tree.then_some(args.upload_max),
    )?;
    if uploaded > 0 {
        tracing::info!(uploaded, "stored the tree's new blobs");
    }
    if format == ScanFormat::Text && global.quiet && args.output.is_none() {
        return Ok(0);
    }

    let mut candidates = store.candidates(&project, None)?;
    if args.show_secrets {
        unredact(&root, &mut candidates);
    }
    tracing::info!(candidates = candidates.len(), "listed candidates");
    let summary = Summary::new(
        &scanner,
        &project,
        &root,
        store.path(),
        &outcome,
        &delta,
        &candidates,
        include_tests,
        started.elapsed(),
    );
    let text = match format {
        ScanFormat::Text => summary.text(args.top),
        ScanFormat::Json => serde_json::to_string_pretty(&summary.json())?,
        ScanFormat::Sarif => {
            let root_str = root.to_string_lossy();
            let generated_at = super::now_rfc3339();
            let ctx = warden_report::ReportContext {
                tool_version: env!("CARGO_PKG_VERSION"),
                project_id: &project,
                root: &root_str,
                generated_at: &generated_at,
            };
            let sarif = warden_report::render_candidates_sarif(
                &ctx,
                &candidates,
                &super::rule_infos(&scanner),
            );
            serde_json::to_string_pretty(&sarif)?
        }
    };
    super::emit(args.output.as_deref(), &text)?;
    Ok(0)
}

fn scan_locked(
    store: &mut Store,
    scanner: &Scanner,
    project: &str,
    root: &Path,
    holder: &str,
    args: &ScanArgs,
    quiet: bool,
) -> anyhow::Result<(warden_scan::ScanOutcome, warden_store::ScanDelta)> {
    let run = store.begin_run(project, RunKind::Scan, holder)?;
    match scan_and_record(store, scanner, project, root, run, args, quiet) {
        Ok((outcome, delta)) => {
            let stats = serde_json::json!({ "scan": &outcome.stats, "delta": &delta });
            store.finish_run(run, RunStatus::Done, &stats)?;
            Ok((outcome, delta))
        }
        Err(err) => {
            // Best effort: the run must not stay `running`; the original error matters more.
            let stats = serde_json::json!({ "error": crate::exit::one_line(&err) });
            if let Err(finish) = store.finish_run(run, RunStatus::Failed, &stats) {
                tracing::warn!("marking scan run {run} failed: {finish}");
            }
            Err(err)
        }
    }
}

fn scan_and_record(
    store: &mut Store,
    scanner: &Scanner,
    project: &str,
    root: &Path,
    run: i64,
    args: &ScanArgs,
    quiet: bool,
) -> anyhow::Result<(warden_scan::ScanOutcome, warden_store::ScanDelta)> {
    let prior = Prior {
        files: store.known_files(project)?,
        fingerprint: store.scan_fingerprint(project)?,
    };
    tracing::info!(
        known = prior.files.len(),
        "loaded the store's view of the tree"
    );
    let bar = ScanBar::new(quiet);
    let scanned = scanner.scan(root, &prior, &bar);
    bar.finish();
    let mut outcome = scanned?;
    store.set_tech(project, &outcome.tech)?;
    let record = ScanRecord {
        // The summary needs only the stats; the per-file results go to the store.
        files: std::mem::take(&mut outcome.files),
        limit: args.limit,
        min_score: args.min_score,
        unvisited: outcome.stats.unvisited.clone(),
    };
    tracing::info!(files = record.files.len(), "scanned; recording");
    let mut delta = store.record_scan(project, run, &outcome.fingerprint, &record)?;
    let surface = super::scan_surface::mark(store, scanner, project, root, args.coverage)?;
    delta.surface = surface.surface;
    delta.coverage_candidates = surface.coverage_candidates;
    store.check_in_place()?;
    tracing::info!("recorded");
    Ok((outcome, delta))
}

/// Takes the project's scan lock, taking over one left by a dead process on this host.
fn take_scan_lock(
    store: &mut Store,
    project: &str,
    holder: &str,
    wait: bool,
) -> anyhow::Result<()> {
    let mut announced = false;
    loop {
        match store.try_lock(project, SCAN_LOCK, holder, SCAN_LOCK_TTL)? {
            LockOutcome::Acquired(_) => return Ok(()),
            LockOutcome::Held(info) if locate::holder_is_dead(&info.holder) => {
                tracing::info!(
                    "taking over the scan lock of {}, which no longer runs",
                    info.holder
                );
                store.release_lock(project, SCAN_LOCK, &info.holder)?;
            }
            LockOutcome::Held(info) if wait => {
                if !announced {
                    eprintln!(
                        "warden: waiting for the scan held by {} (since {})",
                        info.holder, info.since
                    );
                    announced = true;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            LockOutcome::Held(info) => {
                return Err(StoreError::Locked {
                    store: store.location().clone(),
                    name: SCAN_LOCK.to_string(),
                    holder: info.holder,
                    since: info.since,
                    until: info.until,
                })
                .context(format!(
                    "another scan of project `{project}` is running; wait for it or re-run with --wait"
                ));
            }
        }
    }
}

fn canonical_root(path: &Path) -> anyhow::Result<PathBuf> {
    let root = std::fs::canonicalize(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ScanError::NoSuchRoot {
                path: path.to_path_buf(),
            }
        } else {
            ScanError::Root {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    if !root.is_dir() {
        return Err(ScanError::NotADirectory {
            path: path.to_path_buf(),
        }
        .into());
    }
    Ok(root)
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    })
}

/// `--show-secrets`: the store keeps matched lines redacted, so the lines that were are
/// read again from the files (a file that changed since shows what it holds now).
fn unredact(root: &Path, candidates: &mut [warden_store::CandidateFile]) {
    use warden_store::redact::REDACTED_MARK;
    for candidate in candidates {
        if !candidate
            .hits
            .iter()
            .any(|h| h.snippet.contains(REDACTED_MARK))
        {
            continue;
        }
        let Ok(content) = std::fs::read(root.join(&candidate.path)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&content);
        let lines: Vec<&str> = text.lines().collect();
        for hit in &mut candidate.hits {
            let line = usize::try_from(hit.line)
                .ok()
                .and_then(|n| n.checked_sub(1));
            if let Some(line) = line.and_then(|n| lines.get(n)) {
                if hit.snippet.contains(REDACTED_MARK) {
                    hit.snippet = warden_scan::snippet(line);
                }
            }
        }
    }
}

/// A scan reads files of up to a MiB and parses them into trees of several MB, one
/// after another on each worker thread. glibc serves a freed large buffer's successors
/// from the thread's heap once it has raised its mmap threshold (up to 32 MiB), and
/// those heaps stay fragmented at their peak. Fixing the thresholds keeps buffers over
/// 64 KiB in their own mappings, returned on free: ragflow's peak RSS 81 -> 76 MB at
/// the same speed. (Capping the number of arenas instead made scans 25-60% slower.)
fn return_large_buffers_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before the scan's threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}
