//! Where the store is and which project a command means.

use crate::cli::GlobalArgs;
use crate::exit::UsageError;
use std::path::{Path, PathBuf};
use warden_store::{Store, StoreLocation};

/// The directory name of the default data dir, under a scanned root.
pub const DATA_DIR_NAME: &str = ".warden";

/// The data dir of a scan of `root` (its SQLite store, its config file, never
/// scanned): `--store DIR` or `--data-dir`, else `<root>/.warden`.
pub fn data_dir_for_scan(global: &GlobalArgs, root: &Path) -> anyhow::Result<PathBuf> {
    Ok(match store_location(global)? {
        Some(StoreLocation::Sqlite(dir)) => dir,
        _ => root.join(DATA_DIR_NAME),
    })
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

/// The store a command was pointed at: `--store` (a URL or a directory), else
/// `--data-dir`; `None` when neither was given.
pub fn store_location(global: &GlobalArgs) -> anyhow::Result<Option<StoreLocation>> {
    if let Some(text) = &global.store {
        let location: StoreLocation = text
            .parse()
            .map_err(|e| UsageError(format!("--store: {e}")))?;
        return Ok(Some(location));
    }
    Ok(global.data_dir.clone().map(StoreLocation::Sqlite))
}

/// The store of a command that reads one: `--store`, else `--data-dir`, else the
/// nearest `.warden/warden.db` (a SQLite store is never created here).
pub fn open_for_reading(global: &GlobalArgs) -> anyhow::Result<Store> {
    match store_location(global)? {
        Some(location) => Ok(Store::connect_existing(&location)?),
        None => Ok(Store::open_existing(&data_dir_for_reading(None)?)?),
    }
}

/// The store of a scan (created if need be): the PostgreSQL store of `--store`, else
/// the SQLite store in `data_dir` (see [`data_dir_for_scan`]).
pub fn open_for_scan(global: &GlobalArgs, data_dir: &Path) -> anyhow::Result<Store> {
    match store_location(global)? {
        Some(pg @ StoreLocation::Postgres(_)) => Ok(Store::connect(&pg)?),
        _ => Ok(Store::open(data_dir)?),
    }
}

/// Where `.warden/config.toml` is read from: the SQLite data dir when the store is
/// one, else the nearest `.warden` directory above the current one (a shared
/// PostgreSQL store has no directory of its own).
pub fn config_dir(global: &GlobalArgs) -> PathBuf {
    if let Ok(Some(StoreLocation::Sqlite(dir))) = store_location(global) {
        return dir;
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.ancestors()
        .map(|d| d.join(DATA_DIR_NAME))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| cwd.join(DATA_DIR_NAME))
}

/// This user's cache directory for Warden: `$XDG_CACHE_HOME/warden`, else `~/.cache/warden`.
pub fn cache_dir() -> anyhow::Result<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .ok_or_else(|| UsageError("no HOME or XDG_CACHE_HOME: pass --cache-dir".into()))?;
    Ok(base.join("warden"))
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
            store.location(),
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
            store.location()
        ))
        .into()),
        many => Err(UsageError(format!(
            "{} holds several projects ({}): pass --project-id",
            store.location(),
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
    // A named worker's holder is `NAME: pid N on HOST`.
    let Some((pid, host)) = holder
        .rsplit_once("pid ")
        .and_then(|(_, r)| r.split_once(" on "))
    else {
        return false;
    };
    Some(host) == this_host
        && pid
            .parse::<u32>()
            .is_ok_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}
