//! Copying files into, out of and between sandboxes without ever leaving their roots.
//!
//! Paths inside a sandbox are resolved with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` from a descriptor of the sandbox's directory, so neither a
//! `..` nor a symlink planted by a process in the sandbox (even one swapped in while
//! the copy runs) can point a copy at a host file.

use crate::error::{IoContext, Result, SandboxError};
use crate::launch::{HOME, WORKSPACE};
use crate::state::SandboxDir;
use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Totals of one copy.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub files: u64,
    pub bytes: u64,
    /// Entries left out: `.env*` secrets, sockets, devices.
    pub skipped: u64,
}

/// Which writable tree of the sandbox a path inside it belongs to, and the path below it.
pub fn split_inside(sandbox: &SandboxDir, inside: &Path) -> Result<(PathBuf, PathBuf)> {
    let escape = |reason: &str| SandboxError::Escape {
        path: inside.to_string_lossy().into_owned(),
        reason: reason.to_string(),
    };
    let p = inside;
    let (root, rest) = if let Ok(rest) = p.strip_prefix(WORKSPACE) {
        (sandbox.workspace(), rest)
    } else if let Ok(rest) = p.strip_prefix(HOME) {
        (sandbox.home(), rest)
    } else if p.is_absolute() {
        return Err(escape(
            "only paths under /workspace or /home/sandbox can be copied",
        ));
    } else {
        (sandbox.workspace(), p)
    };
    let mut clean = PathBuf::new();
    for c in rest.components() {
        match c {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(escape("'..' is not allowed")),
            Component::RootDir | Component::Prefix(_) => return Err(escape("not a relative path")),
        }
    }
    Ok((root, clean))
}

fn open_root(root: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        root,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| SandboxError::io(format!("opening {}", root.display()), e.into()))
}

/// `openat2` below `root`, refusing symlinks and `..` anywhere on the way.
fn open_beneath(root: &OwnedFd, rel: &Path, flags: i32, mode: u32) -> std::io::Result<OwnedFd> {
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let path = CString::new(rel.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: open_how is plain data; zeroed is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = if flags & libc::O_CREAT != 0 {
        u64::from(mode)
    } else {
        0
    };
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: valid pointers to `path` and `how` for the duration of the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn escape_error(inside: &Path, e: std::io::Error) -> SandboxError {
    match e.raw_os_error() {
        Some(libc::ELOOP) | Some(libc::EXDEV) => SandboxError::Escape {
            path: inside.to_string_lossy().into_owned(),
            reason: "it goes through a symlink".into(),
        },
        // A missing source is the user's to fix (exit 2), not a failure of the machine.
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => {
            SandboxError::Invalid(format!("{}: no such file in the sandbox", inside.display()))
        }
        _ => SandboxError::io(format!("sandbox path {}", inside.display()), e),
    }
}

/// Copies a host file or directory to `inside` (a file or directory path in the sandbox).
pub fn copy_in(
    sandbox: &SandboxDir,
    host: &Path,
    inside: &Path,
    owner: Option<u32>,
) -> Result<Copied> {
    let (root_dir, rel) = split_inside(sandbox, inside)?;
    let root = open_root(&root_dir)?;
    let meta = std::fs::metadata(host).map_err(|e| match e.kind() {
        // A source that is not there is the user's to fix (exit 2).
        std::io::ErrorKind::NotFound => {
            SandboxError::Invalid(format!("{}: no such file or directory", host.display()))
        }
        _ => SandboxError::io(format!("reading {}", host.display()), e),
    })?;
    // Copying onto an existing directory puts the source inside it, as cp does.
    let target = match open_beneath(&root, &rel, libc::O_PATH | libc::O_DIRECTORY, 0) {
        Ok(_) => rel.join(host.file_name().unwrap_or_default()),
        Err(_) => rel,
    };
    if target.as_os_str().is_empty() {
        return Err(SandboxError::Invalid(format!(
            "{}: give a file name",
            inside.display()
        )));
    }
    let mut copied = Copied::default();
    copy_in_rec(
        &root,
        host,
        &target,
        meta.is_dir(),
        owner,
        inside,
        &mut copied,
    )?;
    Ok(copied)
}

fn copy_in_rec(
    root: &OwnedFd,
    host: &Path,
    rel: &Path,
    is_dir: bool,
    owner: Option<u32>,
    inside: &Path,
    copied: &mut Copied,
) -> Result<()> {
    let chown = |fd: &OwnedFd| {
        if let Some(uid) = owner {
            let _ = nix::unistd::fchown(fd, Some(uid.into()), Some(uid.into()));
        }
    };
    if is_dir {
        let parent = rel.parent().unwrap_or(Path::new(""));
        let pfd = open_beneath(root, parent, libc::O_PATH | libc::O_DIRECTORY, 0)
            .map_err(|e| escape_error(inside, e))?;
        let name = CString::new(rel.file_name().unwrap_or_default().as_bytes())
            .map_err(|_| SandboxError::Invalid(format!("{}: bad name", inside.display())))?;
        // SAFETY: valid descriptor and C string.
        let rc = unsafe { libc::mkdirat(pfd.as_raw_fd(), name.as_ptr(), 0o755) };
        if rc != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
            return Err(SandboxError::io(
                format!("creating {}", inside.display()),
                std::io::Error::last_os_error(),
            ));
        }
        let dfd = open_beneath(root, rel, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(|e| escape_error(inside, e))?;
        chown(&dfd);
        let entries = std::fs::read_dir(host).context(|| format!("reading {}", host.display()))?;
        for entry in entries.flatten() {
            let ft = match entry.file_type() {
                Ok(ft) => ft,
                Err(_) => continue,
            };
            if !(ft.is_dir() || ft.is_file()) {
                copied.skipped += 1;
                continue;
            }
            copy_in_rec(
                root,
                &entry.path(),
                &rel.join(entry.file_name()),
                ft.is_dir(),
                owner,
                inside,
                copied,
            )?;
        }
        return Ok(());
    }
    // Non-blocking, then checked on the descriptor: a FIFO or device (given, or swapped
    // in for a file while the copy runs) would block forever or never end.
    let mut src = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(host)
        .context(|| format!("reading {}", host.display()))?;
    let src_meta = src
        .metadata()
        .context(|| format!("reading {}", host.display()))?;
    if !src_meta.is_file() {
        return Err(SandboxError::Invalid(format!(
            "{}: not a regular file or directory",
            host.display()
        )));
    }
    let mode = src_meta.permissions().mode() & 0o777;
    let fd = open_beneath(
        root,
        rel,
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW,
        mode,
    )
    .map_err(|e| escape_error(inside, e))?;
    chown(&fd);
    let mut dst = File::from(fd);
    let n = std::io::copy(&mut src, &mut dst)
        .context(|| format!("copying {} into the sandbox", host.display()))?;
    copied.files += 1;
    copied.bytes += n;
    Ok(())
}

/// Copies a file or directory at `inside` out to `host`.
pub fn copy_out(sandbox: &SandboxDir, inside: &Path, host: &Path) -> Result<Copied> {
    let (root_dir, rel) = split_inside(sandbox, inside)?;
    let root = open_root(&root_dir)?;
    let fd = open_beneath(&root, &rel, libc::O_RDONLY | libc::O_NOFOLLOW, 0)
        .map_err(|e| escape_error(inside, e))?;
    let target = if host.is_dir() {
        host.join(
            rel.file_name()
                .unwrap_or(root_dir.file_name().unwrap_or_default()),
        )
    } else {
        host.to_path_buf()
    };
    let mut copied = Copied::default();
    copy_out_rec(&root, &rel, File::from(fd), &target, inside, &mut copied)?;
    Ok(copied)
}

fn copy_out_rec(
    root: &OwnedFd,
    rel: &Path,
    file: File,
    host: &Path,
    inside: &Path,
    copied: &mut Copied,
) -> Result<()> {
    let meta = file
        .metadata()
        .context(|| format!("reading {}", inside.display()))?;
    if meta.is_dir() {
        std::fs::create_dir_all(host).context(|| format!("creating {}", host.display()))?;
        let mut dir = nix::dir::Dir::from_fd(OwnedFd::from(file))
            .map_err(|e| SandboxError::io(format!("listing {}", inside.display()), e.into()))?;
        let names: Vec<std::ffi::OsString> = dir
            .iter()
            .flatten()
            .map(|e| std::ffi::OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
            .filter(|n| n != "." && n != "..")
            .collect();
        for name in names {
            let child_rel = rel.join(&name);
            match open_beneath(
                root,
                &child_rel,
                libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
                0,
            ) {
                Ok(fd) => {
                    let f = File::from(fd);
                    let ft = f.metadata().map(|m| m.file_type());
                    if ft.as_ref().is_ok_and(|t| t.is_dir() || t.is_file()) {
                        copy_out_rec(root, &child_rel, f, &host.join(&name), inside, copied)?;
                    } else {
                        copied.skipped += 1;
                    }
                }
                // Symlinks and special files inside are left behind, not followed.
                Err(_) => copied.skipped += 1,
            }
        }
        return Ok(());
    }
    if !meta.is_file() {
        copied.skipped += 1;
        return Ok(());
    }
    let mut src = file;
    let mut dst = File::create(host).context(|| format!("writing {}", host.display()))?;
    let n = std::io::copy(&mut src, &mut dst)
        .context(|| format!("copying {} out", inside.display()))?;
    let _ = dst.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o755));
    copied.files += 1;
    copied.bytes += n;
    Ok(())
}

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

/// Copies a host tree (no symlink followed, special files skipped), optionally
/// leaving out `.env*` files and giving every entry to `owner`.
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
        if skip_secrets && is_secret_file(&entry.file_name()) {
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

/// Reads a small file whole (used for sockets' peer checks and tests).
/// Never blocks: a FIFO or device planted in its place is refused, not read.
pub fn read_small(path: &Path) -> std::io::Result<String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut s = String::new();
    file.take(1 << 20).read_to_string(&mut s)?;
    Ok(s)
}
