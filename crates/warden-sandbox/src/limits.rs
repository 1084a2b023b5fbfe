//! Resource limits: cgroups where the kernel offers them, else rlimits.
//!
//! [`Cgroup::create`] makes one group per sandbox, `warden/<name>`, below the cgroup the
//! calling process is in (so the sandbox stays inside whatever group, and limits, its
//! launcher already has; in cgroup v2, whose groups with processes cannot delegate
//! controllers, below the nearest ancestor that can), and sets each limit in the best place
//! available:
//!
//! 1. cgroup v2, when a `cgroup2` mount (at `/sys/fs/cgroup` or `/sys/fs/cgroup/unified` in
//!    hybrid mode) offers the controller and it can be enabled for the `warden` subtree;
//! 2. else the cgroup v1 hierarchy of that controller (`pids`, `memory`, `cpu`);
//! 3. else an rlimit set in the child: memory → `RLIMIT_AS` (per process, not per sandbox),
//!    pids → `RLIMIT_NPROC` (per *user*: it counts every process of the sandbox's uid and is
//!    ignored for root); cpus has no rlimit and is reported as not enforced.
//!
//! The choice is made per controller (hybrid hosts bind each controller to one version), and
//! [`LimitsReport`] says what each limit really got. Every group also gets a directory in the
//! cgroup v2 hierarchy when one is writable, even one without controllers (as on hybrid
//! hosts): it holds no limit but tracks the sandbox's processes and offers `cgroup.kill`.
//!
//! Attaching happens in the child between `fork` and `exec`: the parent opens every
//! `cgroup.procs` with [`Cgroup::prepare_attach`], and [`AttachFds::attach_in_child`]
//! writes `0` (the writer itself) to each one and sets the fallback rlimits, with raw
//! syscalls only. The kernel checks a `cgroup.procs` write against the credentials of whoever
//! *opened* the file, so this works after the child has dropped to an unprivileged uid.
//!
//! [`Cgroup::open`] finds an existing group again by name (for the CLI's destroy path),
//! [`Cgroup::kill_all`] and [`Cgroup::remove`] tear it down.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The directory under each hierarchy that holds every sandbox's group.
const PARENT_DIR: &str = "warden";
/// `cpu.max` / `cpu.cfs_period_us` period, in microseconds (the kernel default).
const CPU_PERIOD_US: u64 = 100_000;
/// The kernel refuses quotas below 1 ms.
const CPU_MIN_QUOTA_US: u64 = 1_000;
/// Rounds of SIGKILL before [`Cgroup::kill_all`] gives up.
const KILL_ROUNDS: u32 = 100;

/// Requested limits for one sandbox; `None` leaves a resource unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// CPU time as a number of CPUs (0.5 = half of one CPU).
    pub cpus: Option<f64>,
    /// Memory in bytes.
    pub memory_bytes: Option<u64>,
    /// Maximum number of processes (and threads) at once.
    pub pids: Option<u64>,
}

/// How one limit is enforced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "reason")]
pub enum Enforcement {
    /// A cgroup v2 controller, for the whole sandbox.
    CgroupV2,
    /// A cgroup v1 controller, for the whole sandbox.
    CgroupV1,
    /// An rlimit in each process (see the limit's note for what that means).
    Rlimit,
    /// Not enforced, with the reason.
    NotEnforced(String),
}

impl fmt::Display for Enforcement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Enforcement::CgroupV2 => f.write_str("cgroup v2"),
            Enforcement::CgroupV1 => f.write_str("cgroup v1"),
            Enforcement::Rlimit => f.write_str("rlimit"),
            Enforcement::NotEnforced(why) => write!(f, "not enforced: {why}"),
        }
    }
}

/// One limit as set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enforced<T> {
    /// The requested value.
    pub value: T,
    /// Where it is enforced.
    pub enforcement: Enforcement,
    /// What the enforcement means in practice, when it is weaker than a cgroup.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

/// What is really enforced for a sandbox; `None` = not requested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitsReport {
    /// CPUs.
    pub cpus: Option<Enforced<f64>>,
    /// Memory in bytes.
    pub memory: Option<Enforced<u64>>,
    /// Processes.
    pub pids: Option<Enforced<u64>>,
}

impl fmt::Display for LimitsReport {
    /// `pids=256 (cgroup v1), memory=1 GiB (cgroup v1), cpus=not set`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pids {
            Some(e) => write!(f, "pids={} ({})", e.value, e.enforcement)?,
            None => f.write_str("pids=not set")?,
        }
        match &self.memory {
            Some(e) => write!(f, ", memory={} ({})", format_size(e.value), e.enforcement)?,
            None => f.write_str(", memory=not set")?,
        }
        match &self.cpus {
            Some(e) => write!(f, ", cpus={} ({})", e.value, e.enforcement),
            None => f.write_str(", cpus=not set"),
        }
    }
}

/// Errors from limit parsing and cgroup management.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    /// A size like `512M` that could not be parsed.
    #[error("invalid size {0:?}: expected bytes or a number with K, M, G or T (binary units, e.g. 512M, 1.5GiB)")]
    InvalidSize(String),
    /// A CPU count that could not be parsed or is out of range.
    #[error("invalid cpus {0:?}: expected a number of CPUs of at least 0.01, e.g. 0.5 or 2")]
    InvalidCpus(String),
    /// A group name that is not a single plain path component.
    #[error("invalid cgroup name {0:?}: use letters, digits, '.', '_' and '-' (not . or ..)")]
    InvalidName(String),
    /// A limit of 0 would stop the sandbox from running anything.
    #[error("{0} limit must be greater than 0")]
    Zero(&'static str),
    /// A group with this name exists already.
    #[error("cgroup {0} exists already")]
    Exists(PathBuf),
    /// A cgroup file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Processes were still in the group after every kill round.
    #[error("{0} process(es) still in the cgroup after {KILL_ROUNDS} rounds of SIGKILL")]
    StillRunning(usize),
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LimitsError + 'a {
    move |source| LimitsError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Parse a size: plain bytes (`1048576`), or a number with `K`, `M`, `G` or `T`, optionally
/// followed by `i` and/or `B` (`512M`, `1G`, `1.5GiB`, `64kb`). Units are binary (1K = 1024):
/// memory limits are page-based and this matches docker's and cgroup's own notation.
pub fn parse_size(s: &str) -> Result<u64, LimitsError> {
    let bad = || LimitsError::InvalidSize(s.to_string());
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let shift = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" | "ki" | "kib" => 10,
        "m" | "mb" | "mi" | "mib" => 20,
        "g" | "gb" | "gi" | "gib" => 30,
        "t" | "tb" | "ti" | "tib" => 40,
        _ => return Err(bad()),
    };
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') || num.matches('.').count() > 1
    {
        return Err(bad());
    }
    let bytes = if num.contains('.') {
        let value: f64 = num.parse().map_err(|_| bad())?;
        let bytes = value * (1u64 << shift) as f64;
        // u64::MAX as f64 rounds up to 2^64, so `<` keeps the cast below in range.
        if !bytes.is_finite() || bytes >= u64::MAX as f64 {
            return Err(bad());
        }
        bytes.floor() as u64
    } else {
        let value: u64 = num.parse().map_err(|_| bad())?;
        value.checked_mul(1u64 << shift).ok_or_else(bad)?
    };
    if bytes == 0 {
        return Err(LimitsError::Zero("memory"));
    }
    Ok(bytes)
}

/// Parse a CPU count: `0.5`, `2`, `1.25`. At least 0.01 (the kernel's 1 ms quota per 100 ms).
pub fn parse_cpus(s: &str) -> Result<f64, LimitsError> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| LimitsError::InvalidCpus(s.to_string()))?;
    validate_cpus(v).map_err(|_| LimitsError::InvalidCpus(s.to_string()))
}

fn validate_cpus(v: f64) -> Result<f64, LimitsError> {
    if !v.is_finite() || !(0.01..=65_536.0).contains(&v) {
        return Err(LimitsError::InvalidCpus(v.to_string()));
    }
    Ok(v)
}

/// `1073741824` → `1 GiB`, `1610612736` → `1.5 GiB`, `1000` → `1000 B`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (name, shift) in UNITS {
        let unit = 1u64 << shift;
        if bytes >= unit {
            // unit is a power of two: a mask test is the remainder test.
            if bytes & (unit - 1) == 0 {
                return format!("{} {name}", bytes >> shift);
            }
            let v = bytes as f64 / unit as f64;
            return format!("{v:.1} {name}");
        }
    }
    format!("{bytes} B")
}

/// Which cgroup version a directory belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// One directory of the group, in one hierarchy.
#[derive(Debug, Clone)]
struct GroupDir {
    path: PathBuf,
    version: Version,
    /// Controllers whose limits were written here.
    controllers: Vec<&'static str>,
}

/// A fallback rlimit for the child: (resource, value).
type Rlimit = (libc::c_int, u64);

/// A per-sandbox cgroup (possibly spread over several v1 hierarchies), plus the rlimits that
/// stand in for what no cgroup could enforce.
///
/// Dropping the handle leaves the group in place, because it outlives the process that
/// made it ([`Cgroup::open`] finds it again): call [`Cgroup::kill_all`] and
/// [`Cgroup::remove`]. Without any writable hierarchy the group has no directory,
/// [`Cgroup::pids`] is empty and [`Cgroup::kill_all`] does nothing; the sandbox's PID
/// namespace is then what takes every process down with its init.
#[derive(Debug)]
pub struct Cgroup {
    name: String,
    dirs: Vec<GroupDir>,
    rlimits: Vec<Rlimit>,
}

/// Opened `cgroup.procs` files and rlimits, ready for [`AttachFds::attach_in_child`].
#[derive(Debug)]
pub struct AttachFds {
    procs: Vec<OwnedFd>,
    rlimits: Vec<Rlimit>,
}

impl AttachFds {
    /// Move the calling process into the group and set the fallback rlimits.
    ///
    /// Async-signal-safe (raw syscalls on prepared fds, no allocation): meant for
    /// `std::os::unix::process::CommandExt::pre_exec`, also after a drop to another uid.
    pub fn attach_in_child(&self) -> io::Result<()> {
        for fd in &self.procs {
            // pwrite at 0: every child shares this open file description, and its offset.
            // SAFETY: a valid one-byte buffer and an fd owned by self.
            let n = unsafe { libc::pwrite(fd.as_raw_fd(), b"0".as_ptr().cast(), 1, 0) };
            if n != 1 {
                return Err(io::Error::last_os_error());
            }
        }
        for &(resource, value) in &self.rlimits {
            let lim = libc::rlimit64 {
                rlim_cur: value,
                rlim_max: value,
            };
            // prlimit64 on ourselves (pid 0) is setrlimit without libc's wrapper, whose
            // resource type differs between glibc and musl.
            // SAFETY: lim lives for the whole call; the old-limit pointer may be null.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_prlimit64,
                    0,
                    resource,
                    &lim as *const libc::rlimit64,
                    std::ptr::null_mut::<libc::rlimit64>(),
                )
            };
            if ret != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// A mounted hierarchy and the cgroup this process is in there.
#[derive(Debug, Clone)]
struct Hierarchy {
    version: Version,
    /// Directory of this process's own cgroup.
    own: PathBuf,
    /// The mount point (the hierarchy's root as seen here).
    mount: PathBuf,
    /// v1: the controllers bound to the mount; v2: those available in `own`.
    controllers: Vec<String>,
}

/// Undo the `\040`-style escapes of /proc/self/mountinfo.
fn unescape_mount(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Join a mount point with a cgroup path from /proc/self/cgroup, given the mount's root.
fn join_cgroup(mount: &Path, mount_root: &str, cgroup_path: &str) -> PathBuf {
    let rel = cgroup_path
        .strip_prefix(mount_root)
        .unwrap_or(cgroup_path)
        .trim_start_matches('/');
    if rel.is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(rel)
    }
}

/// The cgroup hierarchies mounted here, from /proc/self/mountinfo and /proc/self/cgroup.
fn hierarchies() -> Vec<Hierarchy> {
    let (Ok(mountinfo), Ok(cgroups)) = (
        fs::read_to_string("/proc/self/mountinfo"),
        fs::read_to_string("/proc/self/cgroup"),
    ) else {
        return Vec::new();
    };
    // (controllers, path) per line of /proc/self/cgroup.
    let own: Vec<(Vec<&str>, &str)> = cgroups
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctrls = it.next()?;
            let path = it.next()?;
            Some((ctrls.split(',').filter(|c| !c.is_empty()).collect(), path))
        })
        .collect();

    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(mount), Some(fstype), Some(opts)) =
            (left.get(3), left.get(4), right.first(), right.get(2))
        else {
            continue;
        };
        let mount = unescape_mount(mount);
        match *fstype {
            "cgroup2" => {
                let Some((_, path)) = own.iter().find(|(c, _)| c.is_empty()) else {
                    continue;
                };
                let own_dir = join_cgroup(&mount, root, path);
                let controllers = fs::read_to_string(own_dir.join("cgroup.controllers"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                out.push(Hierarchy {
                    version: Version::V2,
                    own: own_dir,
                    mount,
                    controllers,
                });
            }
            "cgroup" => {
                let controllers: Vec<String> = opts
                    .split(',')
                    .filter(|o| ["pids", "memory", "cpu"].contains(o))
                    .map(str::to_string)
                    .collect();
                let Some(first) = controllers.first() else {
                    continue;
                };
                let Some((_, path)) = own.iter().find(|(c, _)| c.contains(&first.as_str())) else {
                    continue;
                };
                out.push(Hierarchy {
                    version: Version::V1,
                    own: join_cgroup(&mount, root, path),
                    mount,
                    controllers,
                });
            }
            _ => {}
        }
    }
    out
}

/// `dir` and its ancestors up to and including `mount`, nearest first.
fn ancestors_within(dir: &Path, mount: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .take_while(|a| a.starts_with(mount))
        .map(Path::to_path_buf)
        .collect()
}

/// Where the v2 `warden` directory goes, and which controllers it gets there.
///
/// `bases` is the launcher's own cgroup and then its ancestors. cgroup v2 only lets a group
/// hand a controller to its children when it has no processes of its own (EBUSY otherwise;
/// the root is exempt), which rules out the launcher's own group on a systemd host while its
/// parent slice usually delegates already. So: the nearest level that already delegates every
/// needed controller (changing nothing); else the nearest where enabling them works; else the
/// own group with whatever it delegates already.
fn choose_v2_base(
    bases: &[PathBuf],
    needed: &[&str],
    enabled: impl Fn(&Path, &str) -> bool,
    enable: impl Fn(&Path, &str) -> bool,
) -> Option<(PathBuf, Vec<String>)> {
    let first = bases.first()?;
    let all = |v: &[&str]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    if needed.is_empty() {
        return Some((first.clone(), Vec::new()));
    }
    if let Some(b) = bases.iter().find(|b| needed.iter().all(|c| enabled(b, c))) {
        return Some((b.clone(), all(needed)));
    }
    if let Some(b) = bases.iter().find(|b| needed.iter().all(|c| enable(b, c))) {
        return Some((b.clone(), all(needed)));
    }
    let some: Vec<String> = needed
        .iter()
        .filter(|c| enabled(first, c))
        .map(|c| c.to_string())
        .collect();
    Some((first.clone(), some))
}

/// Is `controller` delegated to the children of `dir`?
fn v2_delegates(dir: &Path, controller: &str) -> bool {
    fs::read_to_string(dir.join("cgroup.subtree_control"))
        .is_ok_and(|s| s.split_whitespace().any(|c| c == controller))
}

/// Point each v2 hierarchy at the level chosen by [`choose_v2_base`] for these limits.
fn settle_v2(hs: &mut [Hierarchy], limits: &Limits) {
    let mut wanted = Vec::new();
    if limits.pids.is_some() {
        wanted.push("pids");
    }
    if limits.memory_bytes.is_some() {
        wanted.push("memory");
    }
    if limits.cpus.is_some() {
        wanted.push("cpu");
    }
    for h in hs.iter_mut().filter(|h| h.version == Version::V2) {
        let needed: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|w| h.controllers.iter().any(|c| c == w))
            .collect();
        let bases = ancestors_within(&h.own, &h.mount);
        let chosen = choose_v2_base(&bases, &needed, v2_delegates, |d, c| {
            enable_v2_controller(d, c).is_ok()
        });
        if let Some((base, controllers)) = chosen {
            h.own = base;
            h.controllers = controllers;
        }
    }
}

fn validate_name(name: &str) -> Result<(), LimitsError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(LimitsError::InvalidName(name.to_string()))
    }
}

fn write_file(path: &Path, value: &str) -> io::Result<()> {
    let mut f = fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(value.as_bytes())
}

/// Enable a v2 controller for the children of `dir` (no-op when it already is).
fn enable_v2_controller(dir: &Path, controller: &str) -> io::Result<()> {
    let control = dir.join("cgroup.subtree_control");
    let current = fs::read_to_string(&control)?;
    if current.split_whitespace().any(|c| c == controller) {
        return Ok(());
    }
    write_file(&control, &format!("+{controller}"))
}

/// The outcome of trying to create a group directory for one controller.
enum DirOutcome {
    Ready(usize),
    Unavailable(String),
}

/// Creates (or reuses, within this call) group directories.
struct Builder<'a> {
    name: &'a str,
    dirs: Vec<GroupDir>,
    /// Directories this call created, to remove on error.
    created: Vec<PathBuf>,
}

impl Builder<'_> {
    /// A group directory in `h` for `controller`; errors only for an existing group.
    fn dir_for(
        &mut self,
        h: &Hierarchy,
        controller: Option<&'static str>,
    ) -> Result<DirOutcome, LimitsError> {
        let parent = h.own.join(PARENT_DIR);
        let path = parent.join(self.name);
        if let Some(i) = self.dirs.iter().position(|d| d.path == path) {
            if let (Version::V2, Some(controller)) = (h.version, controller) {
                if let Err(e) = enable_v2_controller(&parent, controller) {
                    return Ok(DirOutcome::Unavailable(format!(
                        "enabling {controller}: {e}"
                    )));
                }
            }
            self.dirs[i].controllers.extend(controller);
            return Ok(DirOutcome::Ready(i));
        }
        if let (Version::V2, Some(controller)) = (h.version, controller) {
            // The parent of warden/ must delegate the controller; this fails (EBUSY) when
            // our own cgroup holds processes and is not the root, and then v2 is not usable.
            if let Err(e) = enable_v2_controller(&h.own, controller) {
                return Ok(DirOutcome::Unavailable(format!(
                    "cannot enable {controller} in {}: {e}",
                    h.own.display()
                )));
            }
        }
        // Another sandbox's remove() may delete the shared parent between our two mkdirs:
        // one retry covers that race.
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Err(e) = fs::create_dir(&parent) {
                if e.kind() != io::ErrorKind::AlreadyExists {
                    return Ok(DirOutcome::Unavailable(format!(
                        "cannot create {}: {e}",
                        parent.display()
                    )));
                }
            }
            if let (Version::V2, Some(controller)) = (h.version, controller) {
                if let Err(e) = enable_v2_controller(&parent, controller) {
                    return Ok(DirOutcome::Unavailable(format!(
                        "cannot enable {controller} in {}: {e}",
                        parent.display()
                    )));
                }
            }
            match fs::create_dir(&path) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(LimitsError::Exists(path))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < 2 => continue,
                Err(e) => {
                    return Ok(DirOutcome::Unavailable(format!(
                        "cannot create {}: {e}",
                        path.display()
                    )))
                }
            }
        }
        self.created.push(path.clone());
        self.dirs.push(GroupDir {
            path,
            version: h.version,
            controllers: controller.into_iter().collect(),
        });
        Ok(DirOutcome::Ready(self.dirs.len() - 1))
    }

    /// Best place for `controller`: v2 if it offers it, else its v1 hierarchy.
    fn place(
        &mut self,
        hs: &[Hierarchy],
        controller: &'static str,
        write: &dyn Fn(&Path, Version) -> io::Result<()>,
    ) -> Result<Result<Enforcement, String>, LimitsError> {
        let mut reasons = Vec::new();
        let candidates = hs
            .iter()
            .filter(|h| h.version == Version::V2)
            .chain(hs.iter().filter(|h| h.version == Version::V1))
            .filter(|h| h.controllers.iter().any(|c| c == controller));
        for h in candidates {
            match self.dir_for(h, Some(controller))? {
                DirOutcome::Ready(i) => {
                    let dir = self.dirs[i].path.clone();
                    match write(&dir, h.version) {
                        Ok(()) => {
                            return Ok(Ok(match h.version {
                                Version::V2 => Enforcement::CgroupV2,
                                Version::V1 => Enforcement::CgroupV1,
                            }))
                        }
                        Err(e) => {
                            self.dirs[i].controllers.retain(|c| *c != controller);
                            reasons.push(format!("writing the {controller} limit: {e}"));
                        }
                    }
                }
                DirOutcome::Unavailable(why) => reasons.push(why),
            }
        }
        if reasons.is_empty() {
            reasons.push(format!("no {controller} cgroup controller is mounted"));
        }
        Ok(Err(reasons.join("; ")))
    }

    /// A directory that only tracks the sandbox's processes, so that [`Cgroup::pids`] and
    /// [`Cgroup::kill_all`] work even for limits no cgroup took: in the v2 hierarchy when
    /// there is one (it needs no controller and has `cgroup.kill`, also on hybrid hosts
    /// where v2 has no controllers), else in the v1 pids hierarchy. Best effort.
    fn track(&mut self, hs: &[Hierarchy]) -> Result<(), LimitsError> {
        if let Some(h) = hs.iter().find(|h| h.version == Version::V2) {
            if matches!(self.dir_for(h, None)?, DirOutcome::Ready(_)) {
                return Ok(());
            }
        }
        if self.dirs.is_empty() {
            let pids = hs
                .iter()
                .find(|h| h.version == Version::V1 && h.controllers.iter().any(|c| c == "pids"));
            if let Some(h) = pids {
                self.dir_for(h, None)?;
            }
        }
        Ok(())
    }

    fn rollback(&mut self) {
        for p in self.created.drain(..).rev() {
            let _ = fs::remove_dir(&p);
            if let Some(parent) = p.parent() {
                // Only succeeds when no other sandbox uses it.
                let _ = fs::remove_dir(parent);
            }
        }
    }
}

impl Cgroup {
    /// Create the group `warden/<name>` and set `limits`, falling back per limit (see the
    /// module docs). Fails for an invalid name or limit, or when the group exists already;
    /// a missing or read-only cgroup hierarchy is not an error but a fallback in the report.
    pub fn create(name: &str, limits: &Limits) -> Result<(Cgroup, LimitsReport), LimitsError> {
        validate_name(name)?;
        if let Some(c) = limits.cpus {
            validate_cpus(c)?;
        }
        if limits.memory_bytes == Some(0) {
            return Err(LimitsError::Zero("memory"));
        }
        if limits.pids == Some(0) {
            return Err(LimitsError::Zero("pids"));
        }
        let mut hs = hierarchies();
        settle_v2(&mut hs, limits);
        let mut b = Builder {
            name,
            dirs: Vec::new(),
            created: Vec::new(),
        };
        match Self::create_in(&mut b, &hs, limits) {
            Ok((rlimits, report)) => {
                // Directories that ended up with no limit are still useful to list and kill
                // the sandbox's processes, so they are kept.
                let cg = Cgroup {
                    name: name.to_string(),
                    dirs: std::mem::take(&mut b.dirs),
                    rlimits,
                };
                Ok((cg, report))
            }
            Err(e) => {
                b.rollback();
                Err(e)
            }
        }
    }

    fn create_in(
        b: &mut Builder<'_>,
        hs: &[Hierarchy],
        limits: &Limits,
    ) -> Result<(Vec<Rlimit>, LimitsReport), LimitsError> {
        let mut rlimits = Vec::new();

        let pids = match limits.pids {
            None => None,
            Some(n) => {
                let w = move |dir: &Path, _v: Version| {
                    write_file(&dir.join("pids.max"), &n.to_string())
                };
                Some(match b.place(hs, "pids", &w)? {
                    Ok(enforcement) => Enforced {
                        value: n,
                        enforcement,
                        note: None,
                    },
                    Err(why) => {
                        rlimits.push((libc::RLIMIT_NPROC as libc::c_int, n));
                        Enforced {
                            value: n,
                            enforcement: Enforcement::Rlimit,
                            note: Some(format!(
                                "RLIMIT_NPROC counts every process of the sandbox's real uid, not only this sandbox's, and does not bind root ({why})"
                            )),
                        }
                    }
                })
            }
        };

        let memory = match limits.memory_bytes {
            None => None,
            Some(bytes) => {
                let w = move |dir: &Path, v: Version| -> io::Result<()> {
                    match v {
                        Version::V2 => {
                            write_file(&dir.join("memory.max"), &bytes.to_string())?;
                            // No swap either, else the limit only moves pages to swap. Absent
                            // without swap accounting, which is fine.
                            let swap = dir.join("memory.swap.max");
                            if swap.exists() {
                                write_file(&swap, "0")?;
                            }
                        }
                        Version::V1 => {
                            write_file(&dir.join("memory.limit_in_bytes"), &bytes.to_string())?;
                            // memsw = memory + swap; equal means no swap. Must come after
                            // limit_in_bytes, which it may not be below.
                            let memsw = dir.join("memory.memsw.limit_in_bytes");
                            if memsw.exists() {
                                write_file(&memsw, &bytes.to_string())?;
                            }
                        }
                    }
                    Ok(())
                };
                Some(match b.place(hs, "memory", &w)? {
                    Ok(enforcement) => Enforced {
                        value: bytes,
                        enforcement,
                        note: None,
                    },
                    Err(why) => {
                        rlimits.push((libc::RLIMIT_AS as libc::c_int, bytes));
                        Enforced {
                            value: bytes,
                            enforcement: Enforcement::Rlimit,
                            note: Some(format!(
                                "RLIMIT_AS caps each process's address space, not the sandbox's total ({why})"
                            )),
                        }
                    }
                })
            }
        };

        let cpus = match limits.cpus {
            None => None,
            Some(c) => {
                let quota = ((c * CPU_PERIOD_US as f64).round() as u64).max(CPU_MIN_QUOTA_US);
                let w = move |dir: &Path, v: Version| -> io::Result<()> {
                    match v {
                        Version::V2 => {
                            write_file(&dir.join("cpu.max"), &format!("{quota} {CPU_PERIOD_US}"))
                        }
                        Version::V1 => {
                            write_file(&dir.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
                            write_file(&dir.join("cpu.cfs_quota_us"), &quota.to_string())
                        }
                    }
                };
                Some(match b.place(hs, "cpu", &w)? {
                    Ok(enforcement) => Enforced {
                        value: c,
                        enforcement,
                        note: None,
                    },
                    Err(why) => Enforced {
                        value: c,
                        enforcement: Enforcement::NotEnforced(why),
                        note: Some("no rlimit can share CPU time".to_string()),
                    },
                })
            }
        };

        b.track(hs)?;
        Ok((rlimits, LimitsReport { cpus, memory, pids }))
    }

    /// Find an existing group by name (e.g. from another process that wants to destroy it).
    /// Looks below this process's own cgroups first, then below each hierarchy's root.
    pub fn open(name: &str) -> Option<Cgroup> {
        validate_name(name).ok()?;
        let mut dirs: Vec<GroupDir> = Vec::new();
        for h in hierarchies() {
            // create() may have placed a v2 group at an ancestor of our own cgroup.
            let bases = match h.version {
                Version::V2 => ancestors_within(&h.own, &h.mount),
                Version::V1 => vec![h.own.clone(), h.mount.clone()],
            };
            for base in &bases {
                let path = base.join(PARENT_DIR).join(name);
                if path.is_dir() && !dirs.iter().any(|d| d.path == path) {
                    dirs.push(GroupDir {
                        path,
                        version: h.version,
                        controllers: Vec::new(),
                    });
                    break;
                }
            }
        }
        if dirs.is_empty() {
            return None;
        }
        Some(Cgroup {
            name: name.to_string(),
            dirs,
            rlimits: Vec::new(),
        })
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every directory of the group (one per hierarchy used).
    pub fn paths(&self) -> Vec<&Path> {
        self.dirs.iter().map(|d| d.path.as_path()).collect()
    }

    /// The directory holding `controller`'s limit (`pids`, `memory` or `cpu`), if a cgroup
    /// enforces it.
    pub fn controller_dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.controllers.contains(&controller))
            .map(|d| d.path.as_path())
    }

    /// Open each `cgroup.procs` and collect the fallback rlimits. Call in the parent.
    pub fn prepare_attach(&self) -> Result<AttachFds, LimitsError> {
        let mut procs = Vec::with_capacity(self.dirs.len());
        for d in &self.dirs {
            let path = d.path.join("cgroup.procs");
            let f = fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io_err("opening", &path))?;
            procs.push(OwnedFd::from(f));
        }
        Ok(AttachFds {
            procs,
            rlimits: self.rlimits.clone(),
        })
    }

    /// Processes currently in the group (union over its hierarchies, sorted).
    pub fn pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .dirs
            .iter()
            .filter_map(|d| fs::read_to_string(d.path.join("cgroup.procs")).ok())
            .flat_map(|s| {
                s.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Kill every process in the group: `cgroup.kill` on v2, else SIGKILL each one, in
    /// rounds (a process may fork between the listing and the kill) until none is left.
    /// Zombies count as gone: they are dead, waiting for their parent to reap them.
    pub fn kill_all(&self) -> Result<(), LimitsError> {
        for d in self.dirs.iter().filter(|d| d.version == Version::V2) {
            let kill = d.path.join("cgroup.kill");
            if kill.exists() {
                write_file(&kill, "1").map_err(io_err("writing", &kill))?;
            }
        }
        let mut left = 0;
        for round in 0..KILL_ROUNDS {
            let live: Vec<i32> = self.pids().into_iter().filter(|&p| !is_zombie(p)).collect();
            if live.is_empty() {
                return Ok(());
            }
            left = live.len();
            for pid in live {
                // SAFETY: kill with integer arguments. ESRCH (already gone) is fine.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(if round < 10 { 5 } else { 20 }));
        }
        Err(LimitsError::StillRunning(left))
    }

    /// Remove the group's directories (kill its processes first), and the shared `warden`
    /// parent when no other sandbox uses it.
    pub fn remove(self) -> Result<(), LimitsError> {
        for d in &self.dirs {
            // A just-killed process leaves the group a moment after it dies.
            let mut tries = 0;
            loop {
                match fs::remove_dir(&d.path) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 50 => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => return Err(io_err("removing", &d.path)(e)),
                }
            }
            if let Some(parent) = d.path.parent() {
                // Fails with EBUSY/ENOTEMPTY while other sandboxes have groups: fine.
                let _ = fs::remove_dir(parent);
            }
        }
        Ok(())
    }
}

fn is_zombie(pid: i32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        // Gone entirely.
        return true;
    };
    // The state follows the last ')' (the command name may contain one).
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|s| s == "Z" || s == "X")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_escapes() {
        assert_eq!(unescape_mount("/a\\040b"), PathBuf::from("/a b"));
        assert_eq!(unescape_mount("/plain"), PathBuf::from("/plain"));
    }

    #[test]
    fn join_paths() {
        let m = Path::new("/sys/fs/cgroup/memory");
        assert_eq!(join_cgroup(m, "/", "/"), m);
        assert_eq!(join_cgroup(m, "/", "/a/b"), m.join("a/b"));
        assert_eq!(join_cgroup(m, "/a", "/a/b"), m.join("b"));
    }

    #[test]
    fn v2_base_prefers_levels_that_already_delegate() {
        let bases: Vec<PathBuf> = ["/cg/a/scope", "/cg/a", "/cg"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let delegated = |d: &Path, c: &str| d == Path::new("/cg/a") && c != "cpu";
        let (base, got) =
            choose_v2_base(&bases, &["pids", "memory"], delegated, |_, _| false).expect("base");
        assert_eq!(base, PathBuf::from("/cg/a"));
        assert_eq!(got, vec!["pids", "memory"]);
        // cpu is not delegated anywhere: enable it at the nearest level that accepts it,
        // never at the scope that holds processes.
        let (base, got) = choose_v2_base(&bases, &["pids", "cpu"], delegated, |d, _| {
            d != Path::new("/cg/a/scope")
        })
        .expect("base");
        assert_eq!(base, PathBuf::from("/cg/a"));
        assert_eq!(got, vec!["pids", "cpu"]);
        // Nothing can be enabled: stay in our own group with no controllers.
        let (base, got) =
            choose_v2_base(&bases, &["cpu"], |_, _| false, |_, _| false).expect("base");
        assert_eq!(base, PathBuf::from("/cg/a/scope"));
        assert!(got.is_empty());
        assert_eq!(
            ancestors_within(Path::new("/sys/fs/cgroup/a/b"), Path::new("/sys/fs/cgroup")),
            vec![
                PathBuf::from("/sys/fs/cgroup/a/b"),
                PathBuf::from("/sys/fs/cgroup/a"),
                PathBuf::from("/sys/fs/cgroup")
            ]
        );
    }

    #[test]
    fn names() {
        assert!(validate_name("sb-1.2_x").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "ä"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
