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

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope, ABI,
};
use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};
use serde::Serialize;

/// The Landlock ABI whose rights this module has been written and tested against.
const TARGET_ABI: ABI = ABI::V6;
/// Same, as the number the kernel reports.
const TARGET_ABI_NUMBER: u32 = 6;

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
    Landlock(#[from] landlock::RulesetError),
    /// A listed path exists but could not be opened to build its rule.
    #[error("opening {path} for a Landlock rule: {source}")]
    Path {
        /// The path from the spec.
        path: PathBuf,
        /// What the open or stat returned.
        source: io::Error,
    },
}

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

/// What a [`Confinement`] enforces on this kernel.
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

/// Syscalls denied with `EPERM` whatever their arguments.
///
/// Debuggers and cross-process memory access (`ptrace`, `process_vm_*`, `pidfd_getfd`) would
/// reach processes outside the filter; io_uring performs socket and file operations without
/// the syscalls the filter sees; the mount API, `setns` and `unshare` would rebuild the
/// namespaces; the rest are kernel-wide administration or large attack surface.
const DENIED: &[(&str, i64)] = &[
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("setns", libc::SYS_setns),
    ("unshare", libc::SYS_unshare),
    ("bpf", libc::SYS_bpf),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("reboot", libc::SYS_reboot),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("acct", libc::SYS_acct),
    ("quotactl", libc::SYS_quotactl),
    ("quotactl_fd", libc::SYS_quotactl_fd),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("userfaultfd", libc::SYS_userfaultfd),
];

/// Syscalls denied only for some arguments, as `(syscall, what is denied)`; for docs and `ls`.
pub const DENIED_ARGUMENTS: &[(&str, &str)] = &[
    (
        "socket",
        "any family other than AF_INET, AF_INET6 and AF_NETLINK (so AF_UNIX, AF_PACKET, AF_VSOCK, AF_ALG, ... are EPERM)",
    ),
    ("socket", "AF_NETLINK with a protocol other than NETLINK_ROUTE"),
    (
        "socket",
        "AF_INET/AF_INET6 with a type other than SOCK_STREAM or SOCK_DGRAM (SOCK_RAW, SOCK_PACKET, SOCK_SEQPACKET, SOCK_RDM, SOCK_DCCP)",
    ),
    (
        "clone",
        "any CLONE_NEW* flag (NEWNS, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWCGROUP)",
    ),
    ("clone3", "always, with ENOSYS so that libc falls back to clone"),
    ("ioctl", "TIOCSTI and TIOCLINUX (typing into the terminal)"),
];

/// Names of the syscalls denied whatever their arguments (see also [`DENIED_ARGUMENTS`]).
pub fn denied_syscalls() -> &'static [&'static str] {
    const NAMES: [&str; DENIED.len()] = {
        let mut names = [""; DENIED.len()];
        let mut i = 0;
        while i < DENIED.len() {
            names[i] = DENIED[i].0;
            i += 1;
        }
        names
    };
    &NAMES
}

/// Distinct syscalls in [`DENIED_ARGUMENTS`] (the table lists some more than once).
fn conditional_syscall_count() -> usize {
    let mut names: Vec<&str> = DENIED_ARGUMENTS.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    names.len()
}

/// Namespace flags that `clone` may not carry.
const CLONE_NAMESPACE_FLAGS: &[i32] = &[
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
];

/// Socket types refused for AF_INET and AF_INET6: anything but stream and datagram.
const DENIED_INET_TYPES: &[i32] = &[
    libc::SOCK_RAW,
    libc::SOCK_RDM,
    libc::SOCK_SEQPACKET,
    6,  // SOCK_DCCP
    10, // SOCK_PACKET
];

/// The low bits of a socket type; the rest are SOCK_NONBLOCK and SOCK_CLOEXEC.
const SOCK_TYPE_MASK: u64 = 0xf;

/// Bit 30 of the syscall number marks an x32 syscall on x86_64.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

fn dword(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, ConfineError> {
    Ok(SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Dword,
        op,
        value,
    )?)
}

/// Integer syscall arguments as the u64 seccompiler compares. Dword comparisons look at the
/// low 32 bits, which is what the kernel reads for an `int` argument.
fn arg(v: i32) -> u64 {
    u64::from(v as u32)
}

fn native_arch() -> Result<TargetArch, ConfineError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| ConfineError::UnsupportedArch(std::env::consts::ARCH.to_string()))
}

/// The main program: every rule returns EPERM.
fn eperm_program(arch: TargetArch) -> Result<BpfProgram, ConfineError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &(_, nr) in DENIED {
        // An empty rule list matches on the syscall number alone.
        rules.insert(nr, Vec::new());
    }

    let mut socket = Vec::new();
    // Any family outside the allowed three.
    socket.push(SeccompRule::new(vec![
        dword(0, SeccompCmpOp::Ne, arg(libc::AF_INET))?,
        dword(0, SeccompCmpOp::Ne, arg(libc::AF_INET6))?,
        dword(0, SeccompCmpOp::Ne, arg(libc::AF_NETLINK))?,
    ])?);
    // Netlink only for routing queries (getaddrinfo's AI_ADDRCONFIG, `ip addr`); the others
    // (netfilter, audit, xfrm, ...) are large kernel surfaces an agent has no use for.
    socket.push(SeccompRule::new(vec![
        dword(0, SeccompCmpOp::Eq, arg(libc::AF_NETLINK))?,
        dword(2, SeccompCmpOp::Ne, arg(libc::NETLINK_ROUTE))?,
    ])?);
    for family in [libc::AF_INET, libc::AF_INET6] {
        for &ty in DENIED_INET_TYPES {
            socket.push(SeccompRule::new(vec![
                dword(0, SeccompCmpOp::Eq, arg(family))?,
                dword(1, SeccompCmpOp::MaskedEq(SOCK_TYPE_MASK), arg(ty))?,
            ])?);
        }
    }
    rules.insert(libc::SYS_socket, socket);

    let mut clone = Vec::new();
    for &flag in CLONE_NAMESPACE_FLAGS {
        // flags & FLAG == FLAG: the flag is set, whatever else is.
        clone.push(SeccompRule::new(vec![dword(
            0,
            SeccompCmpOp::MaskedEq(arg(flag)),
            arg(flag),
        )?])?);
    }
    rules.insert(libc::SYS_clone, clone);

    // The kernel reads ioctl's request as an unsigned int, so a Dword comparison cannot be
    // dodged by setting high bits.
    let tiocs = [libc::TIOCSTI, libc::TIOCLINUX];
    let ioctl = tiocs
        .iter()
        .map(|&req| {
            Ok(SeccompRule::new(vec![dword(
                1,
                SeccompCmpOp::Eq,
                u64::from(req as u32),
            )?])?)
        })
        .collect::<Result<Vec<_>, ConfineError>>()?;
    rules.insert(libc::SYS_ioctl, ioctl);

    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )?;
    Ok(filter.try_into()?)
}

/// `clone3` → ENOSYS, in its own program because a seccompiler filter has one match action.
fn clone3_program(arch: TargetArch) -> Result<BpfProgram, ConfineError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    rules.insert(libc::SYS_clone3, Vec::new());
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?;
    Ok(filter.try_into()?)
}

fn stmt(code: u32, k: u32) -> sock_filter {
    sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

/// x86_64 only: EPERM for every x32 syscall, which seccompiler's arch check lets through.
fn x32_program() -> BpfProgram {
    const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
    let ld_abs = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    vec![
        // seccomp_data.arch is at offset 4; other arches are killed by the other programs.
        stmt(ld_abs, 4),
        sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 1,
            jf: 0,
            k: AUDIT_ARCH_X86_64,
        },
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
        // seccomp_data.nr is at offset 0.
        stmt(ld_abs, 0),
        sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ]
}

/// The Landlock ABI version the running kernel reports, 0 without Landlock.
pub fn landlock_abi() -> u32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_ulong = 1;
    // SAFETY: with a null attr and size 0 and the VERSION flag, the kernel reads no memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(ret).unwrap_or(0)
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

struct LandlockParts {
    fd: Option<OwnedFd>,
    read_only: Vec<PathBuf>,
    read_write: Vec<PathBuf>,
    skipped: Vec<PathBuf>,
}

fn build_landlock(spec: &ConfineSpec) -> Result<LandlockParts, ConfineError> {
    let all = AccessFs::from_all(TARGET_ABI);
    let read = AccessFs::from_read(TARGET_ABI);
    let write = all & !(AccessFs::MakeChar | AccessFs::MakeBlock);
    let file_rights = AccessFs::from_file(TARGET_ABI);

    let ruleset = Ruleset::default()
        // Best effort: an older kernel enforces what it can, a kernel without Landlock gets
        // no ruleset and the report says so.
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)?
        .scope(Scope::from_all(TARGET_ABI))?;
    let mut created = ruleset.create()?;

    let mut parts = LandlockParts {
        fd: None,
        read_only: Vec::new(),
        read_write: Vec::new(),
        skipped: Vec::new(),
    };
    let lists: [(&[PathBuf], BitFlags<AccessFs>, bool); 2] = [
        (&spec.read_only, read, false),
        (&spec.read_write, write, true),
    ];
    for (paths, access, rw) in lists {
        for path in paths {
            let Some((fd, is_dir)) = open_path(path)? else {
                parts.skipped.push(path.clone());
                continue;
            };
            // Directory-only rights on a file make the kernel reject the rule.
            let access = if is_dir { access } else { access & file_rights };
            created = created.add_rule(PathBeneath::new(fd, access))?;
            if rw {
                parts.read_write.push(path.clone());
            } else {
                parts.read_only.push(path.clone());
            }
        }
    }
    parts.fd = created.into();
    Ok(parts)
}

/// Opens a path for a rule; `None` when it does not exist (skipped, not an error).
fn open_path(path: &Path) -> Result<Option<(PathFd, bool)>, ConfineError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfineError::Path {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let fd = PathFd::new(path).map_err(|e| ConfineError::Path {
        path: path.to_path_buf(),
        source: io::Error::other(e.to_string()),
    })?;
    Ok(Some((fd, meta.is_dir())))
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
    fn denied_names_match_table() {
        assert_eq!(denied_syscalls().len(), DENIED.len());
        assert!(denied_syscalls().contains(&"ptrace"));
        assert!(denied_syscalls().contains(&"io_uring_setup"));
    }

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
