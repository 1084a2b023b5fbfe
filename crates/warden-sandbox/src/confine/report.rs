//! What a [`Confinement`](super::Confinement) enforces on the running kernel.
//!
//! Kept apart from the layers that fill it in because it is what callers keep: `ls`, the sandbox
//! record and the tests read it without needing seccomp or Landlock themselves.

use std::path::PathBuf;

use serde::Serialize;

/// How much of the Landlock policy the running kernel enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LandlockStatus {
    /// Every right and scope this module asks for.
    Full,
    /// The kernel's Landlock is older than ABI 6: some rights or the scoping are missing.
    Partial,
    /// No Landlock (not built in, or not in the active LSM list).
    NotEnforced,
}

/// The Landlock half of a [`ConfineReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LandlockReport {
    /// The ABI version the kernel reports (0 when Landlock is unavailable).
    pub kernel_abi: u32,
    /// The ABI whose rights this module asks for.
    pub target_abi: u32,
    /// How much of it is enforced.
    pub status: LandlockStatus,
    /// Abstract unix sockets and signals are scoped to the sandbox (ABI ≥ 6).
    pub scoped: bool,
    /// Paths that got read-only rules.
    pub read_only: Vec<PathBuf>,
    /// Paths that got read-write rules.
    pub read_write: Vec<PathBuf>,
    /// Paths of the spec that did not exist and were skipped.
    pub skipped: Vec<PathBuf>,
}

/// The seccomp half of a [`ConfineReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeccompReport {
    /// The architecture the programs were compiled for.
    pub arch: &'static str,
    /// Syscalls denied whatever their arguments.
    pub denied_syscalls: usize,
    /// Syscalls denied only for some arguments (socket, clone, ioctl).
    pub conditional_syscalls: usize,
    /// Number of BPF programs installed.
    pub programs: usize,
    /// Total BPF instructions.
    pub instructions: usize,
    /// x32 syscalls (x86_64 only) are refused.
    pub x32_denied: bool,
}

/// What a [`Confinement`](super::Confinement) enforces on this kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfineReport {
    /// Always set before anything else.
    pub no_new_privs: bool,
    /// Filesystem rules and scoping.
    pub landlock: LandlockReport,
    /// The syscall filter.
    pub seccomp: SeccompReport,
}

impl ConfineReport {
    /// One line for `ls` and the sandbox record, e.g.
    /// `no_new_privs, seccomp (38 syscalls denied, 3 by argument), landlock ABI 7 full, scoped`.
    pub fn summary(&self) -> String {
        let landlock = match self.landlock.status {
            LandlockStatus::Full => format!("landlock ABI {} full", self.landlock.kernel_abi),
            LandlockStatus::Partial => format!("landlock ABI {} partial", self.landlock.kernel_abi),
            LandlockStatus::NotEnforced => "landlock not enforced".to_string(),
        };
        format!(
            "{}seccomp ({} syscalls denied, {} by argument), {landlock}{}",
            if self.no_new_privs {
                "no_new_privs, "
            } else {
                ""
            },
            self.seccomp.denied_syscalls,
            self.seccomp.conditional_syscalls,
            if self.landlock.scoped {
                ", scoped signals and abstract sockets"
            } else {
                ""
            }
        )
    }
}
