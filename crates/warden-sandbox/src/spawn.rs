//! Starting one command inside the sandbox: fork, confine, exec.
//!
//! The init process is PID 1 and reaps every child (see `reaper`), so it cannot use
//! `std::process::Command`, whose error path waits for the child itself. Everything
//! that allocates happens before `fork`; the child only makes raw system calls.

use crate::confine::Confinement;
use crate::os_arg::OsArg;
use std::ffi::CString;
use std::ffi::OsStr;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A command ready to start: every string already a C string.
pub struct Prepared {
    program: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: CString,
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("{0}: command not found")]
    NotFound(String),
    #[error("{0}: argument or variable contains a NUL byte")]
    Nul(String),
    #[error("empty command")]
    Empty,
    #[error("working directory {dir}: {source}")]
    Cwd { dir: String, source: std::io::Error },
    #[error("{what} {arg}: {source}")]
    Os {
        what: &'static str,
        arg: String,
        source: std::io::Error,
    },
}

impl Prepared {
    /// Resolves `argv[0]` on the `PATH` in `env` and converts everything up front.
    /// Every argument, value and the directory are bytes: nothing needs to be UTF-8.
    pub fn new(
        argv: &[OsArg],
        env: &[(String, OsArg)],
        cwd: &OsStr,
    ) -> Result<Prepared, SpawnError> {
        let first = argv.first().ok_or(SpawnError::Empty)?;
        let path = env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_os_str())
            .unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
        let program = resolve(first.as_os_str(), path, Path::new(cwd))
            .ok_or_else(|| SpawnError::NotFound(first.lossy()))?;
        let cstr = |s: &[u8], what: &dyn Fn() -> String| {
            CString::new(s).map_err(|_| SpawnError::Nul(what()))
        };
        Ok(Prepared {
            program: cstr(program.as_os_str().as_bytes(), &|| first.lossy())?,
            argv: argv
                .iter()
                .map(|a| cstr(a.as_bytes(), &|| a.lossy()))
                .collect::<Result<_, _>>()?,
            envp: dedup_env(env)
                .iter()
                .map(|(k, v)| {
                    let mut kv = Vec::with_capacity(k.len() + 1 + v.as_bytes().len());
                    kv.extend_from_slice(k.as_bytes());
                    kv.push(b'=');
                    kv.extend_from_slice(v.as_bytes());
                    cstr(&kv, &|| k.clone())
                })
                .collect::<Result<_, _>>()?,
            cwd: cstr(cwd.as_bytes(), &|| cwd.to_string_lossy().into_owned())?,
        })
    }

    /// Forks and execs with `stdio` as descriptors 0, 1 and 2, in a new session (so it
    /// has no controlling terminal to inject keystrokes into) and confined. Returns the
    /// pid once `execve` succeeded; an `execve` or setup failure comes back as an error.
    pub fn spawn(&self, stdio: [RawFd; 3], confinement: &Confinement) -> Result<i32, SpawnError> {
        let os = |what, source| SpawnError::Os {
            what,
            arg: self.program.to_string_lossy().into_owned(),
            source,
        };
        let (report_r, report_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| os("pipe", e.into()))?;
        let mut argv: Vec<*const libc::c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const libc::c_char> = self.envp.iter().map(|a| a.as_ptr()).collect();
        envp.push(std::ptr::null());
        // SAFETY: the child below only makes async-signal-safe calls on memory prepared
        // before the fork, then execs or exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(os("fork", std::io::Error::last_os_error()));
        }
        if pid == 0 {
            // SAFETY: in the child of fork; see above.
            unsafe { child(self, stdio, &argv, &envp, report_w.as_raw_fd(), confinement) }
        }
        drop(report_w);
        let mut buf = [0u8; 8];
        let n = read_full(report_r.as_raw_fd(), &mut buf);
        if n == 8 {
            let stage = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let errno = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
            let source = std::io::Error::from_raw_os_error(errno);
            return Err(match stage {
                1 => os("setting up descriptors for", source),
                // The directory is what is wrong, not the program.
                2 => SpawnError::Cwd {
                    dir: self.cwd.to_string_lossy().into_owned(),
                    source,
                },
                3 => os("confining", source),
                _ => os("executing", source),
            });
        }
        Ok(pid)
    }
}

/// # Safety
/// Must only run in a freshly forked child.
unsafe fn child(
    p: &Prepared,
    stdio: [RawFd; 3],
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    report: RawFd,
    confinement: &Confinement,
) -> ! {
    let fail = |stage: u32| -> ! {
        let errno = *libc::__errno_location();
        let mut msg = [0u8; 8];
        msg[..4].copy_from_slice(&stage.to_ne_bytes());
        msg[4..].copy_from_slice(&errno.to_ne_bytes());
        libc::write(report, msg.as_ptr().cast(), 8);
        libc::_exit(127);
    };
    libc::setsid();
    // Rust ignores SIGPIPE and ignored dispositions survive exec: restore the defaults.
    for sig in [
        libc::SIGPIPE,
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
    ] {
        libc::signal(sig, libc::SIG_DFL);
    }
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    // Move the three descriptors above 2 first, so dup2 never clobbers one still needed.
    let mut high = [0; 3];
    for (i, fd) in stdio.iter().enumerate() {
        high[i] = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 10);
        if high[i] < 0 {
            fail(1);
        }
    }
    for (i, fd) in high.iter().enumerate() {
        if libc::dup2(*fd, i as i32) < 0 {
            fail(1);
        }
    }
    // Whatever else the init holds (the lifeline, bridge sockets) must not reach the command.
    libc::syscall(
        libc::SYS_close_range,
        3u32,
        u32::MAX,
        libc::CLOSE_RANGE_CLOEXEC,
    );
    if libc::chdir(p.cwd.as_ptr()) != 0 {
        fail(2);
    }
    if confinement.apply_in_child().is_err() {
        fail(3);
    }
    libc::execve(p.program.as_ptr(), argv.as_ptr(), envp.as_ptr());
    fail(4)
}

fn read_full(fd: RawFd, buf: &mut [u8]) -> usize {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: reading into the unfilled tail of `buf`.
        let n = unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            break;
        }
        done += n as usize;
    }
    done
}

/// Later entries win, as with `env K=1 K=2`.
fn dedup_env(env: &[(String, OsArg)]) -> Vec<(String, OsArg)> {
    let mut out: Vec<(String, OsArg)> = Vec::new();
    for (k, v) in env {
        if let Some(slot) = out.iter_mut().find(|(ok, _)| ok == k) {
            slot.1 = v.clone();
        } else {
            out.push((k.clone(), v.clone()));
        }
    }
    out
}

fn resolve(program: &OsStr, path: &OsStr, cwd: &Path) -> Option<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        let p = Path::new(program);
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        };
        return p.exists().then_some(p);
    }
    path.as_bytes()
        .split(|b| *b == b':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(OsStr::from_bytes(d)).join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_env_entries_win() {
        let env = vec![
            ("A".to_string(), OsArg::from("1")),
            ("B".into(), "2".into()),
            ("A".into(), "3".into()),
        ];
        assert_eq!(
            dedup_env(&env),
            vec![
                ("A".to_string(), OsArg::from("3")),
                ("B".into(), "2".into())
            ]
        );
    }

    #[test]
    fn unknown_programs_are_not_found() {
        let err = Prepared::new(&["no-such-program-xyz".into()], &[], OsStr::new("/"))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("no-such-program-xyz: command not found")
        );
        assert!(Prepared::new(
            &["sh".into()],
            &[("PATH".into(), "/usr/bin:/bin".into())],
            OsStr::new("/")
        )
        .is_ok());
    }
}
