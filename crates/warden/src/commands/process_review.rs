//! Change review for `warden process --diff REF | --staged | --files F... | --files-from FILE`:
//! resolving the file set, scanning exactly those files, telling which findings are new,
//! and the pull-request comment.
//!
//! `--diff REF` reviews `git diff --name-only --diff-filter=ACMR --relative REF...HEAD`: what
//! this branch changed since it left REF (the merge base), as a pull request shows it;
//! deleted files are left out. `--staged` reviews `git diff --cached` likewise. Git runs in
//! the project root, so paths are relative to it and files outside it are not listed.
//!
//! A ref is never taken for an option: one that starts with `-` is refused, and git is
//! told where its options end (`--end-of-options REF...HEAD --`). Paths from `--files`
//! and `--files-from` are never given to git; a file whose name starts with `-` is
//! just a file.

use crate::cli::ProcessArgs;
use crate::exit::UsageError;
use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use warden_scan::{NoProgress, ScannerBuilder};
use warden_store::{Finding, FindingFilter, ScannedFile, Store, StoreError};

/// The files named by the change-set flags, relative to `root` and `/`-separated;
/// `None` when no change-set flag was given (the usual queue).
pub fn change_set(root: &Path, args: &ProcessArgs) -> anyhow::Result<Option<Vec<String>>> {
    let (flag, named): (String, Vec<PathBuf>) = if let Some(reference) = &args.diff {
        check_ref(reference)?;
        let flag = format!("--diff {reference}");
        in_repository(root, &flag)?;
        let range = format!("{reference}...HEAD");
        let out = git(
            root,
            &flag,
            &[
                "diff",
                "--name-only",
                "--diff-filter=ACMR",
                "--relative",
                "--end-of-options",
                &range,
                "--",
            ],
        )?;
        (flag, out)
    } else if args.staged {
        let flag = "--staged".to_string();
        in_repository(root, &flag)?;
        let out = git(
            root,
            &flag,
            &[
                "diff",
                "--name-only",
                "--diff-filter=ACMR",
                "--relative",
                "--cached",
            ],
        )?;
        (flag, out)
    } else if !args.files.is_empty() {
        ("--files".to_string(), args.files.clone())
    } else if let Some(list) = &args.files_from {
        // A list is read only from stdin or a regular file: a FIFO or device named here
        // would block or never end. Paths are bytes, so the list is too.
        let bytes = if list.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                .map_err(|e| UsageError(format!("--files-from -: {e}")))?;
            buf
        } else {
            warden_creds::read_regular_file(list, 64 << 20)
                .map_err(|e| UsageError(format!("--files-from: {e}")))?
                .ok_or_else(|| {
                    UsageError(format!("--files-from {}: no such file", list.display()))
                })?
        };
        let files = bytes
            .split(|&b| b == b'\n')
            .map(|l| l.trim_ascii())
            .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
            .map(|l| PathBuf::from(std::ffi::OsStr::from_bytes(l)))
            .collect();
        (format!("--files-from {}", list.display()), files)
    } else {
        return Ok(None);
    };
    let mut out = BTreeSet::new();
    for path in &named {
        out.insert(relative(root, &flag, path)?);
    }
    Ok(Some(out.into_iter().collect()))
}

/// Refuses what git would read as something other than a revision: an option
/// (`--output=FILE` makes `git diff` write a file), nothing at all, or characters
/// no ref name may hold.
fn check_ref(reference: &str) -> Result<(), UsageError> {
    let why = if reference.trim().is_empty() {
        "must name a commit, branch or tag"
    } else if reference.starts_with('-') {
        "a ref cannot start with `-` (it would be read as an option)"
    } else if reference
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        "a ref cannot hold spaces or control characters"
    } else {
        return Ok(());
    };
    Err(UsageError(format!(
        "--diff {}: {why}",
        reference.escape_debug()
    )))
}

/// Outside a repository `git diff` compares files instead (`--no-index`): make sure
/// there is one, so that case gets its own clear error.
fn in_repository(root: &Path, flag: &str) -> anyhow::Result<()> {
    git(root, flag, &["rev-parse", "--git-dir"]).map(drop)
}

/// Runs git in `root` and returns the paths it lists, one a line.
fn git(root: &Path, flag: &str, args: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let out = Command::new("git")
        .args(["-c", "core.quotePath=false"])
        .args(args)
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| UsageError(format!("{flag}: cannot run git: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no message");
        let hint = if stderr.to_ascii_lowercase().contains("not a git repository") {
            format!("{} is not in a git repository", root.display())
        } else {
            "git diff failed".to_string()
        };
        return Err(UsageError(format!("{flag}: {hint} (git: {first})")).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect())
}

/// `path` (relative to `root`, or absolute) as a root-relative `/`-separated path of an existing file.
fn relative(root: &Path, flag: &str, path: &Path) -> anyhow::Result<String> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    };
    let real = std::fs::canonicalize(&joined)
        .map_err(|e| UsageError(format!("{flag}: {}: {e}", path.display())))?;
    let rel = real.strip_prefix(root).map_err(|_| {
        UsageError(format!(
            "{flag}: {} is outside the project root {}",
            path.display(),
            root.display()
        ))
    })?;
    if !real.is_file() {
        return Err(UsageError(format!("{flag}: {} is not a file", path.display())).into());
    }
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/"))
}

/// Scans exactly `paths` under `root` with the built-in rules and the project's `tech`
/// (so framework rules fire as in a full scan). Returns the scanned files and the paths
/// the scan skipped (binary, generated, minified, too large).
pub fn scan_files(
    root: &Path,
    paths: &[String],
    tech: &[String],
) -> anyhow::Result<(Vec<ScannedFile>, Vec<String>)> {
    let scanner = ScannerBuilder::new().build()?;
    let files = scanner.scan_paths(root, paths, tech, &NoProgress)?.files;
    let scanned: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let skipped = paths
        .iter()
        .filter(|p| !scanned.contains(p.as_str()))
        .cloned()
        .collect();
    Ok((files, skipped))
}

/// The ids of every finding of the project, whatever its verdict or disposition.
pub fn finding_ids(store: &Store, project: &str) -> Result<HashSet<String>, StoreError> {
    Ok(all_findings(store, project)?
        .into_iter()
        .map(|f| f.id)
        .collect())
}

fn all_findings(store: &Store, project: &str) -> Result<Vec<Finding>, StoreError> {
    store.findings(
        project,
        &FindingFilter {
            include_false_positives: true,
            include_dispositioned: true,
            ..FindingFilter::default()
        },
    )
}

/// Findings in the reviewed files that the store did not hold before this run.
pub fn new_findings(
    store: &Store,
    project: &str,
    before: &HashSet<String>,
    reviewed: &[String],
) -> Result<Vec<Finding>, StoreError> {
    let reviewed: HashSet<&str> = reviewed.iter().map(String::as_str).collect();
    Ok(all_findings(store, project)?
        .into_iter()
        .filter(|f| !before.contains(&f.id) && reviewed.contains(f.reported.path.as_str()))
        .collect())
}

/// The Markdown pull-request comment: the new findings, most severe first.
pub fn comment(reviewed: usize, new: &[Finding], stopped: Option<&str>) -> String {
    let mut out = String::from("## Warden security review\n\n");
    let files = if reviewed == 1 { "file" } else { "files" };
    if new.is_empty() {
        let _ = writeln!(out, "No new findings in {reviewed} changed {files}.");
    } else {
        let findings = if new.len() == 1 {
            "finding"
        } else {
            "findings"
        };
        let _ = writeln!(
            out,
            "{} new {findings} in {reviewed} changed {files}.",
            new.len()
        );
        for f in new {
            let r = &f.reported;
            let lines = if r.end_line > r.start_line {
                format!("{}-{}", r.start_line, r.end_line)
            } else {
                r.start_line.to_string()
            };
            let cwe = r
                .cwe
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            let _ = write!(
                out,
                "\n### {} {}{cwe}\n\n`{}:{lines}` · id `{}`\n\n{}\n\n**Recommendation:** {}\n",
                f.effective_severity().as_str().to_uppercase(),
                one_line(&r.title),
                r.path,
                f.id,
                one_line(&r.description),
                one_line(&r.recommendation),
            );
        }
    }
    if let Some(reason) = stopped {
        let _ = write!(
            out,
            "\n> The review stopped before it was complete: {}\n",
            one_line(reason)
        );
    }
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
