//! Host directories bound read-only into a sandbox, without copying anything.
//!
//! The agent adapter binds the agent image's installed CLIs (a snapshot's `home/.local`,
//! hundreds of megabytes of `node_modules`) at `/home/sandbox/.local` and a prepared copy
//! of the scanned tree at `/workspace`, for every investigation: a copy would cost
//! seconds, a bind costs a mount. The kernel makes them read-only (`EROFS` on any write,
//! whatever the file modes say), on top of Landlock.
//!
//! Where they may go is narrow: below `/workspace` or `/home/sandbox` (the sandbox's own
//! trees), or at or below `/opt/warden` (a place of ours on the otherwise host-provided
//! `/opt`). Never over the system directories, `/run/warden` (the sockets and CA the
//! sandbox depends on) or `/proc`.

use crate::error::{Result, SandboxError};
use crate::launch::{HOME, WORKSPACE};
use crate::spec::WorkspaceSource;
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

/// The one place of ours under `/opt`, where read-only binds may also go.
pub const OPT_WARDEN: &str = "/opt/warden";

/// A validated read-only bind, as the sandbox's record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOnlyBind {
    /// An absolute host directory.
    pub host: PathBuf,
    /// Where it appears inside the sandbox.
    pub inside: PathBuf,
}

/// Checks that `dir` is a directory itself, not a symlink to one (a link could be
/// swapped for another target between this check and the mount).
pub(crate) fn check_host_dir(dir: &Path, what: &str) -> Result<()> {
    let bad = |why: String| SandboxError::Invalid(format!("{what}: {}: {why}", dir.display()));
    match std::fs::symlink_metadata(dir) {
        // As root, the sandbox runs as SANDBOX_UID: a directory it cannot open would
        // be an empty-looking mount, which is worse than an error now.
        Ok(m) if m.is_dir() && crate::launch::as_root() => {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let mode = m.permissions().mode();
            let owner_ok = m.uid() == crate::launch::SANDBOX_UID && mode & 0o500 == 0o500;
            if owner_ok || mode & 0o005 == 0o005 {
                Ok(())
            } else {
                Err(bad(format!(
                    "the sandbox's user (uid {}) cannot read it: make it readable by others (chmod o+rx) or owned by that uid",
                    crate::launch::SANDBOX_UID
                )))
            }
        }
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) if m.file_type().is_symlink() => {
            Err(bad("a symlink; give the directory it points to".to_string()))
        }
        Ok(_) => Err(bad("not a directory".to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(bad("no such directory".to_string()))
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

/// `inside` as a clean absolute path (only normal components), or why not.
fn clean_inside(inside: &Path) -> std::result::Result<PathBuf, &'static str> {
    let mut parts = inside.components();
    if parts.next() != Some(Component::RootDir) {
        return Err("not an absolute path");
    }
    let mut clean = PathBuf::from("/");
    for part in parts {
        match part {
            Component::Normal(p) => clean.push(p),
            _ => return Err("'.' and '..' are not allowed"),
        }
    }
    Ok(clean)
}

/// Whether `inside` may be a bind target: strictly below /workspace or /home/sandbox,
/// or at or below /opt/warden.
fn allowed_place(inside: &Path) -> bool {
    let strictly_below = |root: &str| inside.starts_with(root) && inside != Path::new(root);
    strictly_below(WORKSPACE) || strictly_below(HOME) || inside.starts_with(OPT_WARDEN)
}

/// Checks `binds` as [`crate::SandboxSpec::read_only_binds`] states them and returns them
/// with absolute host paths and clean inside paths.
pub fn validate(
    binds: &[(PathBuf, PathBuf)],
    workspace: &WorkspaceSource,
) -> Result<Vec<ReadOnlyBind>> {
    let mut out: Vec<ReadOnlyBind> = Vec::with_capacity(binds.len());
    for (host, inside) in binds {
        let what = format!("read-only bind {}", inside.display());
        let bad = |why: &str| SandboxError::Invalid(format!("{what}: {why}"));
        let clean = clean_inside(inside).map_err(bad)?;
        if !allowed_place(&clean) {
            return Err(bad(
                "binds go below /workspace or /home/sandbox, or at or below /opt/warden",
            ));
        }
        check_host_dir(host, &what)?;
        let host = std::path::absolute(host)
            .map_err(|e| SandboxError::Invalid(format!("{what}: {}: {e}", host.display())))?;
        if let Some(other) = out
            .iter()
            .find(|b| b.inside.starts_with(&clean) || clean.starts_with(&b.inside))
        {
            return Err(bad(&format!(
                "overlaps the bind at {}; give each directory once, side by side",
                other.inside.display()
            )));
        }
        // A read-only workspace cannot get new directories: the mount point must exist.
        if let (WorkspaceSource::BindReadOnly(dir), Ok(rel)) =
            (workspace, clean.strip_prefix(WORKSPACE))
        {
            let point = dir.join(rel);
            if !std::fs::symlink_metadata(&point).is_ok_and(|m| m.is_dir()) {
                return Err(bad(&format!(
                    "the workspace is bound read-only, so {} must already be a directory in it",
                    point.display()
                )));
            }
        }
        out.push(ReadOnlyBind {
            host,
            inside: clean,
        });
    }
    Ok(out)
}

/// The host directory and the path below it that serve `inside` (already clean and
/// relative to `/`), when a read-only bind or a bound workspace covers it.
pub(crate) fn host_for<'a>(
    binds: &'a [ReadOnlyBind],
    workspace_bind: Option<&'a Path>,
    inside: &Path,
) -> Option<(&'a Path, PathBuf)> {
    for b in binds {
        if let Ok(rest) = inside.strip_prefix(&b.inside) {
            return Some((b.host.as_path(), rest.to_path_buf()));
        }
    }
    let dir = workspace_bind?;
    inside
        .strip_prefix(WORKSPACE)
        .ok()
        .map(|rest| (dir, rest.to_path_buf()))
}

/// Entries at the top of a read-only workspace that are masked: `.env*` files (by an
/// empty file) and `.warden/` (by an empty directory). Symlinks are left alone: they
/// resolve inside the sandbox, where their targets are masked or absent.
pub(crate) fn top_level_masks(dir: &Path) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        if !crate::files::is_left_out(&name) {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => out.push((Path::new(WORKSPACE).join(&name), true)),
            Ok(t) if t.is_file() => out.push((Path::new(WORKSPACE).join(&name), false)),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(host: &Path, inside: &str) -> (PathBuf, PathBuf) {
        (host.to_path_buf(), PathBuf::from(inside))
    }

    #[test]
    fn places_and_hosts_are_checked() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("d");
        std::fs::create_dir(&dir).expect("mkdir");
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").expect("write");
        let link = tmp.path().join("l");
        std::os::unix::fs::symlink(&dir, &link).expect("symlink");
        let empty = WorkspaceSource::Empty;
        for ok in [
            "/home/sandbox/.local",
            "/workspace/vendor",
            "/opt/warden",
            "/opt/warden/bin",
        ] {
            let got = validate(&[pair(&dir, ok)], &empty).expect(ok);
            assert_eq!(got[0].inside, Path::new(ok));
        }
        for (inside, want) in [
            ("/home/sandbox", "binds go below"),
            ("/workspace", "binds go below"),
            ("/home/sandbox2/x", "binds go below"),
            ("/opt/wardenx", "binds go below"),
            ("/usr/lib", "binds go below"),
            ("/run/warden/sock", "binds go below"),
            ("home/sandbox/x", "not an absolute path"),
            ("/home/sandbox/../../etc", "'.' and '..'"),
        ] {
            let err = validate(&[pair(&dir, inside)], &empty)
                .expect_err(inside)
                .to_string();
            assert!(err.contains(want), "{inside}: {err}");
            assert!(err.contains("read-only bind"), "{err}");
        }
        for (host, want) in [
            (&file, "not a directory"),
            (&link, "a symlink"),
            (&tmp.path().join("missing"), "no such directory"),
        ] {
            let err = validate(&[pair(host, "/home/sandbox/x")], &empty)
                .expect_err("bad host")
                .to_string();
            assert!(err.contains(want), "{err}");
        }
        let err = validate(
            &[
                pair(&dir, "/home/sandbox/.local"),
                pair(&dir, "/home/sandbox/.local/bin"),
            ],
            &empty,
        )
        .expect_err("nested")
        .to_string();
        assert!(err.contains("overlaps"), "{err}");
    }

    #[test]
    fn a_read_only_workspace_needs_its_mount_points() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let tree = tmp.path().join("tree");
        std::fs::create_dir_all(tree.join("vendor")).expect("mkdir");
        let ws = WorkspaceSource::BindReadOnly(tree.clone());
        validate(&[pair(tmp.path(), "/workspace/vendor")], &ws).expect("existing point");
        let err = validate(&[pair(tmp.path(), "/workspace/new")], &ws)
            .expect_err("missing point")
            .to_string();
        assert!(err.contains("must already be a directory"), "{err}");
    }

    #[test]
    fn paths_inside_binds_map_to_their_host_directories() {
        let binds = vec![ReadOnlyBind {
            host: PathBuf::from("/srv/image/.local"),
            inside: PathBuf::from("/home/sandbox/.local"),
        }];
        let ws = Path::new("/srv/tree");
        assert_eq!(
            host_for(&binds, Some(ws), Path::new("/home/sandbox/.local/bin/x")),
            Some((Path::new("/srv/image/.local"), PathBuf::from("bin/x")))
        );
        assert_eq!(
            host_for(&binds, Some(ws), Path::new("/workspace/a/b")),
            Some((ws, PathBuf::from("a/b")))
        );
        assert_eq!(
            host_for(&binds, None, Path::new("/home/sandbox/.localx")),
            None
        );
    }
}
