//! The tree a worker investigates, as the scan recorded it: every file by content
//! hash. A worker on another machine rebuilds it from a directory it already has (a
//! shared path, a checkout), a git clone at the recorded commit, or the file blobs the
//! scan stored; whatever the source, a file is investigated only if its bytes hash to
//! what the scan recorded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use warden_store::{Store, StoreError};

/// Where a worker gets its copy of the scanned tree.
#[derive(Debug, Clone)]
pub enum TreeSource {
    /// A directory that holds the tree already (the scanned root, a shared mount, a
    /// checkout of the same commit).
    Dir(PathBuf),
    /// A git repository, cloned under `cache` and checked out at the recorded commit.
    Git { url: String, cache: PathBuf },
    /// The blobs stored by `scan --upload-tree`, written out under `cache`.
    Blobs { cache: PathBuf },
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the scan of {project} recorded no git commit (scan a git checkout, or give --root or use --upload-tree)")]
    NoCommit { project: String },
    #[error("the scan of {project} stored no file blobs (scan with --upload-tree, or give --root or --git)")]
    NoBlobs { project: String },
    #[error("the store has no blob for {path} (hash {hash}); scan with --upload-tree again")]
    MissingBlob { path: String, hash: String },
    #[error("{what}: {detail}")]
    Git { what: String, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a directory")]
    NotADir { path: PathBuf },
    #[error("unsafe path in the store: {path:?}")]
    UnsafePath { path: String },
}

/// A local copy of a scanned tree and the hash the scan recorded for each file.
#[derive(Debug)]
pub struct Snapshot {
    root: PathBuf,
    hashes: HashMap<String, String>,
}

impl Snapshot {
    /// Finds or builds the tree of `project` from `source`.
    pub fn materialise(
        store: &Store,
        project: &str,
        source: &TreeSource,
    ) -> Result<Snapshot, SnapshotError> {
        let hashes: HashMap<String, String> = store
            .known_files(project)?
            .into_iter()
            .map(|(path, known)| (path, known.hash))
            .collect();
        let root = match source {
            TreeSource::Dir(dir) => {
                if !dir.is_dir() {
                    return Err(SnapshotError::NotADir { path: dir.clone() });
                }
                dir.clone()
            }
            TreeSource::Git { url, cache } => {
                let tree = store.tree_record(project)?;
                let commit =
                    tree.and_then(|t| t.commit)
                        .ok_or_else(|| SnapshotError::NoCommit {
                            project: project.to_string(),
                        })?;
                git_checkout(url, &commit, &cache.join(safe_name(project)))?
            }
            TreeSource::Blobs { cache } => {
                if store.tree_record(project)?.is_none_or(|t| t.blobs == 0) {
                    return Err(SnapshotError::NoBlobs {
                        project: project.to_string(),
                    });
                }
                write_blobs(store, project, &hashes, &cache.join(safe_name(project)))?
            }
        };
        Ok(Snapshot { root, hashes })
    }

    /// The directory the agents read.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Why `rel` must not be investigated here, if its bytes are not the scanned ones.
    pub fn verify(&self, rel: &str) -> Result<(), String> {
        self.verify_in(&self.root, rel)
    }

    /// [`Snapshot::verify`] of the copy of this tree at `dir` (the one the agents read).
    pub fn verify_in(&self, dir: &Path, rel: &str) -> Result<(), String> {
        let Some(want) = self.hashes.get(rel) else {
            return Err("not in the scanned tree".to_string());
        };
        match std::fs::read(dir.join(rel)) {
            Ok(bytes) => {
                let got = blake3::hash(&bytes).to_hex();
                if got.as_str() == want {
                    Ok(())
                } else {
                    Err(format!(
                        "its bytes here differ from the scanned snapshot (blake3 {} here, {} scanned); not investigated",
                        &got.as_str()[..12],
                        &want[..want.len().min(12)]
                    ))
                }
            }
            Err(e) => Err(format!("missing from this copy of the tree: {e}")),
        }
    }
}

/// A directory name for a project id (ids are already restricted, this keeps it so).
fn safe_name(project: &str) -> String {
    project
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect()
}

/// `<dir>/git-<commit>`, cloned from `url` and checked out at `commit` (reused when a
/// previous worker on this machine left it complete).
fn git_checkout(url: &str, commit: &str, dir: &Path) -> Result<PathBuf, SnapshotError> {
    let target = dir.join(format!("git-{commit}"));
    if target.join(".git").is_dir() && head_of(&target).as_deref() == Some(commit) {
        return Ok(target);
    }
    create_dir(dir)?;
    let staging = dir.join(format!(".git-{commit}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let staging_text = staging.to_string_lossy().into_owned();
    git(&[
        "clone",
        "--quiet",
        "--no-checkout",
        "--",
        url,
        &staging_text,
    ])
    .map_err(|detail| SnapshotError::Git {
        what: format!("cloning {url}"),
        detail,
    })?;
    git(&[
        "-C",
        &staging_text,
        "-c",
        "advice.detachedHead=false",
        "checkout",
        "--quiet",
        "--detach",
        commit,
    ])
    .map_err(|detail| SnapshotError::Git {
        what: format!("checking out {commit} of {url}"),
        detail,
    })?;
    rename_into_place(&staging, &target)?;
    Ok(target)
}

fn head_of(dir: &Path) -> Option<String> {
    let dir = dir.to_string_lossy();
    git(&["-C", &dir, "rev-parse", "HEAD"]).ok()
}

/// Runs git without a terminal prompt; its stdout, or its last stderr line as the error.
fn git(args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running git: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("git failed")
        .trim()
        .to_string())
}

/// `<dir>/blobs-<tree id>`: every recorded file written from its stored blob, each
/// checked against its hash; reused when complete.
fn write_blobs(
    store: &Store,
    project: &str,
    hashes: &HashMap<String, String>,
    dir: &Path,
) -> Result<PathBuf, SnapshotError> {
    let mut listing: Vec<(&String, &String)> = hashes.iter().collect();
    listing.sort();
    let mut id = blake3::Hasher::new();
    for (path, hash) in &listing {
        id.update(path.as_bytes());
        id.update(b"\0");
        id.update(hash.as_bytes());
        id.update(b"\n");
    }
    let target = dir.join(format!("blobs-{}", &id.finalize().to_hex().as_str()[..16]));
    if target.join(COMPLETE).is_file() {
        return Ok(target);
    }
    create_dir(dir)?;
    let staging = dir.join(format!(".blobs.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    create_dir(&staging)?;
    for chunk in listing.chunks(256) {
        let wanted: Vec<&str> = chunk.iter().map(|(_, h)| h.as_str()).collect();
        let blobs = store.blobs(project, &wanted)?;
        for (path, hash) in chunk {
            let bytes = blobs
                .get(hash.as_str())
                .filter(|b| blake3::hash(b).to_hex().as_str() == hash.as_str())
                .ok_or_else(|| SnapshotError::MissingBlob {
                    path: path.to_string(),
                    hash: hash.to_string(),
                })?;
            let rel = relative(path)?;
            let file = staging.join(rel);
            if let Some(parent) = file.parent() {
                create_dir(parent)?;
            }
            std::fs::write(&file, bytes).map_err(|source| SnapshotError::Io {
                path: file.clone(),
                source,
            })?;
        }
    }
    std::fs::write(staging.join(COMPLETE), b"").map_err(|source| SnapshotError::Io {
        path: staging.join(COMPLETE),
        source,
    })?;
    rename_into_place(&staging, &target)?;
    Ok(target)
}

/// Marks a blob tree written to the end.
const COMPLETE: &str = ".warden-tree-complete";

/// A stored path as a relative path that cannot leave the tree.
fn relative(path: &str) -> Result<&Path, SnapshotError> {
    let p = Path::new(path);
    let safe = !path.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if safe {
        Ok(p)
    } else {
        Err(SnapshotError::UnsafePath {
            path: path.to_string(),
        })
    }
}

fn create_dir(dir: &Path) -> Result<(), SnapshotError> {
    std::fs::create_dir_all(dir).map_err(|source| SnapshotError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// Moves a finished staging directory to `target`; if another worker on this machine
/// finished first, its copy is kept and ours removed.
fn rename_into_place(staging: &Path, target: &Path) -> Result<(), SnapshotError> {
    if std::fs::rename(staging, target).is_err() && target.is_dir() {
        let _ = std::fs::remove_dir_all(staging);
        return Ok(());
    }
    if target.is_dir() {
        Ok(())
    } else {
        Err(SnapshotError::NotADir {
            path: target.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_paths_that_could_leave_the_tree_are_refused() {
        assert!(relative("a/b.py").is_ok());
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "./a"] {
            assert!(relative(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn project_ids_become_one_directory_name() {
        assert_eq!(safe_name("app/../x y"), "app_.._x_y");
    }
}
