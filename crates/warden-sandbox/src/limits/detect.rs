//! Finding the cgroup hierarchies: which are mounted, which controllers each offers, where this
//! process's own group is, and at which level the v2 `warden` directory can go.
//!
//! Kept apart from the lifecycle because it only reads /proc and the cgroup filesystem (except
//! enabling a v2 controller where that is the only way to find a usable level), and its parsing and
//! choices are unit-tested without cgroups.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{write_file, Limits};

/// Which cgroup version a directory belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    V1,
    V2,
}

/// A mounted hierarchy and the cgroup this process is in there.
#[derive(Debug, Clone)]
pub(super) struct Hierarchy {
    pub(super) version: Version,
    /// Directory of this process's own cgroup.
    pub(super) own: PathBuf,
    /// The mount point (the hierarchy's root as seen here).
    pub(super) mount: PathBuf,
    /// v1: the controllers bound to the mount; v2: those available in `own`.
    pub(super) controllers: Vec<String>,
}

/// Undo the `\040`-style escapes of /proc/self/mountinfo.
fn unescape_mount(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Join a mount point with a cgroup path from /proc/self/cgroup, given the mount's root.
fn join_cgroup(mount: &Path, mount_root: &str, cgroup_path: &str) -> PathBuf {
    let rel = cgroup_path
        .strip_prefix(mount_root)
        .unwrap_or(cgroup_path)
        .trim_start_matches('/');
    if rel.is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(rel)
    }
}

/// The cgroup hierarchies mounted here, from /proc/self/mountinfo and /proc/self/cgroup.
pub(super) fn hierarchies() -> Vec<Hierarchy> {
    let (Ok(mountinfo), Ok(cgroups)) = (
        fs::read_to_string("/proc/self/mountinfo"),
        fs::read_to_string("/proc/self/cgroup"),
    ) else {
        return Vec::new();
    };
    // (controllers, path) per line of /proc/self/cgroup.
    let own: Vec<(Vec<&str>, &str)> = cgroups
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctrls = it.next()?;
            let path = it.next()?;
            Some((ctrls.split(',').filter(|c| !c.is_empty()).collect(), path))
        })
        .collect();

    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(mount), Some(fstype), Some(opts)) =
            (left.get(3), left.get(4), right.first(), right.get(2))
        else {
            continue;
        };
        let mount = unescape_mount(mount);
        match *fstype {
            "cgroup2" => {
                let Some((_, path)) = own.iter().find(|(c, _)| c.is_empty()) else {
                    continue;
                };
                let own_dir = join_cgroup(&mount, root, path);
                let controllers = fs::read_to_string(own_dir.join("cgroup.controllers"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                out.push(Hierarchy {
                    version: Version::V2,
                    own: own_dir,
                    mount,
                    controllers,
                });
            }
            "cgroup" => {
                let controllers: Vec<String> = opts
                    .split(',')
                    .filter(|o| ["pids", "memory", "cpu"].contains(o))
                    .map(str::to_string)
                    .collect();
                let Some(first) = controllers.first() else {
                    continue;
                };
                let Some((_, path)) = own.iter().find(|(c, _)| c.contains(&first.as_str())) else {
                    continue;
                };
                out.push(Hierarchy {
                    version: Version::V1,
                    own: join_cgroup(&mount, root, path),
                    mount,
                    controllers,
                });
            }
            _ => {}
        }
    }
    out
}

/// `dir` and its ancestors up to and including `mount`, nearest first.
pub(super) fn ancestors_within(dir: &Path, mount: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .take_while(|a| a.starts_with(mount))
        .map(Path::to_path_buf)
        .collect()
}

/// Where the v2 `warden` directory goes, and which controllers it gets there.
///
/// `bases` is the launcher's own cgroup and then its ancestors. cgroup v2 only lets a group
/// hand a controller to its children when it has no processes of its own (EBUSY otherwise;
/// the root is exempt), which rules out the launcher's own group on a systemd host while its
/// parent slice usually delegates already. So: the nearest level that already delegates every
/// needed controller (changing nothing); else the nearest where enabling them works; else the
/// own group with whatever it delegates already.
fn choose_v2_base(
    bases: &[PathBuf],
    needed: &[&str],
    enabled: impl Fn(&Path, &str) -> bool,
    enable: impl Fn(&Path, &str) -> bool,
) -> Option<(PathBuf, Vec<String>)> {
    let first = bases.first()?;
    let all = |v: &[&str]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    if needed.is_empty() {
        return Some((first.clone(), Vec::new()));
    }
    if let Some(b) = bases.iter().find(|b| needed.iter().all(|c| enabled(b, c))) {
        return Some((b.clone(), all(needed)));
    }
    if let Some(b) = bases.iter().find(|b| needed.iter().all(|c| enable(b, c))) {
        return Some((b.clone(), all(needed)));
    }
    let some: Vec<String> = needed
        .iter()
        .filter(|c| enabled(first, c))
        .map(|c| c.to_string())
        .collect();
    Some((first.clone(), some))
}

/// Is `controller` delegated to the children of `dir`?
fn v2_delegates(dir: &Path, controller: &str) -> bool {
    fs::read_to_string(dir.join("cgroup.subtree_control"))
        .is_ok_and(|s| s.split_whitespace().any(|c| c == controller))
}

/// Point each v2 hierarchy at the level chosen by [`choose_v2_base`] for these limits.
pub(super) fn settle_v2(hs: &mut [Hierarchy], limits: &Limits) {
    let mut wanted = Vec::new();
    if limits.pids.is_some() {
        wanted.push("pids");
    }
    if limits.memory_bytes.is_some() {
        wanted.push("memory");
    }
    if limits.cpus.is_some() {
        wanted.push("cpu");
    }
    for h in hs.iter_mut().filter(|h| h.version == Version::V2) {
        let needed: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|w| h.controllers.iter().any(|c| c == w))
            .collect();
        let bases = ancestors_within(&h.own, &h.mount);
        let chosen = choose_v2_base(&bases, &needed, v2_delegates, |d, c| {
            enable_v2_controller(d, c).is_ok()
        });
        if let Some((base, controllers)) = chosen {
            h.own = base;
            h.controllers = controllers;
        }
    }
}

/// Enable a v2 controller for the children of `dir` (no-op when it already is).
pub(super) fn enable_v2_controller(dir: &Path, controller: &str) -> io::Result<()> {
    let control = dir.join("cgroup.subtree_control");
    let current = fs::read_to_string(&control)?;
    if current.split_whitespace().any(|c| c == controller) {
        return Ok(());
    }
    write_file(&control, &format!("+{controller}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_escapes() {
        assert_eq!(unescape_mount("/a\\040b"), PathBuf::from("/a b"));
        assert_eq!(unescape_mount("/plain"), PathBuf::from("/plain"));
    }

    #[test]
    fn join_paths() {
        let m = Path::new("/sys/fs/cgroup/memory");
        assert_eq!(join_cgroup(m, "/", "/"), m);
        assert_eq!(join_cgroup(m, "/", "/a/b"), m.join("a/b"));
        assert_eq!(join_cgroup(m, "/a", "/a/b"), m.join("b"));
    }

    #[test]
    fn v2_base_prefers_levels_that_already_delegate() {
        let bases: Vec<PathBuf> = ["/cg/a/scope", "/cg/a", "/cg"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let delegated = |d: &Path, c: &str| d == Path::new("/cg/a") && c != "cpu";
        let (base, got) =
            choose_v2_base(&bases, &["pids", "memory"], delegated, |_, _| false).expect("base");
        assert_eq!(base, PathBuf::from("/cg/a"));
        assert_eq!(got, vec!["pids", "memory"]);
        // cpu is not delegated anywhere: enable it at the nearest level that accepts it,
        // never at the scope that holds processes.
        let (base, got) = choose_v2_base(&bases, &["pids", "cpu"], delegated, |d, _| {
            d != Path::new("/cg/a/scope")
        })
        .expect("base");
        assert_eq!(base, PathBuf::from("/cg/a"));
        assert_eq!(got, vec!["pids", "cpu"]);
        // Nothing can be enabled: stay in our own group with no controllers.
        let (base, got) =
            choose_v2_base(&bases, &["cpu"], |_, _| false, |_, _| false).expect("base");
        assert_eq!(base, PathBuf::from("/cg/a/scope"));
        assert!(got.is_empty());
        assert_eq!(
            ancestors_within(Path::new("/sys/fs/cgroup/a/b"), Path::new("/sys/fs/cgroup")),
            vec![
                PathBuf::from("/sys/fs/cgroup/a/b"),
                PathBuf::from("/sys/fs/cgroup/a"),
                PathBuf::from("/sys/fs/cgroup")
            ]
        );
    }
}
