//! The [`Cgroup`] handle and its lifecycle: create (with the per-limit fallbacks), open
//! again by name, list and kill its processes, remove it.
//!
//! The handle only records where the group's directories are; making them is
//! [`Builder`]'s job and finding the hierarchies is `detect`'s.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::attach::{AttachFds, Rlimit};
use super::builder::Builder;
use super::detect::{ancestors_within, hierarchies, settle_v2, Hierarchy, Version};
use super::parse::{validate_cpus, validate_name};
use super::{
    write_file, Enforced, Enforcement, Limits, LimitsError, LimitsReport, CPU_MIN_QUOTA_US,
    CPU_PERIOD_US, KILL_ROUNDS, PARENT_DIR,
};

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LimitsError + 'a {
    move |source| LimitsError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// One directory of the group, in one hierarchy.
#[derive(Debug, Clone)]
pub(super) struct GroupDir {
    pub(super) path: PathBuf,
    pub(super) version: Version,
    /// Controllers whose limits were written here.
    pub(super) controllers: Vec<&'static str>,
}

/// A per-sandbox cgroup (possibly spread over several v1 hierarchies), plus the rlimits that
/// stand in for what no cgroup could enforce.
///
/// Dropping the handle leaves the group in place, because it outlives the process that
/// made it ([`Cgroup::open`] finds it again): call [`Cgroup::kill_all`] and
/// [`Cgroup::remove`]. Without any writable hierarchy the group has no directory,
/// [`Cgroup::pids`] is empty and [`Cgroup::kill_all`] does nothing; the sandbox's PID
/// namespace is then what takes every process down with its init.
#[derive(Debug)]
pub struct Cgroup {
    name: String,
    dirs: Vec<GroupDir>,
    rlimits: Vec<Rlimit>,
}

impl Cgroup {
    /// Create the group `warden/<name>` and set `limits`, falling back per limit (see the
    /// module docs). Fails for an invalid name or limit, or when the group exists already;
    /// a missing or read-only cgroup hierarchy is not an error but a fallback in the report.
    pub fn create(name: &str, limits: &Limits) -> Result<(Cgroup, LimitsReport), LimitsError> {
        validate_name(name)?;
        if let Some(c) = limits.cpus {
            validate_cpus(c)?;
        }
        if limits.memory_bytes == Some(0) {
            return Err(LimitsError::Zero("memory"));
        }
        if limits.pids == Some(0) {
            return Err(LimitsError::Zero("pids"));
        }
        let mut hs = hierarchies();
        settle_v2(&mut hs, limits);
        let mut b = Builder {
            name,
            dirs: Vec::new(),
            created: Vec::new(),
        };
        match Self::create_in(&mut b, &hs, limits) {
            Ok((rlimits, report)) => {
                // Directories that ended up with no limit are still useful to list and kill
                // the sandbox's processes, so they are kept.
                let cg = Cgroup {
                    name: name.to_string(),
                    dirs: std::mem::take(&mut b.dirs),
                    rlimits,
                };
                Ok((cg, report))
            }
            Err(e) => {
                b.rollback();
                Err(e)
            }
        }
    }

    /// What a sandbox created now with `limits` would get, without creating one: a group
    /// is made with the same fallbacks as [`Cgroup::create`] and removed again. For a
    /// program that starts many sandboxes to say up front what their limits really are.
    pub fn probe(limits: &Limits) -> Result<LimitsReport, LimitsError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("probe-{}-{nanos}", std::process::id());
        let (cg, report) = Cgroup::create(&name, limits)?;
        cg.remove()?;
        Ok(report)
    }

    fn create_in(
        b: &mut Builder<'_>,
        hs: &[Hierarchy],
        limits: &Limits,
    ) -> Result<(Vec<Rlimit>, LimitsReport), LimitsError> {
        let mut rlimits = Vec::new();

        let pids = match limits.pids {
            None => None,
            Some(n) => {
                let w = move |dir: &Path, _v: Version| {
                    write_file(&dir.join("pids.max"), &n.to_string())
                };
                Some(match b.place(hs, "pids", &w)? {
                    Ok(enforcement) => Enforced {
                        value: n,
                        enforcement,
                        note: None,
                    },
                    Err(why) => {
                        rlimits.push((libc::RLIMIT_NPROC as libc::c_int, n));
                        Enforced {
                            value: n,
                            enforcement: Enforcement::Rlimit,
                            note: Some(format!(
                                "RLIMIT_NPROC counts every process of the sandbox's real uid, not only this sandbox's, and does not bind root ({why})"
                            )),
                        }
                    }
                })
            }
        };

        let memory = match limits.memory_bytes {
            None => None,
            Some(bytes) => {
                let w = move |dir: &Path, v: Version| -> io::Result<()> {
                    match v {
                        Version::V2 => {
                            write_file(&dir.join("memory.max"), &bytes.to_string())?;
                            // No swap either, else the limit only moves pages to swap. Absent
                            // without swap accounting, which is fine.
                            let swap = dir.join("memory.swap.max");
                            if swap.exists() {
                                write_file(&swap, "0")?;
                            }
                        }
                        Version::V1 => {
                            write_file(&dir.join("memory.limit_in_bytes"), &bytes.to_string())?;
                            // memsw = memory + swap; equal means no swap. Must come after
                            // limit_in_bytes, which it may not be below.
                            let memsw = dir.join("memory.memsw.limit_in_bytes");
                            if memsw.exists() {
                                write_file(&memsw, &bytes.to_string())?;
                            }
                        }
                    }
                    Ok(())
                };
                Some(match b.place(hs, "memory", &w)? {
                    Ok(enforcement) => Enforced {
                        value: bytes,
                        enforcement,
                        note: None,
                    },
                    Err(why) => {
                        rlimits.push((libc::RLIMIT_AS as libc::c_int, bytes));
                        Enforced {
                            value: bytes,
                            enforcement: Enforcement::Rlimit,
                            note: Some(format!(
                                "RLIMIT_AS caps each process's address space, not the sandbox's total ({why})"
                            )),
                        }
                    }
                })
            }
        };

        let cpus = match limits.cpus {
            None => None,
            Some(c) => {
                let quota = ((c * CPU_PERIOD_US as f64).round() as u64).max(CPU_MIN_QUOTA_US);
                let w = move |dir: &Path, v: Version| -> io::Result<()> {
                    match v {
                        Version::V2 => {
                            write_file(&dir.join("cpu.max"), &format!("{quota} {CPU_PERIOD_US}"))
                        }
                        Version::V1 => {
                            write_file(&dir.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
                            write_file(&dir.join("cpu.cfs_quota_us"), &quota.to_string())
                        }
                    }
                };
                Some(match b.place(hs, "cpu", &w)? {
                    Ok(enforcement) => Enforced {
                        value: c,
                        enforcement,
                        note: None,
                    },
                    Err(why) => Enforced {
                        value: c,
                        enforcement: Enforcement::NotEnforced(why),
                        note: Some("no rlimit can share CPU time".to_string()),
                    },
                })
            }
        };

        b.track(hs)?;
        Ok((rlimits, LimitsReport { cpus, memory, pids }))
    }

    /// Find an existing group by name (e.g. from another process that wants to destroy it).
    /// Looks below this process's own cgroups first, then below each hierarchy's root.
    pub fn open(name: &str) -> Option<Cgroup> {
        validate_name(name).ok()?;
        let mut dirs: Vec<GroupDir> = Vec::new();
        for h in hierarchies() {
            // create() may have placed a v2 group at an ancestor of our own cgroup.
            let bases = match h.version {
                Version::V2 => ancestors_within(&h.own, &h.mount),
                Version::V1 => vec![h.own.clone(), h.mount.clone()],
            };
            for base in &bases {
                let path = base.join(PARENT_DIR).join(name);
                if path.is_dir() && !dirs.iter().any(|d| d.path == path) {
                    dirs.push(GroupDir {
                        path,
                        version: h.version,
                        controllers: Vec::new(),
                    });
                    break;
                }
            }
        }
        if dirs.is_empty() {
            return None;
        }
        Some(Cgroup {
            name: name.to_string(),
            dirs,
            rlimits: Vec::new(),
        })
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every directory of the group (one per hierarchy used).
    pub fn paths(&self) -> Vec<&Path> {
        self.dirs.iter().map(|d| d.path.as_path()).collect()
    }

    /// The directory holding `controller`'s limit (`pids`, `memory` or `cpu`), if a cgroup
    /// enforces it.
    pub fn controller_dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.controllers.contains(&controller))
            .map(|d| d.path.as_path())
    }

    /// Open each `cgroup.procs` and collect the fallback rlimits. Call in the parent.
    pub fn prepare_attach(&self) -> Result<AttachFds, LimitsError> {
        let mut procs = Vec::with_capacity(self.dirs.len());
        for d in &self.dirs {
            let path = d.path.join("cgroup.procs");
            let f = fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io_err("opening", &path))?;
            procs.push(OwnedFd::from(f));
        }
        Ok(AttachFds {
            procs,
            rlimits: self.rlimits.clone(),
        })
    }

    /// Processes currently in the group (union over its hierarchies, sorted).
    pub fn pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .dirs
            .iter()
            .filter_map(|d| fs::read_to_string(d.path.join("cgroup.procs")).ok())
            .flat_map(|s| {
                s.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Kill every process in the group: `cgroup.kill` on v2, else SIGKILL each one, in
    /// rounds (a process may fork between the listing and the kill) until none is left.
    /// Zombies count as gone: they are dead, waiting for their parent to reap them.
    pub fn kill_all(&self) -> Result<(), LimitsError> {
        for d in self.dirs.iter().filter(|d| d.version == Version::V2) {
            let kill = d.path.join("cgroup.kill");
            if kill.exists() {
                write_file(&kill, "1").map_err(io_err("writing", &kill))?;
            }
        }
        let mut left = 0;
        for round in 0..KILL_ROUNDS {
            let live: Vec<i32> = self.pids().into_iter().filter(|&p| !is_zombie(p)).collect();
            if live.is_empty() {
                return Ok(());
            }
            left = live.len();
            for pid in live {
                // SAFETY: kill with integer arguments. ESRCH (already gone) is fine.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(if round < 10 { 5 } else { 20 }));
        }
        Err(LimitsError::StillRunning(left))
    }

    /// Remove the group's directories (kill its processes first), and the shared `warden`
    /// parent when no other sandbox uses it.
    pub fn remove(self) -> Result<(), LimitsError> {
        for d in &self.dirs {
            // A just-killed process leaves the group a moment after it dies.
            let mut tries = 0;
            loop {
                match fs::remove_dir(&d.path) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    // Polled finely: this wait is most of what `destroy` costs.
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 500 => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(e) => return Err(io_err("removing", &d.path)(e)),
                }
            }
            if let Some(parent) = d.path.parent() {
                // Fails with EBUSY/ENOTEMPTY while other sandboxes have groups: fine.
                let _ = fs::remove_dir(parent);
            }
        }
        Ok(())
    }
}

fn is_zombie(pid: i32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        // Gone entirely.
        return true;
    };
    // The state follows the last ')' (the command name may contain one).
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|s| s == "Z" || s == "X")
}
