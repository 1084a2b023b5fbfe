//! The child's side of a group: joining it and setting the fallback rlimits, between `fork` and
//! `exec`.
//!
//! Kept apart from the rest because it runs under `pre_exec`'s rules (async-signal-safe: raw
//! syscalls on descriptors and values prepared by
//! [`Cgroup::prepare_attach`](super::Cgroup::prepare_attach), no allocation), which every line here
//! has to respect.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// A fallback rlimit for the child: (resource, value).
pub(super) type Rlimit = (libc::c_int, u64);

/// Opened `cgroup.procs` files and rlimits, ready for [`AttachFds::attach_in_child`].
#[derive(Debug)]
pub struct AttachFds {
    pub(super) procs: Vec<OwnedFd>,
    pub(super) rlimits: Vec<Rlimit>,
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
