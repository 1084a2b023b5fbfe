//! Copying host trees: a project into a sandbox's workspace (secrets and Warden's own
//! data left out), and a sandbox's writable trees into and out of snapshots.

use crate::error::{IoContext, Result, SandboxError};
use crate::files::Copied;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Whether a workspace copy leaves this file out: `.env`, `.env.local`, … but not
/// the templates projects commit (`.env.example`, `.env.sample`, `.env.template`).
pub fn is_secret_file(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    (name == ".env" || name.starts_with(".env."))
        && !matches!(
            name.as_ref(),
            ".env.example" | ".env.sample" | ".env.template" | ".env.dist"
        )
}

/// Whether a workspace copy leaves this entry out because it is Warden's own data:
/// `.warden/` holds the findings store (and a scanned tree's config), which an agent
/// investigating that tree must neither read nor be able to change.
pub fn is_warden_dir(name: &std::ffi::OsStr) -> bool {
    name == ".warden"
}

/// What a workspace copy leaves out: `.env*` secrets and Warden's `.warden/`, at any depth.
pub fn is_left_out(name: &std::ffi::OsStr) -> bool {
    is_secret_file(name) || is_warden_dir(name)
}

/// Copies a project tree for a sandbox's workspace, as `sandbox create --workspace`
/// does: `.env*` files and `.warden/` left out (see [`is_left_out`]), symlinks copied
/// as links (never followed), special files skipped. A caller preparing a tree to
/// bind read-only ([`crate::WorkspaceSource::BindReadOnly`]) makes it with this.
pub fn copy_workspace(src: &Path, dst: &Path) -> Result<Copied> {
    copy_tree(src, dst, true, None)
}

/// Copies a host tree (no symlink followed, special files skipped), optionally
/// leaving out `.env*` files and `.warden/` ([`is_left_out`]) and giving every entry to `owner`.
pub fn copy_tree(src: &Path, dst: &Path, skip_secrets: bool, owner: Option<u32>) -> Result<Copied> {
    let mut copied = Copied::default();
    copy_tree_rec(src, dst, skip_secrets, owner, &mut copied)?;
    Ok(copied)
}

fn copy_tree_rec(
    src: &Path,
    dst: &Path,
    skip_secrets: bool,
    owner: Option<u32>,
    copied: &mut Copied,
) -> Result<()> {
    let meta = std::fs::symlink_metadata(src).context(|| format!("reading {}", src.display()))?;
    if !meta.is_dir() {
        // Below the top, symlinks are copied as links; a top that is one would be followed.
        return Err(SandboxError::Invalid(format!(
            "{}: not a directory (a symlink?)",
            src.display()
        )));
    }
    std::fs::create_dir_all(dst).context(|| format!("creating {}", dst.display()))?;
    let _ = std::fs::set_permissions(dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777));
    lchown(dst, owner.or(owner_of(&meta)));
    for entry in std::fs::read_dir(src)
        .context(|| format!("reading {}", src.display()))?
        .flatten()
    {
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let Ok(ft) = entry.file_type() else { continue };
        if skip_secrets && is_left_out(&entry.file_name()) {
            copied.skipped += 1;
        } else if ft.is_dir() {
            copy_tree_rec(&from, &to, skip_secrets, owner, copied)?;
        } else if ft.is_symlink() {
            let target =
                std::fs::read_link(&from).context(|| format!("reading {}", from.display()))?;
            std::os::unix::fs::symlink(&target, &to)
                .context(|| format!("creating {}", to.display()))?;
            lchown(
                &to,
                owner.or(entry.metadata().ok().as_ref().and_then(owner_of)),
            );
            copied.files += 1;
        } else if ft.is_file() {
            let n = std::fs::copy(&from, &to).context(|| format!("copying {}", from.display()))?;
            lchown(
                &to,
                owner.or(entry.metadata().ok().as_ref().and_then(owner_of)),
            );
            copied.files += 1;
            copied.bytes += n;
        } else {
            copied.skipped += 1;
        }
    }
    Ok(())
}

fn owner_of(meta: &std::fs::Metadata) -> Option<u32> {
    // Only root can give files away; as anyone else the copy is ours anyway.
    crate::launch::as_root().then_some(meta.uid())
}

fn lchown(path: &Path, owner: Option<u32>) {
    if let Some(uid) = owner {
        let _ = std::os::unix::fs::lchown(path, Some(uid), Some(uid));
    }
}

/// Files smaller than this are never linked: the saving would not pay for hashing them.
const LINK_MIN_BYTES: u64 = 1 << 20;

/// Replaces identical large regular files under `dir` with hard links to one copy, and
/// returns the bytes saved. Only for trees nothing writes to again (snapshots): npm
/// packages ship the same native binary two or three times (`claude` beside
/// `bin/claude.exe`, `opencode` for two CPU levels, `node` twice), which doubles an agent
/// image. Files join only when size, mode and owner match and their contents hash the
/// same; each link is made beside the duplicate and renamed over it, so a failure leaves
/// either the old copy or the link, never a missing file.
pub fn link_duplicates(dir: &Path) -> Result<u64> {
    let mut by_size: BTreeMap<(u64, u32, u32), Vec<PathBuf>> = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() {
                let Ok(meta) = entry.metadata() else { continue };
                if meta.len() >= LINK_MIN_BYTES && meta.nlink() == 1 {
                    by_size
                        .entry((meta.len(), meta.mode(), meta.uid()))
                        .or_default()
                        .push(entry.path());
                }
            }
        }
    }
    let mut saved = 0;
    for ((size, _, _), paths) in by_size.into_iter().filter(|(_, p)| p.len() > 1) {
        let mut first_of: BTreeMap<[u8; 32], PathBuf> = BTreeMap::new();
        for path in paths {
            let hash = hash_file(&path)?;
            let Some(keep) = first_of.get(&hash) else {
                first_of.insert(hash, path);
                continue;
            };
            let staged = path.with_file_name(format!(
                ".{}.link-{}",
                path.file_name().unwrap_or_default().to_string_lossy(),
                std::process::id()
            ));
            std::fs::hard_link(keep, &staged)
                .context(|| format!("linking {} to {}", staged.display(), keep.display()))?;
            if let Err(e) = std::fs::rename(&staged, &path) {
                let _ = std::fs::remove_file(&staged);
                return Err(SandboxError::io(format!("replacing {}", path.display()), e));
            }
            saved += size;
        }
    }
    Ok(saved)
}

fn hash_file(path: &Path) -> Result<[u8; 32]> {
    let mut hasher = blake3::Hasher::new();
    let mut file = std::fs::File::open(path).context(|| format!("reading {}", path.display()))?;
    std::io::copy(&mut file, &mut hasher).context(|| format!("reading {}", path.display()))?;
    Ok(*hasher.finalize().as_bytes())
}

/// Total size and file count of a tree (for snapshot records).
pub fn tree_size(dir: &Path) -> (u64, u64) {
    let mut files = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(ft) if ft.is_dir() => stack.push(entry.path()),
                Ok(_) => {
                    files += 1;
                    bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
                }
                Err(_) => {}
            }
        }
    }
    (files, bytes)
}
