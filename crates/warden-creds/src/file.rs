//! Reading a small file a user (or an attacker who planted it) names: never blocks,
//! never reads a device, never loads an unbounded amount.
//!
//! A FIFO at `~/.claude/.credentials.json` would block a plain `read` forever, and
//! `/dev/zero` would fill memory. So: `stat` first and refuse anything that is not a
//! regular file without opening it (opening some devices has side effects); then open
//! with `O_NONBLOCK | O_NOCTTY`, `fstat` the descriptor (the path may have been swapped
//! in between) and read at most the limit. Symlinks are followed: a user's `~/.claude`
//! may well be a link into a dotfiles repository.

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Default size limit of [`read_config_file`]: far above any real config or `.env` file.
pub const MAX_CONFIG_FILE_BYTES: u64 = 16 << 20;

/// Why a file was not read. `Display` names the path and the reason on one line and
/// never quotes the file's content.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A FIFO, device, socket or directory.
    #[error("{} is a {kind}, not a regular file", .path.display())]
    NotRegular {
        /// The path as given.
        path: PathBuf,
        /// What it is instead ("FIFO", "directory", …).
        kind: FileKind,
    },
    /// Bigger than the caller's limit.
    #[error("{} is larger than {} ({size} bytes)", .path.display(), human(*.limit))]
    TooLarge {
        /// The path as given.
        path: PathBuf,
        /// Its size, or at least how much was there when reading stopped.
        size: u64,
        /// The limit it exceeded.
        limit: u64,
    },
    /// Not UTF-8 text (only from [`read_config_file`]).
    #[error("{} is not UTF-8 text (invalid byte at offset {offset})", .path.display())]
    NotUtf8 {
        /// The path as given.
        path: PathBuf,
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The operating system refused (permission denied, symlink loop, I/O error, …).
    #[error("could not read {}: {source}", .path.display())]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// What a non-regular file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A named pipe.
    Fifo,
    /// A character device (`/dev/zero`, a terminal, …).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A unix socket.
    Socket,
    /// Anything else.
    Other,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Directory => "directory",
            Self::Fifo => "FIFO",
            Self::CharDevice => "character device",
            Self::BlockDevice => "block device",
            Self::Socket => "socket",
            Self::Other => "special file",
        })
    }
}

fn kind_of(meta: &Metadata) -> Option<FileKind> {
    let ty = meta.file_type();
    if ty.is_file() {
        None
    } else if ty.is_dir() {
        Some(FileKind::Directory)
    } else if ty.is_fifo() {
        Some(FileKind::Fifo)
    } else if ty.is_char_device() {
        Some(FileKind::CharDevice)
    } else if ty.is_block_device() {
        Some(FileKind::BlockDevice)
    } else if ty.is_socket() {
        Some(FileKind::Socket)
    } else {
        Some(FileKind::Other)
    }
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes & ((1 << 20) - 1) == 0 {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes & ((1 << 10) - 1) == 0 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// The bytes of the regular file at `path` (symlinks followed), at most `max_bytes` of
/// them. `Ok(None)` when nothing is there (a dangling symlink included); an error for
/// anything else that is not a readable regular file within the limit. Never blocks on
/// a FIFO or device, and never opens one.
pub fn read_regular_file(path: &Path, max_bytes: u64) -> Result<Option<Vec<u8>>, FileError> {
    let io = |source: std::io::Error| FileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let check = |meta: &Metadata| -> Result<(), FileError> {
        if let Some(kind) = kind_of(meta) {
            return Err(FileError::NotRegular {
                path: path.to_path_buf(),
                kind,
            });
        }
        if meta.len() > max_bytes {
            return Err(FileError::TooLarge {
                path: path.to_path_buf(),
                size: meta.len(),
                limit: max_bytes,
            });
        }
        Ok(())
    };
    match std::fs::metadata(path) {
        Ok(meta) => check(&meta)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    }
    let file: File = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(file) => file,
        // Removed between the stat and the open: as if it never was.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    check(&file.metadata().map_err(io)?)?;
    // The file may grow after the fstat: read one byte past the limit to notice.
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if read > max_bytes {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            size: read,
            limit: max_bytes,
        });
    }
    Ok(Some(bytes))
}

/// The text of the config file at `path`, read as [`read_regular_file`] does with the
/// [`MAX_CONFIG_FILE_BYTES`] limit, and checked to be UTF-8. `Ok(None)` when missing.
///
/// For any file a user points Warden at that must never block or flood memory:
/// agents' credential files, `.env` files, `--files-from` lists, `--secret file:PATH`.
pub fn read_config_file(path: &Path) -> Result<Option<String>, FileError> {
    let Some(bytes) = read_regular_file(path, MAX_CONFIG_FILE_BYTES)? else {
        return Ok(None);
    };
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| FileError::NotUtf8 {
            path: path.to_path_buf(),
            offset: e.utf8_error().valid_up_to(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    fn mkfifo(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).expect("no NUL in a temp path");
        // SAFETY: a valid NUL-terminated path; mkfifo touches nothing else.
        let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
    }

    #[test]
    fn regular_files_are_read_and_missing_ones_are_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.json");
        std::fs::write(&path, "{}").expect("write");
        assert_eq!(read_config_file(&path).expect("read"), Some("{}".into()));
        assert_eq!(
            read_config_file(&dir.path().join("none")).expect("ok"),
            None
        );
    }

    #[test]
    fn a_symlink_to_a_regular_file_is_followed_and_a_dangling_one_is_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        std::fs::write(&target, "x=1").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert_eq!(read_config_file(&link).expect("read"), Some("x=1".into()));
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("gone"), &dangling).expect("symlink");
        assert_eq!(read_config_file(&dangling).expect("ok"), None);
    }

    #[test]
    fn special_files_are_refused_by_kind_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let via_link = dir.path().join("link-to-fifo");
        std::os::unix::fs::symlink(&fifo, &via_link).expect("symlink");
        let cases = [
            (fifo.as_path(), FileKind::Fifo),
            (via_link.as_path(), FileKind::Fifo),
            (dir.path(), FileKind::Directory),
            (Path::new("/dev/zero"), FileKind::CharDevice),
        ];
        for (path, want) in cases {
            match read_config_file(path) {
                Err(FileError::NotRegular { kind, .. }) => assert_eq!(kind, want, "{path:?}"),
                other => panic!("{path:?}: {other:?}"),
            }
        }
        let err = read_config_file(&fifo).expect_err("fifo");
        assert_eq!(
            err.to_string(),
            format!("{} is a FIFO, not a regular file", fifo.display())
        );
    }

    #[test]
    fn a_unix_socket_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        assert!(matches!(
            read_config_file(&path),
            Err(FileError::NotRegular {
                kind: FileKind::Socket,
                ..
            })
        ));
    }

    #[test]
    fn files_over_the_limit_are_refused_with_their_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'a'; 2048]).expect("write");
        let err = read_regular_file(&path, 1024).expect_err("too large");
        assert!(
            matches!(err, FileError::TooLarge { size: 2048, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("larger than 1 KiB (2048 bytes)"),
            "{err}"
        );
        assert_eq!(
            read_regular_file(&path, 2048)
                .expect("fits")
                .map(|b| b.len()),
            Some(2048)
        );
    }

    #[test]
    fn non_utf8_text_names_the_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("latin1");
        std::fs::write(&path, b"KEY=caf\xe9\n").expect("write");
        let err = read_config_file(&path).expect_err("not utf-8");
        assert!(
            matches!(err, FileError::NotUtf8 { offset: 7, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn an_unreadable_file_is_an_io_error_naming_the_path() {
        if unsafe { libc::geteuid() } == 0 {
            return; // root reads anything: the permission check cannot fail
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        std::fs::write(&path, "x").expect("write");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o000))
            .expect("chmod");
        let err = read_config_file(&path).expect_err("unreadable");
        assert!(matches!(err, FileError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("secret"), "{err}");
    }
}
