//! Writing a command's output to the file a user named (`-o`, `--comment-out`).
//!
//! A regular file (or a symlink to one) is replaced atomically: the text goes to a
//! temporary file created exclusively, under an unpredictable name, in the target's own
//! directory, and is renamed over the target, so a reader never sees half a report and
//! a link planted at a guessable temporary name is never followed. Anything else that
//! exists there (`/dev/stdout`, a FIFO, a terminal, `/dev/full`) is opened and written
//! in place: replacing a device node with a regular file is never what was asked.
//! Every write error, a full disk included, is an error of the command.

use anyhow::{anyhow, Context};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Writes `text` to `path`, which the user gave as `flag`.
pub fn write(path: &Path, flag: &str, text: &str) -> anyhow::Result<()> {
    let context = || format!("{flag} {}", path.display());
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            // Through a symlink, the link stays and its target is what gets replaced.
            let target = std::fs::canonicalize(path).with_context(context)?;
            replace_atomically(&target, text, Some(meta.permissions().mode())).with_context(context)
        }
        Ok(meta) if meta.is_dir() => Err(anyhow!("is a directory")).with_context(context),
        Ok(_) => write_in_place(path, text).with_context(context),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(anyhow!("is a symlink to a file that does not exist"))
                    .with_context(context);
            }
            replace_atomically(path, text, None).with_context(context)
        }
        Err(err) => Err(err).with_context(context),
    }
}

/// A device, FIFO or socket: written as it is, never created, truncated or replaced.
fn write_in_place(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.flush()
}

/// Writes a temporary file beside `target` and renames it over `target`.
fn replace_atomically(target: &Path, text: &str, mode: Option<u32>) -> std::io::Result<()> {
    let dir = parent_dir(target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // `tempfile` creates with O_CREAT|O_EXCL under a random name: never an existing file
    // or a planted link.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".warden-tmp")
        .tempfile_in(&dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    // A new file gets the permissions any program's new file would (0666 less the
    // umask); a replaced one keeps its own.
    let mode = mode.unwrap_or_else(|| 0o666 & !current_umask());
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
    tmp.persist(target).map_err(|e| e.error)?;
    Ok(())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The process's umask (reading it means setting it; it is put straight back, before
/// any thread of ours creates a file).
fn current_umask() -> u32 {
    // SAFETY: umask has no memory effects; it is restored immediately.
    let old = unsafe { libc::umask(0o022) };
    unsafe { libc::umask(old) };
    old
}

/// Writes `text` to stdout, ending it with a newline. A reader that went away
/// (`warden … | head`) is not an error of ours; any other failure (a full disk) is.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .and_then(|()| out.flush());
    match written {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to standard output"),
    }
}
