//! Which host directories a `directory` source may copy into a sandbox.
//!
//! A directory source copies host files the server can read, so it is a privilege:
//! with `--source-root DIR` (repeatable) only directories that resolve (symlinks and
//! `..` followed, by `canonicalize`) inside one of those roots are copied; without any,
//! only a server with a single tenant (the local, single-user case) copies directories
//! at all. Never the server's own state (the sandbox directory with every tenant's
//! sandboxes and the generated token, the tokens file), inside a root or not.

use crate::problem::ApiError;
use std::path::{Path, PathBuf};

/// A `--source-root` that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("--source-root {path}: {message}")]
pub struct SourceRootError {
    pub path: PathBuf,
    pub message: String,
}

/// The rule for directory sources, fixed at start.
#[derive(Debug, Clone)]
pub struct SourcePolicy {
    /// Canonical roots; empty: none given.
    roots: Vec<PathBuf>,
    /// Canonical paths of the server's own state.
    private: Vec<PathBuf>,
    /// The server has exactly one tenant.
    single_tenant: bool,
}

impl SourcePolicy {
    /// Resolves the roots (each must be a directory) and the server's private paths.
    pub fn new(
        roots: &[PathBuf],
        private: &[PathBuf],
        single_tenant: bool,
    ) -> Result<SourcePolicy, SourceRootError> {
        let roots = roots
            .iter()
            .map(|root| {
                let bad = |message: String| SourceRootError {
                    path: root.clone(),
                    message,
                };
                let dir = std::fs::canonicalize(root).map_err(|e| bad(e.to_string()))?;
                if !dir.is_dir() {
                    return Err(bad("not a directory".into()));
                }
                Ok(dir)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let private = private
            .iter()
            .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
            .collect();
        Ok(SourcePolicy {
            roots,
            private,
            single_tenant,
        })
    }

    /// The host directory a `directory` source names, resolved, when this server lets a
    /// tenant copy it. Blocking (it reads the file system).
    pub fn resolve(&self, path: &str) -> Result<PathBuf, ApiError> {
        if self.roots.is_empty() && !self.single_tenant {
            return Err(ApiError::Forbidden(format!(
                "source.path {path:?}: this server has several tenants and no --source-root, \
                 so it copies no host directory; start it with --source-root DIR to allow \
                 the directories under DIR, or use a git or snapshot source"
            )));
        }
        let resolved = std::fs::canonicalize(path).ok();
        if !self.roots.is_empty() {
            // One answer whether the path exists or not: no probing of the host's files.
            if !resolved.as_deref().is_some_and(|dir| self.in_roots(dir)) {
                return Err(ApiError::Forbidden(format!(
                    "source.path {path:?}: not a directory under a --source-root of this server"
                )));
            }
        }
        let dir = resolved
            .filter(|d| d.is_dir())
            .ok_or_else(|| ApiError::Invalid(format!("source.path {path:?}: not a directory")))?;
        if self
            .private
            .iter()
            .any(|p| p.starts_with(&dir) || dir.starts_with(p))
        {
            return Err(ApiError::Invalid(format!(
                "source.path {path:?}: it holds or is inside the server's own state"
            )));
        }
        Ok(dir)
    }

    fn in_roots(&self, dir: &Path) -> bool {
        self.roots.iter().any(|root| dir.starts_with(root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_hold_sources_and_a_symlink_out_of_a_root_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, outside, state) = (
            tmp.path().join("root"),
            tmp.path().join("outside"),
            tmp.path().join("root/state"),
        );
        for d in [&root.join("ok"), &outside, &state] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let policy = SourcePolicy::new(
            std::slice::from_ref(&root),
            std::slice::from_ref(&state),
            false,
        )
        .unwrap();
        let status = |p: &Path| match policy.resolve(p.to_str().unwrap()) {
            Ok(_) => 200,
            Err(e) => e.status().as_u16(),
        };
        assert_eq!(status(&root.join("ok")), 200);
        assert_eq!(status(&root.join("ok/../ok")), 200);
        assert_eq!(status(&root.join("link")), 403);
        assert_eq!(status(&root.join("../outside")), 403);
        assert_eq!(status(&outside), 403);
        // Missing inside or out: the same answer as outside.
        assert_eq!(status(&root.join("missing")), 403);
        assert_eq!(status(&outside.join("missing")), 403);
        assert_eq!(status(&state), 400);
        assert_eq!(status(&root), 400, "it holds the server's state");
    }

    #[test]
    fn without_roots_only_a_single_tenant_server_copies_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_str().unwrap();
        let shared = SourcePolicy::new(&[], &[], false).unwrap();
        let err = shared.resolve(dir).unwrap_err();
        assert_eq!(err.status().as_u16(), 403);
        assert!(err.to_string().contains("--source-root"), "{err}");
        let single = SourcePolicy::new(&[], &[], true).unwrap();
        assert!(single.resolve(dir).is_ok());
        assert_eq!(
            single
                .resolve("/no/such/dir")
                .unwrap_err()
                .status()
                .as_u16(),
            400
        );
        let missing = SourcePolicy::new(&[tmp.path().join("nope")], &[], true).unwrap_err();
        assert!(
            missing.to_string().starts_with("--source-root "),
            "{missing}"
        );
    }
}
