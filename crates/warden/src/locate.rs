//! Where the store is and which project a command means.

use crate::exit::UsageError;
use std::path::{Path, PathBuf};
use warden_store::Store;

/// The directory name of the default data dir, under a scanned root.
pub const DATA_DIR_NAME: &str = ".warden";

/// The data dir for a scan of `root`: the flag/env value, else `<root>/.warden`.
pub fn data_dir_for_scan(flag: Option<&Path>, root: &Path) -> PathBuf {
    flag.map_or_else(|| root.join(DATA_DIR_NAME), Path::to_path_buf)
}

/// The data dir for commands that read a store: the flag/env value, else the
/// nearest `.warden/warden.db` in the current directory or one of its parents.
pub fn data_dir_for_reading(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir.to_path_buf());
    }
    let cwd = std::env::current_dir()?;
    for dir in cwd.ancestors() {
        let candidate = dir.join(DATA_DIR_NAME);
        // Anything at that name counts: a directory or FIFO there is reported by the
        // store as unusable, not passed over for a parent's store.
        if std::fs::symlink_metadata(candidate.join("warden.db")).is_ok() {
            return Ok(candidate);
        }
    }
    Err(UsageError(format!(
        "no Warden store in {} or its parents: run `warden scan <path>` first, or pass --data-dir",
        cwd.display()
    ))
    .into())
}

/// The default project id for a root: its directory name.
pub fn default_project_id(root: &Path) -> String {
    root.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "root".to_string())
}

/// The project a reading command means: the flag, else the store's only project.
pub fn project_for_reading(store: &Store, flag: Option<&str>) -> anyhow::Result<String> {
    let projects = store.projects()?;
    if let Some(id) = flag {
        if projects.iter().any(|p| p.id == id) {
            return Ok(id.to_string());
        }
        let known: Vec<&str> = projects.iter().map(|p| p.id.as_str()).collect();
        return Err(UsageError(format!(
            "--project-id {id}: no such project in {} (known: {})",
            store.path().display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))
        .into());
    }
    match projects.as_slice() {
        [only] => Ok(only.id.clone()),
        [] => Err(UsageError(format!(
            "{} holds no project yet: run `warden scan <path>` first",
            store.path().display()
        ))
        .into()),
        many => Err(UsageError(format!(
            "{} holds several projects ({}): pass --project-id",
            store.path().display(),
            many.iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into()),
    }
}

/// Whether a holder string (`pid N on HOST`, see [`warden_store::default_holder`])
/// names a process on this host that no longer runs, so its lock can be taken over.
pub fn holder_is_dead(holder: &str) -> bool {
    let me = warden_store::default_holder();
    let this_host = me.split_once(" on ").map(|(_, h)| h);
    let Some((pid, host)) = holder
        .strip_prefix("pid ")
        .and_then(|r| r.split_once(" on "))
    else {
        return false;
    };
    Some(host) == this_host
        && pid
            .parse::<u32>()
            .is_ok_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}
