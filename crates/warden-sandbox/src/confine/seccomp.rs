//! The seccomp layer: which syscalls are denied, and the BPF programs that deny them.
//!
//! Kept apart from the rest because the tables are the policy a reviewer reads, and the programs
//! are the only hand-written BPF in the crate. The module docs of [`super`] explain the choices
//! (EPERM, ENOSYS for `clone3`, the separate x32 program).

use std::collections::BTreeMap;

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

use super::ConfineError;

/// Syscalls denied with `EPERM` whatever their arguments.
///
/// Debuggers and cross-process memory access (`ptrace`, `process_vm_*`, `pidfd_getfd`) would
/// reach processes outside the filter; io_uring performs socket and file operations without
/// the syscalls the filter sees; the mount API, `setns` and `unshare` would rebuild the
/// namespaces; the rest are kernel-wide administration or large attack surface.
pub(super) const DENIED: &[(&str, i64)] = &[
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
pub(super) fn conditional_syscall_count() -> usize {
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

pub(super) fn native_arch() -> Result<TargetArch, ConfineError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| ConfineError::UnsupportedArch(std::env::consts::ARCH.to_string()))
}

/// The main program: every rule returns EPERM.
pub(super) fn eperm_program(arch: TargetArch) -> Result<BpfProgram, ConfineError> {
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
pub(super) fn clone3_program(arch: TargetArch) -> Result<BpfProgram, ConfineError> {
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
pub(super) fn x32_program() -> BpfProgram {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_names_match_table() {
        assert_eq!(denied_syscalls().len(), DENIED.len());
        assert!(denied_syscalls().contains(&"ptrace"));
        assert!(denied_syscalls().contains(&"io_uring_setup"));
    }
}
