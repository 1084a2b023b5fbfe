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

// One file per concept: `parse` (user input: sizes, CPU counts, names), `report` (what each
// limit really got), `detect` (which hierarchies are mounted and where our group goes),
// `builder` (making the group's directories and writing limits into them), `cgroup` (the
// handle and its lifecycle: create, open, list, kill, remove) and `attach` (the child's side:
// joining the group and setting the rlimit fallbacks between fork and exec). This file holds
// what they share: the requested limits, the error and the constants.
mod attach;
mod builder;
mod cgroup;
mod detect;
mod parse;
mod report;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use attach::AttachFds;
pub use cgroup::Cgroup;
pub use parse::{format_size, parse_cpus, parse_size};
pub use report::{Enforced, Enforcement, LimitsReport};

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

fn write_file(path: &Path, value: &str) -> io::Result<()> {
    let mut f = fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(value.as_bytes())
}
