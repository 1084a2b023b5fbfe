//! Named, leased, per-project locks (e.g. one `scan` at a time).

use super::convert::invalid;
use super::{after, now, require_holder, require_project, write_tx, Db, Store};
use crate::error::StoreError;
use crate::model::{LockInfo, LockOutcome};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::time::Duration;

fn read_lock(
    conn: &Connection,
    path: &Path,
    project: &str,
    name: &str,
) -> Result<Option<LockInfo>, StoreError> {
    conn.query_row(
        "SELECT holder, acquired_at, lease_until FROM locks WHERE project = ?1 AND name = ?2",
        params![project, name],
        |r| {
            Ok(LockInfo {
                holder: r.get(0)?,
                since: r.get(1)?,
                until: r.get(2)?,
            })
        },
    )
    .optional()
    .db(path)
}

impl Store {
    /// Takes the named project lock for `holder` for `ttl`: `Held` if another holder's lease is still running.
    ///
    /// The same holder taking the lock again extends its lease; an expired lease
    /// of another holder is taken over.
    pub fn try_lock(
        &mut self,
        project: &str,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LockOutcome, StoreError> {
        require_holder(&self.path, holder)?;
        if name.trim().is_empty() {
            return Err(invalid(
                &self.path,
                "lock name must not be empty".to_string(),
            ));
        }
        let tx = write_tx(&mut self.conn, &self.path)?;
        require_project(&tx, &self.path, project)?;
        let now = now();
        let until = after(ttl);
        let since = match read_lock(&tx, &self.path, project, name)? {
            Some(held) if held.holder != holder && held.until > now => {
                return Ok(LockOutcome::Held(held))
            }
            Some(held) if held.holder == holder => held.since,
            _ => now,
        };
        tx.execute(
            "INSERT INTO locks (project, name, holder, acquired_at, lease_until) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (project, name) DO UPDATE SET
                 holder = excluded.holder, acquired_at = excluded.acquired_at, lease_until = excluded.lease_until",
            params![project, name, holder, since, until],
        )
        .db(&self.path)?;
        tx.commit().db(&self.path)?;
        Ok(LockOutcome::Acquired(LockInfo {
            holder: holder.to_string(),
            since,
            until,
        }))
    }

    /// Like [`Store::try_lock`], but a lock held by another is the error `Locked`.
    pub fn acquire_lock(
        &mut self,
        project: &str,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LockInfo, StoreError> {
        match self.try_lock(project, name, holder, ttl)? {
            LockOutcome::Acquired(info) => Ok(info),
            LockOutcome::Held(info) => Err(StoreError::Locked {
                path: self.path.clone(),
                name: name.to_string(),
                holder: info.holder,
                since: info.since,
                until: info.until,
            }),
        }
    }

    /// Extends `holder`'s lease on the named lock to `ttl` from now; false if it does not hold the lock.
    pub fn renew_lock(
        &mut self,
        project: &str,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let changed = self
            .conn
            .execute(
                "UPDATE locks SET lease_until = ?4 WHERE project = ?1 AND name = ?2 AND holder = ?3",
                params![project, name, holder, after(ttl)],
            )
            .db(&self.path)?;
        Ok(changed == 1)
    }

    /// Releases `holder`'s lock; a no-op if nobody holds it, `NotHolder` if another holder does.
    pub fn release_lock(
        &mut self,
        project: &str,
        name: &str,
        holder: &str,
    ) -> Result<(), StoreError> {
        let tx = write_tx(&mut self.conn, &self.path)?;
        require_project(&tx, &self.path, project)?;
        let deleted = tx
            .execute(
                "DELETE FROM locks WHERE project = ?1 AND name = ?2 AND holder = ?3",
                params![project, name, holder],
            )
            .db(&self.path)?;
        if deleted == 0 && read_lock(&tx, &self.path, project, name)?.is_some() {
            return Err(StoreError::NotHolder {
                path: self.path.clone(),
                project: project.to_string(),
                what: format!("lock `{name}`"),
                holder: holder.to_string(),
            });
        }
        tx.commit().db(&self.path)
    }

    /// Who holds the named lock now, if anyone's lease is still running.
    pub fn lock_holder(&self, project: &str, name: &str) -> Result<Option<LockInfo>, StoreError> {
        let now = now();
        Ok(read_lock(&self.conn, &self.path, project, name)?.filter(|l| l.until > now))
    }
}
