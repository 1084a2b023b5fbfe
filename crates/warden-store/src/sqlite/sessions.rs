//! External agent sessions (which CLI run investigated a file, how it ended, the end of
//! its output when Warden could not parse it) and the failed files `warden status` lists.

use super::convert::{self, to_u32};
use super::{now, require_project, write_tx, Db, Store};
use crate::error::StoreError;
use crate::model::{FailedFile, SessionRecord, MAX_OUTPUT_TAIL};
use crate::redact::redact_secrets;
use rusqlite::params;

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
        if sessions.is_empty() {
            return Ok(());
        }
        let tx = write_tx(&mut self.conn, &self.path)?;
        require_project(&tx, &self.path, project)?;
        let created = now();
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO agent_sessions (project, run_id, path, finding_id, agent, session_id,
                     turns, outcome, output_tail, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .db(&self.path)?;
        for s in sessions {
            let output_tail = s.output_tail.as_deref().map(|t| redact_secrets(tail(t)));
            insert
                .execute(params![
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
                ])
                .db(&self.path)?;
        }
        drop(insert);
        tx.commit().db(&self.path)
    }

    /// The project's agent sessions, oldest first; only those of `run_id` when given.
    pub fn sessions(
        &self,
        project: &str,
        run_id: Option<i64>,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let db = self.path.as_path();
        require_project(&self.conn, db, project)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT run_id, path, finding_id, agent, session_id, turns, outcome, output_tail,
                        created_at
                 FROM agent_sessions WHERE project = ?1 AND (?2 IS NULL OR run_id = ?2)
                 ORDER BY id",
            )
            .db(db)?;
        type Row = (
            Option<i64>,
            String,
            Option<String>,
            String,
            Option<String>,
            i64,
            String,
            Option<String>,
            String,
        );
        let rows: Vec<Row> = stmt
            .query_map(params![project, run_id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .and_then(|rows| rows.collect())
            .db(db)?;
        rows.into_iter()
            .map(
                |(run_id, path, finding_id, agent, session_id, turns, outcome, output_tail, at)| {
                    Ok(SessionRecord {
                        run_id,
                        path,
                        finding_id,
                        agent,
                        session_id,
                        turns: to_u32(db, "session turns", turns)?,
                        outcome: convert::session_outcome(db, &outcome)?,
                        output_tail,
                        created_at: at,
                    })
                },
            )
            .collect()
    }

    /// Every failed candidate file, by path, with its reason and the latest agent
    /// session of an investigation on it (not a revalidation), if any.
    pub fn failed_files(&self, project: &str) -> Result<Vec<FailedFile>, StoreError> {
        let db = self.path.as_path();
        require_project(&self.conn, db, project)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT f.path, f.fail_reason, s.agent, s.session_id, s.output_tail
                 FROM files f
                 LEFT JOIN agent_sessions s ON s.id = (
                     SELECT MAX(id) FROM agent_sessions
                     WHERE project = f.project AND path = f.path AND finding_id IS NULL)
                 WHERE f.project = ?1 AND f.status = 'failed'
                 ORDER BY f.path",
            )
            .db(db)?;
        let rows = stmt
            .query_map([project], |r| {
                Ok(FailedFile {
                    path: r.get(0)?,
                    reason: r.get(1)?,
                    agent: r.get(2)?,
                    session_id: r.get(3)?,
                    output_tail: r.get(4)?,
                })
            })
            .and_then(|rows| rows.collect())
            .db(db)?;
        Ok(rows)
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
