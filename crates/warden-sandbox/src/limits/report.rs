//! What each limit really got: a cgroup (v2 or v1), an rlimit, or nothing.
//!
//! Kept apart from the code that decides because it is what outlives it: the report is stored in
//! the sandbox record and shown by `ls`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::parse::format_size;

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
