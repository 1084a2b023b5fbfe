//! The Landlock layer: the filesystem ruleset built from a [`ConfineSpec`], best effort.
//!
//! Kept apart from the rest because it is the only layer whose strength depends on the kernel (its
//! ABI version) and on the filesystem (paths that exist, files versus directories). The module docs
//! of [`super`] explain which rights each list gets.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use ::landlock::{
    Access, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope, ABI,
};

use super::{ConfineError, ConfineSpec};

/// The Landlock ABI whose rights this module has been written and tested against.
const TARGET_ABI: ABI = ABI::V6;
/// Same, as the number the kernel reports.
pub(super) const TARGET_ABI_NUMBER: u32 = 6;

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

pub(super) struct LandlockParts {
    pub(super) fd: Option<OwnedFd>,
    pub(super) read_only: Vec<PathBuf>,
    pub(super) read_write: Vec<PathBuf>,
    pub(super) skipped: Vec<PathBuf>,
}

pub(super) fn build_landlock(spec: &ConfineSpec) -> Result<LandlockParts, ConfineError> {
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
