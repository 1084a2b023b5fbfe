//! Named, leased, per-project locks (e.g. one `scan` at a time).

use super::convert::invalid;
use super::{after, now, require_holder, require_project, Store};
use crate::db::{params, Db};
use crate::error::StoreError;
use crate::model::{LockInfo, LockOutcome};
use std::time::Duration;

fn read_lock(db: &Db, project: &str, name: &str) -> Result<Option<LockInfo>, StoreError> {
    db.query_opt(
        "SELECT holder, acquired_at, lease_until FROM locks WHERE project = ?1 AND name = ?2",
        params![project, name],
    )?
    .map(|r| {
        Ok(LockInfo {
            holder: r.get(0)?,
            since: r.get(1)?,
            until: r.get(2)?,
        })
    })
    .transpose()
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
        require_holder(&self.db, holder)?;
        if name.trim().is_empty() {
            return Err(invalid(
                self.name(),
                "lock name must not be empty".to_string(),
            ));
        }
        let tx = self.db.write_tx()?;
        require_project(&tx, project)?;
        let now = now();
        let until = after(ttl);
        // One conditional upsert, so that of holders racing for the lock (on a PostgreSQL
        // store, not serialised by a database-wide write lock) exactly one gets it.
        let taken = tx.query_opt(
            "INSERT INTO locks (project, name, holder, acquired_at, lease_until)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (project, name) DO UPDATE SET
                 holder = excluded.holder,
                 acquired_at = CASE WHEN locks.holder = excluded.holder
                                    THEN locks.acquired_at ELSE excluded.acquired_at END,
                 lease_until = excluded.lease_until
             WHERE locks.holder = excluded.holder OR locks.lease_until <= excluded.acquired_at
             RETURNING acquired_at",
            params![project, name, holder, now, until],
        )?;
        let outcome = match taken {
            Some(row) => LockOutcome::Acquired(LockInfo {
                holder: holder.to_string(),
                since: row.get(0)?,
                until,
            }),
            None => match read_lock(&tx, project, name)? {
                Some(held) => LockOutcome::Held(held),
                None => {
                    return Err(StoreError::Busy {
                        store: self.name().clone(),
                    })
                }
            },
        };
        tx.commit()?;
        Ok(outcome)
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
                store: self.name().clone(),
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
        let changed = self.db.execute(
            "UPDATE locks SET lease_until = ?4 WHERE project = ?1 AND name = ?2 AND holder = ?3",
            params![project, name, holder, after(ttl)],
        )?;
        Ok(changed == 1)
    }

    /// Releases `holder`'s lock; a no-op if nobody holds it, `NotHolder` if another holder does.
    pub fn release_lock(
        &mut self,
        project: &str,
        name: &str,
        holder: &str,
    ) -> Result<(), StoreError> {
        let tx = self.db.write_tx()?;
        require_project(&tx, project)?;
        let deleted = tx.execute(
            "DELETE FROM locks WHERE project = ?1 AND name = ?2 AND holder = ?3",
            params![project, name, holder],
        )?;
        if deleted == 0 && read_lock(&tx, project, name)?.is_some() {
            return Err(StoreError::NotHolder {
                store: self.name().clone(),
                project: project.to_string(),
                what: format!("lock `{name}`"),
                holder: holder.to_string(),
            });
        }
        tx.commit()
    }

    /// Who holds the named lock now, if anyone's lease is still running.
    pub fn lock_holder(&self, project: &str, name: &str) -> Result<Option<LockInfo>, StoreError> {
        let now = now();
        Ok(read_lock(&self.db, project, name)?.filter(|l| l.until > now))
    }
}
