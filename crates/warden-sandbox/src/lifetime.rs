//! How long a sandbox lives: stopping it (its processes end, its files stay) and
//! moving its deadline.

use crate::control::{ctl, ctl_value};
use crate::error::{Result, SandboxError};
use crate::lifecycle::Sandboxes;
use crate::state::{SandboxMeta, Status};
use crate::supervisor::CtlRequest;
use std::time::{Duration, Instant};

impl Sandboxes {
    /// Ends every process in a sandbox and keeps its files: its status becomes
    /// `stopped`; its files can still be copied out and snapshotted, and
    /// [`Sandboxes::destroy`] removes it. A sandbox that already ended (stopped, timed
    /// out, failed) is returned as it is.
    pub fn stop(&self, id_or_name: &str) -> Result<SandboxMeta> {
        let (sandbox, meta) = self.find(id_or_name)?;
        match meta.effective_status() {
            Status::Running | Status::Starting => {}
            Status::Corrupt => {
                return Err(SandboxError::NotRunning {
                    id: meta.id.clone(),
                    status: "corrupt".into(),
                    hint: format!(" (`warden sandbox destroy {}` removes it)", meta.id),
                })
            }
            _ => return Ok(meta),
        }
        let supervisor = ctl(&sandbox, &meta.id, &CtlRequest::Stop)?;
        // It answers once every process is gone and the record says so, then exits.
        let deadline = Instant::now() + Duration::from_secs(5);
        while supervisor.is_some_and(crate::state::process_alive) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        sandbox.load()
    }

    /// Moves a running sandbox's deadline `by` later (counted from now if it already
    /// passed) and returns the record with the new `deadline_ms`. A sandbox created
    /// without a deadline keeps none.
    pub fn extend_timeout(&self, id_or_name: &str, by: Duration) -> Result<SandboxMeta> {
        if by.is_zero() {
            return Err(SandboxError::Invalid(
                "extend the timeout by more than nothing".into(),
            ));
        }
        let (sandbox, meta) = self.find_running(id_or_name)?;
        let by_ms = crate::state::millis(by);
        ctl_value(&sandbox, &meta.id, &CtlRequest::ExtendTimeout { by_ms })?;
        sandbox.load()
    }
}
