//! Where a scanned tree came from, and its files' bytes by content hash, so that a
//! worker on another machine can rebuild exactly the tree the scan saw.

use super::{require_project, Store};
use crate::db::{params, Value};
use crate::error::StoreError;
use crate::model::{TreeInfo, TreeRecord};
use std::collections::{HashMap, HashSet};

impl Store {
    /// Records the scanned tree's git commit and origin (both `None` outside a checkout).
    pub fn set_tree(&mut self, project: &str, tree: &TreeInfo) -> Result<(), StoreError> {
        let tx = self.db.write_tx()?;
        require_project(&tx, project)?;
        tx.execute(
            "UPDATE projects SET tree_commit = ?2, tree_origin = ?3 WHERE id = ?1",
            params![project, tree.commit, tree.origin],
        )?;
        tx.commit()
    }

    /// What the last scan recorded about its tree, and how many blobs are stored;
    /// `None` for an unknown project.
    pub fn tree_record(&self, project: &str) -> Result<Option<TreeRecord>, StoreError> {
        let Some(row) = self.db.query_opt(
            "SELECT tree_commit, tree_origin,
                    (SELECT COUNT(*) FROM blobs WHERE project = ?1)
             FROM projects WHERE id = ?1",
            params![project],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(TreeRecord {
            commit: row.get(0)?,
            origin: row.get(1)?,
            blobs: u64::try_from(row.get::<i64>(2)?).unwrap_or(0),
        }))
    }

    /// Stores `(hash, bytes)` blobs (a blob already stored is kept), in one transaction,
    /// then drops the blobs no recorded file has any more.
    pub fn put_blobs(
        &mut self,
        project: &str,
        blobs: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let tx = self.db.write_tx()?;
        require_project(&tx, project)?;
        for (hash, bytes) in blobs {
            tx.execute(
                "INSERT INTO blobs (project, hash, content) VALUES (?1, ?2, ?3)
                 ON CONFLICT (project, hash) DO NOTHING",
                params![project, hash, bytes],
            )?;
        }
        tx.execute(
            "DELETE FROM blobs WHERE project = ?1
               AND hash NOT IN (SELECT hash FROM files WHERE project = ?1 AND status <> 'gone')",
            params![project],
        )?;
        tx.commit()
    }

    /// Which of `hashes` the store holds no blob for.
    pub fn missing_blobs(
        &self,
        project: &str,
        hashes: &[&str],
    ) -> Result<HashSet<String>, StoreError> {
        if hashes.is_empty() {
            return Ok(HashSet::new());
        }
        let (marks, values) = hash_list(project, hashes);
        let stored: HashSet<String> = self
            .db
            .query(
                &format!("SELECT hash FROM blobs WHERE project = ?1 AND hash IN ({marks})"),
                &values,
            )?
            .iter()
            .map(|row| row.get::<String>(0))
            .collect::<Result<_, _>>()?;
        Ok(hashes
            .iter()
            .filter(|h| !stored.contains(**h))
            .map(|h| h.to_string())
            .collect())
    }

    /// The stored blobs of `hashes`, by hash (a hash without a blob is left out).
    pub fn blobs(
        &self,
        project: &str,
        hashes: &[&str],
    ) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        if hashes.is_empty() {
            return Ok(HashMap::new());
        }
        let (marks, values) = hash_list(project, hashes);
        self.db
            .query(
                &format!(
                    "SELECT hash, content FROM blobs WHERE project = ?1 AND hash IN ({marks})"
                ),
                &values,
            )?
            .iter()
            .map(|row| Ok((row.get::<String>(0)?, row.get::<Vec<u8>>(1)?)))
            .collect()
    }
}

/// `?2, ?3, …` for `hashes`, and the parameters: the project, then each hash.
fn hash_list(project: &str, hashes: &[&str]) -> (String, Vec<Value>) {
    let marks: Vec<String> = (0..hashes.len()).map(|i| format!("?{}", i + 2)).collect();
    let mut values = vec![Value::Text(project.to_string())];
    values.extend(hashes.iter().map(|h| Value::Text(h.to_string())));
    (marks.join(", "), values)
}
