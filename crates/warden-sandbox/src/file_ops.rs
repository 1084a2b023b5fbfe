//! Single files and directories in a sandbox, for programs that hand them over the
//! wire (`warden server`): write bytes, open a file for reading, make a directory,
//! list one. Confined exactly as `warden sandbox cp` ([`crate::files`]): every path is
//! resolved with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` below the sandbox's
//! own tree, so neither `..` nor a symlink planted inside can reach a host file.

use crate::error::{Result, SandboxError};
use crate::files::{escape_error, is_left_out, locate, open_beneath, open_root, Located};
use crate::lifecycle::Sandboxes;
use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What a directory entry is; symlinks are reported, never followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
    Other,
}

/// One entry of [`Sandboxes::list_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name, as bytes (any name a process inside made).
    pub name: OsString,
    pub kind: EntryKind,
    /// Its size in bytes (`lstat`).
    pub size: u64,
}

impl Sandboxes {
    /// Writes `bytes` to the file `inside` (absolute, under /workspace or /home/sandbox),
    /// making its parent directories; `mode` (default 0o644) is set even on a file that
    /// existed. Works on a stopped sandbox too: its files stay until it is destroyed.
    pub fn write_file(
        &self,
        id_or_name: &str,
        inside: &Path,
        bytes: &[u8],
        mode: Option<u32>,
    ) -> Result<()> {
        let (place, owner) = self.writable(id_or_name, inside)?;
        let root = open_root(&place.root)?;
        let Some(parent) = place
            .rel
            .parent()
            .filter(|_| place.rel.file_name().is_some())
        else {
            return Err(SandboxError::Invalid(format!(
                "{}: give a file name",
                inside.display()
            )));
        };
        make_parents(&root, parent, owner, inside)?;
        let mode = mode.unwrap_or(0o644) & 0o7777;
        // Non-blocking: a FIFO planted at the path fails here instead of hanging.
        let fd = open_beneath(
            &root,
            &place.rel,
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            mode,
        )
        .map_err(|e| missing_or_escape(inside, e))?;
        let mut file = File::from(fd);
        let meta = file
            .metadata()
            .map_err(|e| SandboxError::io(format!("sandbox path {}", inside.display()), e))?;
        if !meta.is_file() {
            return Err(SandboxError::Invalid(format!(
                "{}: not a regular file",
                inside.display()
            )));
        }
        chown(&file, owner);
        let io = |e| SandboxError::io(format!("writing {} in the sandbox", inside.display()), e);
        nix::sys::stat::fchmod(&file, nix::sys::stat::Mode::from_bits_truncate(mode))
            .map_err(|e| io(e.into()))?;
        file.write_all(bytes).map_err(io)
    }

    /// Opens the regular file `inside` for reading.
    pub fn open_file(&self, id_or_name: &str, inside: &Path) -> Result<File> {
        let (sandbox, meta) = self.find(id_or_name)?;
        let place = readable(&sandbox, &meta, inside)?;
        let root = open_root(&place.root)?;
        let fd = open_beneath(
            &root,
            &place.rel,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY,
            0,
        )
        .map_err(|e| missing_or_escape(inside, e))?;
        let file = File::from(fd);
        let is_file = file
            .metadata()
            .map_err(|e| SandboxError::io(format!("sandbox path {}", inside.display()), e))?
            .is_file();
        if !is_file {
            return Err(SandboxError::Invalid(format!(
                "{}: not a regular file",
                inside.display()
            )));
        }
        Ok(file)
    }

    /// Makes the directory `inside`; with `parents`, its missing parents too, and an
    /// existing directory is fine (as `mkdir -p`).
    pub fn make_dir(&self, id_or_name: &str, inside: &Path, parents: bool) -> Result<()> {
        let (place, owner) = self.writable(id_or_name, inside)?;
        let root = open_root(&place.root)?;
        if place.rel.as_os_str().is_empty() {
            return match parents {
                true => Ok(()),
                false => Err(SandboxError::Invalid(format!(
                    "{}: exists",
                    inside.display()
                ))),
            };
        }
        if parents {
            return make_parents(&root, &place.rel, owner, inside);
        }
        make_one(&root, &place.rel, owner, inside, false)
    }

    /// The entries of the directory `inside`, by name; symlinks are listed, not followed.
    pub fn list_dir(&self, id_or_name: &str, inside: &Path) -> Result<Vec<DirEntry>> {
        let (sandbox, meta) = self.find(id_or_name)?;
        let place = readable(&sandbox, &meta, inside)?;
        let root = open_root(&place.root)?;
        let fd = open_beneath(&root, &place.rel, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(|e| missing_or_escape(inside, e))?;
        // A second descriptor of the same directory to `lstat` its entries through.
        let dir_fd = fd
            .try_clone()
            .map_err(|e| SandboxError::io(format!("listing {}", inside.display()), e))?;
        let mut dir = nix::dir::Dir::from_fd(fd)
            .map_err(|e| SandboxError::io(format!("listing {}", inside.display()), e.into()))?;
        let mut out = Vec::new();
        for entry in dir.iter().flatten() {
            let name = std::ffi::OsStr::from_bytes(entry.file_name().to_bytes()).to_os_string();
            if name == "." || name == ".." || (place.filtered && is_left_out(&name)) {
                continue;
            }
            let Ok(stat) = nix::sys::stat::fstatat(
                &dir_fd,
                entry.file_name(),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            ) else {
                continue; // removed while listed
            };
            let kind = match stat.st_mode & libc::S_IFMT {
                libc::S_IFREG => EntryKind::File,
                libc::S_IFDIR => EntryKind::Directory,
                libc::S_IFLNK => EntryKind::Symlink,
                _ => EntryKind::Other,
            };
            out.push(DirEntry {
                name,
                kind,
                size: u64::try_from(stat.st_size).unwrap_or(0),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Where a path to write lives, refused in a read-only bind, and the uid new files
    /// get (the sandbox's user when we are root, as `copy_in`).
    fn writable(&self, id_or_name: &str, inside: &Path) -> Result<(Located, Option<u32>)> {
        let (sandbox, meta) = self.find(id_or_name)?;
        let place = locate(&sandbox, &meta, absolute(inside)?)?;
        if place.read_only {
            return Err(SandboxError::Invalid(format!(
                "{}: read-only in the sandbox (a host directory bound read-only)",
                inside.display()
            )));
        }
        Ok((place, crate::launch::as_root().then_some(meta.host_uid)))
    }
}

fn readable(
    sandbox: &crate::state::SandboxDir,
    meta: &crate::state::SandboxMeta,
    inside: &Path,
) -> Result<Located> {
    let place = locate(sandbox, meta, absolute(inside)?)?;
    if place.filtered && place.rel.iter().any(is_left_out) {
        return Err(missing(inside));
    }
    Ok(place)
}

/// Paths over the wire are absolute: a relative one would depend on a cwd nobody sees.
fn absolute(inside: &Path) -> Result<&Path> {
    if inside.is_absolute() {
        Ok(inside)
    } else {
        Err(SandboxError::Escape {
            path: inside.to_string_lossy().into_owned(),
            reason: "give an absolute path under /workspace or /home/sandbox".into(),
        })
    }
}

fn missing(inside: &Path) -> SandboxError {
    SandboxError::io(
        format!("sandbox path {}", inside.display()),
        std::io::Error::from(std::io::ErrorKind::NotFound),
    )
}

/// As [`escape_error`], but a path that is not there stays an I/O "not found" error, so
/// a caller can answer it as such (`warden server`: 404).
fn missing_or_escape(inside: &Path, e: std::io::Error) -> SandboxError {
    match e.raw_os_error() {
        Some(libc::ENOENT) => missing(inside),
        _ => escape_error(inside, e),
    }
}

fn chown(fd: &impl std::os::fd::AsFd, owner: Option<u32>) {
    if let Some(uid) = owner {
        let _ = nix::unistd::fchown(fd, Some(uid.into()), Some(uid.into()));
    }
}

/// `mkdir -p` of `rel` below `root`, one checked step at a time.
fn make_parents(root: &OwnedFd, rel: &Path, owner: Option<u32>, inside: &Path) -> Result<()> {
    let mut at = std::path::PathBuf::new();
    for part in rel.components() {
        at.push(part);
        make_one(root, &at, owner, inside, true)?;
    }
    Ok(())
}

/// Makes the directory `rel` (its parent must exist). An existing directory is fine when
/// `exist_ok`; an existing symlink or file never is.
fn make_one(
    root: &OwnedFd,
    rel: &Path,
    owner: Option<u32>,
    inside: &Path,
    exist_ok: bool,
) -> Result<()> {
    let parent = rel.parent().unwrap_or(Path::new(""));
    let pfd = open_beneath(root, parent, libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(|e| missing_or_escape(inside, e))?;
    let name = CString::new(rel.file_name().unwrap_or_default().as_bytes())
        .map_err(|_| SandboxError::Invalid(format!("{}: bad name", inside.display())))?;
    // SAFETY: a valid descriptor and C string.
    let rc = unsafe { libc::mkdirat(pfd.as_raw_fd(), name.as_ptr(), 0o755) };
    let created = rc == 0;
    if !created {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EEXIST) {
            return Err(escape_error(inside, err));
        }
        if !exist_ok {
            return Err(SandboxError::Invalid(format!(
                "{}: exists",
                inside.display()
            )));
        }
    }
    // Checked through a descriptor: a symlink or a file at the place is refused.
    let dir =
        open_beneath(root, rel, libc::O_RDONLY | libc::O_DIRECTORY, 0).map_err(|e| {
            match e.raw_os_error() {
                Some(libc::ENOTDIR) => {
                    SandboxError::Invalid(format!("{}: a file is in the way", inside.display()))
                }
                _ => escape_error(inside, e),
            }
        })?;
    if created {
        chown(&dir, owner);
    }
    Ok(())
}
