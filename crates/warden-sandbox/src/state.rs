//! Where sandboxes live on the host, and the record each one keeps.
//!
//! ```text
//! <root>/sandboxes/<id>/
//!   meta.json        this file's `SandboxMeta`, replaced atomically
//!   workspace/       bound at /workspace
//!   home/            bound at /home/sandbox
//!   sock/            bound at /run/warden/sock: proxy.sock and front-*.sock (the egress
//!                    proxy listens), exec.sock and port-*.sock (the sandbox's init listens)
//!   ca/              bound read-only at /run/warden/ca: the CA bundle the sandbox trusts
//!   empty/           an empty directory, bound over `.warden/` at the top of a read-only workspace
//!   ctl.sock         the supervisor's control socket (never mounted in the sandbox)
//!   audit.log        one JSON line per connection the proxy saw
//!   supervisor.log   the supervisor's own log
//!   logs/            output of detached commands
//! <root>/snapshots/<id>/{meta.json, workspace/, home/}
//! ```

use crate::error::{IoContext, Result, SandboxError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The directory that holds every sandbox and snapshot of this user.
#[derive(Debug, Clone)]
pub struct SandboxRoot {
    dir: PathBuf,
}

impl SandboxRoot {
    /// `WARDEN_DATA_DIR/sandboxes`-style root at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> SandboxRoot {
        SandboxRoot { dir: dir.into() }
    }

    /// The default: `$XDG_STATE_HOME/warden`, else `~/.local/state/warden`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(state).join("warden"));
        }
        let home = std::env::var_os("HOME").filter(|v| !v.is_empty())?;
        Some(PathBuf::from(home).join(".local/state/warden"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn sandboxes_dir(&self) -> PathBuf {
        self.dir.join("sandboxes")
    }

    pub fn snapshots_dir(&self) -> PathBuf {
        self.dir.join("snapshots")
    }

    pub fn sandbox_dir(&self, id: &str) -> SandboxDir {
        SandboxDir {
            dir: self.sandboxes_dir().join(id),
        }
    }

    /// Finds a sandbox by id, id prefix (unique) or name.
    pub fn find(&self, id_or_name: &str) -> Result<(SandboxDir, SandboxMeta)> {
        let all = self.list()?;
        if let Some((dir, meta)) = all.iter().find(|(_, m)| m.id == id_or_name) {
            return Ok((dir.clone(), meta.clone()));
        }
        let by_name: Vec<_> = all
            .iter()
            .filter(|(_, m)| m.name.as_deref() == Some(id_or_name))
            .collect();
        if by_name.len() == 1 {
            return Ok(by_name[0].clone());
        }
        let by_prefix: Vec<_> = all
            .iter()
            .filter(|(_, m)| id_or_name.len() >= 4 && m.id.starts_with(id_or_name))
            .collect();
        if by_prefix.len() == 1 {
            return Ok(by_prefix[0].clone());
        }
        Err(SandboxError::NotFound(id_or_name.to_string()))
    }

    /// Every sandbox, oldest first. A directory whose record cannot be read (or names
    /// another sandbox) is listed as [`Status::Corrupt`] under its directory's id, so a
    /// sandbox that may still be running never vanishes from `ls` and `destroy`. Entries
    /// that are not sandbox directories of ours (other names, symlinks) are left alone.
    pub fn list(&self) -> Result<Vec<(SandboxDir, SandboxMeta)>> {
        let mut out = Vec::new();
        let dir = self.sandboxes_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(SandboxError::io(format!("reading {}", dir.display()), e)),
        };
        for entry in entries.flatten() {
            let Some(id) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !is_valid_id("sb", &id) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let sandbox = SandboxDir { dir: entry.path() };
            let meta = match sandbox.load() {
                Ok(meta) => meta,
                Err(e) => SandboxMeta::corrupt(&id, &sandbox, &e.to_string()),
            };
            out.push((sandbox, meta));
        }
        out.sort_by_key(|(_, m)| m.created_ms);
        Ok(out)
    }

    pub fn name_taken(&self, name: &str) -> Result<bool> {
        Ok(self
            .list()?
            .iter()
            .any(|(_, m)| m.name.as_deref() == Some(name)))
    }
}

/// One sandbox's directory on the host.
#[derive(Debug, Clone)]
pub struct SandboxDir {
    dir: PathBuf,
}

impl SandboxDir {
    pub fn at(dir: impl Into<PathBuf>) -> SandboxDir {
        SandboxDir { dir: dir.into() }
    }
    pub fn path(&self) -> &Path {
        &self.dir
    }
    pub fn meta_path(&self) -> PathBuf {
        self.dir.join("meta.json")
    }
    pub fn workspace(&self) -> PathBuf {
        self.dir.join("workspace")
    }
    pub fn home(&self) -> PathBuf {
        self.dir.join("home")
    }
    pub fn sock_dir(&self) -> PathBuf {
        self.dir.join("sock")
    }
    pub fn ca_dir(&self) -> PathBuf {
        self.dir.join("ca")
    }
    /// An empty directory, bound read-only over what a read-only workspace must not show.
    pub fn empty_dir(&self) -> PathBuf {
        self.dir.join("empty")
    }
    pub fn exec_socket(&self) -> PathBuf {
        self.sock_dir().join("exec.sock")
    }
    pub fn ctl_socket(&self) -> PathBuf {
        self.dir.join("ctl.sock")
    }
    pub fn audit_log(&self) -> PathBuf {
        self.dir.join("audit.log")
    }
    pub fn supervisor_log(&self) -> PathBuf {
        self.dir.join("supervisor.log")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// The directory's name: the sandbox's id.
    pub fn id(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Reads the record. It must name this directory's sandbox: an id read from disk
    /// is used in paths and cgroup names, so a tampered `"id": "../../x"` is refused.
    pub fn load(&self) -> Result<SandboxMeta> {
        let path = self.meta_path();
        let text =
            crate::files::read_small(&path).context(|| format!("reading {}", path.display()))?;
        let meta: SandboxMeta = serde_json::from_str(&text).map_err(|e| SandboxError::State {
            path: path.clone(),
            message: format!("not a sandbox record: {e}"),
        })?;
        if meta.id != self.id() || meta.status == Status::Corrupt {
            return Err(SandboxError::State {
                path,
                message: format!("the record names sandbox {:?}, not this one", meta.id),
            });
        }
        Ok(meta)
    }

    /// Writes the record through a temporary file and a rename, so a reader never sees half of it.
    pub fn save(&self, meta: &SandboxMeta) -> Result<()> {
        write_json_atomic(&self.meta_path(), meta)
    }

    /// Re-reads the record, applies `change` and saves it.
    pub fn update(&self, change: impl FnOnce(&mut SandboxMeta)) -> Result<SandboxMeta> {
        let mut meta = self.load()?;
        change(&mut meta);
        self.save(&meta)?;
        Ok(meta)
    }
}

pub(crate) fn write_json_atomic(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| SandboxError::State {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    // A name of its own per write: two tasks of one process (a command's end and the
    // sandbox stopping) may replace the same record at once.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    std::fs::write(&tmp, text).context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).context(|| format!("replacing {}", path.display()))
}

/// The lifecycle state a sandbox record is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Starting,
    Running,
    /// Its deadline passed: every process was killed, its files are kept.
    TimedOut,
    /// Its processes ended without a destroy (e.g. the supervisor was killed).
    Stopped,
    Failed,
    /// Its record cannot be read; `destroy` still ends it and removes its directory.
    Corrupt,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Starting => "starting",
            Status::Running => "running",
            Status::TimedOut => "timed-out",
            Status::Stopped => "stopped",
            Status::Failed => "failed",
            Status::Corrupt => "corrupt",
        })
    }
}

/// A port published from the sandbox's loopback to the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    /// The port a process inside listens on (on 127.0.0.1 or 0.0.0.0).
    pub sandbox: u16,
    /// The port on the host's 127.0.0.1 that reaches it (0 until the supervisor bound it).
    pub host: u16,
}

/// Everything the host knows about one sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxMeta {
    pub id: String,
    pub name: Option<String>,
    pub status: Status,
    pub created_ms: u64,
    /// When every process is killed; `None` means no deadline.
    pub deadline_ms: Option<u64>,
    /// The network policy as the user gave it: `deny-all`, `allow-all` or domains.
    pub policy: crate::spec::NetworkPolicy,
    /// Hosts refused even where `policy` allows them.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Domain → names of the headers the egress proxy writes there (never the values,
    /// which only the supervisor holds). See [`crate::rules`].
    #[serde(default)]
    pub transforms: std::collections::BTreeMap<String, Vec<String>>,
    pub ports: Vec<PublishedPort>,
    pub limits: crate::limits::Limits,
    /// What the kernel really enforces, filled in at start.
    pub limits_report: Option<String>,
    /// What the confinement layers really enforce, filled in at start.
    pub confinement: Option<String>,
    /// Where /workspace came from: a host directory, a snapshot, or empty.
    pub source: Option<String>,
    /// The host directory bound read-only at /workspace, when it is bound rather than copied.
    #[serde(default)]
    pub workspace_bind: Option<PathBuf>,
    /// Host directories bound read-only inside.
    #[serde(default)]
    pub read_only_binds: Vec<crate::binds::ReadOnlyBind>,
    /// Hosts whose credential the proxy injects (never the values).
    pub brokered: Vec<String>,
    /// Environment every command starts with (placeholders only, never a real secret).
    pub env: Vec<(String, crate::os_arg::OsArg)>,
    /// `--secret` specs and `--broker` names; the supervisor reads the values, the record never holds them.
    pub secrets: Vec<String>,
    pub brokers: Vec<String>,
    pub supervisor_pid: Option<i32>,
    pub bwrap_pid: Option<i32>,
    /// The host pid of the sandbox's init (PID 1 inside): killing it ends every process in it.
    pub init_pid: Option<i32>,
    /// The uid processes in the sandbox run as on the host.
    pub host_uid: u32,
    pub cgroup: Option<String>,
    pub ended_ms: Option<u64>,
    pub end_reason: Option<String>,
    /// The program that owns the sandbox: when it dies (even by `kill -9`), the
    /// supervisor destroys the sandbox. `None`: it lives until destroyed or timed out.
    #[serde(default)]
    pub owner: Option<ProcessRef>,
    /// The spec's labels (`tenant=<name>` for sandboxes made by `warden server`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A process, told apart from a later one that reuses its pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRef {
    pub pid: u32,
    /// Clock ticks after boot (`/proc/PID/stat`, field 22).
    pub start: u64,
}

impl ProcessRef {
    /// The process `pid`, if it runs.
    pub fn of(pid: u32) -> Option<ProcessRef> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces and parentheses).
        let (_, rest) = stat.rsplit_once(") ")?;
        let start = rest.split_whitespace().nth(19)?.parse().ok()?;
        Some(ProcessRef { pid, start })
    }

    /// Whether this very process still runs (not a later one with its pid).
    pub fn alive(&self) -> bool {
        let Ok(pid) = i32::try_from(self.pid) else {
            return false;
        };
        process_alive(pid) && ProcessRef::of(self.pid).is_some_and(|now| now.start == self.start)
    }
}

impl SandboxMeta {
    /// Stands in for a record that cannot be read: its id is the directory's, the
    /// reason is kept in `end_reason`, and nothing read from the file is trusted.
    pub(crate) fn corrupt(id: &str, sandbox: &SandboxDir, reason: &str) -> SandboxMeta {
        let created_ms = std::fs::metadata(sandbox.path())
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(millis)
            .unwrap_or(0);
        SandboxMeta {
            id: id.to_string(),
            name: None,
            status: Status::Corrupt,
            created_ms,
            deadline_ms: None,
            policy: crate::spec::NetworkPolicy::DenyAll,
            deny: Vec::new(),
            transforms: Default::default(),
            ports: Vec::new(),
            limits: crate::limits::Limits::default(),
            limits_report: None,
            confinement: None,
            source: None,
            workspace_bind: None,
            read_only_binds: Vec::new(),
            brokered: Vec::new(),
            env: Vec::new(),
            secrets: Vec::new(),
            brokers: Vec::new(),
            supervisor_pid: None,
            bwrap_pid: None,
            init_pid: None,
            host_uid: 0,
            cgroup: None,
            ended_ms: None,
            end_reason: Some(format!("its record cannot be read: {reason}")),
            owner: None,
            labels: std::collections::BTreeMap::new(),
        }
    }

    /// Whether the supervisor recorded in this meta is still alive.
    pub fn supervisor_alive(&self) -> bool {
        self.supervisor_pid.is_some_and(process_alive)
    }

    /// The status to show: a record that says running but whose supervisor is gone is stopped.
    pub fn effective_status(&self) -> Status {
        match self.status {
            Status::Running | Status::Starting if !self.supervisor_alive() => Status::Stopped,
            other => other,
        }
    }
}

pub(crate) fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // A zombie still answers kill(0); read its state to tell.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Whether `id` is an id of ours with this prefix (`sb-3f9a0c1d2e`, `snap-…`): what
/// `new_id` makes. Ids read from disk or typed by a user are checked alike before
/// they name a path.
pub fn is_valid_id(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            (1..=32).contains(&hex.len())
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        })
}

/// Removes `<parent>/<id>`, a state directory, and nothing else: the id must be one of
/// ours, the entry a real directory (not a symlink to one), and its resolved place
/// must still be inside the resolved `parent`.
pub(crate) fn remove_state_dir(parent: &Path, prefix: &str, id: &str) -> Result<()> {
    let dir = parent.join(id);
    let refuse = |message: String| SandboxError::State {
        path: dir.clone(),
        message,
    };
    if !is_valid_id(prefix, id) {
        return Err(refuse(format!(
            "{id:?} is not a {prefix} id; nothing removed"
        )));
    }
    let meta = std::fs::symlink_metadata(&dir).context(|| format!("reading {}", dir.display()))?;
    if !meta.is_dir() {
        return Err(refuse(
            "not a directory (a symlink?); nothing removed".into(),
        ));
    }
    let inside = match (parent.canonicalize(), dir.canonicalize()) {
        (Ok(p), Ok(d)) => d.parent() == Some(p.as_path()),
        _ => false,
    };
    if !inside {
        return Err(refuse(format!(
            "resolves outside {}; nothing removed",
            parent.display()
        )));
    }
    std::fs::remove_dir_all(&dir).context(|| format!("removing {}", dir.display()))
}

/// A duration in whole milliseconds, saturating (a deadline past the year 500 million is none).
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A new random id with a prefix: `sb-3f9a0c1d`, `snap-…`.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 5];
    if getrandom(&mut bytes).is_err() {
        let n = now_ms() ^ u64::from(std::process::id());
        bytes.copy_from_slice(&n.to_le_bytes()[..5]);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{hex}")
}

fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    // SAFETY: the pointer and length describe `buf`, which outlives the call.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n as usize == buf.len() {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A snapshot's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub id: String,
    pub source_sandbox: String,
    pub created_ms: u64,
    pub files: u64,
    pub bytes: u64,
    /// The labels of the sandbox it was taken from.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_they_name_a_path() {
        assert!(is_valid_id("sb", &new_id("sb")));
        assert!(is_valid_id("snap", "snap-0123abcdef"));
        for bad in [
            "../../victim",
            "sb-",
            "sb-../x",
            "sb-ABC",
            "snap-1",
            "sb-a/b",
            "",
            "sb",
        ] {
            assert!(!is_valid_id("sb", bad), "{bad}");
        }
    }

    #[test]
    fn labels_are_left_out_of_records_when_empty_and_default_when_missing() {
        let mut snap = SnapshotMeta {
            id: "snap-00aa".into(),
            source_sandbox: "sb-00aa".into(),
            created_ms: 1,
            files: 0,
            bytes: 0,
            labels: Default::default(),
        };
        let text = serde_json::to_string(&snap).unwrap();
        assert!(!text.contains("labels"), "{text}");
        let back: SnapshotMeta = serde_json::from_str(&text).unwrap();
        assert!(back.labels.is_empty());
        snap.labels.insert("tenant".into(), "acme".into());
        let back: SnapshotMeta =
            serde_json::from_str(&serde_json::to_string(&snap).unwrap()).unwrap();
        assert_eq!(back.labels.get("tenant").map(String::as_str), Some("acme"));
    }

    #[test]
    fn only_real_directories_inside_the_parent_are_removed() {
        let Ok(tmp) = tempfile::tempdir() else { return };
        let parent = tmp.path().join("snapshots");
        let victim = tmp.path().join("victim");
        std::fs::create_dir_all(parent.join("snap-00aa")).ok();
        std::fs::create_dir_all(&victim).ok();
        std::fs::write(victim.join("keep"), "x").ok();
        std::os::unix::fs::symlink(&victim, parent.join("snap-11bb")).ok();
        assert!(remove_state_dir(&parent, "snap", "../victim").is_err());
        assert!(remove_state_dir(&parent, "snap", "snap-11bb").is_err());
        assert!(
            victim.join("keep").exists(),
            "the symlink's target was removed"
        );
        assert!(remove_state_dir(&parent, "snap", "snap-00aa").is_ok());
        assert!(!parent.join("snap-00aa").exists());
    }
}
