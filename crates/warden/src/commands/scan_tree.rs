//! What a scan records so that workers on other machines can rebuild its tree: the git
//! commit and origin when the root is a checkout, and with `--upload-tree` every
//! scanned file's bytes, stored once per content hash.

use crate::exit::UsageError;
use std::path::Path;
use std::process::{Command, Stdio};
use warden_store::{Store, TreeInfo};

/// Files per store transaction when uploading.
const CHUNK: usize = 128;

/// Records the tree's commit and origin (if `root` is a git checkout), then uploads the
/// blobs if asked; returns how many blobs were stored new.
pub fn record(
    store: &mut Store,
    project: &str,
    root: &Path,
    upload: Option<u64>,
) -> anyhow::Result<usize> {
    let info = TreeInfo {
        commit: git(root, &["rev-parse", "--verify", "HEAD"]),
        origin: git(root, &["remote", "get-url", "origin"]),
    };
    store.set_tree(project, &info)?;
    match upload {
        Some(max) => upload_blobs(store, project, root, max),
        None => Ok(0),
    }
}

/// `git -C root ARGS`' output, or `None` (not a checkout, no such remote, no git).
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn upload_blobs(store: &mut Store, project: &str, root: &Path, max: u64) -> anyhow::Result<usize> {
    let files = store.known_files(project)?;
    let total: u64 = files.values().map(|k| k.size).sum();
    if total > max {
        return Err(UsageError(format!(
            "--upload-tree: the scanned files weigh {total} bytes, more than --upload-max {max}; raise --upload-max, or let workers use --root or --git"
        ))
        .into());
    }
    let mut listing: Vec<(&String, &String)> = files.iter().map(|(p, k)| (p, &k.hash)).collect();
    listing.sort();
    let mut stored = 0;
    let mut seen = std::collections::HashSet::new();
    for chunk in listing.chunks(CHUNK) {
        let hashes: Vec<&str> = chunk.iter().map(|(_, h)| h.as_str()).collect();
        let missing = store.missing_blobs(project, &hashes)?;
        let mut blobs = Vec::new();
        for (path, hash) in chunk {
            if !missing.contains(hash.as_str()) || !seen.insert(hash.as_str()) {
                continue;
            }
            let bytes = match std::fs::read(root.join(path.as_str())) {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::warn!("--upload-tree: {path}: {e}; not uploaded");
                    continue;
                }
            };
            // Changed since the walk read it: the store keeps only the scanned bytes.
            if blake3::hash(&bytes).to_hex().as_str() != hash.as_str() {
                tracing::warn!("--upload-tree: {path} changed during the scan; not uploaded");
                continue;
            }
            blobs.push((hash.to_string(), bytes));
        }
        stored += blobs.len();
        store.put_blobs(project, &blobs)?;
    }
    Ok(stored)
}
