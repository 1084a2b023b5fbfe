//! TEMPORARY stand-in until the real confinement lands (same API).
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[error("confinement: {0}")]
pub struct ConfineError(String);

#[derive(Debug, Clone, Default)]
pub struct ConfineSpec {
    pub read_only: Vec<PathBuf>,
    pub read_write: Vec<PathBuf>,
}

pub struct Confinement;

impl Confinement {
    pub fn prepare(_spec: &ConfineSpec) -> Result<Confinement, ConfineError> {
        Ok(Confinement)
    }
    pub fn apply_in_child(&self) -> std::io::Result<()> {
        // SAFETY: prctl with constant arguments.
        let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    pub fn report(&self) -> String {
        "stub".into()
    }
}
