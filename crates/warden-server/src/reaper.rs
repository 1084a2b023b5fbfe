//! Reaping the sandbox supervisors this server started.
//!
//! A supervisor is a child of the process that created its sandbox; the CLI exits and
//! leaves it to init, but a long-running server must collect each one when its sandbox
//! ends, or every ended sandbox leaves a zombie behind. Only pids recorded here are
//! waited for, so a child some other part of the process waits on is never taken from it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Supervisors started by this process and not yet reaped.
#[derive(Debug, Clone, Default)]
pub struct Reaper {
    pids: Arc<Mutex<HashSet<i32>>>,
}

impl Reaper {
    /// Remembers a supervisor this process started.
    pub fn track(&self, pid: Option<i32>) {
        if let (Some(pid), Ok(mut pids)) = (pid.filter(|p| *p > 0), self.pids.lock()) {
            pids.insert(pid);
        }
    }

    /// Collects every tracked supervisor that has exited.
    pub fn reap(&self) {
        let Ok(mut pids) = self.pids.lock() else {
            return;
        };
        pids.retain(|pid| {
            let mut status = 0;
            // SAFETY: plain waitpid(2) on a pid of ours, without blocking.
            let rc = unsafe { libc::waitpid(*pid, &mut status, libc::WNOHANG) };
            rc == 0
        });
    }

    /// Reaps on every SIGCHLD until the runtime ends.
    pub fn spawn(&self) {
        let reaper = self.clone();
        tokio::spawn(async move {
            let Ok(mut signals) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())
            else {
                tracing::warn!("cannot watch SIGCHLD: ended sandboxes' supervisors stay zombies");
                return;
            };
            while signals.recv().await.is_some() {
                reaper.reap();
            }
        });
    }
}
