//! Settling a finished investigation in one transaction: its spend, its session, its
//! findings and how each file ends are recorded together or not at all, so a worker
//! killed at any moment leaves either a settled file or a claimed one whose lease runs
//! out — never findings without their file done, nor a file done without its spend.

use super::{require_holder, require_project, Store};
use crate::error::StoreError;
use crate::model::{FileEnd, Settlement};

impl Store {
    /// Records `settlement` for `holder` in one transaction. Returns, per file, whether
    /// it was still `holder`'s: a file whose lease another holder took over keeps that
    /// holder's state (its result stands), while the calls, session and partial findings
    /// are recorded all the same (the money was spent).
    pub fn settle(
        &mut self,
        project: &str,
        holder: &str,
        settlement: &Settlement,
    ) -> Result<Vec<bool>, StoreError> {
        require_holder(&self.db, holder)?;
        let tx = self.db.write_tx()?;
        require_project(&tx, project)?;
        for call in &settlement.calls {
            self.insert_call(project, call)?;
        }
        self.insert_sessions(project, &settlement.sessions)?;
        if !settlement.partial_findings.is_empty() {
            self.add_findings(project, &settlement.partial_findings)?;
        }
        let mut held = Vec::with_capacity(settlement.files.len());
        for (path, end) in &settlement.files {
            let ended = match end {
                FileEnd::Complete(findings) => self
                    .complete(project, path, holder, findings, settlement.run_id)
                    .map(drop),
                FileEnd::Fail(reason) => {
                    self.end_claim(project, path, holder, "failed", Some(reason))
                }
                FileEnd::Release => self.end_claim(project, path, holder, "pending", None),
            };
            match ended {
                Ok(()) => held.push(true),
                // Nothing was written for this file; the rest of the settlement stands.
                Err(StoreError::NotHolder { .. }) => held.push(false),
                Err(e) => return Err(e),
            }
        }
        tx.commit()?;
        Ok(held)
    }
}
