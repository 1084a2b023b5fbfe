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

pub use crate::tree::{
    copy_tree, copy_workspace, is_left_out, is_secret_file, is_warden_dir, link_duplicates,
    tree_size,
};

/// Totals of one copy.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub files: u64,
    pub bytes: u64,
    /// Entries left out: `.env*` secrets, Warden's own `.warden/` store, sockets, devices.
    pub skipped: u64,
}

/// Where a path inside a sandbox lives on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The host directory of the tree it is in (the sandbox's workspace or home, or the
    /// host directory of a read-only bind).
    pub root: PathBuf,
    /// The path below `root`.
    pub rel: PathBuf,
    /// In a read-only bind: nothing may be copied in.
    pub read_only: bool,
    /// In a read-only workspace bound as it is: `.env*` and `.warden/` are left out of
    /// copies, as the sandbox cannot see them either.
    pub filtered: bool,
}

/// Finds where `inside` (absolute, or relative to /workspace) lives on the host: in a
/// read-only bind, in the bound workspace, or in the sandbox's own workspace or home.
pub fn locate(
    sandbox: &SandboxDir,
    meta: &crate::state::SandboxMeta,
    inside: &Path,
) -> Result<Located> {
    let (root, rel) = split_inside(sandbox, inside)?;
    let base = if root == sandbox.home() {
        HOME
    } else {
        WORKSPACE
    };
    let full = Path::new(base).join(&rel);
    let bound =
        crate::binds::host_for(&meta.read_only_binds, meta.workspace_bind.as_deref(), &full);
    Ok(match bound {
        Some((host, rel)) => Located {
            filtered: meta
                .workspace_bind
                .as_deref()
                .is_some_and(|dir| dir == host),
            root: host.to_path_buf(),
            rel,
            read_only: true,
        },
        None => Located {
            root,
            rel,
            read_only: false,
            filtered: false,
        },
    })
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

pub(crate) fn open_root(root: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        root,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| SandboxError::io(format!("opening {}", root.display()), e.into()))
}

/// `openat2` below `root`, refusing symlinks and `..` anywhere on the way.
pub(crate) fn open_beneath(
    root: &OwnedFd,
    rel: &Path,
    flags: i32,
    mode: u32,
) -> std::io::Result<OwnedFd> {
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

pub(crate) fn escape_error(inside: &Path, e: std::io::Error) -> SandboxError {
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
    meta: &crate::state::SandboxMeta,
    host: &Path,
    inside: &Path,
    owner: Option<u32>,
) -> Result<Copied> {
    let place = locate(sandbox, meta, inside)?;
    if place.read_only {
        return Err(SandboxError::Invalid(format!(
            "{}: read-only in the sandbox (a host directory bound read-only)",
            inside.display()
        )));
    }
    let (root_dir, rel) = (place.root, place.rel);
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
pub fn copy_out(
    sandbox: &SandboxDir,
    meta: &crate::state::SandboxMeta,
    inside: &Path,
    host: &Path,
) -> Result<Copied> {
    let place = locate(sandbox, meta, inside)?;
    let filter = place.filtered;
    if filter && place.rel.iter().any(is_left_out) {
        return Err(SandboxError::Invalid(format!(
            "{}: no such file in the sandbox",
            inside.display()
        )));
    }
    let (root_dir, rel) = (place.root, place.rel);
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
    copy_out_rec(
        &root,
        &rel,
        File::from(fd),
        &target,
        inside,
        filter,
        &mut copied,
    )?;
    Ok(copied)
}

fn copy_out_rec(
    root: &OwnedFd,
    rel: &Path,
    file: File,
    host: &Path,
    inside: &Path,
    filter: bool,
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
        let (names, left_out): (Vec<_>, Vec<_>) =
            names.into_iter().partition(|n| !(filter && is_left_out(n)));
        copied.skipped += left_out.len() as u64;
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
                        copy_out_rec(
                            root,
                            &child_rel,
                            f,
                            &host.join(&name),
                            inside,
                            filter,
                            copied,
                        )?;
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
