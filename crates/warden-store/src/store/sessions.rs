//! External agent sessions (which CLI run investigated a file, how it ended, the end of
//! its output when Warden could not parse it) and the failed files `warden status` lists.

use super::convert::{self, to_u32};
use super::{now, require_project, Store};
use crate::db::params;
use crate::error::StoreError;
use crate::model::{FailedFile, SessionRecord, MAX_OUTPUT_TAIL};
use crate::redact::redact_secrets;

/// At most the last [`MAX_OUTPUT_TAIL`] bytes of `text`, cut at a character boundary.
fn tail(text: &str) -> &str {
    if text.len() <= MAX_OUTPUT_TAIL {
        return text;
    }
    let mut start = text.len() - MAX_OUTPUT_TAIL;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

impl Store {
    /// Records one agent session row; see [`Store::record_sessions`].
    pub fn record_session(
        &mut self,
        project: &str,
        session: &SessionRecord,
    ) -> Result<(), StoreError> {
        self.record_sessions(project, std::slice::from_ref(session))
    }

    /// Records agent session rows in one transaction (a batch's files share one session).
    ///
    /// The output tail is cut to its last [`MAX_OUTPUT_TAIL`] bytes and its secrets are
    /// redacted before it is stored, like every other text the store keeps.
    pub fn record_sessions(
        &mut self,
        project: &str,
        sessions: &[SessionRecord],
    ) -> Result<(), StoreError> {
        self.insert_sessions(project, sessions)
    }

    /// [`Store::record_sessions`], joining the caller's transaction if one is open.
    pub(super) fn insert_sessions(
        &self,
        project: &str,
        sessions: &[SessionRecord],
    ) -> Result<(), StoreError> {
        if sessions.is_empty() {
            return Ok(());
        }
        let tx = self.db.write_tx()?;
        require_project(&tx, project)?;
        let created = now();
        for s in sessions {
            let output_tail = s.output_tail.as_deref().map(|t| redact_secrets(tail(t)));
            tx.execute(
                "INSERT INTO agent_sessions (project, run_id, path, finding_id, agent, session_id,
                     turns, outcome, output_tail, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    project,
                    s.run_id,
                    s.path,
                    s.finding_id,
                    s.agent,
                    s.session_id,
                    i64::from(s.turns),
                    s.outcome.as_str(),
                    output_tail,
                    created
                ],
            )?;
        }
        tx.commit()
    }

    /// The project's agent sessions, oldest first; only those of `run_id` when given.
    pub fn sessions(
        &self,
        project: &str,
        run_id: Option<i64>,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let db = self.name();
        require_project(&self.db, project)?;
        self.db
            .query(
                "SELECT run_id, path, finding_id, agent, session_id, turns, outcome, output_tail,
                        created_at
                 FROM agent_sessions WHERE project = ?1 AND (CAST(?2 AS BIGINT) IS NULL OR run_id = ?2)
                 ORDER BY id",
                params![project, run_id],
            )?
            .iter()
            .map(|r| {
                Ok(SessionRecord {
                    run_id: r.get(0)?,
                    path: r.get(1)?,
                    finding_id: r.get(2)?,
                    agent: r.get(3)?,
                    session_id: r.get(4)?,
                    turns: to_u32(db, "session turns", r.get(5)?)?,
                    outcome: convert::session_outcome(db, &r.get::<String>(6)?)?,
                    output_tail: r.get(7)?,
                    created_at: r.get(8)?,
                })
            })
            .collect()
    }

    /// Every failed candidate file, by path, with its reason and the latest agent
    /// session of an investigation on it (not a revalidation), if any.
    pub fn failed_files(&self, project: &str) -> Result<Vec<FailedFile>, StoreError> {
        require_project(&self.db, project)?;
        self.db
            .query(
                "SELECT f.path, f.fail_reason, s.agent, s.session_id, s.output_tail
                 FROM files f
                 LEFT JOIN agent_sessions s ON s.id = (
                     SELECT MAX(id) FROM agent_sessions
                     WHERE project = f.project AND path = f.path AND finding_id IS NULL)
                 WHERE f.project = ?1 AND f.status = 'failed'
                 ORDER BY f.path",
                params![project],
            )?
            .iter()
            .map(|r| {
                Ok(FailedFile {
                    path: r.get(0)?,
                    reason: r.get(1)?,
                    agent: r.get(2)?,
                    session_id: r.get(3)?,
                    output_tail: r.get(4)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_end_at_a_character_boundary() {
        assert_eq!(tail("short"), "short");
        let long = format!(
            "{}é{}",
            "a".repeat(MAX_OUTPUT_TAIL),
            "b".repeat(MAX_OUTPUT_TAIL - 1)
        );
        let t = tail(&long);
        assert!(t.len() <= MAX_OUTPUT_TAIL, "{}", t.len());
        assert!(t.ends_with('b') && !t.contains('a'), "{}", &t[..8]);
    }
}
