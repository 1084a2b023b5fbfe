//! Building and starting the bubblewrap command that creates a sandbox's namespaces.
//!
//! Why bubblewrap: it is the setup sandbox-runtime and Codex rely on, packaged by
//! every distribution, works unprivileged through a user namespace, and does the
//! fiddly part (mount namespace with a fresh root, `/proc` for the new PID namespace,
//! a minimal `/dev`, `lo` up in an empty network namespace) in a few milliseconds.
//! The layers on top are ours: seccomp and Landlock (`confine`), the egress bridge
//! and the exec server (`init`), and cgroups (`limits`).
//!
//! The root inside is minimal, not the host's: `/usr`, `/etc`, `/opt` and the
//! `/bin`, `/lib*` links read-only, then fresh `/tmp`, `/run`, `/var`, `/dev` and
//! `/proc`, a writable `/workspace` and `/home/sandbox`. Home directories, `/root`,
//! `/srv`, `/mnt`, the host's `/run` (docker and D-Bus sockets, `SSH_AUTH_SOCK`) and
//! Warden's own data directory simply do not exist inside.
//!
//! As root, bubblewrap runs privileged (so it can bind directories whose host paths
//! that uid cannot reach), without a user namespace, keeping only CAP_SETUID and
//! CAP_SETGID for the init, which first of all becomes the unprivileged
//! [`SANDBOX_UID`] for good (clearing every capability). Root-owned files on the
//! host thus stay out of reach even where they are visible. As any other user,
//! bubblewrap makes a user namespace and processes keep that user's uid.

use crate::error::{Result, SandboxError};
use crate::init::{InitConfig, INIT_ARG};
use crate::limits::AttachFds;
use crate::state::SandboxDir;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The uid (and gid) a sandbox runs as when Warden runs as root.
pub const SANDBOX_UID: u32 = 64_000;

/// Paths inside the sandbox.
pub const WORKSPACE: &str = "/workspace";
pub const HOME: &str = "/home/sandbox";
pub const SOCK_DIR: &str = "/run/warden/sock";
pub const CA_DIR: &str = "/run/warden/ca";
const INIT_PATH: &str = "/run/warden/init";
/// The sandbox's `/etc/resolv.conf`: no resolver of its own, names resolve on the host, in the proxy.
pub(crate) const RESOLV_CONF: &[u8] =
    b"# warden sandbox: no resolver; the egress proxy resolves names\nnameserver 127.0.0.1\n";

/// The uid processes in a sandbox have on the host.
pub fn host_uid() -> u32 {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        SANDBOX_UID
    } else {
        euid
    }
}

/// Finds `bwrap`: the system one on PATH, never one in the current directory.
pub fn find_bwrap() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    std::env::split_paths(&path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join("bwrap"))
        .find(|p| p.is_file())
        .ok_or(SandboxError::BwrapMissing)
}

/// Host top-level entries that make up the read-only minimal root.
pub(crate) const SYSTEM_DIRS: [&str; 9] = [
    "usr", "etc", "opt", "bin", "sbin", "lib", "lib32", "lib64", "libx32",
];

/// The paths commands may read (Landlock), given the minimal root. The warden binary
/// itself is among them: agent CLIs start it as their MCP server (`__mcp-report`).
pub fn readable_paths() -> Vec<String> {
    let mut out: Vec<String> = SYSTEM_DIRS.iter().map(|d| format!("/{d}")).collect();
    out.extend(["/proc", CA_DIR, INIT_PATH].map(String::from));
    out
}

/// The paths commands may write (Landlock).
pub fn writable_paths() -> Vec<String> {
    [WORKSPACE, HOME, "/tmp", "/var/tmp", "/dev"]
        .map(String::from)
        .to_vec()
}

/// A bubblewrap command ready to spawn, with the descriptors it must inherit.
pub struct Launch {
    command: Command,
    /// Kept open until spawn; bubblewrap reads them by number.
    _fds: Vec<OwnedFd>,
}

pub enum Mode {
    /// The init serves exec requests until killed.
    Serve,
    /// The init runs this one command on its own stdio and exits with its code.
    Run(Vec<crate::os_arg::OsArg>),
}

/// Where the sandbox's writable directories come from.
pub enum Place<'a> {
    /// A sandbox directory on the host: workspace, home, sockets and CA are bound in,
    /// then the record's read-only binds.
    Dir(&'a SandboxDir, &'a crate::state::SandboxMeta),
    /// Nothing on the host: /workspace and /home/sandbox are fresh tmpfs mounts that
    /// vanish with the sandbox (a one-shot `run` with no network, ports or files).
    Ephemeral,
}

impl Launch {
    /// `exe` is the warden binary (bound as the sandbox's init); `inherit` are descriptors
    /// bubblewrap and the init must keep; `info_fd` gets bubblewrap's `--info-fd` JSON.
    pub fn new(
        exe: &Path,
        place: Place<'_>,
        config: &InitConfig,
        mode: &Mode,
        attach: Option<AttachFds>,
        inherit: &[RawFd],
        info_fd: Option<RawFd>,
    ) -> Result<Launch> {
        let bwrap = find_bwrap()?;
        let exe = exe.to_path_buf();
        let mut fds = Vec::new();
        let mut args: Vec<OsString> = Vec::new();
        let push = |args: &mut Vec<OsString>, items: &[&str]| {
            args.extend(items.iter().map(OsString::from))
        };
        push(
            &mut args,
            &[
                "--new-session",
                "--die-with-parent",
                "--as-pid-1",
                "--unshare-ipc",
                "--unshare-pid",
                "--unshare-net",
                "--unshare-uts",
                "--unshare-cgroup-try",
                "--hostname",
                "warden-sandbox",
                "--clearenv",
            ],
        );
        if as_root() {
            // bubblewrap runs privileged (it must reach the host paths it binds); the
            // init keeps only the right to become SANDBOX_UID, which it does first.
            push(
                &mut args,
                &["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"],
            );
        } else {
            push(&mut args, &["--unshare-user", "--disable-userns"]);
        }
        if let Some(fd) = info_fd {
            push(&mut args, &["--info-fd", &fd.to_string()]);
        }
        // Binds at /opt/warden need a mount point on the host-provided, read-only /opt:
        // /opt becomes a tmpfs holding the host's entries, read-only again at the end.
        let opt_binds = match &place {
            Place::Dir(_, meta) => meta
                .read_only_binds
                .iter()
                .any(|b| b.inside.starts_with(crate::binds::OPT_WARDEN)),
            Place::Ephemeral => false,
        };
        for dir in SYSTEM_DIRS {
            let host = Path::new("/").join(dir);
            if dir == "opt" && opt_binds {
                opt_entries(&host, &mut args);
                continue;
            }
            match std::fs::symlink_metadata(&host) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(&host) {
                        args.extend([
                            "--symlink".into(),
                            target.into_os_string(),
                            format!("/{dir}").into(),
                        ]);
                    }
                }
                Ok(m) if m.is_dir() => push(
                    &mut args,
                    &["--ro-bind", &format!("/{dir}"), &format!("/{dir}")],
                ),
                _ => {}
            }
        }
        push(
            &mut args,
            &[
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "--perms",
                "1777",
                "--tmpfs",
                "/tmp",
                "--tmpfs",
                "/run",
                "--tmpfs",
                "/var",
                "--perms",
                "1777",
                "--dir",
                "/var/tmp",
                "--dir",
                "/home",
                "--perms",
                "0755",
                "--dir",
                "/run/warden",
            ],
        );
        // The sandbox has no resolver of its own: names resolve on the host, in the proxy.
        if Path::new("/etc/resolv.conf").exists() {
            let data = data_fd(RESOLV_CONF)?;
            args.extend([
                "--perms".into(),
                "0644".into(),
                "--ro-bind-data".into(),
                data.as_raw_fd().to_string().into(),
                "/etc/resolv.conf".into(),
            ]);
            fds.push(data);
        }
        match place {
            Place::Dir(sandbox, meta) => {
                let workspace = match &meta.workspace_bind {
                    Some(dir) => ("--ro-bind-fd", dir.clone()),
                    None => ("--bind-fd", sandbox.workspace()),
                };
                let binds: [(&str, PathBuf, &str); 5] = [
                    (workspace.0, workspace.1, WORKSPACE),
                    ("--bind-fd", sandbox.home(), HOME),
                    ("--bind-fd", sandbox.sock_dir(), SOCK_DIR),
                    ("--ro-bind-fd", sandbox.ca_dir(), CA_DIR),
                    ("--ro-bind-fd", exe, INIT_PATH),
                ];
                for (flag, host, inside) in binds {
                    let fd = open_path(&host, &mut fds)?;
                    args.extend([flag.into(), fd.to_string().into(), inside.into()]);
                }
                if let Some(dir) = &meta.workspace_bind {
                    for (inside, is_dir) in crate::binds::top_level_masks(dir) {
                        let mask = if is_dir {
                            sandbox.empty_dir()
                        } else {
                            PathBuf::from("/dev/null")
                        };
                        let fd = open_path(&mask, &mut fds)?;
                        args.extend([
                            "--ro-bind-fd".into(),
                            fd.to_string().into(),
                            inside.into_os_string(),
                        ]);
                    }
                }
                for bind in &meta.read_only_binds {
                    // bubblewrap would make missing parents 0700, closed to the sandbox's
                    // user; the sandbox's own trees have theirs made by `populate`.
                    if bind.inside.starts_with(crate::binds::OPT_WARDEN) {
                        let mut parents: Vec<&Path> = bind
                            .inside
                            .ancestors()
                            .skip(1)
                            .take_while(|p| p.starts_with(crate::binds::OPT_WARDEN))
                            .collect();
                        parents.reverse();
                        for dir in parents {
                            args.extend([
                                "--perms".into(),
                                "0755".into(),
                                "--dir".into(),
                                dir.as_os_str().to_os_string(),
                            ]);
                        }
                    }
                    let fd = open_dir_nofollow(&bind.host, &mut fds)?;
                    args.extend([
                        "--ro-bind-fd".into(),
                        fd.to_string().into(),
                        bind.inside.clone().into_os_string(),
                    ]);
                }
                if opt_binds {
                    push(&mut args, &["--remount-ro", "/opt"]);
                }
            }
            Place::Ephemeral => {
                // Owned by whoever mounts them; the sandbox's uid must be able to write.
                push(
                    &mut args,
                    &[
                        "--perms", "1777", "--tmpfs", WORKSPACE, "--perms", "1777", "--tmpfs", HOME,
                    ],
                );
                args.extend(["--ro-bind".into(), exe.into_os_string(), INIT_PATH.into()]);
            }
        }
        args.extend([
            "--chdir".into(),
            WORKSPACE.into(),
            "--".into(),
            INIT_PATH.into(),
            INIT_ARG.into(),
        ]);
        let config_json =
            serde_json::to_string(config).map_err(|e| SandboxError::Start(e.to_string()))?;
        match mode {
            Mode::Serve => args.extend(["serve".into(), config_json.into()]),
            Mode::Run(argv) => {
                args.extend(["run".into(), config_json.into(), "--".into()]);
                args.extend(argv.iter().map(|a| a.as_os_str().to_os_string()));
            }
        }
        let mut command = Command::new(bwrap);
        command.args(&args).env_clear();
        let inherit: Vec<RawFd> = fds
            .iter()
            .map(|f| f.as_raw_fd())
            .chain(config.ready_fd)
            .chain(inherit.iter().copied())
            .collect();
        // SAFETY: the closure only makes async-signal-safe calls (fcntl, write, setuid...).
        unsafe {
            command.pre_exec(move || {
                for fd in &inherit {
                    if libc::fcntl(*fd, libc::F_SETFD, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if let Some(attach) = &attach {
                    attach.attach_in_child()?;
                }
                Ok(())
            });
        }
        Ok(Launch { command, _fds: fds })
    }

    pub fn stdio(&mut self, stdin: Stdio, stdout: Stdio, stderr: Stdio) -> &mut Self {
        self.command.stdin(stdin).stdout(stdout).stderr(stderr);
        self
    }

    /// Replaces this process with bubblewrap; returns only on failure.
    pub fn exec(mut self) -> SandboxError {
        let err = self.command.exec();
        SandboxError::Start(format!("starting bubblewrap: {err}"))
    }

    pub fn spawn_tokio(self) -> Result<tokio::process::Child> {
        let mut command = tokio::process::Command::from(self.command);
        command.kill_on_drop(true);
        command
            .spawn()
            .map_err(|e| SandboxError::Start(format!("starting bubblewrap: {e}")))
    }
}

/// Opens `path` as an `O_PATH` descriptor kept in `fds`, for `--bind-fd`.
fn open_path(path: &Path, fds: &mut Vec<OwnedFd>) -> Result<RawFd> {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| SandboxError::io(format!("opening {}", path.display()), e.into()))?;
    let raw = fd.as_raw_fd();
    fds.push(fd);
    Ok(raw)
}

/// Opens a bind's host directory for `--ro-bind-fd`, refusing a symlink put in its
/// place since the spec was checked.
fn open_dir_nofollow(path: &Path, fds: &mut Vec<OwnedFd>) -> Result<RawFd> {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_PATH
            | nix::fcntl::OFlag::O_DIRECTORY
            | nix::fcntl::OFlag::O_NOFOLLOW
            | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| {
        SandboxError::Invalid(format!(
            "read-only bind {}: {}",
            path.display(),
            std::io::Error::from(e)
        ))
    })?;
    let raw = fd.as_raw_fd();
    fds.push(fd);
    Ok(raw)
}

/// `/opt` as a tmpfs with the host's entries bound read-only into it (links as links),
/// so a mount point for /opt/warden can be made.
fn opt_entries(host: &Path, args: &mut Vec<OsString>) {
    args.extend(["--tmpfs".into(), "/opt".into()]);
    for entry in std::fs::read_dir(host).into_iter().flatten().flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let inside = Path::new("/opt").join(entry.file_name());
        if entry.file_name() == "warden" {
            continue;
        }
        if kind.is_symlink() {
            if let Ok(target) = std::fs::read_link(entry.path()) {
                args.extend([
                    "--symlink".into(),
                    target.into_os_string(),
                    inside.into_os_string(),
                ]);
            }
        } else if kind.is_dir() || kind.is_file() {
            args.extend([
                "--ro-bind".into(),
                entry.path().into_os_string(),
                inside.into_os_string(),
            ]);
        }
    }
}

/// A pipe holding `data`, for bubblewrap's `--ro-bind-data`.
fn data_fd(data: &[u8]) -> Result<OwnedFd> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| SandboxError::io("pipe", e.into()))?;
    nix::unistd::write(&w, data).map_err(|e| SandboxError::io("pipe", e.into()))?;
    Ok(r)
}

/// Whether this process runs as root (then sandboxes run as [`SANDBOX_UID`]).
pub(crate) fn as_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// In the init, as root: becomes `uid` for good, which also clears every capability.
pub fn become_user(uid: u32) -> std::io::Result<()> {
    // SAFETY: plain system calls on integers.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(uid, uid, uid) != 0
            || libc::setresuid(uid, uid, uid) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    let status = std::fs::read_to_string("/proc/self/status")?;
    let all_clear = status
        .lines()
        .filter(|l| l.starts_with("CapEff:") || l.starts_with("CapPrm:"))
        .all(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|v| v.trim_start_matches('0').is_empty())
        });
    if !all_clear {
        return Err(std::io::Error::other(
            "capabilities survived the switch to the sandbox user",
        ));
    }
    Ok(())
}
