//! TEMPORARY stand-in until the real limits land (same API).
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
#[error("limits: {0}")]
pub struct LimitsError(String);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub cpus: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub pids: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct LimitsReport;
impl std::fmt::Display for LimitsReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("none")
    }
}

pub struct Cgroup;
pub struct AttachFds;
impl AttachFds {
    pub fn attach_in_child(&self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Cgroup {
    pub fn create(_name: &str, _limits: &Limits) -> Result<(Cgroup, LimitsReport), LimitsError> {
        Ok((Cgroup, LimitsReport))
    }
    pub fn open(_name: &str) -> Option<Cgroup> {
        None
    }
    pub fn prepare_attach(&self) -> Result<AttachFds, LimitsError> {
        Ok(AttachFds)
    }
    pub fn pids(&self) -> Vec<i32> {
        Vec::new()
    }
    pub fn kill_all(&self) -> Result<(), LimitsError> {
        Ok(())
    }
    pub fn remove(self) -> Result<(), LimitsError> {
        Ok(())
    }
}

pub fn parse_size(text: &str) -> Result<u64, LimitsError> {
    text.parse().map_err(|_| LimitsError(text.into()))
}
