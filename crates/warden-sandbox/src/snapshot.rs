//! Snapshots: a sandbox's writable state (/workspace and /home/sandbox) captured
//! as a directory tree, and restored by copying it into a new sandbox.

use crate::error::{Result, SandboxError};
use crate::files;
use crate::lifecycle::Sandboxes;
use crate::state::{
    is_valid_id, new_id, now_ms, remove_state_dir, write_json_atomic, SnapshotMeta,
};

impl Sandboxes {
    /// Captures the sandbox's writable state (/workspace and /home/sandbox).
    pub fn snapshot(&self, id_or_name: &str) -> Result<SnapshotMeta> {
        let (sandbox, meta) = self.find(id_or_name)?;
        let id = new_id("snap");
        let dir = self.root().snapshots_dir().join(&id);
        let result = (|| {
            files::copy_tree(&sandbox.workspace(), &dir.join("workspace"), false, None)?;
            files::copy_tree(&sandbox.home(), &dir.join("home"), false, None)?;
            // A snapshot is never written again, so identical copies can share their bytes
            // (restoring copies them apart again).
            let saved = files::link_duplicates(&dir)?;
            if saved > 0 {
                tracing::debug!("snapshot {id}: {saved} bytes of duplicate files linked");
            }
            let (f1, b1) = files::tree_size(&dir.join("workspace"));
            let (f2, b2) = files::tree_size(&dir.join("home"));
            let snap = SnapshotMeta {
                id: id.clone(),
                source_sandbox: meta.id.clone(),
                created_ms: now_ms(),
                files: f1 + f2,
                bytes: b1 + b2,
                labels: meta.labels.clone(),
            };
            write_json_atomic(&dir.join("meta.json"), &snap)?;
            Ok(snap)
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        result
    }

    /// Every snapshot whose record is readable and names its own directory. An id read
    /// from disk becomes a path (restore, `--rm`), so a record claiming another id
    /// (`"id": "../../victim"`) is not a snapshot; neither is a symlinked directory.
    pub fn snapshots(&self) -> Result<Vec<SnapshotMeta>> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.root().snapshots_dir()) else {
            return Ok(out);
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(dir_id) = name.to_str() else {
                continue;
            };
            if !is_valid_id("snap", dir_id) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(text) = files::read_small(&entry.path().join("meta.json")) else {
                continue;
            };
            match serde_json::from_str::<SnapshotMeta>(&text) {
                Ok(meta) if meta.id == dir_id => out.push(meta),
                _ => tracing::warn!(
                    "{}: not a record of snapshot {dir_id}; left out",
                    entry.path().join("meta.json").display()
                ),
            }
        }
        out.sort_by_key(|s| s.created_ms);
        Ok(out)
    }

    pub(crate) fn find_snapshot(&self, id: &str) -> Result<SnapshotMeta> {
        // Checked like the ids on disk: whatever is typed, it can only ever select one of them.
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(SandboxError::Invalid(format!(
                "{id:?} is not a snapshot id (snap-… from `warden sandbox snapshots`)"
            )));
        }
        let snaps = self.snapshots()?;
        if let Some(exact) = snaps.iter().find(|s| s.id == id) {
            return Ok(exact.clone());
        }
        let mut prefixed = snaps
            .into_iter()
            .filter(|s| id.len() >= 6 && s.id.starts_with(id));
        match (prefixed.next(), prefixed.next()) {
            (Some(one), None) => Ok(one),
            (Some(_), Some(_)) => Err(SandboxError::Invalid(format!(
                "{id:?} matches more than one snapshot: give more of the id"
            ))),
            _ => Err(SandboxError::SnapshotNotFound(id.to_string())),
        }
    }

    pub fn remove_snapshot(&self, id: &str) -> Result<String> {
        let snap = self.find_snapshot(id)?;
        remove_state_dir(&self.root().snapshots_dir(), "snap", &snap.id)?;
        Ok(snap.id)
    }
}
