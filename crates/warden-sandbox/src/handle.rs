//! [`Sandbox`]: one sandbox owned by a program, destroyed when it is dropped.
//!
//! For programs that drive sandboxes (the agent adapter): create from a spec, run
//! commands with their output captured, copy files out, and destroy, also on every
//! error and cancellation path, since dropping the handle destroys the sandbox.

use crate::capture::{ExecIo, ExecOutput};
use crate::error::{Result, SandboxError};
use crate::files::Copied;
use crate::lifecycle::Sandboxes;
use crate::proto::ExecRequest;
use crate::spec::SandboxSpec;
use crate::state::SandboxMeta;
use std::future::Future;
use std::path::Path;

/// A running sandbox this program created; [`Sandbox::destroy`] (or dropping it) ends
/// every process in it and removes its state.
#[derive(Debug)]
pub struct Sandbox {
    sandboxes: Sandboxes,
    meta: SandboxMeta,
    destroyed: bool,
}

impl Sandbox {
    /// Creates a sandbox from `spec` and returns once it runs. Blocks (a few
    /// milliseconds, or the time a workspace copy takes): from async code, call it
    /// through `spawn_blocking`.
    pub fn create(sandboxes: &Sandboxes, spec: &SandboxSpec) -> Result<Sandbox> {
        let mut spec = spec.clone();
        // Owned by this program: if it dies without destroying it, the supervisor does.
        spec.owner.get_or_insert(std::process::id());
        let meta = sandboxes.create(&spec)?;
        Ok(Sandbox {
            sandboxes: sandboxes.clone(),
            meta,
            destroyed: false,
        })
    }

    pub fn id(&self) -> &str {
        &self.meta.id
    }

    /// The record as it was when the sandbox started (ports, brokered hosts, limits).
    pub fn meta(&self) -> &SandboxMeta {
        &self.meta
    }

    /// Runs a command, output captured (see [`Sandboxes::exec_captured`]); returns once
    /// it has exited, timed out or been killed because `cancel` completed.
    pub async fn exec(
        &self,
        request: &ExecRequest,
        io: ExecIo,
        cancel: impl Future<Output = ()>,
    ) -> Result<ExecOutput> {
        self.sandboxes
            .exec_captured(&self.meta.id, request, io, cancel)
            .await
    }

    /// Copies a file or directory inside (under /workspace or /home/sandbox, or in a
    /// read-only bind) out to `host`; symlinks inside are never followed.
    pub fn copy_out(&self, inside: &Path, host: &Path) -> Result<Copied> {
        self.sandboxes.copy_out(&self.meta.id, inside, host)
    }

    /// Copies a host file or directory in (not into a read-only bind).
    pub fn copy_in(&self, host: &Path, inside: &Path) -> Result<Copied> {
        self.sandboxes.copy_in(&self.meta.id, host, inside)
    }

    /// Kills every process in the sandbox and removes its state. A sandbox that is
    /// already gone counts as destroyed.
    pub fn destroy(mut self) -> Result<()> {
        self.destroyed = true;
        destroy(&self.sandboxes, &self.meta.id)
    }
}

fn destroy(sandboxes: &Sandboxes, id: &str) -> Result<()> {
    match sandboxes.destroy(id) {
        Ok(_) | Err(SandboxError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !self.destroyed {
            if let Err(e) = destroy(&self.sandboxes, &self.meta.id) {
                tracing::warn!(sandbox = %self.meta.id, error = %e, "destroying a dropped sandbox failed");
            }
        }
    }
}
