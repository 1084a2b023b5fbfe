//! The confinement applied to every command in a sandbox: `no_new_privs`, Landlock and seccomp.
//!
//! # Use
//!
//! ```no_run
//! use std::os::unix::process::CommandExt;
//! use std::path::PathBuf;
//! use warden_sandbox::confine::{ConfineSpec, Confinement};
//!
//! let spec = ConfineSpec {
//!     read_only: vec![PathBuf::from("/usr"), PathBuf::from("/etc")],
//!     read_write: vec![PathBuf::from("/workspace"), PathBuf::from("/tmp")],
//! };
//! // Everything that allocates happens here, in the parent.
//! let confinement = std::sync::Arc::new(Confinement::prepare(&spec)?);
//! let c = confinement.clone();
//! let mut cmd = std::process::Command::new("/bin/sh");
//! // SAFETY: apply_in_child only makes raw syscalls on data prepared beforehand.
//! unsafe { cmd.pre_exec(move || c.apply_in_child()) };
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Confinement::prepare`] compiles the seccomp programs and creates the Landlock ruleset
//! fd in the parent. [`Confinement::apply_in_child`] is async-signal-safe (raw syscalls on
//! that prepared data, no allocation, no locks) so it can run between `fork` and `exec`.
//! It applies, in this order:
//!
//! 1. `PR_SET_NO_NEW_PRIVS`: required by both Landlock and unprivileged seccomp, and it
//!    stops setuid binaries from regaining privileges.
//! 2. `landlock_restrict_self` with the prepared ruleset.
//! 3. The seccomp programs, last, so that nothing the steps above need is filtered.
//!
//! Everything is inherited across `fork` and `execve`, so a command's own children are
//! confined the same way and cannot undo it.
//!
//! # seccomp
//!
//! Built with `seccompiler`; the default action is *allow* (namespaces and Landlock are the
//! main walls, seccomp closes the known ways around them). A matching rule returns `EPERM`,
//! except `clone3`, which returns `ENOSYS`: its flags live in a struct in memory that a
//! seccomp filter cannot read, and libc falls back to `clone` on `ENOSYS`, whose flags are
//! in a register and are checked. See [`denied_syscalls`] and [`DENIED_ARGUMENTS`].
//!
//! **Architectures.** The filter is compiled for the native architecture (x86_64, aarch64 or
//! riscv64; others are refused with [`ConfineError::UnsupportedArch`]). seccompiler starts
//! every program by comparing `seccomp_data.arch` with the native audit arch and returns
//! `SECCOMP_RET_KILL_PROCESS` on a mismatch: an ia32 syscall (`int 0x80`, with its
//! `socketcall` multiplexer that would hide the socket family) kills the process. The x32
//! ABI, however, reports the *same* audit arch as x86_64 and only sets bit 30
//! (`__X32_SYSCALL_BIT`) in the syscall number, which seccompiler does not look at, so on
//! x86_64 a second, hand-written program returns `EPERM` for every syscall number with that
//! bit set.
//!
//! # Landlock
//!
//! Best effort: the ruleset handles every filesystem right up to ABI 6 (including `refer`,
//! `truncate` and `ioctl_dev`) and, on kernels with ABI ≥ 6, scopes abstract unix sockets and
//! signals to the sandbox. Older kernels get what they support ([`LandlockStatus::Partial`]);
//! kernels without Landlock get [`LandlockStatus::NotEnforced`] and no error, since
//! namespaces and seccomp are the other layers. Paths in [`ConfineSpec::read_only`] get
//! read + execute + list; paths in [`ConfineSpec::read_write`] get everything except creating
//! character and block devices (no sandboxed tool needs that, and a device node inside a
//! writable tree is a classic way back to the host). Anything not listed is inaccessible. A
//! path that is a file gets only the rights that make sense for files, so single files
//! (e.g. `/dev/null`) can go in either list. Missing paths are skipped and listed in the
//! report. Device files that commands write to or use ioctls on (`/dev/null`, `/dev/tty`,
//! `/dev/pts`) belong in `read_write`: a read-only `/dev` is enough for `/dev/urandom` but
//! makes `> /dev/null` fail with EACCES. Files opened before the restriction (the inherited
//! stdin, stdout and stderr) are not affected.
//!
//! Landlock's TCP port rules (ABI 4) are not used: the network namespace and the egress
//! proxy decide where traffic goes. ABI 9's `resolve_unix` is not needed because seccomp
//! already denies `socket(AF_UNIX)`.

// The layers live in their own files: `seccomp` (the deny tables and the BPF programs),
// `landlock` (the filesystem ruleset) and `report` (what a confinement enforces, for `ls` and
// the sandbox record). This file holds what they share, the spec and the error, and
// `Confinement`, which prepares all of them in the parent and applies them in the child in
// the order described above.
mod landlock;
mod report;
mod seccomp;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use seccompiler::BpfProgram;

// `self::` because `landlock` alone would also name the crate.
pub use self::landlock::landlock_abi;
pub use report::{ConfineReport, LandlockReport, LandlockStatus, SeccompReport};
pub use seccomp::{denied_syscalls, DENIED_ARGUMENTS};

use self::landlock::{build_landlock, TARGET_ABI_NUMBER};
use seccomp::{
    clone3_program, conditional_syscall_count, eperm_program, native_arch, x32_program, DENIED,
};

/// Which paths a confined command may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfineSpec {
    /// Readable and executable (directories: recursively). Files are fine too.
    pub read_only: Vec<PathBuf>,
    /// Fully writable (directories: recursively), except creating device nodes.
    pub read_write: Vec<PathBuf>,
}

/// Why a confinement could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    /// seccomp programs are only compiled for architectures seccompiler knows.
    #[error("seccomp filters are not available for architecture {0}")]
    UnsupportedArch(String),
    /// seccompiler refused a rule, condition or filter (a bug in this module's tables).
    #[error("building the seccomp filter: {0}")]
    Seccomp(#[from] seccompiler::BackendError),
    /// The program is too long for a `sock_fprog`.
    #[error("the seccomp program has {0} instructions, more than a sock_fprog can hold")]
    ProgramTooLong(usize),
    /// Landlock rejected the ruleset or a rule.
    #[error("building the Landlock ruleset: {0}")]
    Landlock(#[from] ::landlock::RulesetError),
    /// A listed path exists but could not be opened to build its rule.
    #[error("opening {path} for a Landlock rule: {source}")]
    Path {
        /// The path from the spec.
        path: PathBuf,
        /// What the open or stat returned.
        source: io::Error,
    },
}

/// A confinement prepared in the parent, ready for [`Confinement::apply_in_child`].
#[derive(Debug)]
pub struct Confinement {
    /// Compiled programs, installed in this order.
    programs: Vec<BpfProgram>,
    /// The Landlock ruleset; `None` when the kernel has no Landlock. Created `O_CLOEXEC`, so
    /// it never reaches the exec'd command.
    ruleset: Option<OwnedFd>,
    report: ConfineReport,
}

/// Set `PR_SET_NO_NEW_PRIVS` on the calling thread. Async-signal-safe.
pub fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let ret = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Confinement {
    /// Compile the seccomp programs and create the Landlock ruleset. Call in the parent.
    pub fn prepare(spec: &ConfineSpec) -> Result<Confinement, ConfineError> {
        let arch = native_arch()?;
        let mut programs = vec![clone3_program(arch)?, eperm_program(arch)?];
        let x32_denied = std::env::consts::ARCH == "x86_64";
        if x32_denied {
            programs.push(x32_program());
        }
        for p in &programs {
            if p.len() > usize::from(u16::MAX) {
                return Err(ConfineError::ProgramTooLong(p.len()));
            }
        }

        let kernel_abi = landlock_abi();
        let parts = build_landlock(spec)?;
        let status = match (&parts.fd, kernel_abi) {
            (None, _) | (_, 0) => LandlockStatus::NotEnforced,
            (Some(_), abi) if abi >= TARGET_ABI_NUMBER => LandlockStatus::Full,
            _ => LandlockStatus::Partial,
        };
        let report = ConfineReport {
            no_new_privs: true,
            landlock: LandlockReport {
                kernel_abi,
                target_abi: TARGET_ABI_NUMBER,
                status,
                scoped: status != LandlockStatus::NotEnforced && kernel_abi >= 6,
                read_only: parts.read_only,
                read_write: parts.read_write,
                skipped: parts.skipped,
            },
            seccomp: SeccompReport {
                arch: std::env::consts::ARCH,
                denied_syscalls: DENIED.len(),
                conditional_syscalls: conditional_syscall_count(),
                programs: programs.len(),
                instructions: programs.iter().map(Vec::len).sum(),
                x32_denied,
            },
        };
        Ok(Confinement {
            programs,
            ruleset: parts.fd,
            report,
        })
    }

    /// Apply to the calling process: `no_new_privs`, then Landlock, then seccomp.
    ///
    /// Async-signal-safe (raw syscalls on prepared data, no allocation, no locks): meant for
    /// `std::os::unix::process::CommandExt::pre_exec`. Only the calling thread is confined,
    /// which after `fork` is the whole process.
    pub fn apply_in_child(&self) -> io::Result<()> {
        set_no_new_privs()?;
        if let Some(fd) = &self.ruleset {
            // SAFETY: integer arguments only; the fd is owned by self and open.
            let ret =
                unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd.as_raw_fd(), 0u32) };
            if ret != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        for program in &self.programs {
            let prog = libc::sock_fprog {
                // Checked against u16::MAX in prepare.
                len: program.len() as u16,
                // seccompiler's sock_filter is repr(C) with the kernel's layout, like libc's.
                filter: program.as_ptr() as *mut libc::sock_filter,
            };
            // SAFETY: prog points at a live, correctly sized program for the whole call.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0u32,
                    &prog as *const libc::sock_fprog,
                )
            };
            if ret != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// What this confinement enforces on this kernel.
    pub fn report(&self) -> ConfineReport {
        self.report.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_skips_missing_paths() {
        let spec = ConfineSpec {
            read_only: vec![PathBuf::from("/definitely/not/here")],
            read_write: vec![std::env::temp_dir()],
        };
        let c = Confinement::prepare(&spec).expect("prepare");
        let r = c.report();
        assert_eq!(
            r.landlock.skipped,
            vec![PathBuf::from("/definitely/not/here")]
        );
        assert!(r.seccomp.instructions > r.seccomp.denied_syscalls);
    }
}
