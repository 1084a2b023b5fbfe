//! A one-shot sandbox without bubblewrap: `warden sandbox run` with nothing from the
//! host (no files, network, ports or limits) builds its namespaces in-process.
//!
//! Why: bubblewrap costs two extra program starts per command (bubblewrap itself,
//! then our init, a second start of this large binary). Here the CLI unshares, forks
//! the sandbox's PID 1 and that process builds the same minimal root bubblewrap
//! would (see [`crate::launch`]), pivots into it and runs [`crate::init`]'s one-shot
//! path. Sandboxes that live on (`create`) keep using bubblewrap.
//!
//! The mount namespace is made private before anything is mounted, so nothing here
//! is ever visible on the host; the new root is a tmpfs mounted over `/tmp` inside
//! that namespace.

use crate::init::InitConfig;
use crate::launch::{HOME, SANDBOX_UID, WORKSPACE};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{fork, ForkResult};
use std::path::Path;

const NEW_ROOT: &str = "/tmp";

/// Runs `argv` in a fresh sandbox and returns its exit code, or `None` when this
/// kernel or process cannot build namespaces itself (the caller falls back to bubblewrap).
pub fn run(config: &InitConfig, argv: &[crate::os_arg::OsArg]) -> Option<i32> {
    // SAFETY: geteuid and getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let root = uid == 0;
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWCGROUP;
    if !root {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    // Fails (e.g. EINVAL in a multi-threaded process, EPERM where user namespaces are off).
    unshare(flags).ok()?;
    if !root && map_self(uid, gid).is_err() {
        return None;
    }
    // SAFETY: the process is single-threaded here (unshare(CLONE_NEWUSER) requires it,
    // and as root nothing started a thread yet); the child only builds its root and runs the init.
    match unsafe { fork() } {
        Err(_) => None,
        Ok(ForkResult::Parent { child }) => Some(wait_exit(child)),
        Ok(ForkResult::Child) => {
            let code = match build_root() {
                Ok(()) => become_sandbox_user(root).map_or_else(
                    |e| {
                        eprintln!("warden sandbox: {e}");
                        125
                    },
                    |()| crate::init::run_confined(config, argv),
                ),
                Err(e) => {
                    eprintln!("warden sandbox: building the sandbox: {e}");
                    125
                }
            };
            std::process::exit(code)
        }
    }
}

/// Maps this user to itself in the new user namespace (what an unprivileged user may do).
fn map_self(uid: u32, gid: u32) -> std::io::Result<()> {
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))
}

fn wait_exit(child: nix::unistd::Pid) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 125,
        }
    }
}

fn io(what: &str, e: nix::errno::Errno) -> std::io::Error {
    std::io::Error::other(format!("{what}: {e}"))
}

/// A bind mount of `src` at `dst`, read-only unless `writable`, never setuid or devices.
fn bind(src: &str, dst: &str, writable: bool) -> std::io::Result<()> {
    mount(
        Some(src),
        dst,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| io(src, e))?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID;
    // Flags the original mount has are locked in a user namespace: keep them.
    if let Ok(st) = nix::sys::statvfs::statvfs(dst) {
        let f = st.flags();
        use nix::sys::statvfs::FsFlags;
        for (have, want) in [
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(have) {
                flags |= want;
            }
        }
    }
    if !writable {
        flags |= MsFlags::MS_RDONLY;
    }
    mount(None::<&str>, dst, None::<&str>, flags, None::<&str>).map_err(|e| io(dst, e))
}

fn tmpfs(dst: &str, mode: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    mount(
        Some("tmpfs"),
        dst,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(mode),
    )
    .map_err(|e| io(dst, e))
}

/// The minimal root of [`crate::launch`], built under [`NEW_ROOT`] and pivoted into.
fn build_root() -> std::io::Result<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| io("making / private", e))?;
    let r = |p: &str| format!("{NEW_ROOT}{p}");
    tmpfs(NEW_ROOT, "mode=0755")?;
    for dir in crate::launch::SYSTEM_DIRS {
        let host = Path::new("/").join(dir);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&host)?;
                std::os::unix::fs::symlink(target, r(&format!("/{dir}")))?;
            }
            Ok(m) if m.is_dir() => {
                std::fs::create_dir_all(r(&format!("/{dir}")))?;
                bind(&format!("/{dir}"), &r(&format!("/{dir}")), false)?;
            }
            _ => {}
        }
    }
    std::fs::create_dir_all(r("/proc"))?;
    mount(
        Some("proc"),
        r("/proc").as_str(),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| io("/proc", e))?;
    build_dev(&r("/dev"))?;
    for (dir, mode) in [
        ("/tmp", "mode=1777"),
        ("/run", "mode=0755"),
        ("/var", "mode=0755"),
        (WORKSPACE, "mode=1777"),
        (HOME, "mode=1777"),
    ] {
        tmpfs(&r(dir), mode)?;
    }
    std::fs::create_dir_all(r("/var/tmp"))?;
    std::fs::set_permissions(
        r("/var/tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )?;
    // The sandbox has no resolver of its own.
    if Path::new("/etc/resolv.conf").exists() {
        let file = r("/run/.resolv.conf");
        std::fs::write(&file, crate::launch::RESOLV_CONF)?;
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        bind(&file, &r("/etc/resolv.conf"), false)?;
    }
    std::fs::create_dir_all(r("/.old"))?;
    nix::unistd::chdir(NEW_ROOT).map_err(|e| io("chdir", e))?;
    nix::unistd::pivot_root(".", ".old").map_err(|e| io("pivot_root", e))?;
    nix::unistd::chdir("/").map_err(|e| io("chdir /", e))?;
    umount2("/.old", MntFlags::MNT_DETACH).map_err(|e| io("detaching the host root", e))?;
    std::fs::remove_dir("/.old")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT
            | MsFlags::MS_BIND
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(|e| io("read-only root", e))?;
    nix::unistd::sethostname("warden-sandbox").map_err(|e| io("hostname", e))?;
    loopback_up()?;
    nix::unistd::chdir(WORKSPACE).map_err(|e| io(WORKSPACE, e))
}

/// A minimal `/dev`: the usual character devices bound from the host, a private devpts, shm.
fn build_dev(dev: &str) -> std::io::Result<()> {
    tmpfs(dev, "mode=0755")?;
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        let path = format!("{dev}/{node}");
        std::fs::File::create(&path)?;
        mount(
            Some(format!("/dev/{node}").as_str()),
            path.as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| io(&path, e))?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        std::os::unix::fs::symlink(target, format!("{dev}/{link}"))?;
    }
    std::fs::create_dir_all(format!("{dev}/pts"))?;
    mount(
        Some("devpts"),
        format!("{dev}/pts").as_str(),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=620"),
    )
    .map_err(|e| io("devpts", e))?;
    tmpfs(&format!("{dev}/shm"), "mode=1777")
}

fn loopback_up() -> std::io::Result<()> {
    // SAFETY: a plain socket and two ioctls on a zeroed, correctly sized ifreq.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        req.ifr_name[0] = b'l' as libc::c_char;
        req.ifr_name[1] = b'o' as libc::c_char;
        let ok = libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) == 0 && {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) == 0
        };
        let err = std::io::Error::last_os_error();
        libc::close(sock);
        if !ok {
            return Err(std::io::Error::other(format!("bringing lo up: {err}")));
        }
    }
    Ok(())
}

/// As root, becomes [`SANDBOX_UID`] for good; in every case the sandbox dies with its parent.
fn become_sandbox_user(root: bool) -> std::io::Result<()> {
    if root {
        crate::launch::become_user(SANDBOX_UID)?;
    }
    // Set after any credential change, which clears it.
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    Ok(())
}
