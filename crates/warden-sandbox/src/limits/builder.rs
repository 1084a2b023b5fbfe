//! Making a group's directories, one hierarchy at a time, and writing limits into them.
//!
//! Kept apart from [`Cgroup`](super::Cgroup) because this is the part with the kernel's rules (v2
//! delegation, the shared `warden` parent that other sandboxes may remove concurrently) and the
//! per-controller fallback between hierarchies; it also undoes what it made when creation fails.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::cgroup::GroupDir;
use super::detect::{enable_v2_controller, Hierarchy, Version};
use super::{Enforcement, LimitsError, PARENT_DIR};

/// The outcome of trying to create a group directory for one controller.
pub(super) enum DirOutcome {
    Ready(usize),
    Unavailable(String),
}

/// Creates (or reuses, within this call) group directories.
pub(super) struct Builder<'a> {
    pub(super) name: &'a str,
    pub(super) dirs: Vec<GroupDir>,
    /// Directories this call created, to remove on error.
    pub(super) created: Vec<PathBuf>,
}

impl Builder<'_> {
    /// A group directory in `h` for `controller`; errors only for an existing group.
    fn dir_for(
        &mut self,
        h: &Hierarchy,
        controller: Option<&'static str>,
    ) -> Result<DirOutcome, LimitsError> {
        let parent = h.own.join(PARENT_DIR);
        let path = parent.join(self.name);
        if let Some(i) = self.dirs.iter().position(|d| d.path == path) {
            if let (Version::V2, Some(controller)) = (h.version, controller) {
                if let Err(e) = enable_v2_controller(&parent, controller) {
                    return Ok(DirOutcome::Unavailable(format!(
                        "enabling {controller}: {e}"
                    )));
                }
            }
            self.dirs[i].controllers.extend(controller);
            return Ok(DirOutcome::Ready(i));
        }
        if let (Version::V2, Some(controller)) = (h.version, controller) {
            // The parent of warden/ must delegate the controller; this fails (EBUSY) when
            // our own cgroup holds processes and is not the root, and then v2 is not usable.
            if let Err(e) = enable_v2_controller(&h.own, controller) {
                return Ok(DirOutcome::Unavailable(format!(
                    "cannot enable {controller} in {}: {e}",
                    h.own.display()
                )));
            }
        }
        // Another sandbox's remove() may delete the shared parent between our two mkdirs:
        // one retry covers that race.
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Err(e) = fs::create_dir(&parent) {
                if e.kind() != io::ErrorKind::AlreadyExists {
                    return Ok(DirOutcome::Unavailable(format!(
                        "cannot create {}: {e}",
                        parent.display()
                    )));
                }
            }
            if let (Version::V2, Some(controller)) = (h.version, controller) {
                if let Err(e) = enable_v2_controller(&parent, controller) {
                    return Ok(DirOutcome::Unavailable(format!(
                        "cannot enable {controller} in {}: {e}",
                        parent.display()
                    )));
                }
            }
            match fs::create_dir(&path) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(LimitsError::Exists(path))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < 2 => continue,
                Err(e) => {
                    return Ok(DirOutcome::Unavailable(format!(
                        "cannot create {}: {e}",
                        path.display()
                    )))
                }
            }
        }
        self.created.push(path.clone());
        self.dirs.push(GroupDir {
            path,
            version: h.version,
            controllers: controller.into_iter().collect(),
        });
        Ok(DirOutcome::Ready(self.dirs.len() - 1))
    }

    /// Best place for `controller`: v2 if it offers it, else its v1 hierarchy.
    pub(super) fn place(
        &mut self,
        hs: &[Hierarchy],
        controller: &'static str,
        write: &dyn Fn(&Path, Version) -> io::Result<()>,
    ) -> Result<Result<Enforcement, String>, LimitsError> {
        let mut reasons = Vec::new();
        let candidates = hs
            .iter()
            .filter(|h| h.version == Version::V2)
            .chain(hs.iter().filter(|h| h.version == Version::V1))
            .filter(|h| h.controllers.iter().any(|c| c == controller));
        for h in candidates {
            match self.dir_for(h, Some(controller))? {
                DirOutcome::Ready(i) => {
                    let dir = self.dirs[i].path.clone();
                    match write(&dir, h.version) {
                        Ok(()) => {
                            return Ok(Ok(match h.version {
                                Version::V2 => Enforcement::CgroupV2,
                                Version::V1 => Enforcement::CgroupV1,
                            }))
                        }
                        Err(e) => {
                            self.dirs[i].controllers.retain(|c| *c != controller);
                            reasons.push(format!("writing the {controller} limit: {e}"));
                        }
                    }
                }
                DirOutcome::Unavailable(why) => reasons.push(why),
            }
        }
        if reasons.is_empty() {
            reasons.push(format!("no {controller} cgroup controller is mounted"));
        }
        Ok(Err(reasons.join("; ")))
    }

    /// A directory that only tracks the sandbox's processes, so that
    /// [`Cgroup::pids`](super::Cgroup::pids) and
    /// [`Cgroup::kill_all`](super::Cgroup::kill_all) work even for limits no cgroup took: in
    /// the v2 hierarchy when there is one (it needs no controller and has `cgroup.kill`, also
    /// on hybrid hosts where v2 has no controllers), else in the v1 pids hierarchy. Best
    /// effort.
    pub(super) fn track(&mut self, hs: &[Hierarchy]) -> Result<(), LimitsError> {
        if let Some(h) = hs.iter().find(|h| h.version == Version::V2) {
            if matches!(self.dir_for(h, None)?, DirOutcome::Ready(_)) {
                return Ok(());
            }
        }
        if self.dirs.is_empty() {
            let pids = hs
                .iter()
                .find(|h| h.version == Version::V1 && h.controllers.iter().any(|c| c == "pids"));
            if let Some(h) = pids {
                self.dir_for(h, None)?;
            }
        }
        Ok(())
    }

    pub(super) fn rollback(&mut self) {
        for p in self.created.drain(..).rev() {
            let _ = fs::remove_dir(&p);
            if let Some(parent) = p.parent() {
                // Only succeeds when no other sandbox uses it.
                let _ = fs::remove_dir(parent);
            }
        }
    }
}
