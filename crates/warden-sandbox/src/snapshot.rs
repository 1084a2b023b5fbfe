//! Snapshots: a sandbox's writable state (/workspace and /home/sandbox) captured
//! as a directory tree, and restored by copying it into a new sandbox.

use crate::error::{IoContext, Result, SandboxError};
use crate::files;
use crate::lifecycle::Sandboxes;
use crate::state::{new_id, now_ms, write_json_atomic, SnapshotMeta};

impl Sandboxes {
    /// Captures the sandbox's writable state (/workspace and /home/sandbox).
    pub fn snapshot(&self, id_or_name: &str) -> Result<SnapshotMeta> {
        let (sandbox, meta) = self.find(id_or_name)?;
        let id = new_id("snap");
        let dir = self.root().snapshots_dir().join(&id);
        let result = (|| {
            files::copy_tree(&sandbox.workspace(), &dir.join("workspace"), false, None)?;
            files::copy_tree(&sandbox.home(), &dir.join("home"), false, None)?;
            let (f1, b1) = files::tree_size(&dir.join("workspace"));
            let (f2, b2) = files::tree_size(&dir.join("home"));
            let snap = SnapshotMeta {
                id: id.clone(),
                source_sandbox: meta.id.clone(),
                created_ms: now_ms(),
                files: f1 + f2,
                bytes: b1 + b2,
            };
            write_json_atomic(&dir.join("meta.json"), &snap)?;
            Ok(snap)
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        result
    }

    pub fn snapshots(&self) -> Result<Vec<SnapshotMeta>> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.root().snapshots_dir()) else {
            return Ok(out);
        };
        for entry in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path().join("meta.json")) {
                if let Ok(meta) = serde_json::from_str::<SnapshotMeta>(&text) {
                    out.push(meta);
                }
            }
        }
        out.sort_by_key(|s| s.created_ms);
        Ok(out)
    }

    pub(crate) fn find_snapshot(&self, id: &str) -> Result<SnapshotMeta> {
        self.snapshots()?
            .into_iter()
            .find(|s| s.id == id || (id.len() >= 6 && s.id.starts_with(id)))
            .ok_or_else(|| SandboxError::SnapshotNotFound(id.to_string()))
    }

    pub fn remove_snapshot(&self, id: &str) -> Result<String> {
        let snap = self.find_snapshot(id)?;
        let dir = self.root().snapshots_dir().join(&snap.id);
        std::fs::remove_dir_all(&dir).context(|| format!("removing {}", dir.display()))?;
        Ok(snap.id)
    }
}
